/**
 * The state machine behind {@link windowedAggregate}: {@link WindowedCountState}'s windows
 * with an {@link AggregateCell} per (window, key) instead of a count. Plain, synchronous,
 * no RxJS.
 * @module
 */
import { describeValue } from '../internal/options.js';
import { reject } from '../reject.js';
import { EventTimeWindows } from '../window/EventTimeWindows.js';
import { resolveWindowSettings, type WindowedCountOptions, type WindowSettings } from '../window/options.js';
import { checkWindowsSnapshot, type WindowedCountSnapshot } from '../window/snapshot.js';
import type { WindowStats } from '../window/WindowedCountState.js';
import type { WindowRow } from '../window/windowRow.js';
import { AggregateCell, type AggregatePartial, type AggregateValues } from './AggregateCell.js';
import { resolveAggregateSpec, type AggregateOptions, type AggregateSpec } from './aggregateSpec.js';

/**
 * Options of {@link windowedAggregate} and {@link WindowedAggregateState}: the window
 * options of {@link windowedCount}, unchanged, plus what to compute per (window, key).
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type (compared as `Map` keys).
 */
export interface WindowedAggregateOptions<E, K> extends WindowedCountOptions<E, K> {
  /** The aggregates of each (window, key), beside the count (see {@link AggregateOptions}). */
  aggregates: AggregateOptions<E>;
  /**
   * Give each row its {@link AggregateRow.partial}, the cell's mergeable state, for
   * storing partials that several aggregators merge. Default `false`: with a distinct
   * count a partial is about 5.6 KB of text, made for every row.
   */
  partials?: boolean;
}

/**
 * One (window, key) of {@link windowedAggregate}: a {@link WindowRow} (its `count` is the
 * events folded in) with the aggregates asked for.
 * @typeParam K - the key type.
 */
export interface AggregateRow<K> extends WindowRow<K> {
  /** The count and each aggregate asked for: `{ count: 3, sum: 3584, max: 2048, quantiles: { p50: 1024 } }`. */
  readonly aggregates: AggregateValues;
  /**
   * The cell's state, to merge with other aggregators' partials of the same (window, key)
   * ({@link AggregateCell.fromPartial}, then `merge`); present with `partials: true`.
   */
  readonly partial?: AggregatePartial;
}

/** Live counters of a {@link WindowedAggregateState}: {@link WindowStats} and the events refused for their value. */
export interface WindowedAggregateStats extends WindowStats {
  /** Events whose value (or distinct value) could not be read (rejected with kind `'value'`). */
  readonly valueRejects: number;
}

/**
 * The saved state of a {@link WindowedAggregateState}: a {@link WindowedCountSnapshot}
 * whose windows hold each key's {@link AggregatePartial} instead of a count, with the
 * aggregates it was taken under (restoring under others is refused).
 * @typeParam K - the key type.
 */
export interface WindowedAggregateSnapshot<K> extends Omit<WindowedCountSnapshot<K>, 'windows' | 'stats'> {
  /** The aggregates asked for, as {@link AggregatePartial}s hold them. */
  readonly aggregates: AggregateSettings;
  readonly windows: readonly {
    readonly windowStart: number;
    readonly cells: readonly (readonly [key: K, partial: AggregatePartial])[];
  }[];
  readonly stats: WindowedCountSnapshot<K>['stats'] & { readonly valueRejects: number };
}

/** The aggregates a {@link WindowedAggregateSnapshot} was taken under: the parts of an {@link AggregateSpec} a state restoring it must share. */
export type AggregateSettings = Pick<
  AggregateSpec<unknown>,
  'sum' | 'min' | 'max' | 'mean' | 'quantiles' | 'quantileAccuracy' | 'distinctPrecision'
> & { readonly distinct: boolean };

