/**
 * The saved state of a {@link WindowedCountState}, and the checks a snapshot passes before
 * a counter takes it over.
 * @module
 */
import type { LateRule, OutputMode, WindowSettings } from './options.js';

/**
 * What every snapshot holds beside its options and its windows or sessions
 * ({@link WindowedCountSnapshot}, {@link SessionSnapshot}): its layout version, the
 * watermarks and the stats.
 */
export interface EventTimeSnapshot {
  /** Layout version; `restore` refuses one it does not know. */
  readonly format: 1;
  /** The watermark in epoch milliseconds; `null` when there is none yet. */
  readonly watermark: number | null;
  /**
   * Windows ending at or before this time are final: dropped, and late for the next
   * event. For fixed windows, the watermark itself under the `'spark-2.4'` rule and the
   * watermark as it stood when the last event arrived under `'spark-3.4'`; `null` when no
   * window is final (before the first watermark, and always in `complete` mode). For
   * sessions, the watermark the last event arrived with (or the last `advanceWatermark`'s):
   * the sessions ending by it have closed (in `append` mode), and under `'spark-3.4'` an
   * event whose session would end by it is late; `null` before the first watermark.
   */
  readonly closedUpTo: number | null;
  /** The largest event time counted; `null` before the first valid event. */
  readonly maxEventTime: number | null;
  /** The running counters of {@link WindowStats}. */
  readonly stats: { readonly [Stat in (typeof STAT_NAMES)[number]]: number };
}

/**
 * Everything a {@link WindowedCountState}'s future output depends on, in numbers, arrays,
 * `null` and keys only, so `JSON.parse(JSON.stringify(snapshot))` gives it back
 * unchanged when the keys are numbers or strings. Take it with
 * {@link WindowedCountState.snapshot}; hand it to {@link WindowedCountState.restore} of a new
 * counter with the same options (or to `windowedCount`'s `initialState`) to carry on
 * exactly where the first counter was: same rows, same late reports, same stats.
 *
 * Its size is the windows held × their keys plus a few numbers, not the length of the
 * stream: in `append` and `update` mode that is the open windows only; `complete` mode
 * holds every window (see {@link WindowedCountOptions.maxWindows}).
 *
 * The layout is versioned by `format`; read it, but build it only with `snapshot()`.
 *
 * @typeParam K - the key type.
 */
export interface WindowedCountSnapshot<K> extends EventTimeSnapshot {
  /**
   * The options the state was built under (durations in milliseconds, the offset
   * taken modulo the slide): `restore` refuses a counter whose options differ, since
   * the windows and watermark would mean something else there.
   */
  readonly settings: {
    readonly windowDuration: number;
    readonly slideDuration: number;
    readonly offset: number;
    readonly watermarkDelay: number;
    readonly outputMode: OutputMode;
    readonly lateRule: LateRule;
  };
  /**
   * The windows holding state, by ascending start; in each, the `[key, count]` pairs in
   * the order the keys first appeared there (the order rows come out in).
   */
  readonly windows: readonly {
    readonly windowStart: number;
    readonly counts: readonly (readonly [key: K, count: number])[];
  }[];
}

/** The options a snapshot records, by name: fixed windows' ({@link WindowedCountSnapshot.settings}) or sessions' ({@link SessionSnapshot.settings}). */
export type SnapshotSetting =
  'windowDuration' | 'slideDuration' | 'offset' | 'watermarkDelay' | 'outputMode' | 'lateRule' | 'sessionGap';

const SETTING_NAMES = [
  'windowDuration',
  'slideDuration',
  'offset',
  'watermarkDelay',
  'outputMode',
  'lateRule',
] as const satisfies readonly SnapshotSetting[];

/** One option a snapshot was taken with that the counter restoring it has otherwise. */
export interface SnapshotDifference {
  /** The option, as the snapshot's `settings` name it. */
  readonly setting: SnapshotSetting;
  /** Its value in the snapshot (durations in milliseconds). */
  readonly saved: number | string;
  /** Its value in the counter that was to restore it. */
  readonly current: number | string;
}

