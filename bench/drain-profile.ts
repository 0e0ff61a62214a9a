/**
 * `npx tsx bench/drain-profile.ts [--count N] [--kind aggregate|library|raw] [node options…]`:
 * one drain of the drain benchmark (bench/drain.bench.ts) by one consumer, with the
 * node options given (e.g. `--cpu-prof --cpu-prof-dir=.bench-tmp/prof`, `--heapsnapshot-signal=SIGHUP --snapshot-at 5`,
 * `--trace-gc`, `--max-semi-space-size=1`), on a Mosquitto of its own. Prints the
 * consumer's rate, CPU per message, peak RSS and RSS every second. How issue 24's
 * profiles were taken (docs/benchmarks.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPackage, Consumer, countedOf, publishDrain, type ConsumerKind } from './drain-consumers.js';
import { Services } from './services.js';
import { endSession, makeSession } from './sessions.js';

const args = process.argv.slice(2);
let count = 200_000;
let kind: ConsumerKind = 'aggregate';
const nodeOptions: string[] = [];
const cliFlags: string[] = [];
/** Seconds into the drain at which to SIGHUP the consumer (with --heapsnapshot-signal=SIGHUP: a heap snapshot). */
let snapshotAt: number | undefined;
for (let i = 0; i < args.length; i += 1) {
  const arg = args[i]!;
  if (arg === '--count') count = Number(args[++i]);
  else if (arg === '--kind') kind = args[++i] as ConsumerKind;
  else if (arg === '--flag') cliFlags.push(args[++i]!);
  else if (arg === '--snapshot-at') snapshotAt = Number(args[++i]);
  else nodeOptions.push(arg);
}

const log = (message: string): void => void process.stderr.write(`  · ${message}\n`);
const services = new Services(log);
const removeBuild = await buildPackage();
try {
  const { url } = await services.mosquitto();
  const topic = `bench/drain/profile-${process.pid}`;
  const clientId = `bench-drain-profile-${process.pid}`;
  await makeSession(url, clientId, topic);
  await publishDrain(url, topic, count);
  const stateDirectory = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-bench-drain-'));
  const consumer = await Consumer.start(kind, {
    url,
    clientId,
    topic,
    expected: count + 1,
    expectedCount: countedOf(count),
    stateDirectory,
    nodeOptions,
    cliFlags,
    echoOtherLines: true,
  });
  try {
    consumer.go();
    const snapshot =
      snapshotAt === undefined ? undefined : setTimeout(() => process.kill(consumer.pid, 'SIGHUP'), snapshotAt * 1000);
    const samples = await consumer.doneSamplingRss();
    clearTimeout(snapshot);
    const cpu = consumer.cpuSinceGo();
    process.stdout.write(
      `${kind} ${nodeOptions.join(' ')} ${cliFlags.join(' ')}: ${count + 1} messages, ${(consumer.rate(count + 1) / 1000).toFixed(1)} k msg/s, ` +
        `${((cpu / (count + 1)) * 1e6).toFixed(1)} µs CPU/msg, peak RSS ${consumer.memory().peak.toFixed(0)} MiB; ` +
        `RSS each second ${samples.map((s) => s.toFixed(0)).join(' ')} MiB` +
        (kind === 'aggregate' ? `; counted ${consumer.counted} of ${countedOf(count)}` : '') +
        '\n',
    );
  } finally {
    await consumer.stop();
    rmSync(stateDirectory, { recursive: true, force: true });
    await endSession(url, clientId);
  }
} finally {
  removeBuild();
  await services.stopAll();
}