/**
 * Aggregates a number per key in event-time windows with a watermark: count, sum, min,
 * max, mean, approximate quantiles and an approximate distinct count, as Spark's
 * `groupBy(window(...), key).agg(count, sum, min, max, avg, percentile_approx,
 * approx_count_distinct)` does. Windows, watermark, late rule, output modes, `maxWindows`,
 * `maxEventTimeAhead`, snapshots and idle advance are {@link WindowedCountState}'s, rule
 * for rule; see it for them.
 *
 * An event whose value is not a finite number (or whose distinct value is neither a string
 * nor a number) is reported with kind `'value'` and not counted anywhere; it does not move
 * the watermark.
 *
 * @example Bytes per status in 1-minute windows
 * ```ts
 * import { WindowedAggregateState, type AggregateRow } from 'mqtt-iot-stream';
 *
 * const rows: AggregateRow<number>[] = [];
 * const state = new WindowedAggregateState<{ at: number; status: number; bytes: number }, number>(
 *   {
 *     eventTime: (e) => e.at, key: (e) => e.status, windowDuration: '1 minute', watermarkDelay: '2 minutes',
 *     aggregates: { value: (e) => e.bytes, sum: true, max: true, mean: true },
 *   },
 *   (row) => rows.push(row),
 * );
 * state.push({ at: 5_000, status: 200, bytes: 512 });
 * state.push({ at: 9_000, status: 200, bytes: 2048 });
 * state.flush();
 * rows[0].aggregates; // { count: 2, sum: 2560, max: 2048, mean: 1280 }
 * ```
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type.
 */
export class WindowedAggregateState<E, K>
  extends EventTimeWindows<E, K, AggregateCell<E>, AggregateRow<K>>
  implements WindowedAggregateStats
{
  valueRejects = 0;
  private readonly spec: AggregateSpec<E>;
  private readonly withPartials: boolean;
  /** The value and distinct value of the event being pushed, read once for all its windows. */
  private value = 0;
  private distinctValue: string | number | undefined = undefined;

  /**
   * @param options - the window and aggregate options (checked here; a bad one throws).
   * @param emit - receives every output row, synchronously.
   */
  constructor(options: WindowedAggregateOptions<E, K>, emit: (row: AggregateRow<K>) => void) {
    const { spec, settings, withPartials } = resolveWindowedAggregate(options);
    super(settings, 'windowedAggregate', emit);
    this.spec = spec;
    this.withPartials = withPartials;
  }

  /** @internal */
  protected override accepts(event: E): boolean {
    const { spec } = this;
    if (spec.value !== undefined) {
      const value = spec.value(event);
      if (typeof value !== 'number' || !Number.isFinite(value))
        return this.rejectValue(event, `value is ${describeValue(value)}, not a finite number`);
      this.value = value;
    }
    if (spec.distinct !== undefined) {
      const distinct = spec.distinct(event);
      if (typeof distinct !== 'string' && typeof distinct !== 'number')
        return this.rejectValue(event, `distinct value is ${describeValue(distinct)}, not a string or a number`);
      this.distinctValue = distinct;
    }
    return true;
  }

  /** @internal */
  protected override addTo(cells: Map<K, AggregateCell<E>>, key: K): AggregateCell<E> {
    let cell = cells.get(key);
    if (cell === undefined) {
      cell = new AggregateCell(this.spec);
      cells.set(key, cell);
      this.stateSize++;
    }
    cell.add(this.value, this.distinctValue);
    return cell;
  }

  /** @internal */
  protected override rowOf(start: number, key: K, cell: AggregateCell<E>, final: boolean): AggregateRow<K> {
    const row = {
      windowStart: new Date(start),
      windowEnd: new Date(start + this.length),
      key,
      count: cell.count,
      final,
      aggregates: cell.values(),
    };
    return this.withPartials ? { ...row, partial: cell.toPartial() } : row;
  }

  /**
   * A plain, JSON-serialisable (when `K` is) copy of everything the state's future output
   * depends on, as {@link WindowedCountState.snapshot}, each cell as its
   * {@link AggregatePartial}. Its size is the open windows × keys × a partial (a distinct
   * count's is about 5.6 KB).
   */
  snapshot(): WindowedAggregateSnapshot<K> {
    const { windowDuration, slideDuration, offset, watermarkDelay, outputMode, lateRule } = this.settings;
    const { stats, ...state } = this.saveState((cell) => cell.toPartial());
    return {
      format: 1,
      settings: { windowDuration, slideDuration, offset, watermarkDelay, outputMode, lateRule },
      aggregates: aggregateSettings(this.spec),
      ...state,
      stats: { ...stats, valueRejects: this.valueRejects },
    };
  }

  /**
   * Replaces the state of one that has seen no event yet with a snapshot taken under the
   * same window and aggregate options; it then goes on as the one the snapshot was taken
   * from would have.
   * @throws Error when events were already pushed, or the snapshot is malformed or was
   *   taken under other options; the state is then unchanged.
   */
  restore(snapshot: WindowedAggregateSnapshot<K>): void {
    const context = 'WindowedAggregateState.restore';
    this.assertFresh(context);
    checkAggregateSnapshot(snapshot, this.settings, this.spec, context);
    const windows = snapshot.windows.map(({ windowStart, cells }) => ({
      windowStart,
      cells: cells.map(([key, partial]) => [key, AggregateCell.fromPartial(partial, this.spec)] as const),
    }));
    this.restoreState({ ...snapshot, windows });
    this.valueRejects = snapshot.stats.valueRejects;
  }

  private rejectValue(event: E, problem: string): false {
    this.valueRejects++;
    reject(this.settings, {
      operator: 'windowedAggregate',
      kind: 'value',
      reason: `${problem}; not counted`,
      input: event,
    });
    return false;
  }
}

