/**
 * Child process of the window and aggregate benchmarks: heap growth of windowedCount
 * (or, given `aggregate`, of windowedAggregate with every aggregate and both sketches)
 * over many events with advancing event time. Runs alone (node --expose-gc) so that nothing
 * else's garbage is in the figure, and prints one JSON line on stdout.
 *
 * The events are made on the fly (never stored), so the heap holds only the
 * operator's state and whatever it leaks. The figure is the largest heap after a
 * full GC, sampled every million events, minus the heap after a full GC before the
 * first event.
 */
import { Observable } from 'rxjs';
import {
  AggregateCell,
  resolveAggregateSpec,
  windowedAggregate,
  windowedCount,
  type WindowStats,
} from '../src/index.js';
import { collectGarbage } from './harness.js';
import { corpusStatuses, eventTime, type StatusEvent } from './events.js';

/** What the child reports. */
export interface WindowMemoryReport {
  readonly events: number;
  readonly rows: number;
  readonly heapBeforeBytes: number;
  readonly heapPeakAfterGcBytes: number;
  readonly heapGrowthBytes: number;
  readonly stateSizeAtEnd: number;
  readonly openWindowsAtEnd: number;
  readonly seconds: number;
}

const SAMPLE_EVERY = 1_000_000;

function main(): void {
  if (typeof (globalThis as { gc?: unknown }).gc !== 'function') throw new Error('run with node --expose-gc');
  const total = Number(process.argv[2] ?? 10_000_000);
  const aggregates = process.argv[3] === 'aggregate';
  const stepMs = 6; // 10 M events span ~17 h of event time: ~1,000 one-minute windows
  const codes = corpusStatuses();
  let stats: WindowStats | undefined;
  let rows = 0;
  let stateSizeAtEnd = 0;
  let openWindowsAtEnd = 0;
  let peak = 0;
  const sample = (): void => {
    collectGarbage();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  };

  const events = new Observable<StatusEvent>((subscriber) => {
    for (let i = 0; i < total && !subscriber.closed; i += 1) {
      subscriber.next({ at: new Date(eventTime(i, stepMs)), status: codes[i % codes.length]! });
      if ((i + 1) % SAMPLE_EVERY === 0) sample();
    }
    // Sampled before complete: the open windows' state is still held here.
    sample();
    stateSizeAtEnd = stats?.stateSize ?? -1;
    openWindowsAtEnd = stats?.openWindows ?? -1;
    subscriber.complete();
  });

  // The sketches' libraries load on the first distinct count (hyperlolo brings lodash-es,
  // about 11 MB of heap): loaded before the baseline, so the figure is the state's alone.
  if (aggregates) new AggregateCell(resolveAggregateSpec({ distinct: (value: number) => value })).add(0, 1);
  collectGarbage();
  const before = process.memoryUsage().heapUsed;
  const started = process.hrtime.bigint();
  const windowOptions = {
    eventTime: (event: StatusEvent) => event.at,
    key: (event: StatusEvent) => event.status,
    windowDuration: '1 minute',
    watermarkDelay: '2 minutes',
    outputMode: 'append',
    onSubscribe: (live: WindowStats) => void (stats = live),
  } as const;
  const counting = () => () => void (rows += 1);
  if (aggregates) {
    // A value and a client per event from the event's index: sketches fill as with real data.
    events
      .pipe(
        windowedAggregate({
          ...windowOptions,
          aggregates: {
            value: (event: StatusEvent) => event.at.getTime() % 50_000,
            sum: true,
            min: true,
            max: true,
            mean: true,
            quantiles: [0.5, 0.99],
            distinct: (event: StatusEvent) => event.at.getTime() % 997,
          },
        }),
      )
      .subscribe(counting());
  } else {
    events.pipe(windowedCount(windowOptions)).subscribe(counting());
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const report: WindowMemoryReport = {
    events: total,
    rows,
    heapBeforeBytes: before,
    heapPeakAfterGcBytes: peak,
    heapGrowthBytes: peak - before,
    stateSizeAtEnd,
    openWindowsAtEnd,
    seconds,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

main();
