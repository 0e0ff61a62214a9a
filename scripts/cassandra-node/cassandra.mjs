// Starts and stops one local Apache Cassandra 5.0 node for tests and examples,
// from the server jars on Maven Central (no Debian/npm package and no Docker here).
// Run through the `scripts/cassandra` wrapper; `scripts/cassandra help` prints usage.
//
// A node lives in one folder (config, data, logs, node.json with its pid and ports).
// `up` makes a fresh folder unless `--dir` names an existing one, in which case the
// same node restarts on the same data and ports (what the outage test needs).
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const HOST = '127.0.0.1';
const DEFAULT_VERSION = '5.0.8';
const version = process.env.CASSANDRA_VERSION || DEFAULT_VERSION;
const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mqtt-iot-stream');
const libDir = join(cacheRoot, `cassandra-${version}`, 'lib');
const lastNodeFile = join(cacheRoot, 'cassandra-last-node');
const startTimeoutMs = Number(process.env.CASSANDRA_START_TIMEOUT_MS || 240_000);
const stopGraceMs = Number(process.env.CASSANDRA_STOP_GRACE_MS || 20_000);
const READY_LINE = 'Starting listening for CQL clients';

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

Environment: CASSANDRA_VERSION (default ${DEFAULT_VERSION}), CASSANDRA_START_TIMEOUT_MS
(default 240000), CASSANDRA_STOP_GRACE_MS (default 20000), XDG_CACHE_HOME.
Jars are cached in ${libDir}.`;

/** A fresh node folder to delete if startup fails (after its log lines are printed). */
let freshDir;

function fail(message, logDir) {
  process.stderr.write(`scripts/cassandra: ${message}\n`);
  if (logDir) process.stderr.write(lastLogLines(logDir, 60));
  if (freshDir) rmSync(freshDir, { recursive: true, force: true });
  process.exit(1);
}

function lastLogLines(logDir, count) {
  let out = '';
  for (const name of ['system.log', 'stdout.log']) {
    const file = join(logDir, name);
    if (!existsSync(file)) continue;
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    out += `--- last ${Math.min(count, lines.length)} lines of ${file}\n${lines.slice(-count).join('\n')}\n`;
  }
  return out || `(no log files in ${logDir})\n`;
}

function parseArgs(argv) {
  const args = { command: argv[0] ?? 'help', dir: undefined, json: false, keep: false };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--dir') args.dir = resolve(argv[++i] ?? fail('--dir needs a folder'));
    else if (arg === '--json') args.json = true;
    else if (arg === '--keep') args.keep = true;
    else fail(`unknown option ${arg}\n${usage}`);
  }
  return args;
}

/** Downloads cassandra-all and its runtime dependencies with Maven, once per version. */
function fetchJars() {
  const marker = join(libDir, '.complete');
  if (existsSync(marker)) return { downloaded: false };
  const work = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-cassandra-fetch-'));
  try {
    const pom = readFileSync(join(here, 'pom.xml.template'), 'utf8')
      .replaceAll('@CASSANDRA_VERSION@', version)
      .replaceAll('@LIB_DIR@', libDir);
    writeFileSync(join(work, 'pom.xml'), pom);
    rmSync(libDir, { recursive: true, force: true });
    mkdirSync(libDir, { recursive: true });
    process.stderr.write(`scripts/cassandra: downloading cassandra-all ${version} and its dependencies into ${libDir}\n`);
    try {
      execFileSync('mvn', ['-B', '-q', '-Dstyle.color=never', 'package'], { cwd: work, stdio: ['ignore', 2, 2] }); // stdout stays machine-readable
    } catch (error) {
      fail(`Maven could not fetch org.apache.cassandra:cassandra-all:${version} (${error.message}); is Maven installed and Maven Central reachable?`);
    }
    if (!readdirSync(libDir).some((name) => name.startsWith('cassandra-all-'))) fail(`Maven ran but no cassandra-all jar is in ${libDir}`);
    writeFileSync(marker, new Date().toISOString() + '\n');
    return { downloaded: true };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function javaMajorVersion(java) {
  const result = spawnSyncText(java, ['-version']);
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result);
  if (!match) return undefined;
  return match[1] === '1' ? Number(match[2]) : Number(match[1]);
}

function spawnSyncText(cmd, args) {
  try {
    // -version writes to stderr; merge it into stdout.
    return execFileSync('sh', ['-c', '"$0" "$@" 2>&1', cmd, ...args], { encoding: 'utf8' });
  } catch (error) {
    return String(error.stdout ?? '') + String(error.message);
  }
}

/** A free loopback port: bind port 0, read what the kernel gave, release it. */
function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolveOpen) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => { socket.destroy(); resolveOpen(true); });
    socket.once('error', () => { socket.destroy(); resolveOpen(false); });
  });
}

function alive(pid) {
  try { process.kill(pid, 0); } catch { return false; }
  // A zombie (exited, not yet reaped) still answers signal 0; /proc tells the truth.
  try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return true; }
}

/** True when pid is still the Cassandra JVM of this folder (pids get reused). */
function isOurNode(pid, dir) {
  if (!alive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('CassandraDaemon') && cmdline.includes(dir);
  } catch {
    return true; // no /proc (not Linux): trust the pid
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function jvmArgs(dir) {
  const jamm = readdirSync(libDir).find((name) => /^jamm-.*\.jar$/.test(name));
  const exportsList = ['java.base/jdk.internal.misc', 'java.management.rmi/com.sun.jmx.remote.internal.rmi',
    'java.management/com.sun.jmx.remote.security', 'java.rmi/sun.rmi.registry', 'java.rmi/sun.rmi.server',
    'java.sql/java.sql', 'java.base/java.lang.ref', 'jdk.unsupported/sun.misc', 'jdk.attach/sun.tools.attach',
    'jdk.compiler/com.sun.tools.javac.file'];
  const opensList = ['java.base/java.lang.module', 'java.base/jdk.internal.loader', 'java.base/jdk.internal.ref',
    'java.base/jdk.internal.reflect', 'java.base/jdk.internal.math', 'java.base/jdk.internal.module',
    'java.base/jdk.internal.util.jar', 'jdk.management/com.sun.management.internal', 'java.base/sun.nio.ch',
    'java.base/java.io', 'java.base/java.lang.reflect', 'java.base/java.lang', 'java.base/java.util',
    'java.base/java.nio', 'jdk.compiler/com.sun.tools.javac'];
  const heap = process.env.CASSANDRA_HEAP || '1G';
  return [
    `-Xms${heap}`, `-Xmx${heap}`, '-XX:+UseG1GC', '-Xss256k', '-XX:+ExitOnOutOfMemoryError', '-ea',
    ...(jamm ? [`-javaagent:${join(libDir, jamm)}`] : []),
    '-Djdk.attach.allowAttachSelf=true', '-Dio.netty.tryReflectionSetAccessible=true',
    ...exportsList.flatMap((m) => ['--add-exports', `${m}=ALL-UNNAMED`]),
    ...opensList.flatMap((m) => ['--add-opens', `${m}=ALL-UNNAMED`]),
    `-Dcassandra.config=${pathToFileURL(join(dir, 'conf', 'cassandra.yaml')).href}`,
    `-Dcassandra.storagedir=${join(dir, 'data')}`,
    `-Dcassandra.logdir=${join(dir, 'logs')}`,
    `-Dlogback.configurationFile=${join(dir, 'conf', 'logback.xml')}`,
    '-Dcassandra-foreground=yes',
    '-Dcassandra.skip_wait_for_gossip_to_settle=0',
    '-Dcassandra.superuser_setup_delay_ms=0',
    '-Dcassandra.ring_delay_ms=1000',
    '-Dcassandra.libjemalloc=-',
    '-Djava.net.preferIPv4Stack=true',
    // Native libraries (JNA, snappy, lz4, zstd) unpack here; the folder must allow exec.
    `-Djava.io.tmpdir=${join(dir, 'tmp')}`, `-Djna.tmpdir=${join(dir, 'tmp')}`,
    `-Dmqtt-iot-stream.node-dir=${dir}`, // marks the process as this folder's node (see isOurNode)
    '-cp', join(libDir, '*'),
    'org.apache.cassandra.service.CassandraDaemon',
  ];
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
    if (!args.dir) freshDir = dir;
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
  child.on('exit', (code, signal) => { exitCode = code ?? signal; });
  writeFileSync(join(dir, 'node.json'), JSON.stringify(state, null, 2) + '\n');
  mkdirSync(cacheRoot, { recursive: true });
  writeFileSync(lastNodeFile, dir + '\n');

  const jvmStart = Date.now();
  for (;;) {
    if (exitCode !== null) fail(`Cassandra exited during startup (${exitCode})`, logDir);
    const log = existsSync(systemLog) ? readFileSync(systemLog).subarray(logOffset).toString('utf8') : '';
    if (log.includes(READY_LINE) && await portOpen(state.port)) break;
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
    process.stdout.write([
      `CASSANDRA_HOST=${state.host}`, `CASSANDRA_PORT=${state.port}`, `CASSANDRA_PID=${state.pid}`,
      `CASSANDRA_DIR=${dir}`, `CASSANDRA_VERSION=${version}`,
    ].join('\n') + '\n');
    process.stderr.write(`scripts/cassandra: Cassandra ${version} accepts CQL clients on ${state.host}:${state.port} ` +
      `(JVM start ${(startedMs / 1000).toFixed(1)} s${downloaded ? `, jar download ${(fetchedMs / 1000).toFixed(1)} s` : ''})\n`);
  }
  // The JVM is detached in its own process group: this script may exit, the node stays.
  process.exit(0);
}

/** SIGTERM, then SIGKILL after the grace period; resolves when the pid is gone. */
async function stopPid(pid, dir, graceMs) {
  if (!isOurNode(pid, dir)) return 'not running';
  try { process.kill(pid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL'); } catch { return 'not running'; }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (!alive(pid)) return 'stopped';
  try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  const hardDeadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < hardDeadline) await sleep(100);
  return alive(pid) ? 'still running' : 'killed';
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
    if (existsSync(lastNodeFile) && readFileSync(lastNodeFile, 'utf8').trim() === dir) rmSync(lastNodeFile, { force: true });
  }
  process.stderr.write(`scripts/cassandra: node pid ${state.pid} ${outcome}${args.keep ? `; kept ${dir}` : `; removed ${dir}`}\n`);
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  switch (args.command) {
    case 'up': return up(args);
    case 'down': return down(args);
    case 'restart': {
      const dir = nodeDir(args);
      await down({ ...args, dir, keep: true });
      return up({ ...args, dir });
    }
    case 'fetch': {
      const t0 = Date.now();
      const { downloaded } = fetchJars();
      process.stderr.write(`scripts/cassandra: jars ${downloaded ? `downloaded in ${((Date.now() - t0) / 1000).toFixed(1)} s` : 'already cached'} in ${libDir}\n`);
      return;
    }
    case 'status': {
      const dir = nodeDir(args);
      const state = JSON.parse(readFileSync(join(dir, 'node.json'), 'utf8'));
      process.stdout.write(JSON.stringify({ ...state, running: isOurNode(state.pid, dir) }) + '\n');
      return;
    }
    case 'help': case '--help': case '-h':
      process.stdout.write(usage + '\n');
      return;
    default:
      fail(`unknown command ${args.command}\n${usage}`);
  }
}

main().catch((error) => fail(error.stack ?? String(error)));
