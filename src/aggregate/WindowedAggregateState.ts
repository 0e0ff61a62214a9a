/**
 * The state machine behind {@link windowedAggregate}: {@link WindowedCountState}'s windows
 * with an {@link AggregateCell} per (window, key) instead of a count. Plain, synchronous,
 * no RxJS.
 * @module
 */
import { EventTimeWindows } from '../window/EventTimeWindows.js';
import { resolveWindowSettings, type WindowedCountOptions, type WindowSettings } from '../window/options.js';
import { checkWindowsSnapshot, type WindowedCountSnapshot } from '../window/snapshot.js';
import type { WindowStats } from '../window/WindowedCountState.js';
import type { WindowRow } from '../window/windowRow.js';
import type { AggregateCell, AggregatePartial, AggregateValues } from './AggregateCell.js';
import { AggregateCells, resolveAggregateParts } from './AggregateCells.js';
import type { AggregateOptions, AggregateSpec } from './aggregateSpec.js';

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
  private readonly cells: AggregateCells<E>;

  /**
   * @param options - the window and aggregate options (checked here; a bad one throws).
   * @param emit - receives every output row, synchronously.
   */
  constructor(options: WindowedAggregateOptions<E, K>, emit: (row: AggregateRow<K>) => void) {
    const { spec, settings, withPartials } = resolveWindowedAggregate(options);
    super(settings, 'windowedAggregate', emit);
    this.cells = new AggregateCells(spec, withPartials, settings);
  }

  /** {@inheritDoc WindowedAggregateStats.valueRejects} */
  get valueRejects(): number {
    return this.cells.valueRejects;
  }

  /** @internal */
  protected override accepts(event: E): boolean {
    return this.cells.read(event);
  }

  /** @internal */
  protected override addTo(cells: Map<K, AggregateCell<E>>, key: K): AggregateCell<E> {
    let cell = cells.get(key);
    if (cell === undefined) {
      cell = this.cells.newCell();
      cells.set(key, cell);
      this.stateSize++;
    }
    this.cells.add(cell);
    return cell;
  }

  /** @internal */
  protected override rowOf(start: number, key: K, cell: AggregateCell<E>, final: boolean): AggregateRow<K> {
    return this.cells.rowOf(start, start + this.length, key, cell, final);
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
      aggregates: this.cells.settings(),
      ...state,
      stats: { ...stats, valueRejects: this.cells.valueRejects },
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
    this.cells.checkSaved(snapshot, context);
    checkWindowsSnapshot(snapshot, this.settings, context, this.cells.saved);
    const windows = snapshot.windows.map(({ windowStart, cells }) => ({
      windowStart,
      cells: cells.map(([key, partial]) => [key, this.cells.load(partial)] as const),
    }));
    this.restoreState({ ...snapshot, windows });
    this.cells.valueRejects = snapshot.stats.valueRejects;
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
  const parts = resolveAggregateParts(options);
  const result: ResolvedAggregate<E, K> = { settings: resolveWindowSettings(options, 'windowedAggregate'), ...parts };
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
