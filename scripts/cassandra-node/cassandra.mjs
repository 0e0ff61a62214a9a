// Starts and stops one local Apache Cassandra 5.0 node for tests and examples,
// from the server jars on Maven Central (no Debian/npm package and no Docker here).
// Run through the `scripts/cassandra` wrapper; `scripts/cassandra help` prints usage.
//
// A node lives in one folder (config, data, logs, node.json with its pid and ports).
// `up` makes a fresh folder unless `--dir` names an existing one, in which case the
// same node restarts on the same data and ports (what the outage test needs).
// `up --nodes N` starts a cluster instead (cluster.mjs); node-process.mjs holds what
// both share (jars, JVM flags, ports, pids).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  DEFAULT_VERSION,
  HOST,
  READY_LINE,
  cacheRoot,
  deleteOnFailure,
  fail,
  fetchJars,
  freePort,
  here,
  isOurNode,
  javaMajorVersion,
  jvmArgs,
  lastNodeFile,
  libDir,
  portOpen,
  sleep,
  startTimeoutMs,
  stopGraceMs,
  stopPid,
  version,
} from './node-process.mjs';
import { clusterStatus, downCluster, isCluster, startNode, stopNode, upCluster } from './cluster.mjs';

const usage = `usage: scripts/cassandra <command> [options]

  up [--dir DIR] [--json]   start a node; with --dir of a stopped node, restart it on
                            the same data and ports; otherwise a fresh temp folder.
                            Prints CASSANDRA_HOST/PORT/PID/DIR lines (or one JSON line
                            with --json) once CQL clients are accepted.
  down [--dir DIR] [--keep] stop the node (SIGTERM, SIGKILL after ${stopGraceMs / 1000} s) and
                            delete its folder unless --keep. Default DIR: the last node up.
  restart [--dir DIR]       down --keep, then up on the same folder.
  fetch                     only download the jars into the cache.
  status [--dir DIR]        print node.json and whether the pid is alive.

A cluster on loopback addresses 127.0.0.1 … 127.0.0.N (one data centre, datacenter1;
GossipingPropertyFileSnitch, so NetworkTopologyStrategy works; every node a seed):
  up --nodes N [--dir DIR] [--json]
                            start N nodes (1–9) in a fresh folder, all at once; done when
                            every node accepts CQL clients and sees the others up. Prints
                            CASSANDRA_CONTACT_POINTS/PORT/DATACENTER/PIDS/DIR lines (or
                            one JSON line). Heap 512M a node unless CASSANDRA_HEAP.
  stop-node N [--kill]      stop node N (SIGTERM; --kill: SIGKILL at once), keeping its data.
  start-node N              start node N again on its data; done when it and the running
                            nodes see each other up.
  status [--json]           per node: pid, running, CQL port, which peers it sees up.
  down [--keep]             stop every node and delete the folder unless --keep.
  These take --dir DIR; the default is the cluster of the last \`up\`.

Environment: CASSANDRA_VERSION (default ${DEFAULT_VERSION}), CASSANDRA_START_TIMEOUT_MS
(default 240000), CASSANDRA_STOP_GRACE_MS (default 20000), CASSANDRA_JIT=full (C2 too,
for benchmarks; by default a node compiles with C1 only: quicker to start), XDG_CACHE_HOME.
Jars are cached in ${libDir}.`;

function parseArgs(argv) {
  const args = {
    command: argv[0] ?? 'help',
    dir: undefined,
    json: false,
    keep: false,
    nodes: undefined,
    kill: false,
    node: undefined,
  };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--dir') args.dir = resolve(argv[++i] ?? fail('--dir needs a folder'));
    else if (arg === '--json') args.json = true;
    else if (arg === '--keep') args.keep = true;
    else if (arg === '--nodes') {
      args.nodesText = argv[++i] ?? fail('--nodes needs a number');
      args.nodes = /^\d+$/.test(args.nodesText) ? Number(args.nodesText) : NaN;
    } else if (arg === '--kill' && args.command === 'stop-node') args.kill = true;
    else if (
      /^\d+$/.test(arg) &&
      (args.command === 'stop-node' || args.command === 'start-node') &&
      args.node === undefined
    )
      args.node = Number(arg);
    else fail(`unknown option ${arg}\n${usage}`);
  }
  if ((args.command === 'stop-node' || args.command === 'start-node') && args.node === undefined)
    fail(`${args.command} needs a node number, e.g. ${args.command} 2`);
  return args;
}

