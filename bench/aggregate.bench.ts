/**
 * windowedAggregate events/s against windowedCount on the same events (1-minute windows,
 * 2-minute watermark, the nginx corpus's statuses, append mode; state machines, no RxJS):
 * with the count alone, it must keep windowedCount's speed; with count, sum, min, max,
 * mean and one sketch (DDSketch quantiles), at least half of it. The values are the real
 * response sizes of the nginx corpus. Then heap growth over 10 M events with every
 * aggregate and both sketches (see window-memory.ts).
 */
import { parseAccessLogLine, WindowedAggregateState, WindowedCountState } from '../src/index.js';
import { corpusLines } from '../test/support/corpora.js';
import { compare, interleave, rateOf, threshold, type BenchResult, type Benchmark } from './harness.js';
import { statusEvents, type StatusEvent } from './events.js';
import { benchWindowOptions, measureMemory } from './window.bench.js';

const MB = 1024 * 1024;

/** A status event with the response size it aggregates. */
interface SizedEvent extends StatusEvent {
  readonly bytes: number;
}

/** The nginx corpus's response sizes, in log order ('-' as 0). */
function corpusBytes(): Float64Array {
  const lines = corpusLines('nginx');
  const bytes = new Float64Array(lines.length);
  lines.forEach((line, i) => {
    const record = parseAccessLogLine(line);
    bytes[i] = 'bytes' in record && typeof record.bytes === 'number' ? record.bytes : 0;
  });
  return bytes;
}

export const aggregateBench: Benchmark = {
  name: 'aggregate',
  async run(context): Promise<BenchResult[]> {
    const full = context.mode === 'full';
    const count = full ? 2_000_000 : 500_000;
    const sizes = corpusBytes();
    // Every variant gets the same objects, so none pays for a shape the others do not see.
    const events: SizedEvent[] = statusEvents(count, 6).map((event, i) => ({
      ...event,
      bytes: sizes[i % sizes.length]!,
    }));
    const bytes = (event: SizedEvent): number => event.bytes;
    let rows = 0;
    const countRow = (): void => void (rows += 1);
    const run = (make: () => { push(event: SizedEvent): void; flush(): void }) =>
      rateOf(count, () => {
        const state = make();
        for (let i = 0; i < count; i += 1) state.push(events[i]!);
        state.flush();
      });

    const measured = await interleave(
      {
        windowedCount: () => run(() => new WindowedCountState(benchWindowOptions, countRow)),
        countOnly: () => run(() => new WindowedAggregateState({ ...benchWindowOptions, aggregates: {} }, countRow)),
        withSketch: () =>
          run(
            () =>
              new WindowedAggregateState(
                {
                  ...benchWindowOptions,
                  aggregates: { value: bytes, sum: true, min: true, max: true, mean: true, quantiles: [0.5, 0.99] },
                },
                countRow,
              ),
          ),
      },
      { rounds: full ? 9 : 5, warmup: 1 },
    );
    context.log(`aggregate: ${count} events a round, ${rows} rows in all`);
    const memory = await measureMemory(context, 10_000_000, 'aggregate');
    return [
      compare(
        'windowedAggregate, count only',
        measured.countOnly,
        measured.windowedCount,
        'events/s',
        0.95,
        'windowedCount',
      ),
      compare(
        'windowedAggregate, count sum min max mean p50 p99',
        measured.withSketch,
        measured.windowedCount,
        'events/s',
        0.5,
        'windowedCount',
        'bytes of the nginx corpus',
      ),
      threshold('windowedAggregate heap growth, 10 M events', { value: memory.heapGrowthBytes / MB, unit: 'MB' }, 50, {
        atMost: true,
        note: `every aggregate, both sketches; ${memory.rows} rows, ${memory.stateSizeAtEnd} cells in ${memory.openWindowsAtEnd} open windows at the end`,
      }),
    ];
  },
};
