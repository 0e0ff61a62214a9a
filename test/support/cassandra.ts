// One real Cassandra 5.0 node for the whole mocha run, started by scripts/cassandra
// the first time a test asks for it, stopped (by pid) after the run and at exit.
//
//   before(async function () {
//     this.timeout(CASSANDRA_START_TIMEOUT_MS);
//     node = await cassandraNode();
//   });
//
// If the node cannot start, every test that needs it fails with the script's
// reason and the last log lines. Nothing is skipped.
import { execFile, execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ClientOptions } from 'cassandra-driver';

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(projectRoot, 'scripts', 'cassandra');

/** Hook timeout for the first test that needs the node: jar download plus a cold JVM on 2 cores. */
export const CASSANDRA_START_TIMEOUT_MS = 300_000;

/** Where the node listens, as scripts/cassandra reports it. */
interface NodeState {
  host: string;
  port: number;
  storagePort: number;
  pid: number;
  dir: string;
  version: string;
  downloadMs: number;
  startMs: number;
}

/** The running test node. */
export interface CassandraNode {
  readonly host: string;
  readonly port: number;
  /** `host:port`, for `contactPoints`. */
  readonly contactPoint: string;
  readonly dir: string;
  readonly version: string;
  /** Current JVM pid (changes across stop/start). */
  readonly pid: number;
  /** Client options for this node (datacenter1 is SimpleSnitch's data centre). */
  clientOptions(extra?: Partial<ClientOptions>): ClientOptions;
  /** Stops the JVM, keeping its data folder (for outage tests). */
  stop(): Promise<void>;
  /** Starts the JVM again on the same data and ports. */
  start(): Promise<void>;
  /** Whether the JVM is running. */
  readonly running: boolean;
}

function runScript(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile(script, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`scripts/cassandra ${args.join(' ')} failed (${error.message.split('\n')[0]}):\n${stderr}`));
      } else {
        resolvePromise(stdout);
      }
    });
  });
}

function parseState(stdout: string): NodeState {
  const line = stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as NodeState;
  } catch {
    throw new Error(`scripts/cassandra up printed no state line:\n${stdout}`);
  }
}

class TestNode implements CassandraNode {
  running = true;
  constructor(private state: NodeState) {}
  get host() {
    return this.state.host;
  }
  get port() {
    return this.state.port;
  }
  get contactPoint() {
    return `${this.state.host}:${this.state.port}`;
  }
  get dir() {
    return this.state.dir;
  }
  get version() {
    return this.state.version;
  }
  get pid() {
    return this.state.pid;
  }
  clientOptions(extra: Partial<ClientOptions> = {}): ClientOptions {
    return { contactPoints: [this.contactPoint], localDataCenter: 'datacenter1', ...extra };
  }
  async stop(): Promise<void> {
    await runScript(['down', '--dir', this.state.dir, '--keep'], 60_000);
    this.running = false;
  }
  async start(): Promise<void> {
    this.state = parseState(await runScript(['up', '--dir', this.state.dir, '--json'], CASSANDRA_START_TIMEOUT_MS));
    this.running = true;
    startupTimes.push(this.state.startMs);
  }
  /** Stops the JVM and deletes the folder. */
  async destroy(): Promise<void> {
    await runScript(['down', '--dir', this.state.dir], 60_000);
    this.running = false;
  }
  /** Synchronous variant for the process 'exit' handler. */
  destroySync(): void {
    try {
      execFileSync(script, ['down', '--dir', this.state.dir], { stdio: 'ignore', timeout: 40_000 });
    } catch {
      // Last resort at exit: nothing else can be done, the run is ending anyway.
    }
  }
}

let started: Promise<TestNode> | undefined;
let node: TestNode | undefined;

/** JVM start times of this run, in milliseconds (first = initial start). */
export const startupTimes: number[] = [];

/**
 * The shared node, started on first call. Call it from a `before` hook with
 * `this.timeout(CASSANDRA_START_TIMEOUT_MS)`.
 */
export function cassandraNode(): Promise<CassandraNode> {
  started ??= runScript(['up', '--json'], CASSANDRA_START_TIMEOUT_MS).then((stdout) => {
    const state = parseState(stdout);
    node = new TestNode(state);
    startupTimes.push(state.startMs);
    process.stderr.write(
      `      (Cassandra ${state.version} up on ${state.host}:${state.port} in ${(state.startMs / 1000).toFixed(1)} s` +
        `${state.downloadMs ? `, jars downloaded in ${(state.downloadMs / 1000).toFixed(1)} s` : ''})\n`,
    );
    process.once('exit', () => node?.destroySync());
    // A killed run (CI timeout) gets no 'exit' event: stop the detached JVM first.
    process.once('SIGTERM', () => {
      node?.destroySync();
      process.exit(143);
    });
    return node;
  });
  return started;
}

/** Stops the node if this run started one. */
export async function stopCassandraNode(): Promise<void> {
  const current = node;
  node = undefined;
  started = undefined;
  if (current) await current.destroy();
}

// A root-level hook: runs once after every test file, whichever file started the node.
if (typeof after === 'function') {
  after(async function () {
    this.timeout(60_000);
    await stopCassandraNode();
  });
}
