/**
 * The accumulator of one (window, key) of `windowedAggregate`: plain, synchronous, no RxJS.
 * @module
 */
import { describeValue } from '../internal/options.js';
import {
  DISTINCT_PRECISION,
  resolveAggregateSpec,
  type AggregateOptions,
  type AggregateSpec,
} from './aggregateSpec.js';
import { DistinctSketch } from './DistinctSketch.js';
import { QuantileSketch, type QuantileSketchPartial } from './QuantileSketch.js';

/**
 * What a cell reports: the count, and each aggregate its spec asks for (the others are
 * absent). In a cell with no event, min, max, mean and the quantiles are `NaN` (`null` in
 * JSON); a cell of `windowedAggregate` always has at least one.
 */
export interface AggregateValues {
  /** Events folded in. */
  readonly count: number;
  readonly sum?: number;
  readonly min?: number;
  readonly max?: number;
  /** sum / count. */
  readonly mean?: number;
  /**
   * The estimated number of distinct values, rounded, and never above the count (a
   * HyperLogLog can overshoot by its error; no more values than events can be distinct).
   */
  readonly distinct?: number;
  /**
   * The quantiles by name, in the order asked: `{ p50: 812, p99: 10432 }`. 0 and 1 (`p0`,
   * `p100`) are the exact min and max; the others are DDSketch estimates, within
   * `quantileAccuracy` (relative) of the value of rank ⌊q × (count − 1)⌋ (0-based) among
   * the values in ascending order when that value is 0 or of magnitude 1e-9 to 1e15, and
   * always within [min, max].
   */
  readonly quantiles?: Readonly<Record<string, number>>;
}

/**
 * A cell's state as plain JSON, to store and to merge elsewhere (see
 * {@link AggregateCell.toPartial}). Which fields are present follows the spec: `sum`,
 * `min` and `max` whenever it reads values (the quantiles are kept within [min, max]),
 * `quantiles` and `distinct` when asked. `min` and `max` are `null` while the count is 0.
 */
export interface AggregatePartial {
  readonly format: 1;
  readonly count: number;
  readonly sum?: number;
  readonly min?: number | null;
  readonly max?: number | null;
  /** The DDSketch's bins. */
  readonly quantiles?: QuantileSketchPartial;
  /** The HyperLogLog's registers, serialised by `hyperlolo`, in base64 (about 5.6 KB at precision 12). */
  readonly distinct?: string;
}

/**
 * Which aggregates a cell read from a stored partial reports ({@link AggregateCell.specOf}):
 * the partial keeps the state of them all, not which were asked for.
 */
export interface PartialReport {
  /** Report the sum. Default: whether the partial holds values. */
  readonly sum?: boolean;
  /** Report the least value. Default: whether the partial holds values. */
  readonly min?: boolean;
  /** Report the greatest value. Default: whether the partial holds values. */
  readonly max?: boolean;
  /** Report the mean (sum / count). Default: whether the partial holds values. */
  readonly mean?: boolean;
  /**
   * The quantiles to read from the partial's sketch, each in [0, 1], e.g. `[0.5, 0.99]`:
   * required when it holds one, refused when it does not.
   */
  readonly quantiles?: readonly number[];
}

/** The fields an {@link AggregatePartial} may have. */
const PARTIAL_FIELDS = new Set(['format', 'count', 'sum', 'min', 'max', 'quantiles', 'distinct']);

/**
 * The aggregates of one (window, key): count, sum, min, max and mean of a number per event,
 * approximate quantiles (a DDSketch) and an approximate distinct count (a HyperLogLog), as
 * its {@link AggregateSpec} asks.
 *
 * Cells of the same spec merge exactly: the merge of the cells of any split of a stream
 * equals the cell of the whole stream — the same count, min, max and sketches (bins add,
 * registers take their max), and the same sum and mean when the values are integers (or
 * any numbers whose partial sums are exact) and the sums stay within 2^53. That is what
 * lets N aggregators on a shared subscription store partials that add up to one total.
 *
 * `add` is the per-event path: no allocation (but a sketch growing its bins), fields all
 * set in the constructor, sketches made only when asked for.
 *
 * @example
 * ```ts
 * import { AggregateCell, resolveAggregateSpec } from 'mqtt-iot-stream';
 *
 * const spec = resolveAggregateSpec<{ bytes: number; client: string }>({
 *   value: (hit) => hit.bytes, sum: true, max: true, quantiles: [0.5], distinct: (hit) => hit.client,
 * });
 * const here = new AggregateCell(spec);
 * here.add(512, '10.0.0.1');
 * here.add(2048, '10.0.0.2');
 * const there = new AggregateCell(spec);
 * there.add(1024, '10.0.0.1');
 *
 * const total = AggregateCell.fromPartial(JSON.parse(JSON.stringify(here.toPartial())), spec);
 * total.merge(there);
 * total.values(); // { count: 3, sum: 3584, max: 2048, distinct: 2, quantiles: { p50: ≈1024 } }
 * ```
 * @typeParam E - the event type of the spec.
 */
