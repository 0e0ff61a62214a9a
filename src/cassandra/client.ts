/**
 * Who owns the Cassandra client: one passed in (the user's, left open) or one built
 * from options (the operator's, shut down on teardown).
 * @module
 */
import type { Client, ClientOptions, QueryOptions, types } from 'cassandra-driver';
import { loadCassandraDriver, type CassandraDriver } from './driver.js';

/** A cassandra-driver 4 `Client` you own, or the options to build one the operator owns. */
export type CassandraClientInput = Client | ClientOptions;

/** Query options whose write timestamp may also be a `bigint`. @internal */
export type HeldQueryOptions = Omit<QueryOptions, 'timestamp'> & { timestamp?: number | bigint | types.Long };

/** A client (the user's, or one built once the driver has loaded) and whether the caller must shut it down. @internal */
export interface HeldClient {
  readonly owned: boolean;
  /**
   * `client.execute` once the client is there. A `bigint` write timestamp becomes the
   * driver's `Long`, so that callers can make one without loading the driver.
   */
  execute(query: string, params: unknown[], options: HeldQueryOptions): Promise<unknown>;
  /** Shuts an owned client down, never throwing (teardown must not fail). */
  release(): Promise<void>;
}

/** What {@link retireReplacedHosts} uses of a driver `Host` and its pool: cassandra-driver 4 internals, checked before use. */
interface DriverHost {
  readonly address: string;
  shutdown?: (waitForPending: boolean) => Promise<void>;
  readonly pool?: { connections?: unknown; addExistingConnection?: (connection: unknown) => void };
}

/**
 * Works around a cassandra-driver 4 flaw in how it replaces a host. When every node
 * was unreachable, the control connection re-initialises from the contact points and
 * puts a new `Host` object in `client.hosts` in place of the old one for the same
 * address, without shutting the old one down:
 * - the old one's pool keeps a reconnection timer, its health-check interval and its
 *   sockets after `client.shutdown()`, which only shuts down the hosts in the map, so
 *   the process never exits (the cluster suite's leak check: "open resources:
 *   Timeout, Timeout");
 * - the new one has no connection until the control connection has read the peers and
 *   registered for events, so a request sent meanwhile fails with "No connection
 *   available", although the node is up.
 *
 * The pool of the old `Host` often reconnected first (the node came back) and was
 * already carrying requests. Its open connections are handed to the new `Host`, so
 * the requests in flight on them finish there and the next ones have a connection;
 * then the old one is shut down, which only clears its timers. Shutting it down with
 * its connections failed every request in flight ("Socket was closed") just after
 * the first had succeeded: a second outage in cassandraSink's reports, seen as
 * `down, up, down, up` in the outage test. A host removed for good (gone from the
 * ring) has no successor and is shut down too: the driver has already drained it.
 *
 * Call it once, on a client you own; it is the sink's and the tests' one way. @internal
 */
export function retireReplacedHosts(client: Client): void {
  const hosts = client.hosts as Client['hosts'] | undefined;
  if (hosts === undefined || typeof hosts.on !== 'function') return;
  hosts.on('remove', (host: unknown) => {
    const removed = host as DriverHost;
    // HostMap.set puts the new Host in the map before it emits 'remove' for the old one.
    const successor = hosts.get(removed.address) as DriverHost | undefined;
    if (successor !== undefined && successor !== removed) handOverConnections(removed, successor);
    if (typeof removed.shutdown === 'function') void removed.shutdown(false).catch(() => undefined);
  });
}

function handOverConnections(from: DriverHost, to: DriverHost): void {
  const source = from.pool;
  const target = to.pool;
  if (!Array.isArray(source?.connections) || typeof target?.addExistingConnection !== 'function') return;
  const connections: unknown[] = source.connections;
  // The driver's pools swap in a new array on every change instead of mutating one.
  source.connections = [];
  for (const connection of connections) target.addExistingConnection(connection);
}

/**
 * The options of a client built for its caller to own: unless they give one, a
 * reconnection policy that tries a lost node again after 500 ms, then at most every
 * `reconnectMaxDelayMs`. The driver's default waits up to 10 minutes between attempts,
 * so after an outage every write would fail with "no host available" long after the
 * node came back. cassandraSink's own clients and the command line's are built so.
 * @internal
 */
export function ownedClientOptions(
  driver: CassandraDriver,
  options: ClientOptions,
  reconnectMaxDelayMs: number,
): ClientOptions {
  const reconnection =
    options.policies?.reconnection ??
    new driver.policies.reconnection.ExponentialReconnectionPolicy(
      Math.min(500, reconnectMaxDelayMs),
      reconnectMaxDelayMs,
      false,
    );
  return { ...options, policies: { ...options.policies, reconnection } };
}

/**
 * Duck-typed, not `instanceof`: the user's client may come from another copy of
 * cassandra-driver (a different version, or the CJS and ESM graphs both loaded).
 */
function isClient(input: CassandraClientInput): input is Client {
  const candidate = input as Partial<Client>;
  return typeof candidate.execute === 'function' && typeof candidate.shutdown === 'function';
}

/**
 * The client to use. A built client gets, unless the options say otherwise, a
 * reconnection policy that retries a lost node every `reconnectMaxDelayMs` at most:
 * the driver's default waits up to 10 minutes between attempts, so after an outage
 * every write would fail with "no host available" long after the node came back.
 * @internal
 */
export function holdClient(operator: string, input: CassandraClientInput, reconnectMaxDelayMs: number): HeldClient {
  // Kept once loaded, so that a write's bigint timestamp is converted without a promise hop.
  let driver: CassandraDriver | undefined;
  const loading = loadCassandraDriver(operator).then((loaded) => (driver = loaded));
  // Errors surface through execute(); this keeps an unused rejection from being unhandled.
  loading.catch(() => undefined);
  // async: a driver that throws instead of rejecting still ends in a rejection.
  const send = async (
    client: Client,
    query: string,
    params: unknown[],
    options: HeldQueryOptions,
  ): Promise<unknown> => {
    const { timestamp } = options;
    if (typeof timestamp !== 'bigint') return client.execute(query, params, options as QueryOptions);
    if (driver === undefined) return loading.then(() => send(client, query, params, options));
    return client.execute(query, params, { ...options, timestamp: driver.types.Long.fromString(timestamp.toString()) });
  };
  if (isClient(input)) {
    return {
      owned: false,
      execute: (query, params, options) => send(input, query, params, options),
      release: () => Promise.resolve(),
    };
  }
  let released = false;
  let built: Client | undefined;
  const client = loading.then((cassandra) => {
    if (released) throw new Error(`${operator}: released before the driver had loaded`);
    built = new cassandra.Client(ownedClientOptions(cassandra, input, reconnectMaxDelayMs));
    retireReplacedHosts(built);
    return built;
  });
  client.catch(() => undefined);
  return {
    owned: true,
    execute: (query, params, options) =>
      built !== undefined
        ? send(built, query, params, options)
        : client.then((ready) => send(ready, query, params, options)),
    release: async () => {
      released = true;
      await (await client.catch(() => undefined))?.shutdown().catch(() => undefined);
    },
  };
}
