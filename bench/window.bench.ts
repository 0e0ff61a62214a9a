/**
 * windowedCount events/s (1-minute tumbling windows, 2-minute watermark, the nginx
 * corpus's 11 statuses, append mode) against a plain loop with a Map doing the same
 * counting; both the pure state machine (WindowedCountState) and the RxJS operator. Then
 * heap growth over 10 M events in a child process (see window-memory.ts).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { from } from 'rxjs';
import { WindowedCountState, windowedCount, type WindowedCountOptions } from '../src/index.js';
import {
  interleave,
  pairedRatio,
  rateOf,
  spreadNote,
  threshold,
  type BenchContext,
  type BenchResult,
  type Benchmark,
} from './harness.js';
import { statusEvents, type StatusEvent } from './events.js';
import { plainWindowLoop } from './plain-window-loop.js';
import type { WindowMemoryReport } from './window-memory.js';

const MB = 1024 * 1024;

/** The window settings every variant uses. */
export const benchWindowOptions: WindowedCountOptions<StatusEvent, number> = {
  eventTime: (event) => event.at,
  key: (event) => event.status,
  windowDuration: '1 minute',
  watermarkDelay: '2 minutes',
  outputMode: 'append',
};

export const windowBench: Benchmark = {
  name: 'window',
  async run(context): Promise<BenchResult[]> {
    const full = context.mode === 'full';
    const count = full ? 2_000_000 : 500_000;
    const events = statusEvents(count, 6);
    let rows = 0;
    const countRow = (): void => void (rows += 1);

    const measured = await interleave(
      {
        plainLoop: () => rateOf(count, () => plainWindowLoop(events, countRow)),
        stateMachine: () =>
          rateOf(count, () => {
            const counter = new WindowedCountState(benchWindowOptions, countRow);
            for (let i = 0; i < count; i += 1) counter.push(events[i]!);
            counter.flush();
          }),
        operator: () => rateOf(count, () => from(events).pipe(windowedCount(benchWindowOptions)).subscribe(countRow)),
      },
      { rounds: full ? 9 : 5, warmup: 1 },
    );
    context.log(`window: ${count} events a round, ${rows} rows in all`);
    const figure = (value: number) => ({ value, unit: 'events/s' });
    const memory = await measureMemory(context, 10_000_000);
    return [
      threshold('windowedCount (WindowedCountState)', figure(measured.stateMachine.median), 5e6, {
        baseline: figure(measured.plainLoop.median),
        ratio: pairedRatio(measured.stateMachine, measured.plainLoop),
        note: spreadNote(measured.stateMachine, measured.plainLoop),
      }),
      threshold('windowedCount (operator)', figure(measured.operator.median), 5e6, {
        baseline: figure(measured.plainLoop.median),
        ratio: pairedRatio(measured.operator, measured.plainLoop),
        note: spreadNote(measured.operator, measured.plainLoop),
      }),
      threshold('windowedCount heap growth, 10 M events', { value: memory.heapGrowthBytes / MB, unit: 'MB' }, 50, {
        atMost: true,
        note: `${memory.rows} rows, ${memory.stateSizeAtEnd} counts in ${memory.openWindowsAtEnd} open windows at the end, ${(memory.events / memory.seconds / 1e6).toFixed(2)} M events/s with GC sampling`,
      }),
    ];
  },
};

/** Heap growth over `events` in a child process (see window-memory.ts): of windowedCount, or of windowedAggregate. */
export async function measureMemory(
  context: BenchContext,
  events: number,
  operator: 'count' | 'aggregate' = 'count',
): Promise<WindowMemoryReport> {
  const child = join(dirname(fileURLToPath(import.meta.url)), 'window-memory.ts');
  const started = Date.now();
  const output = await new Promise<string>((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', child, String(events), operator], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    proc.once('error', reject);
    proc.once('exit', (code, signal) =>
      code === 0 ? resolve(stdout) : reject(new Error(`window-memory child exited with ${code ?? signal}: ${stderr}`)),
    );
  });
  context.log(
    `${operator === 'count' ? 'window' : 'aggregate'} memory: child took ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return JSON.parse(output.trim().split('\n').pop()!) as WindowMemoryReport;
}
