// retireReplacedHosts on the driver's own host map and Host objects (no node): what the
// sink's clients and the cluster suite's client rely on when cassandra-driver replaces a
// host after an outage. The real-node cases are in cassandraOutage.test.ts and the
// cluster suite; this one says at once if a driver upgrade changes the internals used.
import { expect } from 'chai';
import cassandra from 'cassandra-driver';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { retireReplacedHosts } from '../src/cassandra/client.js';

const { Host } = createRequire(import.meta.url)('cassandra-driver/lib/host.js') as {
  Host: new (address: string, protocolVersion: number, options: unknown, metadata: unknown) => DriverHost;
};

interface DriverHost {
  readonly address: string;
  readonly pool: {
    connections: unknown[];
    addExistingConnection(connection: unknown): void;
    scheduleNewConnectionAttempt(delayMs: number): void;
    isClosing(): boolean;
  };
  setDistance(distance: number): void;
  shutdown(waitForPending: boolean): Promise<void>;
}

/** What the driver keeps internal in a Client: its full options, and its host map's set and remove. */
interface DriverClient {
  readonly options: unknown;
  readonly metadata: unknown;
  readonly hosts: { set(address: string, host: DriverHost): void; remove(address: string): void };
}

/** A driver connection with requests in flight, as far as a pool sees it. */
class OpenConnection extends EventEmitter {
  closed = 0;
  getInFlight(): number {
    return 3;
  }
  close(): void {
    this.closed++;
  }
  closeAsync(): Promise<void> {
    this.closed++;
    return Promise.resolve();
  }
}

const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('retireReplacedHosts (the driver host map, no node)', () => {
  const address = '127.0.0.1:9042';
  let client: cassandra.Client;
  const internals = () => client as unknown as DriverClient;
  const hosts: DriverHost[] = [];

  /** A Host as the driver makes one, with its health-check interval and a reconnection scheduled (two timers). */
  function host(): DriverHost {
    const made = new Host(address, 4, internals().options, internals().metadata);
    made.setDistance(cassandra.types.distance.local);
    made.pool.scheduleNewConnectionAttempt(60_000);
    hosts.push(made);
    return made;
  }

  beforeEach(() => {
    client = new cassandra.Client({ contactPoints: [address], localDataCenter: 'datacenter1' });
    retireReplacedHosts(client);
  });

  afterEach(async () => {
    for (const made of hosts.splice(0)) await made.shutdown(false);
    await client.shutdown();
  });

  it('hands a replaced Host’s open connections, with the requests in flight on them, to its successor, and clears its timers', () => {
    const before = timers();
    const replaced = host();
    const connection = new OpenConnection();
    replaced.pool.addExistingConnection(connection);
    internals().hosts.set(address, replaced);
    expect(timers(), 'the Host’s health check and reconnection').to.equal(before + 2);

    const successor = host();
    internals().hosts.set(address, successor);
    expect(successor.pool.connections.includes(connection), 'the successor carries the connection').to.equal(true);
    expect(connection.closed, 'its requests in flight are not failed').to.equal(0);
    expect(replaced.pool.connections).to.have.length(0);
    expect(replaced.pool.isClosing(), 'the replaced Host is shut down for good').to.equal(true);
    expect(timers(), 'only the successor’s timers are left').to.equal(before + 2);
  });

  it('shuts down a Host removed for good, whose timers would otherwise outlive the client', () => {
    const before = timers();
    const removed = host();
    internals().hosts.set(address, removed);
    internals().hosts.remove(address);
    expect(removed.pool.isClosing()).to.equal(true);
    expect(timers()).to.equal(before);
  });
});
