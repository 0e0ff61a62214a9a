/**
 * What `windowedAggregate` computes for each (window, key): the options a user writes
 * ({@link AggregateOptions}) and the checked form an {@link AggregateCell} is built from
 * ({@link AggregateSpec}).
 * @module
 */
import { optionChecks, type OptionChecks } from '../internal/options.js';

/**
 * The aggregates of each (window, key), beside the count, which is always computed (the
 * number of events folded in; it is also the count that "a larger count wins" compares
 * when rows are stored).
 *
 * `value` is required when `sum`, `min`, `max`, `mean` or `quantiles` is asked, and refused
 * when none is (it would be read for nothing: a forgotten `sum: true`, most likely); so is
 * `quantileAccuracy` without `quantiles` and `distinctPrecision` without `distinct`. Asking
 * for nothing is allowed: the rows then hold the count alone, as `windowedCount`'s do.
 *
 * @example Bytes served and distinct clients per status
 * ```ts
 * import type { AccessLogRecord, AggregateOptions } from 'mqtt-iot-stream';
 *
 * const aggregates: AggregateOptions<AccessLogRecord> = {
 *   value: (hit) => hit.bytes,
 *   sum: true,
 *   max: true,
 *   quantiles: [0.5, 0.99],
 *   distinct: (hit) => hit.client,
 * };
 * ```
 * @typeParam E - the event type.
 */
export interface AggregateOptions<E> {
  /** The number each event contributes (e.g. its bytes); needed by sum, min, max, mean and quantiles. */
  value?: (event: E) => number;
  /** The sum of the values. Default `false`. */
  sum?: boolean;
  /** The least value. Default `false`. */
  min?: boolean;
  /** The greatest value. Default `false`. */
  max?: boolean;
  /** The sum divided by the count. Default `false`. */
  mean?: boolean;
  /**
   * Quantiles to estimate, each in [0, 1], e.g. `[0.5, 0.99]`; rows name them `p50`, `p99`
   * (see {@link quantileName}). 0 and 1 give the exact least and greatest value; the others
   * come from a DDSketch, within `quantileAccuracy` of the exact value (relative error; see
   * there for the magnitudes this holds for).
   */
  quantiles?: readonly number[];
  /**
   * DDSketch relative accuracy of the quantiles, from 0.001 to less than 1 (default 0.01 =
   * 1%): an estimate `x̂` of the exact quantile `x` satisfies `|x̂ − x| ≤ accuracy × |x|`
   * when `x` is 0 or of magnitude 1e-9 to 1e15 (values beyond count at that edge). A
   * sketch holds about `ln(largest / smallest magnitude) / (2 × accuracy)` bins of 8 bytes
   * a sign: at most 2,800 at 1%, 28,000 at 0.1% (finer, the sketch library throws).
   */
  quantileAccuracy?: number;
  /** What to count distinct values of, e.g. `(e) => e.client`. Numbers count as their text: `1` and `'1'` are one value. */
  distinct?: (event: E) => string | number;
  /**
   * HyperLogLog precision, log2 of its register count: an integer from 4 to 12 (default 12,
   * the largest `hyperlolo`'s 32-bit hash allows). Each (window, key) then holds 2^precision
   * one-byte registers (4 KiB at 12) and the standard error of the distinct count is
   * 1.04 / √(2^precision): 1.6% at 12, 3.3% at 10, 6.5% at 8.
   */
  distinctPrecision?: number;
}

/**
 * The defaults of {@link AggregateOptions}, which its TSDoc quotes.
 * @internal
 */
export const AGGREGATE_DEFAULTS = {
  quantileAccuracy: 0.01,
  distinctPrecision: 12,
} as const;

/**
 * The finest `quantileAccuracy`: 28,000 bins a sign over the sketched magnitudes; at 0.0002
 * the sketch library overflows the call stack growing its bins (see QuantileSketch.ts).
 */
const QUANTILE_ACCURACY = { min: 0.001, note: 'finer ones overflow the sketch' } as const;

/**
 * The least and greatest `distinctPrecision` (hyperlolo warns below 4 and caps at 12).
 * @internal
 */
export const DISTINCT_PRECISION = { min: 4, max: 12 } as const;

/**
 * {@link AggregateOptions} checked, with defaults applied: what an {@link AggregateCell}
 * is built from. Made by {@link resolveAggregateSpec}; cells merge only with cells of an
 * equal spec.
 * @typeParam E - the event type.
 */
export interface AggregateSpec<E> {
  /** The number each event contributes; set exactly when {@link AggregateSpec.usesValue}. */
  readonly value: ((event: E) => number) | undefined;
  /** What distinct values are counted of; `undefined` when no distinct count is asked. */
  readonly distinct: ((event: E) => string | number) | undefined;
  readonly sum: boolean;
  readonly min: boolean;
  readonly max: boolean;
  readonly mean: boolean;
  /** The quantiles asked, in the order given (a copy). */
  readonly quantiles: readonly number[];
  /** Their names in rows, in the same order: `p50`, `p99`, `p99.9`. */
  readonly quantileNames: readonly string[];
  readonly quantileAccuracy: number;
  readonly distinctPrecision: number;
  /** Whether events contribute a number: sum, min, max, mean or a quantile is asked. */
  readonly usesValue: boolean;
}

