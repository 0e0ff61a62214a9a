// What the single node and the cluster share: the jar cache, the JVM command line,
// ports, pids and logs. scripts/cassandra-node/cassandra.mjs is the command.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const HOST = '127.0.0.1';
export const DEFAULT_VERSION = '5.0.8';
export const version = process.env.CASSANDRA_VERSION || DEFAULT_VERSION;
export const cacheRoot = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mqtt-iot-stream');
export const libDir = join(cacheRoot, `cassandra-${version}`, 'lib');
export const lastNodeFile = join(cacheRoot, 'cassandra-last-node');
export const startTimeoutMs = Number(process.env.CASSANDRA_START_TIMEOUT_MS || 240_000);
export const stopGraceMs = Number(process.env.CASSANDRA_STOP_GRACE_MS || 20_000);
export const READY_LINE = 'Starting listening for CQL clients';

/** A fresh node folder to delete if startup fails (after its log lines are printed). */
let freshDir;
/** Marks a folder made by this run, deleted if startup fails. */
export function deleteOnFailure(dir) {
  freshDir = dir;
}

export function fail(message, logDir) {
  process.stderr.write(`scripts/cassandra: ${message}\n`);
  if (logDir) process.stderr.write(lastLogLines(logDir, 60));
  if (freshDir) rmSync(freshDir, { recursive: true, force: true });
  process.exit(1);
}

export function lastLogLines(logDir, count) {
  let out = '';
  for (const name of ['system.log', 'stdout.log']) {
    const file = join(logDir, name);
    if (!existsSync(file)) continue;
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    out += `--- last ${Math.min(count, lines.length)} lines of ${file}\n${lines.slice(-count).join('\n')}\n`;
  }
  return out || `(no log files in ${logDir})\n`;
}

/** Downloads cassandra-all and its runtime dependencies with Maven, once per version. */
export function fetchJars() {
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
    process.stderr.write(
      `scripts/cassandra: downloading cassandra-all ${version} and its dependencies into ${libDir}\n`,
    );
    try {
      execFileSync('mvn', ['-B', '-q', '-Dstyle.color=never', 'package'], { cwd: work, stdio: ['ignore', 2, 2] }); // stdout stays machine-readable
    } catch (error) {
      fail(
        `Maven could not fetch org.apache.cassandra:cassandra-all:${version} (${error.message}); is Maven installed and Maven Central reachable?`,
      );
    }
    if (!readdirSync(libDir).some((name) => name.startsWith('cassandra-all-')))
      fail(`Maven ran but no cassandra-all jar is in ${libDir}`);
    writeFileSync(marker, new Date().toISOString() + '\n');
    return { downloaded: true };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

export function javaMajorVersion(java) {
  const result = spawnSyncText(java, ['-version']);
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result);
  if (!match) return undefined;
  return match[1] === '1' ? Number(match[2]) : Number(match[1]);
}

export function spawnSyncText(cmd, args) {
  try {
    // -version writes to stderr; merge it into stdout.
    return execFileSync('sh', ['-c', '"$0" "$@" 2>&1', cmd, ...args], { encoding: 'utf8' });
  } catch (error) {
    return String(error.stdout ?? '') + String(error.message);
  }
}

/** A free loopback port: bind port 0, read what the kernel gave, release it. */
export function freePort(host = HOST) {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

export function portOpen(port, host = HOST) {
  return new Promise((resolveOpen) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolveOpen(true);
    });
    socket.once('error', () => {
      socket.destroy();
      resolveOpen(false);
    });
  });
}

export function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // A zombie (exited, not yet reaped) still answers signal 0; /proc tells the truth.
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return true;
  }
}