async function up(args) {
  const t0 = Date.now();
  const { downloaded } = fetchJars();
  const fetchedMs = Date.now() - t0;
  const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
  const major = javaMajorVersion(java);
  if (major === undefined) fail(`cannot run ${java}; install Java 17 (Debian: openjdk-17-jre-headless)`);
  if (major < 11) fail(`Cassandra 5.0 needs Java 11 or 17, ${java} is Java ${major}`);

  let dir;
  let state;
  if (args.dir && existsSync(join(args.dir, 'node.json'))) {
    dir = args.dir;
    state = JSON.parse(readFileSync(join(dir, 'node.json'), 'utf8'));
    if (isOurNode(state.pid, dir)) fail(`the node in ${dir} is already running (pid ${state.pid})`);
  } else {
    dir = args.dir ?? mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-cassandra-'));
    if (!args.dir) deleteOnFailure(dir);
    for (const sub of ['conf', 'data', 'logs', 'tmp']) mkdirSync(join(dir, sub), { recursive: true });
    const nativePort = await freePort();
    let storagePort = await freePort();
    while (storagePort === nativePort) storagePort = await freePort();
    state = { host: HOST, port: nativePort, storagePort, version, dir, pid: 0 };
    const yaml = readFileSync(join(here, 'cassandra.yaml.template'), 'utf8')
      .replaceAll('@HOST@', HOST)
      .replaceAll('@STORAGE_PORT@', String(storagePort))
      .replaceAll('@NATIVE_PORT@', String(nativePort));
    writeFileSync(join(dir, 'conf', 'cassandra.yaml'), yaml);
    writeFileSync(join(dir, 'conf', 'logback.xml'), readFileSync(join(here, 'logback.xml'), 'utf8'));
  }
  const logDir = join(dir, 'logs');
  // A restarted node appends to the same system.log: remember where this start begins.
  const systemLog = join(logDir, 'system.log');
  const logOffset = existsSync(systemLog) ? readFileSync(systemLog).length : 0;
  if (await portOpen(state.port)) fail(`port ${HOST}:${state.port} is already in use`);

  const out = openSync(join(logDir, 'stdout.log'), 'a');
  const child = spawn(java, jvmArgs(dir), { cwd: dir, detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  state.pid = child.pid;
  let exitCode = null;
  child.on('exit', (code, signal) => {
    exitCode = code ?? signal;
  });
  writeFileSync(join(dir, 'node.json'), JSON.stringify(state, null, 2) + '\n');
  mkdirSync(cacheRoot, { recursive: true });
  writeFileSync(lastNodeFile, dir + '\n');

  const jvmStart = Date.now();
  for (;;) {
    if (exitCode !== null) fail(`Cassandra exited during startup (${exitCode})`, logDir);
    const log = existsSync(systemLog) ? readFileSync(systemLog).subarray(logOffset).toString('utf8') : '';
    if (log.includes(READY_LINE) && (await portOpen(state.port))) break;
    if (Date.now() - jvmStart > startTimeoutMs) {
      await stopPid(state.pid, dir, 0);
      fail(`Cassandra did not accept CQL clients within ${startTimeoutMs / 1000} s`, logDir);
    }
    await sleep(250);
  }
  child.unref();
  const startedMs = Date.now() - jvmStart;
  const report = { ...state, downloadMs: downloaded ? fetchedMs : 0, startMs: startedMs };
  writeFileSync(join(dir, 'node.json'), JSON.stringify(state, null, 2) + '\n');
  if (args.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else {
    process.stdout.write(
      [
        `CASSANDRA_HOST=${state.host}`,
        `CASSANDRA_PORT=${state.port}`,
        `CASSANDRA_PID=${state.pid}`,
        `CASSANDRA_DIR=${dir}`,
        `CASSANDRA_VERSION=${version}`,
      ].join('\n') + '\n',
    );
    process.stderr.write(
      `scripts/cassandra: Cassandra ${version} accepts CQL clients on ${state.host}:${state.port} ` +
        `(JVM start ${(startedMs / 1000).toFixed(1)} s${downloaded ? `, jar download ${(fetchedMs / 1000).toFixed(1)} s` : ''})\n`,
    );
  }
  // The JVM is detached in its own process group: this script may exit, the node stays.
  process.exit(0);
}

function nodeDir(args) {
  if (args.dir) return args.dir;
  if (existsSync(lastNodeFile)) return readFileSync(lastNodeFile, 'utf8').trim();
  fail('no --dir given and no node was started from this cache');
}

async function down(args) {
  const dir = nodeDir(args);
  const stateFile = join(dir, 'node.json');
  if (!existsSync(stateFile)) fail(`no node.json in ${dir}`);
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  const outcome = await stopPid(state.pid, dir, stopGraceMs);
  if (outcome === 'still running') fail(`pid ${state.pid} survived SIGKILL`);
  if (!args.keep) {
    rmSync(dir, { recursive: true, force: true });
    if (existsSync(lastNodeFile) && readFileSync(lastNodeFile, 'utf8').trim() === dir)
      rmSync(lastNodeFile, { force: true });
  }
  process.stderr.write(
    `scripts/cassandra: node pid ${state.pid} ${outcome}${args.keep ? `; kept ${dir}` : `; removed ${dir}`}\n`,
  );
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  switch (args.command) {
    case 'up':
      return args.nodes === undefined ? up(args) : upCluster(args);
    case 'down': {
      const dir = nodeDir(args);
      return isCluster(dir) ? downCluster({ ...args, dir }) : down(args);
    }
    case 'stop-node':
      return stopNode(args);
    case 'start-node':
      return startNode(args);
    case 'restart': {
      const dir = nodeDir(args);
      if (isCluster(dir)) fail(`${dir} holds a cluster: restart its nodes with stop-node N and start-node N`);
      await down({ ...args, dir, keep: true });
      return up({ ...args, dir });
    }
    case 'fetch': {
      const t0 = Date.now();
      const { downloaded } = fetchJars();
      process.stderr.write(
        `scripts/cassandra: jars ${downloaded ? `downloaded in ${((Date.now() - t0) / 1000).toFixed(1)} s` : 'already cached'} in ${libDir}\n`,
      );
      return;
    }
    case 'status': {
      const dir = nodeDir(args);
      if (isCluster(dir)) return clusterStatus({ ...args, dir });
      const state = JSON.parse(readFileSync(join(dir, 'node.json'), 'utf8'));
      process.stdout.write(JSON.stringify({ ...state, running: isOurNode(state.pid, dir) }) + '\n');
      return;
    }
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage + '\n');
      return;
    default:
      fail(`unknown command ${args.command}\n${usage}`);
  }
}

main().catch((error) => fail(error.stack ?? String(error)));