/**
 * A quantile's name in rows: `p` and the percentage, `0.5` → `p50`, `0.999` → `p99.9`,
 * `1` → `p100`. Reads well as a JSON key and as a key of a Cassandra `map<text, double>`.
 */
export function quantileName(quantile: number): string {
  // toPrecision(12) drops binary noise: 0.07 × 100 is 7.000000000000001.
  return `p${Number((quantile * 100).toPrecision(12))}`;
}

/**
 * Checks aggregate options and applies their defaults.
 *
 * @param options - the options (other properties, e.g. the window's, are ignored).
 * @param operator - the operator that error messages name.
 * @throws TypeError when an option is of the wrong type (`value` not a function,
 *   `quantiles` not an array or holding a non-number), `value` is missing while a
 *   statistic of values is asked, or an option is given that nothing asked uses.
 * @throws RangeError when an option is out of range: a quantile outside [0, 1] or given
 *   twice, `quantileAccuracy` not from 0.001 to less than 1, `distinctPrecision` not an integer from
 *   4 to 12. For example `windowedAggregate: quantiles must be numbers in [0, 1], got 1.5`.
 */
export function resolveAggregateSpec<E>(
  options: AggregateOptions<E>,
  operator = 'windowedAggregate',
): AggregateSpec<E> {
  const checks = optionChecks(operator);
  if (typeof options !== 'object' || options === null)
    throw checks.error('type', 'the aggregate options', 'an object', options);

  const value = checks.optionalFunc<(event: E) => number>('value', options.value, '(event) => number');
  const distinct = checks.optionalFunc<(event: E) => string | number>(
    'distinct',
    options.distinct,
    '(event) => string | number',
  );
  const sum = checks.optionalBoolean('sum', options.sum) ?? false;
  const min = checks.optionalBoolean('min', options.min) ?? false;
  const max = checks.optionalBoolean('max', options.max) ?? false;
  const mean = checks.optionalBoolean('mean', options.mean) ?? false;
  const quantiles = quantilesOf(checks, options.quantiles);

  const usesValue = sum || min || max || mean || quantiles.length > 0;
  if (usesValue && value === undefined)
    throw checks.required('value', '(event) => number, read for sum, min, max, mean and quantiles');
  if (!usesValue && value !== undefined)
    throw unused(operator, 'value', 'ask for sum, min, max, mean or quantiles too, or leave value out');
  if (quantiles.length === 0 && options.quantileAccuracy !== undefined)
    throw unused(operator, 'quantileAccuracy', 'ask for quantiles too, or leave quantileAccuracy out');
  if (distinct === undefined && options.distinctPrecision !== undefined)
    throw unused(operator, 'distinctPrecision', 'ask for distinct too, or leave distinctPrecision out');

  const quantileAccuracy = options.quantileAccuracy ?? AGGREGATE_DEFAULTS.quantileAccuracy;
  if (typeof quantileAccuracy !== 'number' || !(quantileAccuracy >= QUANTILE_ACCURACY.min && quantileAccuracy < 1))
    throw checks.error(
      typeof quantileAccuracy === 'number' ? 'range' : 'type',
      'quantileAccuracy',
      `a number from ${QUANTILE_ACCURACY.min} to less than 1 (${QUANTILE_ACCURACY.note})`,
      quantileAccuracy,
    );
  const distinctPrecision = checks.integer(
    'distinctPrecision',
    options.distinctPrecision ?? AGGREGATE_DEFAULTS.distinctPrecision,
    { ...DISTINCT_PRECISION, note: "hyperlolo's 32-bit hash allows 12 at most" },
  );

  return {
    value,
    distinct,
    sum,
    min,
    max,
    mean,
    quantiles,
    quantileNames: quantiles.map(quantileName),
    quantileAccuracy,
    distinctPrecision,
    usesValue,
  };
}

/** The quantiles, checked: an array of different numbers in [0, 1] with different names. */
function quantilesOf(checks: OptionChecks, raw: unknown): number[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) throw checks.error('type', 'quantiles', 'an array of numbers in [0, 1]', raw);
  const byName = new Map<string, number>();
  for (const quantile of raw as unknown[]) {
    if (typeof quantile !== 'number') throw checks.error('type', 'quantiles', 'numbers in [0, 1]', quantile);
    if (!(quantile >= 0 && quantile <= 1)) throw checks.error('range', 'quantiles', 'numbers in [0, 1]', quantile);
    const name = quantileName(quantile);
    const same = byName.get(name);
    if (same !== undefined) {
      const got = same === quantile ? `${quantile} twice` : `${same} and ${quantile}, which are both ${name}`;
      throw new RangeError(`${checks.operator}: quantiles must be different numbers, got ${got}`);
    }
    byName.set(name, quantile);
  }
  return [...byName.values()];
}

/** The error for an option that nothing asked for reads. */
function unused(operator: string, option: string, advice: string): TypeError {
  return new TypeError(`${operator}: ${option} is given but nothing asked for uses it; ${advice}`);
}
