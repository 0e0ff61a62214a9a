// A real three-node Cassandra 5.0 cluster for the cluster suite (`npm run test:cluster`),
// started by `scripts/cassandra up --nodes 3` on 127.0.0.1–3 the first time a test asks
// for it, stopped (every JVM, by pid) after the run, at exit and on SIGTERM.
//
//   before(async function () {
//     this.timeout(CLUSTER_START_TIMEOUT_MS);
//     cluster = await cassandraCluster();
//   });
import { execFile, execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, policies, types, type ClientOptions } from 'cassandra-driver';
import { retireReplacedHosts } from '../../src/cassandra/client.js';
import type { CassandraAccess } from '../faults/aggregatorHarness.js';
import { waitFor } from '../support/waitFor.js';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(projectRoot, 'scripts', 'cassandra');

/** Hook timeout for the first test that needs the cluster: three cold JVMs on 2 shared cores. */
export const CLUSTER_START_TIMEOUT_MS = 400_000;
/** Timeout of one node's restart (a cold JVM, commit log replay, gossip). */
export const NODE_START_TIMEOUT_MS = 300_000;

/** What `scripts/cassandra up --nodes N --json` prints. */
interface ClusterState {
  dir: string;
  version: string;
  datacenter: string;
  port: number;
  storagePort: number;
  contactPoints: string[];
  nodes: Array<{ index: number; host: string; pid: number; dir: string; running: boolean }>;
  startMs: number;
  nodeStartMs: number[];
}

/** One node as `status --json` reports it: its process, its CQL port, its view of the peers. */
export interface NodeStatus {
  readonly index: number;
  readonly host: string;
  readonly pid: number;
  readonly running: boolean;
  readonly cql: boolean;
  /** Peer index → `UP`, `DOWN` or `unknown`, as this node last logged it. */
  readonly peers: Readonly<Record<string, string>>;
}

function runScript(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(script, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`scripts/cassandra ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${stderr}`));
      else resolvePromise(stdout);
    });
  });
}

const lastLine = (stdout: string) => stdout.trim().split('\n').pop() ?? '';

/** The running cluster. */
export class CassandraCluster {
  /** Start times of this run, ms: the cluster's (all nodes together), then each restart's. */
  readonly startTimes: { what: string; ms: number }[] = [];
  private pids: number[];

  constructor(private readonly state: ClusterState) {
    this.pids = state.nodes.map((node) => node.pid);
    this.startTimes.push({ what: `${state.nodes.length} nodes together`, ms: state.startMs });
  }

  get dir(): string {
    return this.state.dir;
  }
  get version(): string {
    return this.state.version;
  }
  get datacenter(): string {
    return this.state.datacenter;
  }
  get port(): number {
    return this.state.port;
  }
  /** `127.0.0.1:port,127.0.0.2:port,…`, for `--cassandra`. */
  get contactPoints(): string {
    return this.state.contactPoints.join(',');
  }
  get size(): number {
    return this.state.nodes.length;
  }
  /** The current JVM pid of node `index` (1-based). */
  pid(index: number): number {
    return this.pids[index - 1] ?? 0;
  }

  /**
   * Driver options for the whole ring. `protocolOptions.port`: the driver reaches the
   * peers it discovers on that port (9042 unless told), not on the contact points'.
   */
  clientOptions(extra: Partial<ClientOptions> = {}): ClientOptions {
    return {
      contactPoints: this.state.contactPoints,
      localDataCenter: this.state.datacenter,
      protocolOptions: { port: this.state.port },
      // The driver's default waits up to 10 minutes before trying a node that was down again.
      policies: { reconnection: new policies.reconnection.ExponentialReconnectionPolicy(500, 5_000) },
      ...extra,
    };
  }