export class AggregateCell<E = unknown> {
  private events = 0;
  private total = 0;
  private least = Infinity;
  private greatest = -Infinity;
  private readonly quantileSketch: QuantileSketch | undefined;
  private readonly distinctSketch: DistinctSketch | undefined;
  private readonly usesValue: boolean;

  /** @param spec - from {@link resolveAggregateSpec}. */
  constructor(readonly spec: AggregateSpec<E>) {
    this.usesValue = spec.usesValue;
    this.quantileSketch = spec.quantiles.length > 0 ? new QuantileSketch(spec.quantileAccuracy) : undefined;
    this.distinctSketch = spec.distinct !== undefined ? new DistinctSketch(spec.distinctPrecision) : undefined;
  }

  /** Events folded in: added here, or added to a cell merged in. */
  get count(): number {
    return this.events;
  }

  /** The sum of the values (0 with no event, and when the spec reads no value). */
  get sum(): number {
    return this.total;
  }

  /** The least value; `NaN` with no event or when the spec reads no value. */
  get min(): number {
    return this.events > 0 && this.usesValue ? this.least : NaN;
  }

  /** The greatest value; `NaN` with no event or when the spec reads no value. */
  get max(): number {
    return this.events > 0 && this.usesValue ? this.greatest : NaN;
  }

  /**
   * Folds in one event.
   * @param value - the event's number (`spec.value(event)`); ignored, pass 0, when the
   *   spec reads no value.
   * @param distinctValue - what the event counts as for the distinct count
   *   (`spec.distinct(event)`); ignored, pass `undefined`, when none is asked.
   * @throws TypeError or RangeError, the cell unchanged, when the spec reads values and
   *   `value` is not a finite number, or counts distinct values and `distinctValue` is
   *   neither a string nor a number: a message that can be a rejection's reason.
   */
  add(value: number, distinctValue: string | number | undefined): void {
    if (this.usesValue && !Number.isFinite(value)) throw valueError(value);
    const distinct = this.distinctSketch;
    if (distinct !== undefined) {
      if (typeof distinctValue !== 'string' && typeof distinctValue !== 'number')
        throw new TypeError(
          `AggregateCell.add: the distinct value must be a string or a number, got ${describeValue(distinctValue)}`,
        );
      distinct.add(distinctValue);
    }
    this.events++;
    if (this.usesValue) {
      this.total += value;
      if (value < this.least) this.least = value;
      if (value > this.greatest) this.greatest = value;
      if (this.quantileSketch !== undefined) this.quantileSketch.add(value);
    }
  }

  /**
   * Folds another cell of an equal spec into this one (the other is unchanged): counts and
   * sums add, min and max fold, sketches merge.
   * @throws Error when the cells' specs ask for different aggregates; this cell is then unchanged.
   */
  merge(other: AggregateCell<E>): void {
    const difference = specDifference(this.spec, other.spec);
    if (difference !== undefined)
      throw new Error(`AggregateCell.merge: the cells compute different aggregates: ${difference}`);
    this.events += other.events;
    this.total += other.total;
    if (other.least < this.least) this.least = other.least;
    if (other.greatest > this.greatest) this.greatest = other.greatest;
    if (this.quantileSketch !== undefined && other.quantileSketch !== undefined)
      this.quantileSketch.merge(other.quantileSketch);
    if (this.distinctSketch !== undefined && other.distinctSketch !== undefined)
      this.distinctSketch.merge(other.distinctSketch);
  }

