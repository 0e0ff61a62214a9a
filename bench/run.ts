/**
 * `npm run bench [-- --quick|--full] [names…]`: runs the benchmarks and prints one
 * line per result (ours, baseline, ratio, target, OK/MISSED).
 *
 * Exits 0 when every benchmark ran, whatever the figures (a missed target prints
 * MISSED; the machine is shared and figures are noisy); exits 1 only when a
 * benchmark crashed. `--json <file>` also writes the results as JSON.
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { formatFigure, type BenchContext, type Benchmark, type BenchResult } from './harness.js';
import { Services } from './services.js';
import { parseBench } from './parse.bench.js';
import { windowBench } from './window.bench.js';
import { aggregateBench } from './aggregate.bench.js';
import { mqttAggregateBench } from './mqtt-aggregate.bench.js';
import { mqttPublishBench } from './mqtt-publish.bench.js';
import { cassandraBench } from './cassandra.bench.js';
import { latencyBench } from './latency.bench.js';
import { durableBench } from './durable.bench.js';
import { scaleOutBench } from './scaleout.bench.js';
import { drainBench } from './drain.bench.js';

// Cassandra last: its JVM keeps working (flushes, compaction) until the runner stops it
// at the end, and would steal the CPU from any benchmark that ran after it.
const benchmarks: readonly Benchmark[] = [
  parseBench,
  windowBench,
  aggregateBench,
  mqttAggregateBench,
  mqttPublishBench,
  latencyBench,
  durableBench,
  scaleOutBench,
  drainBench,
  cassandraBench,
];

interface Arguments {
  readonly mode: 'quick' | 'full';
  readonly names: readonly string[];
  readonly json: string | undefined;
}

function parseArguments(argv: readonly string[]): Arguments {
  let mode: 'quick' | 'full' = 'full';
  let json: string | undefined;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === '--quick') mode = 'quick';
    else if (arg === '--full') mode = 'full';
    else if (arg === '--json') json = argv[++i];
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(
        `usage: npm run bench -- [--quick|--full] [--json file] [${benchmarks.map((b) => b.name).join('|')}…]\n`,
      );
      process.exit(0);
    } else if (arg.startsWith('-')) throw new Error(`unknown option ${arg}`);
    else names.push(arg);
  }
  const known = new Set(benchmarks.map((b) => b.name));
  const unknown = names.filter((name) => !known.has(name));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; known: ${[...known].join(', ')}`);
  return { mode, names, json };
}

function verdict(result: BenchResult): string {
  if (result.ok === true) return 'OK';
  if (result.ok === false) return 'MISSED';
  return result.ours === undefined ? 'N/A' : 'INFO';
}

function row(cells: readonly string[], widths: readonly number[]): string {
  return cells
    .map((cell, i) => cell.padEnd(widths[i] ?? 0))
    .join('  ')
    .trimEnd();
}

const widths = [46, 18, 18, 8, 26, 6];

function printResult(result: BenchResult): void {
  const ratio = result.ratio === undefined ? '—' : `${result.ratio.toFixed(2)}×`;
  const line = row(
    [result.name, formatFigure(result.ours), formatFigure(result.baseline), ratio, result.target, verdict(result)],
    widths,
  );
  process.stdout.write(`${line}${result.note === undefined ? '' : `  (${result.note})`}\n`);
}

async function main(): Promise<number> {
  const args = parseArguments(process.argv.slice(2));
  const log = (message: string): void => void process.stderr.write(`  · ${message}\n`);
  const services = new Services(log);
  const context: BenchContext = {
    mode: args.mode,
    log,
    mosquitto: () => services.mosquitto(),
    cassandra: () => services.cassandra(),
  };
  // Ctrl-C or a kill must still stop the servers we started.
  const onSignal = (signal: NodeJS.Signals): void => {
    void services.stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const selected = args.names.length === 0 ? benchmarks : benchmarks.filter((b) => args.names.includes(b.name));
  const loadAtStart = loadavg()[0]!;
  process.stdout.write(
    `mqtt-iot-stream benchmarks, ${args.mode} mode; node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}; load average ${loadAtStart.toFixed(1)}\n`,
  );
  process.stdout.write(`${row(['benchmark', 'ours', 'baseline', 'ratio', 'target', 'result'], widths)}\n`);
  const results: Array<BenchResult & { readonly benchmark: string }> = [];
  const crashed: string[] = [];
  try {
    for (const benchmark of selected) {
      const started = Date.now();
      log(`${benchmark.name}…`);
      try {
        for (const result of await benchmark.run(context)) {
          printResult(result);
          results.push({ benchmark: benchmark.name, ...result });
        }
      } catch (error) {
        crashed.push(benchmark.name);
        process.stdout.write(`${benchmark.name}: CRASHED: ${(error as Error).stack ?? String(error)}\n`);
      }
      log(`${benchmark.name} took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    await services.stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (args.json !== undefined) {
    const machine = {
      node: process.version,
      cpus: cpus().length,
      cpu: cpus()[0]?.model,
      loadAverageAtStart: loadAtStart,
      loadAverageAtEnd: loadavg()[0],
    };
    writeFileSync(
      args.json,
      `${JSON.stringify({ mode: args.mode, at: new Date().toISOString(), ...machine, results }, null, 2)}\n`,
    );
  }
  const missed = results.filter((r) => r.ok === false).length;
  process.stdout.write(
    `${results.length} results, ${missed} missed, ${crashed.length} crashed${crashed.length > 0 ? ` (${crashed.join(', ')})` : ''}; load average ${loadavg()[0]!.toFixed(1)}\n`,
  );
  return crashed.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything we opened is closed by now, so node exits on its own. If a handle
    // leaked anyway (a bug, reported here), do not hang CI: exit after a grace period.
    setTimeout(() => {
      process.stderr.write('bench: something still holds the event loop 10 s after the end; exiting anyway\n');
      process.exit(code === 0 ? 3 : code);
    }, 10_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exitCode = 2;
  },
);