  /**
   * For an aggregator suite: the test's client, reading at QUORUM (two of three replicas
   * answer, so a read sees every write that LOCAL_QUORUM acknowledged, whichever node is
   * down), with the keyspace `hyper` made (NetworkTopologyStrategy, replication 3); and
   * the aggregators' arguments, writing at LOCAL_QUORUM.
   *
   * The client lives through the node kills. Whenever it finds no usable host (in the
   * quorum case one node is left, and one lost connection to it is enough), the driver
   * re-initialises from the contact points and replaces that host's object without
   * shutting the old one down, whose timers outlive `shutdown()`: a leaked host is
   * "open resources: Timeout, Timeout" at the leak check once the cluster is gone.
   * The sink's own clients are guarded by the same helper.
   */
  async access(): Promise<CassandraAccess> {
    const client = new Client(this.clientOptions({ queryOptions: { consistency: types.consistencies.quorum } }));
    retireReplacedHosts(client);
    try {
      const created = await client.execute(
        `CREATE KEYSPACE IF NOT EXISTS hyper WITH replication = {'class': 'NetworkTopologyStrategy', '${this.datacenter}': 3}`,
      );
      // The driver waits up to 10 s for the nodes to agree on the schema, then carries on.
      // A node that has not heard of the keyspace yet takes the next CREATE KEYSPACE IF NOT
      // EXISTS (ensureWindowCountTable's: SimpleStrategy, one replica) as a creation, and the
      // newer definition wins: seen under load, every later QUORUM read then failed with
      // "1 required but only 0 alive" once a node was down.
      if (!(created.info as typeof created.info & { isSchemaInAgreement?: boolean }).isSchemaInAgreement) {
        const since = Date.now();
        const metadata = client.metadata as typeof client.metadata & { checkSchemaAgreement(): Promise<boolean> };
        await waitFor(() => metadata.checkSchemaAgreement(), 'the three nodes to agree on the schema', 120_000, 500);
        process.stderr.write(`      (schema agreement on hyper: ${((Date.now() - since) / 1000).toFixed(1)} s more)\n`);
      }
    } catch (error) {
      await client.shutdown(); // an open client would keep the run alive
      throw error;
    }
    return {
      client,
      args: ['--cassandra', this.contactPoints, '--datacenter', this.datacenter, '--consistency', 'LOCAL_QUORUM'],
    };
  }

  /** SIGKILL, no flush, no goodbye to the peers: a crash. */
  async killNode(index: number): Promise<void> {
    await runScript(['stop-node', String(index), '--kill', '--dir', this.dir], 60_000);
  }

  /** SIGTERM: the node drains and says goodbye (SIGKILL after 20 s). */
  async stopNode(index: number): Promise<void> {
    await runScript(['stop-node', String(index), '--dir', this.dir], 60_000);
  }

  /** Starts node `index` on its data; resolves once it and the running nodes see each other up. */
  async startNode(index: number): Promise<number> {
    const report = JSON.parse(
      lastLine(await runScript(['start-node', String(index), '--dir', this.dir, '--json'], NODE_START_TIMEOUT_MS)),
    ) as { pid: number; startMs: number };
    this.pids[index - 1] = report.pid;
    this.startTimes.push({ what: `node ${index} restart`, ms: report.startMs });
    return report.startMs;
  }

  async status(): Promise<NodeStatus[]> {
    return (
      JSON.parse(lastLine(await runScript(['status', '--json', '--dir', this.dir], 30_000))) as { nodes: NodeStatus[] }
    ).nodes;
  }

  /** Stops every node and deletes the folder. */
  async down(): Promise<void> {
    await runScript(['down', '--dir', this.dir], 90_000);
  }

  /** For the 'exit' handler: synchronous, SIGKILL-fast is not needed, the data is thrown away anyway. */
  downSync(): void {
    try {
      execFileSync(script, ['down', '--dir', this.dir], { stdio: 'ignore', timeout: 60_000 });
    } catch {
      // Last resort at exit: nothing else can be done.
    }
  }
}

let starting: Promise<CassandraCluster> | undefined;
let current: CassandraCluster | undefined;

/** The suite's cluster of three, started on first call (from a `before` hook with {@link CLUSTER_START_TIMEOUT_MS}). */
export function cassandraCluster(): Promise<CassandraCluster> {
  starting ??= runScript(['up', '--nodes', '3', '--json'], CLUSTER_START_TIMEOUT_MS).then((stdout) => {
    const cluster = new CassandraCluster(JSON.parse(lastLine(stdout)) as ClusterState);
    current = cluster;
    process.stderr.write(
      `      (Cassandra ${cluster.version} cluster of ${cluster.size} on ${cluster.contactPoints} up in ${(cluster.startTimes[0]!.ms / 1000).toFixed(1)} s)\n`,
    );
    process.once('exit', () => current?.downSync());
    // A killed run (CI timeout) gets no 'exit' event: stop the detached JVMs first.
    process.once('SIGTERM', () => {
      current?.downSync();
      process.exit(143);
    });
    return cluster;
  });
  return starting;
}

/** Stops the cluster if this run started one. */
export async function stopCassandraCluster(): Promise<void> {
  const cluster = current;
  current = undefined;
  starting = undefined;
  if (cluster) await cluster.down();
}

// A root-level hook: runs once after every file of the suite.
if (typeof after === 'function') {
  after(async function () {
    this.timeout(120_000);
    await stopCassandraCluster();
  });
}