  /** The count and the aggregates asked for, as a new plain object (see {@link AggregateValues}). */
  values(): AggregateValues {
    const { spec, events } = this;
    const values: { -readonly [F in keyof AggregateValues]: AggregateValues[F] } = { count: events };
    if (spec.sum) values.sum = this.total;
    if (spec.min) values.min = this.min;
    if (spec.max) values.max = this.max;
    if (spec.mean) values.mean = events > 0 ? this.total / events : NaN;
    if (this.distinctSketch !== undefined)
      values.distinct = Math.min(Math.round(this.distinctSketch.estimate()), events);
    if (this.quantileSketch !== undefined) {
      const quantiles: Record<string, number> = {};
      spec.quantiles.forEach((quantile, i) => {
        quantiles[spec.quantileNames[i]!] = this.valueAt(this.quantileSketch!, quantile);
      });
      values.quantiles = quantiles;
    }
    return values;
  }

  /**
   * The state as plain JSON (see {@link AggregatePartial}): `JSON.stringify` it, store it,
   * and {@link AggregateCell.fromPartial} it back, here or in another process, to merge.
   * Cells of the same events give equal partials, whatever the order of adds and merges.
   */
  toPartial(): AggregatePartial {
    const empty = this.events === 0;
    return {
      format: 1,
      count: this.events,
      ...(this.usesValue && {
        sum: this.total,
        min: empty ? null : this.least,
        max: empty ? null : this.greatest,
      }),
      ...(this.quantileSketch !== undefined && { quantiles: this.quantileSketch.toPartial() }),
      ...(this.distinctSketch !== undefined && { distinct: this.distinctSketch.toPartial() }),
    };
  }

  /**
   * The cell a {@link AggregateCell.toPartial} describes, for a spec equal to the one it
   * was taken under.
   * @param partial - from `toPartial`, possibly through JSON; checked, not kept.
   * @throws Error naming what is wrong when the partial is malformed, or holds other
   *   aggregates than the spec asks for (or sketches of another accuracy or precision).
   */
  static fromPartial<E>(partial: unknown, spec: AggregateSpec<E>): AggregateCell<E> {
    const context = 'AggregateCell.fromPartial';
    if (typeof partial !== 'object' || partial === null || Array.isArray(partial))
      throw new Error(`${context}: the partial must be an object, got ${describeValue(partial)}`);
    const fields = partial as Record<string, unknown>;
    const unknownField = Object.keys(fields).find((field) => !PARTIAL_FIELDS.has(field));
    if (unknownField !== undefined) throw new Error(`${context}: the partial has an unknown field ${unknownField}`);
    if (fields.format !== 1) throw new Error(`${context}: format must be 1, got ${describeValue(fields.format)}`);
    const count = fields.count;
    if (!Number.isSafeInteger(count) || (count as number) < 0)
      throw new Error(`${context}: count must be an integer ≥ 0, got ${describeValue(count)}`);

    const cell = new AggregateCell(spec);
    cell.events = count as number;
    expectPresence(fields, 'sum', spec.usesValue, 'values (sum, min, max, mean or quantiles)');
    expectPresence(fields, 'min', spec.usesValue, 'values (sum, min, max, mean or quantiles)');
    expectPresence(fields, 'max', spec.usesValue, 'values (sum, min, max, mean or quantiles)');
    expectPresence(fields, 'quantiles', cell.quantileSketch !== undefined, 'quantiles');
    expectPresence(fields, 'distinct', cell.distinctSketch !== undefined, 'distinct');
    if (spec.usesValue) {
      const { sum, min, max } = fields;
      if (typeof sum !== 'number' || !Number.isFinite(sum))
        throw new Error(`${context}: sum must be a finite number, got ${describeValue(sum)}`);
      if (count === 0) {
        if (sum !== 0 || min !== null || max !== null)
          throw new Error(
            `${context}: a partial of no event must have sum 0 and min and max null, got ${describeValue(sum)}, ${describeValue(min)}, ${describeValue(max)}`,
          );
      } else {
        if (typeof min !== 'number' || typeof max !== 'number' || !(min <= max) || !Number.isFinite(max - min))
          throw new Error(
            `${context}: min and max must be finite numbers, min ≤ max, got ${describeValue(min)} and ${describeValue(max)}`,
          );
        cell.least = min;
        cell.greatest = max;
      }
      cell.total = sum;
    }
    if (cell.quantileSketch !== undefined) {
      const sketch = QuantileSketch.fromPartial(fields.quantiles, spec.quantileAccuracy, `${context}: quantiles`);
      if (sketch.count !== count)
        throw new Error(`${context}: quantiles hold ${sketch.count} values, but count is ${describeValue(count)}`);
      cell.quantileSketch.merge(sketch);
    }
    if (cell.distinctSketch !== undefined)
      cell.distinctSketch.merge(
        DistinctSketch.fromPartial(fields.distinct, spec.distinctPrecision, `${context}: distinct`),
      );
    return cell;
  }

