/**
 * A fixed-bucket histogram cheap enough for the per-message path: one comparison
 * loop over a few bounds and two additions, no allocation.
 * @module
 */
import type { HistogramValue } from './statistic.js';

/** @internal */
export class Histogram {
  private readonly counts: Float64Array;
  private total = 0;
  private observations = 0;

  /** @param bounds - the buckets' upper bounds, ascending. */
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.bounds;
    let bucket = 0;
    while (bucket < bounds.length && value > bounds[bucket]!) bucket++;
    this.counts[bucket]!++;
    this.total += value;
    this.observations++;
  }

  value(): HistogramValue {
    const cumulativeCounts: number[] = [];
    let running = 0;
    for (const count of this.counts) cumulativeCounts.push((running += count));
    return { bounds: this.bounds, cumulativeCounts, sum: this.total, count: this.observations };
  }
}

/** Bounds for durations in seconds, from 1 ms to 10 min. @internal */
export const SECONDS_BOUNDS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600];
/** Bounds for batch sizes, from 1 to 1,000. @internal */
export const SIZE_BOUNDS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000];