/**
 * A snapshot taken under other window options than the counter restoring it
 * ({@link WindowedCountState.restore}, `windowedCount`'s `initialState`, a durable
 * state directory), so its windows and watermark would mean something else there.
 * `differences` lists each option with both values, for a caller that words the
 * refusal in its own terms (the command line speaks of `--window` and `--state-dir`).
 */
export class SnapshotMismatchError extends Error {
  override readonly name = 'SnapshotMismatchError';
  /** Each option that differs, in the order of the snapshot's `settings`. */
  readonly differences: readonly SnapshotDifference[];
  /**
   * @param message - what differs and what to do, starting with who refused.
   * @param options - the `differences`.
   */
  constructor(message: string, options: { readonly differences: readonly SnapshotDifference[] }) {
    super(message);
    this.differences = options.differences;
  }
}
/** The running counters a snapshot carries. @internal */
export const STAT_NAMES = [
  'eventsSeen',
  'eventsCounted',
  'timestampRejects',
  'futureRejects',
  'lateEvents',
  'latePairs',
  'rowsEmitted',
] as const;

/**
 * Throws an `Error` saying what is wrong when `snapshot` cannot be the state of a
 * counter with these settings: not a snapshot, another format, other options (a
 * {@link SnapshotMismatchError}), or values a counter never holds (so a corrupted file
 * fails here, not rows later).
 * @internal
 */
export function checkSnapshot<E, K>(
  snapshot: WindowedCountSnapshot<K>,
  settings: WindowSettings<E, K>,
  context: string,
): void {
  checkWindowsSnapshot(snapshot, settings, context, COUNT_CELLS);
}

/** Cells that are counts, stored in a field `counts`. @internal */
export const COUNT_CELLS: SnapshotCells = {
  field: 'counts',
  noun: 'a count',
  expected: 'whole number > 0',
  check: (count) => Number.isSafeInteger(count) && (count as number) > 0,
};

/** How the cells of one kind of window snapshot are stored and checked. @internal */
export interface SnapshotCells {
  /** The field of each window that holds its `[key, cell]` pairs. */
  readonly field: string;
  /** A cell, for the message: `a count`. */
  readonly noun: string;
  /** What a cell must be, for the message: `whole number > 0`. */
  readonly expected: string;
  /** Whether a stored cell is one. */
  readonly check: (cell: unknown) => boolean;
}

/**
 * {@link checkSnapshot} for any kind of cell: the format, the options, the watermarks, the
 * stats and the window starts, then each window's `[key, cell]` pairs by `cells`.
 * @internal
 */