/** True when pid is still the Cassandra JVM of this folder (pids get reused). */
export function isOurNode(pid, dir) {
  if (!alive(pid)) return false;
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmdline.includes('CassandraDaemon') && cmdline.includes(dir);
  } catch {
    return true; // no /proc (not Linux): trust the pid
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function jvmArgs(dir, options = {}) {
  const jamm = readdirSync(libDir).find((name) => /^jamm-.*\.jar$/.test(name));
  const exportsList = [
    'java.base/jdk.internal.misc',
    'java.management.rmi/com.sun.jmx.remote.internal.rmi',
    'java.management/com.sun.jmx.remote.security',
    'java.rmi/sun.rmi.registry',
    'java.rmi/sun.rmi.server',
    'java.sql/java.sql',
    'java.base/java.lang.ref',
    'jdk.unsupported/sun.misc',
    'jdk.attach/sun.tools.attach',
    'jdk.compiler/com.sun.tools.javac.file',
  ];
  const opensList = [
    'java.base/java.lang.module',
    'java.base/jdk.internal.loader',
    'java.base/jdk.internal.ref',
    'java.base/jdk.internal.reflect',
    'java.base/jdk.internal.math',
    'java.base/jdk.internal.module',
    'java.base/jdk.internal.util.jar',
    'jdk.management/com.sun.management.internal',
    'java.base/sun.nio.ch',
    'java.base/java.io',
    'java.base/java.lang.reflect',
    'java.base/java.lang',
    'java.base/java.util',
    'java.base/java.nio',
    'jdk.compiler/com.sun.tools.javac',
  ];
  const heap = options.heap ?? (process.env.CASSANDRA_HEAP || '1G');
  return [
    `-Xms${heap}`,
    `-Xmx${heap}`,
    '-XX:+UseG1GC',
    // A test node lives for minutes and is sent little: C2's compilations cost more CPU
    // than they save. C1 alone halved the JVM's CPU over the Cassandra, outage and schema
    // tests (49-56 s to 25-27 s) and its start (13 s to 7 s), on two cores that the test
    // processes share. A benchmark wants the steady state: CASSANDRA_JIT=full keeps C2.
    ...(process.env.CASSANDRA_JIT === 'full' ? [] : ['-XX:TieredStopAtLevel=1']),
    '-Xss256k',
    '-XX:+ExitOnOutOfMemoryError',
    '-ea',
    ...(jamm ? [`-javaagent:${join(libDir, jamm)}`] : []),
    '-Djdk.attach.allowAttachSelf=true',
    '-Dio.netty.tryReflectionSetAccessible=true',
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
    // Cassandra measures a memtable row's heap overhead at every start by filling a
    // memtable (3 s of a cold JVM here); this is what it measured on 64-bit JDK 17.
    '-Dcassandra.memtable.row_overhead_size=180',
    '-Dcassandra.libjemalloc=-',
    '-Djava.net.preferIPv4Stack=true',
    // Native libraries (JNA, snappy, lz4, zstd) unpack here; the folder must allow exec.
    `-Djava.io.tmpdir=${join(dir, 'tmp')}`,
    `-Djna.tmpdir=${join(dir, 'tmp')}`,
    `-Dmqtt-iot-stream.node-dir=${dir}`, // marks the process as this folder's node (see isOurNode)
    ...(options.extra ?? []),
    '-cp',
    join(libDir, '*'),
    'org.apache.cassandra.service.CassandraDaemon',
  ];
}

/** SIGTERM, then SIGKILL after the grace period; resolves when the pid is gone. */
export async function stopPid(pid, dir, graceMs) {
  if (!isOurNode(pid, dir)) return 'not running';
  try {
    process.kill(pid, graceMs > 0 ? 'SIGTERM' : 'SIGKILL');
  } catch {
    return 'not running';
  }
  const deadline = Date.now() + graceMs;
  while (alive(pid) && Date.now() < deadline) await sleep(100);
  if (!alive(pid)) return 'stopped';
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
  const hardDeadline = Date.now() + 10_000;
  while (alive(pid) && Date.now() < hardDeadline) await sleep(100);
  return alive(pid) ? 'still running' : 'killed';
}
