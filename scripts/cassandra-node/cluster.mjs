// A local Cassandra 5.0 cluster for tests: N nodes (up to 9) from the same Maven jars,
// one per loopback address (127.0.0.1 … 127.0.0.N; Linux answers on all of 127/8),
// the same native and storage ports on each, every node a seed, one data centre
// (datacenter1, rack1) through GossipingPropertyFileSnitch, so keyspaces can use
// NetworkTopologyStrategy. JMX stays off, so there is no nodetool: `status` reads each
// node's own view of the ring from its log ("… is now UP" / "… is now DOWN").
//
// The cluster lives in one folder: cluster.json (ports, and each node's address, pid
// and folder) and node1 … nodeN (config, data, logs), so one node can be killed and
// started again on its data while the others run.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  READY_LINE,
  cacheRoot,
  deleteOnFailure,
  fail,
  fetchJars,
  here,
  javaMajorVersion,
  jvmArgs,
  lastNodeFile,
  portOpen,
  sleep,
  startTimeoutMs,
  stopGraceMs,
  version,
} from './node-process.mjs';

export const CLUSTER_FILE = 'cluster.json';
const DATACENTER = 'datacenter1';
const RACK = 'rack1';
const MAX_NODES = 9;
// Three JVMs and the work under test share two cores: half a gigabyte each is enough for
// the tests' few thousand rows (memtables take a quarter of it).
const DEFAULT_CLUSTER_HEAP = '512M';

export const isCluster = (dir) => existsSync(join(dir, CLUSTER_FILE));

const hostOf = (index) => `127.0.0.${index}`;

/**
 * Evenly spaced Murmur3 tokens, one a node: the ring is the same on every run and each
 * node owns 1/N of it (with replication N, every node holds everything anyway).
 */
function initialToken(index, count) {
  const span = 2n ** 64n;
  return String(-(2n ** 63n) + (span / BigInt(count)) * BigInt(index - 1));
}

function canBind(port, host) {
  return new Promise((resolveBind) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolveBind(false));
    server.listen(port, host, () => server.close(() => resolveBind(true)));
  });
}

/** A port free on every node's address (the nodes share their ports, one address each). */
async function portFreeOnAll(hosts, taken) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await new Promise((resolvePort, reject) => {
      const server = createServer();
      server.unref();
      server.on('error', reject);
      server.listen(0, hosts[0], () => {
        const { port: chosen } = server.address();
        server.close(() => resolvePort(chosen));
      });
    });
    if (taken.includes(port)) continue;
    let free = true;
    for (const host of hosts) free = free && (await canBind(port, host));
    if (free) return port;
  }
  fail(`no port free on all of ${hosts.join(', ')} after 50 tries`);
}

/** The node's JVM, checked against its folder exactly (node1 is a prefix of node10's path otherwise). */
function isNodeProcess(pid, dir) {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    if (/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'))) return false;
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('CassandraDaemon') && cmdline.includes(`-Dmqtt-iot-stream.node-dir=${dir}\0`);
  } catch {
    return false;
  }
}

