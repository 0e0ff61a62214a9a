/**
 * The session window state machine behind {@link windowedCount} given `sessionGap`:
 * plain, synchronous, no RxJS.
 * @module
 */
import { resolveSessionSettings, type SessionWindowOptions } from './sessionOptions.js';
import type { SessionCountSnapshot } from './sessionSnapshot.js';
import { SessionWindows } from './SessionWindows.js';
import { COUNT_CELLS } from './snapshot.js';
import type { WindowStats } from './WindowedCountState.js';
import type { WindowRow } from './windowRow.js';

/**
 * Counts events per key in session windows with a watermark, one event at a time, as
 * Spark Structured Streaming's `groupBy(session_window(time, gap), key).count()` does
 * with one event per micro-batch (checked row for row against Spark 3.5).
 *
 * - An event at `t` opens the session `[t, t + sessionGap)`; a key's sessions that overlap
 *   or touch merge into one, from its first event's time to its last event's time plus
 *   the gap. An event between two sessions of its key joins them.
 * - The watermark is `max event time − watermarkDelay`, as for {@link WindowedCountState}.
 * - An event is late when its own session would end by the watermark
 *   (`t + sessionGap ≤ watermark`): it is counted nowhere and reported once (kind
 *   `'late'`), in every output mode. Under `lateRule: 'spark-3.4'` the watermark is the
 *   one the previous event arrived with.
 * - `append` (default): a session's row is emitted once, final, when the watermark the
 *   next event arrives with (or {@link SessionCountState.advanceWatermark}) has passed its
 *   end; until then a later event may still extend it, as in Spark. Its state is then
 *   dropped, so memory holds the open sessions only. `complete`: after each event, every
 *   session seen so far; nothing is dropped (up to `maxWindows`). `update` is refused, as
 *   Spark refuses it.
 *
 * Rows go to `emit` synchronously, by session start (then in the order the sessions were
 * opened); `windowStart` is the first event's time, `windowEnd` the last event's time plus
 * the gap.
 *
 * @example
 * ```ts
 * import { SessionCountState, type WindowRow } from 'mqtt-iot-stream';
 *
 * const rows: WindowRow<string>[] = [];
 * const sessions = new SessionCountState<{ at: number; sensor: string }, string>(
 *   { eventTime: (e) => e.at, key: (e) => e.sensor, sessionGap: '30 s', watermarkDelay: '10 s' },
 *   (row) => rows.push(row),
 * );
 * sessions.push({ at: 0, sensor: 'a' }); // [0 s, 30 s)
 * sessions.push({ at: 60_000, sensor: 'a' }); // [60 s, 90 s); watermark 50 s
 * sessions.push({ at: 30_000, sensor: 'a' }); // [30 s, 60 s) touches both: one session [0 s, 90 s) of 3
 * sessions.flush();
 * rows.map((row) => [row.windowStart.getTime(), row.windowEnd.getTime(), row.count]); // [[0, 90000, 3]]
 * ```
 *
 * @typeParam E - the event type.
 * @typeParam K - the key type (compared as `Map` keys).
 * @see {@link windowedCount} for the RxJS operator around it (given `sessionGap`).
 */
export class SessionCountState<E, K> extends SessionWindows<E, K, number, WindowRow<K>> implements WindowStats {
  /**
   * @param options - the session options (checked here; a bad one throws).
   * @param emit - receives every output row, synchronously.
   */
  constructor(options: SessionWindowOptions<E, K>, emit: (row: WindowRow<K>) => void) {
    super(resolveSessionSettings(options), 'windowedCount', emit);
  }

  /** @internal */
  protected override newCell(): number {
    return 0;
  }

  /** @internal */
  protected override addTo(count: number): number {
    return count + 1;
  }

  /** @internal */
  protected override merge(into: number, from: number): number {
    return into + from;
  }

  /** @internal */
  protected override rowOf(
    windowStart: number,
    windowEnd: number,
    key: K,
    count: number,
    final: boolean,
  ): WindowRow<K> {
    return { windowStart: new Date(windowStart), windowEnd: new Date(windowEnd), key, count, final };
  }

  /**
   * A plain, JSON-serialisable (when `K` is) copy of everything the state's future output
   * depends on: the watermarks, the sessions held with their counts, and the stats.
   * Later pushes do not change it.
   */
  snapshot(): SessionCountSnapshot<K> {
    return this.saveState((count) => count);
  }

  /**
   * Replaces the state of one that has seen no event yet with a snapshot taken from a
   * state with the same options; it then goes on exactly as the one the snapshot was
   * taken from would have (same rows, late reports and stats).
   *
   * @param snapshot - from {@link SessionCountState.snapshot}, possibly through JSON.
   * @throws Error when events were already pushed (or the watermark advanced), or the
   *   snapshot is malformed or was taken under other options (a
   *   {@link SnapshotMismatchError}); the state is then unchanged.
   */
  restore(snapshot: SessionCountSnapshot<K>): void {
    this.restoreState(snapshot, 'SessionCountState.restore', COUNT_CELLS, (count) => count);
  }
}