export function checkWindowsSnapshot<E, K>(
  snapshot: Pick<
    WindowedCountSnapshot<K>,
    'format' | 'settings' | 'watermark' | 'closedUpTo' | 'maxEventTime' | 'stats'
  > & {
    readonly windows: readonly { readonly windowStart: number }[];
  },
  settings: WindowSettings<E, K>,
  context: string,
  cells: SnapshotCells,
): void {
  const fail: (problem: string) => never = failure(context);
  checkSnapshotTimes(snapshot, settings, SETTING_NAMES, context);
  const { watermark, closedUpTo } = snapshot;
  if (
    settings.outputMode === 'complete'
      ? closedUpTo !== null
      : settings.lateRule === 'spark-2.4'
        ? closedUpTo !== watermark
        : !((closedUpTo ?? -Infinity) <= (watermark ?? -Infinity))
  ) {
    fail(
      `closedUpTo ${describe(closedUpTo)} does not fit watermark ${describe(watermark)} under ${settings.outputMode} mode and the ${settings.lateRule} rule`,
    );
  }

  if (!Array.isArray(snapshot.windows)) fail(`windows must be an array, got ${describe(snapshot.windows)}`);
  if (snapshot.windows.length > settings.maxWindows)
    fail(`the snapshot holds ${snapshot.windows.length} windows, more than maxWindows (${settings.maxWindows})`);
  let previousStart = Number.NEGATIVE_INFINITY;
  for (const window of snapshot.windows) {
    const start = (window as { windowStart?: unknown } | null)?.windowStart;
    if (typeof start !== 'number' || !Number.isFinite(start) || start <= previousStart) {
      fail(
        `window starts must be finite numbers in ascending order, got ${describe(start)} after ${describe(previousStart)}`,
      );
    }
    previousStart = start as number;
    if (closedUpTo !== null && (start as number) + settings.windowDuration <= closedUpTo) {
      fail(`window ${start as number} ended by closedUpTo ${closedUpTo}, so it would be final, not held`);
    }
    const pairs = (window as Record<string, unknown>)[cells.field];
    if (!Array.isArray(pairs) || pairs.length === 0)
      fail(`window ${start as number} must have a non-empty ${cells.field} array`);
    const keys = new Set<K>();
    for (const pair of pairs as unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2 || !cells.check(pair[1])) {
        fail(`window ${start as number} has ${cells.noun} that is not [key, ${cells.expected}]: ${describe(pair)}`);
      }
      const key = (pair as [K, unknown])[0];
      if (keys.has(key)) fail(`window ${start as number} has key ${describe(key)} twice`);
      keys.add(key);
    }
  }
}

/**
 * Checks what every kind of snapshot holds beside its windows or sessions: an object of
 * format 1, taken under the same `names` options as `settings` (or a
 * {@link SnapshotMismatchError}), finite or null times, and whole counters.
 * @internal
 */
export function checkSnapshotTimes(
  snapshot: EventTimeSnapshot & { readonly settings: { readonly [Name in SnapshotSetting]?: number | string } },
  settings: { readonly [Name in SnapshotSetting]?: unknown },
  names: readonly SnapshotSetting[],
  context: string,
): void {
  const fail: (problem: string) => never = failure(context);
  if (snapshot === null || typeof snapshot !== 'object') fail(`expected a snapshot object, got ${describe(snapshot)}`);
  if (snapshot.format !== 1) fail(`snapshot format ${describe(snapshot.format)} is not one this version reads (1)`);

  const taken = snapshot.settings;
  if (taken === null || typeof taken !== 'object') fail('the snapshot has no settings');
  const differences: SnapshotDifference[] = names
    .filter((name) => taken[name] !== settings[name])
    .map((name) => ({
      setting: name,
      saved: taken[name] as number | string,
      current: settings[name] as number | string,
    }));
  if (differences.length > 0) {
    const listed = differences.map(
      ({ setting, saved, current }) => `${setting} ${describe(saved)} (this counter: ${describe(current)})`,
    );
    throw new SnapshotMismatchError(
      `${context}: the snapshot was taken with other options: ${listed.join(', ')}; restore it into a counter with the options it was taken with`,
      { differences },
    );
  }

  for (const name of ['watermark', 'closedUpTo', 'maxEventTime'] as const) {
    const value = snapshot[name];
    if (value !== null && !Number.isFinite(value))
      fail(`${name} must be a finite number or null, got ${describe(value)}`);
  }

  const stats = snapshot.stats;
  if (stats === null || typeof stats !== 'object') fail('the snapshot has no stats');
  for (const name of STAT_NAMES) {
    if (!(Number.isSafeInteger(stats[name]) && stats[name] >= 0))
      fail(`stats.${name} must be a whole number ≥ 0, got ${describe(stats[name])}`);
  }
}

/** Throws an `Error` starting with `context`. @internal */
export function failure(context: string): (problem: string) => never {
  return (problem) => {
    throw new Error(`${context}: ${problem}`);
  };
}

/** A value as a snapshot refusal shows it. @internal */
export function describe(value: unknown): string {
  if (typeof value === 'number') return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