/** {@link WindowedAggregateOptions} after checking. @internal */
export interface ResolvedAggregate<E, K> {
  readonly settings: WindowSettings<E, K>;
  readonly spec: AggregateSpec<E>;
  readonly withPartials: boolean;
}

/**
 * Checks {@link WindowedAggregateOptions} (once per options object): the window options as `windowedCount` checks
 * them (named `windowedAggregate` in errors), then the aggregates.
 * @internal
 */
export function resolveWindowedAggregate<E, K>(options: WindowedAggregateOptions<E, K>): ResolvedAggregate<E, K> {
  const known = resolved.get(options);
  if (known !== undefined) return known as ResolvedAggregate<E, K>;
  if (options === null || typeof options !== 'object') throw new TypeError('windowedAggregate: options are required');
  if (options.aggregates === undefined)
    throw new TypeError(
      'windowedAggregate: aggregates is required, e.g. { value: (e) => e.bytes, sum: true }; use windowedCount to count alone',
    );
  const partials = options.partials ?? false;
  if (typeof partials !== 'boolean')
    throw new TypeError(`windowedAggregate: partials must be a boolean, got ${describeValue(partials)}`);
  const result: ResolvedAggregate<E, K> = {
    settings: resolveWindowSettings(options, 'windowedAggregate'),
    spec: resolveAggregateSpec(options.aggregates, 'windowedAggregate'),
    withPartials: partials,
  };
  resolved.set(options, result);
  return result;
}

/** Options checked once: the operator checks them when it is made, each subscription's state finds them here. */
const resolved = new WeakMap<object, object>();

/**
 * Options that stand for checked settings and spec, for a state built over other events
 * than the user's (the durable core's journaled ones): they are not checked again.
 * @internal
 */
export function deriveAggregateOptions<E, K>(checked: ResolvedAggregate<E, K>): WindowedAggregateOptions<E, K> {
  const options = {} as WindowedAggregateOptions<E, K>;
  resolved.set(options, checked);
  return options;
}

function aggregateSettings<E>(spec: AggregateSpec<E>): AggregateSettings {
  const { sum, min, max, mean, quantiles, quantileAccuracy, distinctPrecision } = spec;
  return { sum, min, max, mean, quantiles, quantileAccuracy, distinctPrecision, distinct: spec.distinct !== undefined };
}

/** {@link checkWindowsSnapshot} for aggregate cells, and the aggregates the snapshot was taken under. */
function checkAggregateSnapshot<E, K>(
  snapshot: WindowedAggregateSnapshot<K>,
  settings: WindowSettings<E, K>,
  spec: AggregateSpec<E>,
  context: string,
): void {
  if (snapshot === null || typeof snapshot !== 'object') throw new Error(`${context}: expected a snapshot object`);
  const saved = JSON.stringify(snapshot.aggregates);
  const current = JSON.stringify(aggregateSettings(spec));
  if (saved !== current)
    throw new Error(
      `${context}: the snapshot was taken with other aggregates: ${saved ?? 'none'} (this state: ${current}); restore it into a state with the options it was taken with`,
    );
  const valueRejects = snapshot.stats?.valueRejects;
  if (!(Number.isSafeInteger(valueRejects) && valueRejects >= 0))
    throw new Error(`${context}: stats.valueRejects must be a whole number ≥ 0, got ${describeValue(valueRejects)}`);
  checkWindowsSnapshot(snapshot, settings, context, {
    field: 'cells',
    noun: 'a cell',
    expected: 'aggregate partial',
    check: (partial) => {
      try {
        AggregateCell.fromPartial(partial, spec);
        return true;
      } catch {
        return false;
      }
    },
  });
}
