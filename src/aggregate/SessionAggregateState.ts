/**
 * The session window state machine behind {@link windowedAggregate} given `sessionGap`:
 * {@link SessionCountState}'s sessions with an {@link AggregateCell} per session instead of
 * a count. Plain, synchronous, no RxJS.
 * @module
 */
import { resolveSessionSettings, type SessionSettings, type SessionWindowOptions } from '../window/sessionOptions.js';
import type { SessionSnapshot } from '../window/sessionSnapshot.js';
import { SessionWindows } from '../window/SessionWindows.js';
import type { AggregateCell, AggregatePartial } from './AggregateCell.js';
import { AggregateCells, resolveAggregateParts, type AggregateParts } from './AggregateCells.js';
import type {
  AggregateRow,
  AggregateSettings,
  WindowedAggregateOptions,
  WindowedAggregateStats,
} from './WindowedAggregateState.js';

/**
 * Options of {@link SessionAggregateState} (and of {@link windowedAggregate} given
 * `sessionGap`): the session options of {@link SessionWindowOptions} plus what to compute
 * per session, as {@link WindowedAggregateOptions}.
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type (compared as `Map` keys).
 */
export interface SessionAggregateOptions<E, K>
  extends SessionWindowOptions<E, K>, Pick<WindowedAggregateOptions<E, K>, 'aggregates' | 'partials'> {}

/**
 * The saved state of a {@link SessionAggregateState}: a {@link SessionSnapshot} whose
 * sessions hold their {@link AggregatePartial}, with the aggregates it was taken under
 * (restoring under others is refused).
 * @typeParam K - the key type.
 */
export interface SessionAggregateSnapshot<K> extends SessionSnapshot<K, AggregatePartial> {
  /** The aggregates asked for, as {@link AggregatePartial}s hold them. */
  readonly aggregates: AggregateSettings;
  readonly stats: SessionSnapshot<K, AggregatePartial>['stats'] & { readonly valueRejects: number };
}

/**
 * Aggregates a number per key in session windows with a watermark (count, sum, min, max,
 * mean, approximate quantiles and an approximate distinct count), as Spark's
 * `groupBy(session_window(time, gap), key).agg(...)` does. Sessions, watermark, late rule,
 * output modes, `maxWindows`, `maxEventTimeAhead`, snapshots and idle advance are
 * {@link SessionCountState}'s, rule for rule; the aggregates are
 * {@link WindowedAggregateState}'s. When an event joins two sessions, their cells merge
 * ({@link AggregateCell.merge}) exactly as partials of several aggregators do.
 *
 * An event whose value (or distinct value) cannot be read is reported with kind
 * `'value'` and counted nowhere; it does not move the watermark.
 *
 * @example Bytes per status, in sessions that end after 30 s without a request
 * ```ts
 * import { SessionAggregateState, type AggregateRow } from 'mqtt-iot-stream';
 *
 * const rows: AggregateRow<number>[] = [];
 * const state = new SessionAggregateState<{ at: number; status: number; bytes: number }, number>(
 *   {
 *     eventTime: (e) => e.at, key: (e) => e.status, sessionGap: '30 s', watermarkDelay: '1 minute',
 *     aggregates: { value: (e) => e.bytes, sum: true, max: true },
 *   },
 *   (row) => rows.push(row),
 * );
 * state.push({ at: 0, status: 200, bytes: 512 });
 * state.push({ at: 20_000, status: 200, bytes: 2048 }); // same session: [0 s, 50 s)
 * state.flush();
 * rows[0].aggregates; // { count: 2, sum: 2560, max: 2048 }
 * ```
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type.
 */
export class SessionAggregateState<E, K>
  extends SessionWindows<E, K, AggregateCell<E>, AggregateRow<K>>
  implements WindowedAggregateStats
{
  private readonly cells: AggregateCells<E>;

  /**
   * @param options - the session and aggregate options (checked here; a bad one throws).
   * @param emit - receives every output row, synchronously.
   */
  constructor(options: SessionAggregateOptions<E, K>, emit: (row: AggregateRow<K>) => void) {
    const { settings, spec, withPartials } = resolveSessionAggregate(options);
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
  protected override newCell(): AggregateCell<E> {
    return this.cells.newCell();
  }

  /** @internal */
  protected override addTo(cell: AggregateCell<E>): AggregateCell<E> {
    this.cells.add(cell);
    return cell;
  }

  /** @internal */
  protected override merge(into: AggregateCell<E>, from: AggregateCell<E>): AggregateCell<E> {
    into.merge(from);
    return into;
  }

  /** @internal */
  protected override rowOf(
    windowStart: number,
    windowEnd: number,
    key: K,
    cell: AggregateCell<E>,
    final: boolean,
  ): AggregateRow<K> {
    return this.cells.rowOf(windowStart, windowEnd, key, cell, final);
  }

  /**
   * A plain, JSON-serialisable (when `K` is) copy of everything the state's future output
   * depends on, as {@link SessionCountState.snapshot}, each session's cell as its
   * {@link AggregatePartial}.
   */
  snapshot(): SessionAggregateSnapshot<K> {
    const { stats, ...state } = this.saveState((cell) => cell.toPartial());
    return { ...state, aggregates: this.cells.settings(), stats: { ...stats, valueRejects: this.cells.valueRejects } };
  }

  /**
   * Replaces the state of one that has seen no event yet with a snapshot taken under the
   * same session and aggregate options; it then goes on as the one the snapshot was taken
   * from would have.
   * @param snapshot - from {@link SessionAggregateState.snapshot}, possibly through JSON.
   * @throws Error when events were already pushed, or the snapshot is malformed or was
   *   taken under other options; the state is then unchanged.
   */
  restore(snapshot: SessionAggregateSnapshot<K>): void {
    const context = 'SessionAggregateState.restore';
    this.cells.checkSaved(snapshot, context);
    this.restoreState(snapshot, context, this.cells.saved, (partial) => this.cells.load(partial));
    this.cells.valueRejects = snapshot.stats.valueRejects;
  }
}

/** {@link SessionAggregateOptions} after checking. @internal */
export interface ResolvedSessionAggregate<E, K> extends AggregateParts<E> {
  readonly settings: SessionSettings<E, K>;
}

/** Options checked once: the operator checks them when it is made, each subscription's state finds them here. */
const resolved = new WeakMap<object, object>();

/**
 * Options that stand for checked settings and spec, for a state built over other events
 * than the user's (the durable core's journaled ones): they are not checked again.
 * @internal
 */
export function deriveSessionAggregateOptions<E, K>(
  checked: ResolvedSessionAggregate<E, K>,
): SessionAggregateOptions<E, K> {
  const options = {} as SessionAggregateOptions<E, K>;
  resolved.set(options, checked);
  return options;
}

/**
 * Checks {@link SessionAggregateOptions} once per options object: the session options
 * (named `windowedAggregate` in errors), then the aggregates.
 * @internal
 */
export function resolveSessionAggregate<E, K>(options: SessionAggregateOptions<E, K>): ResolvedSessionAggregate<E, K> {
  const known = resolved.get(options);
  if (known !== undefined) return known as ResolvedSessionAggregate<E, K>;
  const parts = resolveAggregateParts(options);
  const result = { settings: resolveSessionSettings(options, 'windowedAggregate'), ...parts };
  resolved.set(options, result);
  return result;
}
