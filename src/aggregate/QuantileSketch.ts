/**
 * The quantile sketch of an {@link AggregateCell}: a DDSketch of `@datadog/sketches-js`
 * 2.1.1 (Apache-2.0, DataDog's own TypeScript port; no dependencies), with its merge and
 * its serialised form done here, through the library's public bins, because the library's
 * own are wrong or unusable (2.1.1 is the latest release; its newest commit has the same code):
 *
 * - `DDSketch.merge` never merges the negative values' store (DataDog/sketches-js#22,
 *   open since 2022): a merged sketch of temperatures below zero loses them.
 * - `DenseStore.merge` widens its range with `secondKey || key`, so another store whose
 *   largest key is 0 (a value in (0.98, 1] at 1%) is not covered: merging a sketch of
 *   [0.001, 1] into one of [1e-6] leaves NaN in the bins and loses the 1.
 * - `toProto`/`fromProto` need `protobufjs`, which the package does not depend on
 *   (DataDog/sketches-js#26), and the bins they write depend on the order of additions.
 *
 * So a merge adds the other sketch's bins one key at a time through `DenseStore.add`, the
 * path every value takes, and a partial lists the bins from the lowest non-empty key to
 * the highest: equal bins give equal partials, whatever the order of events and merges.
 *
 * The bins are one dense array a sign, from the smallest magnitude seen to the largest, so
 * values are pinned to {@link SKETCHED_MAGNITUDES} first: unpinned, the two values 1e-300
 * and 1e300 took 69,000 bins a sign (3.6 MB of heap) at 1% accuracy, and at 0.1% the
 * library threw RangeError (call stack size exceeded, spreading 690,000 new bins into its
 * array), whatever the values before.
 * @module
 */
import { DDSketch } from '@datadog/sketches-js';
import { describeValue } from '../internal/options.js';

/** The bins of one sign in a {@link QuantileSketchPartial}: `counts[i]` values fell in bin `firstKey + i`. */
export interface SketchBinsPartial {
  readonly firstKey: number;
  readonly counts: readonly number[];
}

/**
 * A DDSketch as plain JSON: its relative accuracy, the values too close to 0 to be binned,
 * and the bins of the positive and of the negative values (keyed by the value's magnitude).
 */
export interface QuantileSketchPartial {
  readonly accuracy: number;
  readonly zeroCount: number;
  readonly positive: SketchBinsPartial;
  readonly negative: SketchBinsPartial;
}

type DenseStore = DDSketch['store'];

/**
 * The magnitudes a sketch tells apart, besides 0: a value beyond them counts at the nearer
 * edge (its sign kept), so its quantile estimate is off by more than the accuracy while the
 * cell's count, sum, min and max stay exact. Bytes, seconds down to nanoseconds and
 * temperatures fit. A sketch then holds at most ln(1e24) / ln(γ) bins a sign: about 2,800
 * at 1% accuracy and 28,000 at 0.1%, the finest the aggregate options allow (at 0.02% the
 * library throws, over this range too).
 */
export const SKETCHED_MAGNITUDES = { least: 1e-9, greatest: 1e15 } as const;
const { least: LEAST, greatest: GREATEST } = SKETCHED_MAGNITUDES;

/** Approximate quantiles with a relative-error guarantee, mergeable bin by bin. */
export class QuantileSketch {
  private readonly sketch: DDSketch;

  /** @param accuracy - the relative accuracy, in (0, 1); checked by the aggregate options. */
  constructor(readonly accuracy: number) {
    this.sketch = new DDSketch({ relativeAccuracy: accuracy });
  }

  /** The number of values added or merged in. */
  get count(): number {
    return this.sketch.count;
  }

  /** Adds a finite number, pinned to {@link SKETCHED_MAGNITUDES}. */
  add(value: number): void {
    const magnitude = value < 0 ? -value : value;
    if (magnitude > GREATEST) this.sketch.accept(value < 0 ? -GREATEST : GREATEST);
    else if (magnitude < LEAST && magnitude !== 0) this.sketch.accept(value < 0 ? -LEAST : LEAST);
    else this.sketch.accept(value);
  }

  /**
   * DDSketch's estimate of the value at `quantile`: the value of rank
   * ⌊quantile × (count − 1)⌋ (0-based) among the values in ascending order, within
   * `accuracy × |value|` of it when that value is 0 or within {@link SKETCHED_MAGNITUDES}.
   * `NaN` when the sketch is empty.
   */
  valueAt(quantile: number): number {
    return this.sketch.getValueAtQuantile(quantile);
  }

