/**
 * `npx tsx bench/soak.ts [--minutes 60] [--rate 2000] [--every 10] [--heap] [-- node options…]`:
 * the soak of issue 24. A raw MQTT.js counter and `mqtt-iot-stream aggregate` (its
 * defaults, or with the node options given, e.g. the Pi heap flags) take the same
 * steady stream side by side for an hour, on a Mosquitto of its own; every `--every`
 * seconds a line with each one's RSS and the aggregator's state directory size; at the
 * end their CPU per message, and whether RSS stayed flat after the first 10 minutes
 * (within ±10% of its median), the issue's criterion.
 *
 * `--heap` starts the aggregator with `--http` and adds the sizes of its young (V8's new
 * space) and old generations, as its /metrics gives them to Prometheus, to every line;
 * at the end, when the young generation changed size.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import type { BenchContext } from './harness.js';
import { buildPackage } from './drain-consumers.js';
import { steadyRun } from './drain.bench.js';
import { Services } from './services.js';

const args = process.argv.slice(2);
let minutes = 60;
let perSecond = 2_000;
let every = 10;
let heap = false;
const nodeOptions: string[] = [];
for (let i = 0; i < args.length; i += 1) {
  const arg = args[i]!;
  if (arg === '--minutes') minutes = Number(args[++i]);
  else if (arg === '--rate') perSecond = Number(args[++i]);
  else if (arg === '--every') every = Number(args[++i]);
  else if (arg === '--heap') heap = true;
  else if (arg !== '--') nodeOptions.push(arg);
}

const log = (message: string): void => void process.stderr.write(`  · ${message}\n`);
const services = new Services(log);
const context: BenchContext = {
  mode: 'full',
  log,
  mosquitto: () => services.mosquitto(),
  cassandra: () => services.cassandra(),
};

/** Bytes in a directory's files (the state directory: checkpoint, journal, lock). */
function directoryBytes(directory: string): number {
  try {
    return readdirSync(directory).reduce((sum, name) => sum + statSync(join(directory, name)).size, 0);
  } catch {
    return Number.NaN;
  }
}

/** A port on 127.0.0.1 that nothing listens on now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A heap space's size in MiB, from prom-client's `nodejs_heap_space_size_total_bytes` in a /metrics text. */
function spaceMiB(metrics: string, space: string): number {
  const found = new RegExp(`^nodejs_heap_space_size_total_bytes\\{space="${space}"\\} (\\S+)$`, 'm').exec(metrics);
  return found === null ? Number.NaN : Number(found[1]) / 1024 / 1024;
}

const removeBuild = await buildPackage();
try {
  const { url } = await services.mosquitto();
  const metricsUrl = heap ? `http://127.0.0.1:${await freePort()}/metrics` : undefined;
  process.stdout.write(
    `soak: ${perSecond} msg/s for ${minutes} min, RSS every ${every} s; aggregate ${nodeOptions.join(' ') || '(node defaults)'}${heap ? ', --http' : ''}\n` +
      `minute\traw RSS MiB\taggregate RSS MiB\taggregate peak MiB\tstate dir KB\tload${heap ? '\tyoung MiB\told MiB' : ''}\n`,
  );
  const aggregateRss: { at: number; rss: number }[] = [];
  const youngSizes: { at: number; young: number }[] = [];
  const figures = await steadyRun(context, url, {
    perSecond,
    seconds: minutes * 60,
    label: 'soak',
    aggregateNodeOptions: nodeOptions,
    aggregateFlags: metricsUrl === undefined ? [] : ['--http', new URL(metricsUrl).host],
    sampleEveryMs: every * 1000,
    sample: (consumers, elapsed, stateDirectory) => {
      const raw = consumers.raw.memory();
      const aggregate = consumers.aggregate.memory();
      aggregateRss.push({ at: elapsed, rss: aggregate.rss });
      const line = `${(elapsed / 60).toFixed(2)}\t${raw.rss.toFixed(1)}\t${aggregate.rss.toFixed(1)}\t${aggregate.peak.toFixed(1)}\t${(directoryBytes(stateDirectory) / 1024).toFixed(0)}\t${loadavg()[0]!.toFixed(1)}`;
      if (metricsUrl === undefined) return void process.stdout.write(`${line}\n`);
      fetch(metricsUrl)
        .then((response) => response.text())
        .then(
          (metrics) => {
            const young = spaceMiB(metrics, 'new');
            if (youngSizes.at(-1)?.young !== young) youngSizes.push({ at: elapsed, young });
            process.stdout.write(`${line}\t${young.toFixed(0)}\t${spaceMiB(metrics, 'old').toFixed(1)}\n`);
          },
          (error: unknown) => process.stdout.write(`${line}\t/metrics failed: ${String(error)}\n`),
        );
    },
  });
  const settled = aggregateRss.filter((sample) => sample.at >= Math.min(600, (minutes * 60) / 3)).map((s) => s.rss);
  const sorted = [...settled].sort((a, b) => a - b);
  const middle = sorted[sorted.length >> 1] ?? Number.NaN;
  const within = settled.every((rss) => Math.abs(rss - middle) <= middle * 0.1);
  process.stdout.write(
    `CPU per message: raw ${figures.raw.cpuMicros.toFixed(1)} µs, aggregate ${figures.aggregate.cpuMicros.toFixed(1)} µs (${(figures.aggregate.cpuMicros / figures.raw.cpuMicros).toFixed(2)}×); ` +
      `aggregate RSS after the first ${Math.min(10, minutes / 3).toFixed(0)} min: ${Math.min(...settled).toFixed(0)}–${Math.max(...settled).toFixed(0)} MiB, median ${middle.toFixed(0)}: ${within ? 'flat within ±10%' : 'NOT flat within ±10%'}; peak ${figures.aggregate.peak.toFixed(0)} MiB\n`,
  );
  if (metricsUrl !== undefined)
    process.stdout.write(
      `young generation: ${youngSizes.map(({ at, young }) => `${young.toFixed(0)} MiB from minute ${(at / 60).toFixed(2)}`).join(', ')}\n`,
    );
} finally {
  removeBuild();
  await services.stopAll();
}
