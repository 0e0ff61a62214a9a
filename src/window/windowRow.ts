/**
 * The row {@link windowedCount} emits: one count of one key in one window.
 * @module
 */

/**
 * The count of events with one key in one event-time window `[windowStart, windowEnd)`.
 *
 * The shape Spark's `groupBy(window(...), key).count()` produces, flattened: the
 * Cassandra sink writes exactly these four fields. In `append` mode a row is final
 * and emitted once; in `update` mode the same (window, key) comes again with a higher
 * count, and in `complete` mode after every event (with the same or a higher count), so
 * write it keyed on `(windowStart, key)` to stay idempotent. `final` says which rows are
the last word on their window.
 *
 * @typeParam K - the key type, e.g. the HTTP status (`number`).
 */
export interface WindowRow<K> {
  /** Inclusive start of the window. */
  readonly windowStart: Date;
  /** Exclusive end of the window (`windowStart` + the window duration). */
  readonly windowEnd: Date;
  /** The group the events share, as the `key` accessor returned it. */
  readonly key: K;
  /** How many events with this key were counted in this window so far. */
  readonly count: number;
  /**
   * Whether the count is final: `true` when the watermark had closed the window (an
   * `append`-mode row, or {@link durableWindowedCount}'s closing row in `update` mode),
   * so the count will not change; `false` for a count so far (an `update` or `complete`
   * row of an open window, open windows flushed when the source completes or written
   * at a stop). Absent on rows made by hand, which the window-count table stores as
   * not final.
   */
  readonly final?: boolean;
}