  /**
   * A spec that a partial can be read back with when the aggregate options it was taken
   * under are not at hand (a reader of stored partials): the sketches' accuracy and
   * precision come from the partial, and what to report from `report`. Cells read with
   * it merge with each other, and with cells of the original spec when `report` asks for
   * the same aggregates.
   *
   * A partial does not say which of sum, min, max and mean were asked (it keeps sum, min
   * and max for all four), nor which quantiles: by default all four are reported when
   * the partial holds values, and the quantiles must be named when it holds a sketch
   * (any quantiles can be read from the sketch, within its accuracy).
   *
   * @example
   * ```ts
   * import { AggregateCell, resolveAggregateSpec } from 'mqtt-iot-stream';
   *
   * const cell = new AggregateCell(resolveAggregateSpec<number>({ value: (n) => n, max: true, quantiles: [0.5] }));
   * cell.add(3, undefined);
   * cell.add(5, undefined);
   * const stored = JSON.parse(JSON.stringify(cell.toPartial()));
   * const spec = AggregateCell.specOf(stored, { quantiles: [0.5, 0.9] });
   * AggregateCell.fromPartial(stored, spec).values(); // { count: 2, sum: 8, min: 3, max: 5, mean: 4, quantiles: { p50: ≈3, p90: ≈5 } }
   * ```
   * @param partial - an {@link AggregatePartial}, possibly through JSON; its sketches are
   *   checked by `fromPartial`, not here.
   * @param report - which aggregates its cells report (see {@link PartialReport}).
   * @returns a spec for {@link AggregateCell.fromPartial}; its `value` and `distinct`
   *   accessors only throw (a cell read from storage takes values through `add`).
   * @throws Error naming what is wrong when the partial is not one, `report` asks for
   *   what it does not hold (sum, min, max or mean without values, quantiles without a
   *   sketch) or leaves out the quantiles of a sketch; TypeError or RangeError for a bad
   *   quantile, as {@link resolveAggregateSpec}.
   */
  static specOf(partial: unknown, report: PartialReport = {}): AggregateSpec<unknown> {
    const context = 'AggregateCell.specOf';
    if (typeof partial !== 'object' || partial === null || Array.isArray(partial))
      throw new Error(`${context}: the partial must be an object, got ${describeValue(partial)}`);
    const fields = partial as Record<string, unknown>;
    if (fields.format !== 1) throw new Error(`${context}: format must be 1, got ${describeValue(fields.format)}`);
    const holdsValues = fields.sum !== undefined;
    const sketch = fields.quantiles;
    const quantiles = report.quantiles ?? [];
    const options: AggregateOptions<unknown> = {};
    for (const flag of ['sum', 'min', 'max', 'mean'] as const) {
      const asked = report[flag] ?? holdsValues;
      if (asked && !holdsValues)
        throw new Error(`${context}: ${flag} is asked, but the partial holds no values (it was taken without them)`);
      options[flag] = asked;
    }
    if (sketch !== undefined) {
      if (quantiles.length === 0)
        throw new Error(
          `${context}: the partial holds a quantile sketch: name the quantiles to read from it (report.quantiles, e.g. [0.5, 0.99])`,
        );
      if (
        typeof sketch !== 'object' ||
        sketch === null ||
        typeof (sketch as { accuracy?: unknown }).accuracy !== 'number'
      )
        throw new Error(`${context}: quantiles must be a sketch with its accuracy, got ${describeValue(sketch)}`);
      options.quantiles = quantiles;
      options.quantileAccuracy = (sketch as { accuracy: number }).accuracy;
    } else if (quantiles.length > 0) {
      throw new Error(
        `${context}: quantiles are asked, but the partial holds no quantile sketch (it was taken without quantiles)`,
      );
    }
    if (holdsValues) {
      if (!options.sum && !options.min && !options.max && !options.mean && quantiles.length === 0)
        throw new Error(
          `${context}: the partial holds values: report at least one of sum, min, max, mean or quantiles`,
        );
      options.value = () => {
        throw new TypeError(
          `${context}: a spec read from a partial reads no events; add values with AggregateCell.add`,
        );
      };
    }
    if (fields.distinct !== undefined) {
      options.distinct = () => {
        throw new TypeError(
          `${context}: a spec read from a partial reads no events; add values with AggregateCell.add`,
        );
      };
      options.distinctPrecision = distinctPrecisionOf(fields.distinct, context);
    }
    return resolveAggregateSpec(options, context);
  }