  /** Adds the other sketch's values to this one's; the other is unchanged. */
  merge(other: QuantileSketch): void {
    if (other.accuracy !== this.accuracy)
      throw new Error(`QuantileSketch.merge: accuracy ${other.accuracy} cannot merge into accuracy ${this.accuracy}`);
    // Read before adding: the other sketch may be this one.
    const positive = binsOf(other.sketch.store);
    const negative = binsOf(other.sketch.negativeStore);
    const { zeroCount, count } = other.sketch;
    addBins(this.sketch.store, positive);
    addBins(this.sketch.negativeStore, negative);
    // The sketch's own sum, min and max are left alone: the cell keeps exact ones, and
    // getValueAtQuantile reads only the bins and these two counts.
    this.sketch.zeroCount += zeroCount;
    this.sketch.count += count;
  }

  /** The bins as plain JSON; equal for sketches of the same values. */
  toPartial(): QuantileSketchPartial {
    return {
      accuracy: this.accuracy,
      zeroCount: this.sketch.zeroCount,
      positive: binsOf(this.sketch.store),
      negative: binsOf(this.sketch.negativeStore),
    };
  }

  /**
   * The sketch a {@link QuantileSketch.toPartial} describes.
   * @param context - what error messages name, e.g. `AggregateCell.fromPartial: quantiles`.
   * @throws Error naming what is wrong when the partial is not one, or was made with
   *   another accuracy.
   */
  static fromPartial(partial: unknown, accuracy: number, context: string): QuantileSketch {
    if (!isRecord(partial)) throw new Error(`${context} must be an object, got ${describeValue(partial)}`);
    if (partial.accuracy !== accuracy)
      throw new Error(
        `${context} were sketched with accuracy ${describeValue(partial.accuracy)}, not the ${accuracy} asked for`,
      );
    const zeroCount = partial.zeroCount;
    if (!isCount(zeroCount))
      throw new Error(`${context}: zeroCount must be an integer ≥ 0, got ${describeValue(zeroCount)}`);
    const restored = new QuantileSketch(accuracy);
    const { mapping } = restored.sketch;
    // The keys a pinned value can have: anything else was not written by a sketch.
    const keyRange = { least: mapping.key(LEAST), greatest: mapping.key(GREATEST) };
    const positive = checkBins(partial.positive, `${context}: positive`, keyRange);
    const negative = checkBins(partial.negative, `${context}: negative`, keyRange);
    addBins(restored.sketch.store, positive);
    addBins(restored.sketch.negativeStore, negative);
    restored.sketch.zeroCount = zeroCount;
    restored.sketch.count = zeroCount + restored.sketch.store.count + restored.sketch.negativeStore.count;
    return restored;
  }
}

/** A store's bins from its lowest non-empty key to its highest. */
function binsOf(store: DenseStore): SketchBinsPartial {
  if (store.count === 0) return { firstKey: 0, counts: [] };
  const first = store.minKey - store.offset;
  return { firstKey: store.minKey, counts: store.bins.slice(first, store.maxKey - store.offset + 1) };
}

function addBins(store: DenseStore, bins: SketchBinsPartial): void {
  const { firstKey, counts } = bins;
  for (let i = 0; i < counts.length; i++) {
    const count = counts[i]!;
    // An empty bin would still widen the store's range; the partial would then differ.
    if (count > 0) store.add(firstKey + i, count);
  }
}

function checkBins(
  bins: unknown,
  context: string,
  keyRange: { readonly least: number; readonly greatest: number },
): SketchBinsPartial {
  if (!isRecord(bins)) throw new Error(`${context} must be an object, got ${describeValue(bins)}`);
  const { firstKey, counts } = bins;
  if (!Array.isArray(counts)) throw new Error(`${context}.counts must be an array, got ${describeValue(counts)}`);
  const checked = counts as unknown[];
  const bad = checked.findIndex((count) => !isCount(count));
  if (bad !== -1)
    throw new Error(`${context}.counts must hold integers ≥ 0, got ${describeValue(checked[bad])} at ${bad}`);
  if (!Number.isSafeInteger(firstKey))
    throw new Error(`${context}.firstKey must be an integer, got ${describeValue(firstKey)}`);
  const first = firstKey as number;
  if (checked.length > 0 && (first < keyRange.least || first + checked.length - 1 > keyRange.greatest))
    throw new Error(
      `${context} has keys ${first} to ${first + checked.length - 1}, outside the ${keyRange.least} to ${keyRange.greatest} of magnitudes ${LEAST} to ${GREATEST}`,
    );
  return { firstKey: first, counts: checked as number[] };
}

function isCount(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