function readCluster(dir) {
  const file = join(dir, CLUSTER_FILE);
  if (!existsSync(file)) fail(`no ${CLUSTER_FILE} in ${dir}`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

function writeCluster(cluster) {
  writeFileSync(join(cluster.dir, CLUSTER_FILE), JSON.stringify(cluster, null, 2) + '\n');
}

function clusterDir(args) {
  if (args.dir) return args.dir;
  if (existsSync(lastNodeFile)) {
    const last = readFileSync(lastNodeFile, 'utf8').trim();
    if (isCluster(last)) return last;
  }
  fail('no --dir given and the last `up` started no cluster');
}

function nodeOf(cluster, index) {
  const node = cluster.nodes.find((candidate) => candidate.index === index);
  if (!node) fail(`no node ${index} in the cluster in ${cluster.dir} (nodes 1–${cluster.nodes.length})`);
  return node;
}

const systemLog = (node) => join(node.dir, 'logs', 'system.log');
const logSize = (node) => (existsSync(systemLog(node)) ? readFileSync(systemLog(node)).length : 0);
const logSince = (node, offset) =>
  existsSync(systemLog(node)) ? readFileSync(systemLog(node)).subarray(offset).toString('utf8') : '';

/**
 * The node's own view of its peers, from its log: the last "is now UP" or "is now
 * DOWN" it wrote for each, or `unknown`.
 */
function peerStates(node, cluster, offset = 0) {
  const log = logSince(node, offset);
  const states = {};
  for (const peer of cluster.nodes) {
    if (peer.index === node.index) continue;
    const address = `${peer.host}:${cluster.storagePort}`;
    const up = log.lastIndexOf(`${address} is now UP`);
    const down = log.lastIndexOf(`${address} is now DOWN`);
    states[peer.index] = up < 0 && down < 0 ? 'unknown' : up > down ? 'UP' : 'DOWN';
  }
  return states;
}

function requireJava() {
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const major = javaMajorVersion(java);
  if (major === undefined) fail(`cannot run ${java}; install Java 17 (Debian: openjdk-17-jre-headless)`);
  if (major < 11) fail(`Cassandra 5.0 needs Java 11 or 17, ${java} is Java ${major}`);
  return java;
}

/** Starts one node's JVM, detached (the script exits, the node stays); returns what to wait on. */
function launch(java, cluster, node) {
  const offset = logSize(node);
  const out = openSync(join(node.dir, 'logs', 'stdout.log'), 'a');
  const child = spawn(
    java,
    jvmArgs(node.dir, {
      heap: cluster.heap,
      extra: [`-Dcassandra-rackdc.properties=file://${join(node.dir, 'conf', 'cassandra-rackdc.properties')}`],
    }),
    { cwd: node.dir, detached: true, stdio: ['ignore', out, out] },
  );
  closeSync(out);
  node.pid = child.pid;
  const launched = { node, offset, startedAt: Date.now(), exit: null, readyMs: undefined, child };
  child.on('exit', (code, signal) => {
    launched.exit = code ?? signal;
  });
  return launched;
}

/** Waits until each launched node accepts CQL clients; fails (killing them) on exit or timeout. */
async function waitReady(cluster, launches) {
  for (;;) {
    for (const launched of launches) {
      if (launched.readyMs !== undefined) continue;
      if (launched.exit !== null) {
        await killAll(cluster, launches);
        fail(
          `node ${launched.node.index} (${launched.node.host}) exited during startup (${launched.exit})`,
          join(launched.node.dir, 'logs'),
        );
      }
      if (
        logSince(launched.node, launched.offset).includes(READY_LINE) &&
        (await portOpen(cluster.port, launched.node.host))
      ) {
        launched.readyMs = Date.now() - launched.startedAt;
      }
    }
    if (launches.every((launched) => launched.readyMs !== undefined)) return;
    const slowest = launches.find((launched) => launched.readyMs === undefined);
    if (Date.now() - slowest.startedAt > startTimeoutMs) {
      await killAll(cluster, launches);
      fail(
        `node ${slowest.node.index} did not accept CQL clients within ${startTimeoutMs / 1000} s`,
        join(slowest.node.dir, 'logs'),
      );
    }
    await sleep(250);
  }
}

/**
 * Waits until every running node has seen every other running node come UP since the
 * given log offsets (0: since the node's first start): a driver connecting earlier may
 * find peers that the coordinator still thinks are down, and a write at QUORUM would be
 * refused as unavailable. Returns what is still missing at the deadline (empty: settled).
 */
async function waitGossip(cluster, offsets, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const running = cluster.nodes.filter((node) => isNodeProcess(node.pid, node.dir));
    const missing = [];
    for (const node of running) {
      const states = peerStates(node, cluster, offsets.get(node.index) ?? 0);
      for (const peer of running) {
        if (peer.index !== node.index && states[peer.index] !== 'UP')
          missing.push(`${node.index} does not see ${peer.index} up`);
      }
    }
    if (missing.length === 0) return [];
    if (Date.now() > deadline) return missing;
    await sleep(250);
  }
}

async function killAll(cluster, launches) {
  for (const launched of launches) {
    try {
      process.kill(launched.node.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  writeCluster(cluster);
}

function report(cluster, extra) {
  return {
    dir: cluster.dir,
    version: cluster.version,
    datacenter: cluster.datacenter,
    port: cluster.port,
    storagePort: cluster.storagePort,
    contactPoints: cluster.nodes.map((node) => `${node.host}:${cluster.port}`),
    nodes: cluster.nodes.map((node) => ({
      index: node.index,
      host: node.host,
      pid: node.pid,
      dir: node.dir,
      running: isNodeProcess(node.pid, node.dir),
    })),
    ...extra,
  };
}

/** `up --nodes N`: a fresh cluster, every node started at once, ready when all see each other. */
export async function upCluster(args) {
  const count = args.nodes;
  if (!Number.isInteger(count) || count < 1 || count > MAX_NODES)
    fail(`--nodes must be 1 to ${MAX_NODES}, got ${args.nodesText}`);
  const t0 = Date.now();
  const { downloaded } = fetchJars();
  const downloadMs = downloaded ? Date.now() - t0 : 0;
  const java = requireJava();

  if (args.dir && isCluster(args.dir)) fail(`${args.dir} already holds a cluster: start its nodes with start-node N`);
  const dir = args.dir ?? mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-cassandra-cluster-'));
  if (!args.dir) deleteOnFailure(dir);
  const hosts = Array.from({ length: count }, (_, i) => hostOf(i + 1));
  const port = await portFreeOnAll(hosts, []);
  const storagePort = await portFreeOnAll(hosts, [port]);
  const heap = process.env.CASSANDRA_HEAP || DEFAULT_CLUSTER_HEAP;
  const cluster = {
    dir,
    version,
    datacenter: DATACENTER,
    port,
    storagePort,
    heap,
    nodes: hosts.map((host, i) => ({ index: i + 1, host, dir: join(dir, `node${i + 1}`), pid: 0 })),
  };
  const seeds = hosts.map((host) => `${host}:${storagePort}`).join(',');
  for (const node of cluster.nodes) {
    for (const sub of ['conf', 'data', 'logs', 'tmp']) mkdirSync(join(node.dir, sub), { recursive: true });
    writeFileSync(
      join(node.dir, 'conf', 'cassandra.yaml'),
      readFileSync(join(here, 'cassandra-cluster.yaml.template'), 'utf8')
        .replaceAll('@HOST@', node.host)
        .replaceAll('@STORAGE_PORT@', String(storagePort))
        .replaceAll('@NATIVE_PORT@', String(port))
        .replaceAll('@SEEDS@', seeds)
        .replaceAll('@INITIAL_TOKEN@', initialToken(node.index, count)),
    );
    writeFileSync(join(node.dir, 'conf', 'logback.xml'), readFileSync(join(here, 'logback.xml'), 'utf8'));
    writeFileSync(join(node.dir, 'conf', 'cassandra-rackdc.properties'), `dc=${DATACENTER}\nrack=${RACK}\n`);
  }
  writeCluster(cluster);
  mkdirSync(cacheRoot, { recursive: true });
  writeFileSync(lastNodeFile, dir + '\n');

  const jvmStart = Date.now();
  const launches = cluster.nodes.map((node) => launch(java, cluster, node));
  writeCluster(cluster);
  await waitReady(cluster, launches);
  const unsettled = await waitGossip(cluster, new Map(), 60_000);
  if (unsettled.length > 0) {
    await killAll(cluster, launches);
    fail(`gossip did not settle within 60 s: ${unsettled.join('; ')}`, join(cluster.nodes[0].dir, 'logs'));
  }
  for (const launched of launches) launched.child.unref();
  const startMs = Date.now() - jvmStart;
  writeCluster(cluster);
  const result = report(cluster, { downloadMs, startMs, nodeStartMs: launches.map((launched) => launched.readyMs) });
  if (args.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
  } else {
    process.stdout.write(
      [
        `CASSANDRA_CONTACT_POINTS=${result.contactPoints.join(',')}`,
        `CASSANDRA_PORT=${port}`,
        `CASSANDRA_DATACENTER=${DATACENTER}`,
        `CASSANDRA_PIDS=${cluster.nodes.map((node) => node.pid).join(',')}`,
        `CASSANDRA_DIR=${dir}`,
        `CASSANDRA_VERSION=${version}`,
      ].join('\n') + '\n',
    );
    process.stderr.write(
      `scripts/cassandra: ${count}-node cluster (${DATACENTER}, heap ${heap} each) accepts CQL clients on ` +
        `${result.contactPoints.join(', ')}; all up and gossiping in ${(startMs / 1000).toFixed(1)} s ` +
        `(nodes ready after ${launches.map((launched) => (launched.readyMs / 1000).toFixed(1)).join(', ')} s)\n`,
    );
  }
  process.exit(0);
}

/** SIGTERM (or SIGKILL at once with `kill`), SIGKILL after the grace period; resolves when gone. */
async function stopProcess(node, kill) {
  if (!isNodeProcess(node.pid, node.dir)) return 'not running';
  try {
    process.kill(node.pid, kill ? 'SIGKILL' : 'SIGTERM');
  } catch {
    return 'not running';
  }
  const deadline = Date.now() + (kill ? 0 : stopGraceMs);
  while (isNodeProcess(node.pid, node.dir) && Date.now() < deadline) await sleep(100);
  if (!isNodeProcess(node.pid, node.dir)) return kill ? 'killed' : 'stopped';
  try {
    process.kill(node.pid, 'SIGKILL');
  } catch {
    /* gone */
  }
  const hardDeadline = Date.now() + 10_000;
  while (isNodeProcess(node.pid, node.dir) && Date.now() < hardDeadline) await sleep(100);
  return isNodeProcess(node.pid, node.dir) ? 'still running' : 'killed';
}

/** `stop-node N [--kill]`: stops one node, keeping its data for `start-node N`. */
export async function stopNode(args) {
  const cluster = readCluster(clusterDir(args));
  const node = nodeOf(cluster, args.node);
  const outcome = await stopProcess(node, args.kill);
  if (outcome === 'still running') fail(`node ${node.index} (pid ${node.pid}) survived SIGKILL`);
  if (args.json)
    process.stdout.write(JSON.stringify({ index: node.index, host: node.host, pid: node.pid, outcome }) + '\n');
  process.stderr.write(`scripts/cassandra: node ${node.index} (${node.host}, pid ${node.pid}) ${outcome}\n`);
}

/** `start-node N`: starts a stopped node on its data; ready when it and the running nodes see each other. */
export async function startNode(args) {
  const cluster = readCluster(clusterDir(args));
  const node = nodeOf(cluster, args.node);
  if (isNodeProcess(node.pid, node.dir)) fail(`node ${node.index} is already running (pid ${node.pid})`);
  const java = requireJava();
  if (await portOpen(cluster.port, node.host)) fail(`port ${node.host}:${cluster.port} is already in use`);
  const offsets = new Map(cluster.nodes.map((other) => [other.index, logSize(other)]));
  const launched = launch(java, cluster, node);
  writeCluster(cluster);
  await waitReady(cluster, [launched]);
  await waitGossipAround(cluster, node, offsets, 60_000);
  launched.child.unref();
  const startMs = Date.now() - launched.startedAt;
  writeCluster(cluster);
  if (args.json)
    process.stdout.write(
      JSON.stringify({ index: node.index, host: node.host, pid: node.pid, startMs, readyMs: launched.readyMs }) + '\n',
    );
  process.stderr.write(
    `scripts/cassandra: node ${node.index} (${node.host}, pid ${node.pid}) accepts CQL clients after ` +
      `${(launched.readyMs / 1000).toFixed(1)} s, seen up by the running nodes after ${(startMs / 1000).toFixed(1)} s\n`,
  );
  process.exit(0);
}

/** After one node restarted: it sees the running nodes up, and they see it up, since the restart. */
async function waitGossipAround(cluster, restarted, offsets, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const others = cluster.nodes.filter((node) => node.index !== restarted.index && isNodeProcess(node.pid, node.dir));
    const missing = [];
    const seenByRestarted = peerStates(restarted, cluster, offsets.get(restarted.index));
    for (const other of others) {
      if (seenByRestarted[other.index] !== 'UP') missing.push(`${restarted.index} does not see ${other.index} up`);
      if (peerStates(other, cluster, offsets.get(other.index))[restarted.index] !== 'UP')
        missing.push(`${other.index} does not see ${restarted.index} up`);
    }
    if (missing.length === 0) return;
    if (Date.now() > deadline) fail(`gossip did not settle within ${deadlineMs / 1000} s: ${missing.join('; ')}`);
    await sleep(250);
  }
}

/** `down` of a cluster: every node stopped together, the folder deleted unless `keep`. */
export async function downCluster(args) {
  const dir = args.dir;
  const cluster = readCluster(dir);
  const outcomes = await Promise.all(cluster.nodes.map((node) => stopProcess(node, false)));
  const survivors = cluster.nodes.filter((_, i) => outcomes[i] === 'still running');
  if (survivors.length > 0) fail(`pid ${survivors.map((node) => node.pid).join(', ')} survived SIGKILL`);
  if (!args.keep) {
    rmSync(dir, { recursive: true, force: true });
    if (existsSync(lastNodeFile) && readFileSync(lastNodeFile, 'utf8').trim() === dir)
      rmSync(lastNodeFile, { force: true });
  }
  process.stderr.write(
    `scripts/cassandra: cluster nodes ${cluster.nodes.map((node, i) => `${node.index} ${outcomes[i]}`).join(', ')}` +
      `${args.keep ? `; kept ${dir}` : `; removed ${dir}`}\n`,
  );
}

/** `status` of a cluster: per node, its process, its CQL port and its view of the others. */
export async function clusterStatus(args) {
  const cluster = readCluster(clusterDir(args));
  const nodes = [];
  for (const node of cluster.nodes) {
    const running = isNodeProcess(node.pid, node.dir);
    nodes.push({
      index: node.index,
      host: node.host,
      pid: node.pid,
      running,
      cql: running && (await portOpen(cluster.port, node.host)),
      peers: running ? peerStates(node, cluster) : {},
    });
  }
  if (args.json) {
    process.stdout.write(JSON.stringify({ ...report(cluster, {}), nodes }) + '\n');
    return;
  }
  process.stdout.write(
    `cluster ${cluster.dir}: ${cluster.datacenter}, CQL port ${cluster.port}, storage port ${cluster.storagePort}, heap ${cluster.heap}\n`,
  );
  for (const node of nodes) {
    const view = Object.entries(node.peers)
      .map(([index, state]) => `${index} ${state}`)
      .join(', ');
    process.stdout.write(
      `  node ${node.index}  ${node.host.padEnd(10)}  pid ${String(node.pid).padEnd(7)}  ` +
        `${node.running ? (node.cql ? 'up, CQL open' : 'starting') : 'down'}${node.running ? `  sees: ${view}` : ''}\n`,
    );
  }
}