  /** A quantile as {@link AggregateValues.quantiles} reports it. */
  private valueAt(sketch: QuantileSketch, quantile: number): number {
    if (this.events === 0) return NaN;
    // The value of rank 0 is the min and of rank count − 1 the max: exact, so give them.
    if (quantile === 0) return this.least;
    if (quantile === 1) return this.greatest;
    // The exact quantile lies in [min, max]: moving the estimate there can only bring it closer.
    return Math.min(Math.max(sketch.valueAt(quantile), this.least), this.greatest);
  }
}

/** The error `add` throws for a value that is not a finite number. */
function valueError(value: unknown): TypeError | RangeError {
  const message = `AggregateCell.add: the value must be a finite number, got ${describeValue(value)}`;
  return typeof value === 'number' ? new RangeError(message) : new TypeError(message);
}

function expectPresence(fields: Record<string, unknown>, field: string, expected: boolean, what: string): void {
  const present = fields[field] !== undefined;
  if (present === expected) return;
  throw new Error(
    present
      ? `AggregateCell.fromPartial: the partial has ${field}, but the aggregate options read no ${what}: it was taken under other options`
      : `AggregateCell.fromPartial: the partial has no ${field}, but the aggregate options ask for ${what}: it was taken under other options`,
  );
}

/** How two specs' aggregates differ, in a few words; `undefined` when they compute the same. */
function specDifference<E>(a: AggregateSpec<E>, b: AggregateSpec<E>): string | undefined {
  if (a === b) return undefined;
  for (const flag of ['sum', 'min', 'max', 'mean'] as const) {
    if (a[flag] !== b[flag])
      return `${flag} ${a[flag] ? 'asked' : 'not asked'} here, ${b[flag] ? 'asked' : 'not asked'} there`;
  }
  if (a.quantiles.join() !== b.quantiles.join())
    return `quantiles [${a.quantiles.join(', ')}] here, [${b.quantiles.join(', ')}] there`;
  if (a.quantiles.length > 0 && a.quantileAccuracy !== b.quantileAccuracy)
    return `quantileAccuracy ${a.quantileAccuracy} here, ${b.quantileAccuracy} there`;
  if ((a.distinct === undefined) !== (b.distinct === undefined))
    return `distinct ${a.distinct === undefined ? 'not asked' : 'asked'} here, ${b.distinct === undefined ? 'not asked' : 'asked'} there`;
  if (a.distinct !== undefined && a.distinctPrecision !== b.distinctPrecision)
    return `distinctPrecision ${a.distinctPrecision} here, ${b.distinctPrecision} there`;
  return undefined;
}

/** The serialised length of an empty HyperLogLog of each precision (the registers are one byte each, the header fixed). */
const distinctLengths = new Map<number, number>();

/**
 * The precision of the HyperLogLog a distinct partial serialises, told by its length;
 * `DistinctSketch.fromPartial` checks the rest. Throws when no precision fits.
 */
function distinctPrecisionOf(distinct: unknown, context: string): number {
  if (typeof distinct !== 'string')
    throw new Error(`${context}: distinct must be a base64 string, got ${describeValue(distinct)}`);
  const length = Buffer.from(distinct, 'base64').length;
  for (let precision = DISTINCT_PRECISION.min; precision <= DISTINCT_PRECISION.max; precision++) {
    let empty = distinctLengths.get(precision);
    if (empty === undefined) {
      empty = Buffer.from(new DistinctSketch(precision).toPartial(), 'base64').length;
      distinctLengths.set(precision, empty);
    }
    if (empty === length) return precision;
  }
  throw new Error(
    `${context}: distinct is not a HyperLogLog of precision ${DISTINCT_PRECISION.min} to ${DISTINCT_PRECISION.max} (${length} bytes)`,
  );
}
