// The aggregates the aggregate tests ask for: every kind there is, both sketches included.
import type { AggregateOptions } from '../../src/index.js';

/** Sum, min, max, mean, p50 and p99 of `value`, and the distinct count of `distinct`. */
export function everyAggregate<E>(value: (event: E) => number, distinct: (event: E) => string): AggregateOptions<E> {
  return { value, sum: true, min: true, max: true, mean: true, quantiles: [0.5, 0.99], distinct };
}
