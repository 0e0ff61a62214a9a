/**
 * The saved state of session windows ({@link SessionCountState},
 * {@link SessionAggregateState}), and the checks a snapshot passes before a state takes
 * it over.
 * @module
 */
import type { LateRule, OutputMode } from './options.js';
import type { SessionSettings } from './sessionOptions.js';
import { checkSnapshotTimes, describe, failure, type EventTimeSnapshot, type SnapshotCells } from './snapshot.js';

/**
 * Everything a session state's future output depends on, in numbers, arrays, `null` and
 * keys only, so `JSON.parse(JSON.stringify(snapshot))` gives it back unchanged when the
 * keys and cells are plain JSON. Take it with `snapshot()`; hand it to `restore()` of a new
 * state with the same options (or to the operator's `initialState`) to carry on exactly
 * where the first state was: same rows, same late reports, same stats.
 *
 * Its size is the sessions held, not the length of the stream: in `append` mode the open
 * sessions only; `complete` mode holds every session (see `maxWindows`).
 *
 * @typeParam K - the key type.
 * @typeParam C - what a session holds as saved: a count, an {@link AggregatePartial}.
 */
export interface SessionSnapshot<K, C> extends EventTimeSnapshot {
  /** The options the state was built under (durations in milliseconds): `restore` refuses a state whose options differ. */
  readonly settings: {
    readonly sessionGap: number;
    readonly watermarkDelay: number;
    readonly outputMode: OutputMode;
    readonly lateRule: LateRule;
  };
  /** The sessions held, by start, then in the order they were opened (the order their rows come out in). */
  readonly sessions: readonly {
    readonly key: K;
    /** Its first event's time. */
    readonly windowStart: number;
    /** Its last event's time plus the gap. */
    readonly windowEnd: number;
    readonly cell: C;
  }[];
}

/** The saved state of a {@link SessionCountState}: each session's count. @typeParam K - the key type. */
export type SessionCountSnapshot<K> = SessionSnapshot<K, number>;

const SESSION_SETTING_NAMES = ['sessionGap', 'watermarkDelay', 'outputMode', 'lateRule'] as const;

/**
 * Throws an `Error` saying what is wrong when `snapshot` cannot be the state of session
 * windows with these settings: not a snapshot, another format, other options (a
 * {@link SnapshotMismatchError}), or sessions such a state never holds (shorter than the
 * gap, out of order, a key's sessions overlapping or touching, or closed).
 * @internal
 */
export function checkSessionSnapshot<E, K, C>(
  snapshot: SessionSnapshot<K, C>,
  settings: SessionSettings<E, K>,
  context: string,
  cells: Pick<SnapshotCells, 'noun' | 'expected' | 'check'>,
): void {
  const fail: (problem: string) => never = failure(context);
  checkSnapshotTimes(snapshot, settings, SESSION_SETTING_NAMES, context);
  const { watermark, closedUpTo } = snapshot;
  if (closedUpTo !== null && !(watermark !== null && closedUpTo <= watermark))
    fail(`closedUpTo ${describe(closedUpTo)} is after watermark ${describe(watermark)}`);
  const sessions = snapshot.sessions;
  if (!Array.isArray(sessions)) fail(`sessions must be an array, got ${describe(sessions)}`);
  if (sessions.length > settings.maxWindows)
    fail(`the snapshot holds ${sessions.length} sessions, more than maxWindows (${settings.maxWindows})`);
  const lastEndOf = new Map<K, number>();
  let previousStart = Number.NEGATIVE_INFINITY;
  for (const session of sessions) {
    const { key, windowStart, windowEnd, cell } = (session ?? {}) as Partial<(typeof sessions)[number]>;
    const shown = describe({ key, windowStart, windowEnd });
    if (
      typeof windowStart !== 'number' ||
      typeof windowEnd !== 'number' ||
      !Number.isFinite(windowStart) ||
      !Number.isFinite(windowEnd)
    )
      fail(`a session must have finite windowStart and windowEnd, got ${describe(session)}`);
    if (windowStart < previousStart)
      fail(`sessions must be in ascending windowStart order, got ${shown} after start ${previousStart}`);
    previousStart = windowStart;
    if (windowEnd - windowStart < settings.sessionGap)
      fail(`session ${shown} is shorter than sessionGap (${settings.sessionGap} ms)`);
    if (settings.outputMode !== 'complete' && closedUpTo !== null && windowEnd <= closedUpTo)
      fail(`session ${shown} ended by closedUpTo ${closedUpTo}, so it would be closed, not held`);
    const lastEnd = lastEndOf.get(key as K);
    if (lastEnd !== undefined && windowStart <= lastEnd)
      fail(`session ${shown} overlaps or touches the key's session before it, so they would be one`);
    lastEndOf.set(key as K, windowEnd);
    if (!cells.check(cell))
      fail(`session ${shown} has ${cells.noun} that is not one (expected ${cells.expected}): ${describe(cell)}`);
  }
}
