/**
 * Rows counted but not yet acknowledged by the writer, one per (window, key).
 * @module
 */
import type { AggregatePartial } from '../aggregate/AggregateCell.js';
import type { WindowRow } from '../window/windowRow.js';

/**
 * A row as the checkpoint keeps it: window start (ms), window end (ms), key, count,
 * whether it is final (absent in checkpoints written before rows said so), for a
 * late-count row its part (`null` for another row that has more), and for an aggregate
 * row its partial.
 */
export type SavedRow<K> = readonly [
  windowStart: number,
  windowEnd: number,
  key: K,
  count: number,
  final?: boolean,
  part?: number | null,
  partial?: AggregatePartial,
];

/**
 * The count of the events late for one (window, key), from one aggregator: rows of a
 * late-count table. `part` tells apart the counts of one (window, key) that the
 * aggregator stopped holding in memory and started again (see
 * {@link DurableWindowsOptions.writeLate}); the late total of a (window, key) is
 * the sum over parts and aggregators.
 */
export interface LateRow<K> extends WindowRow<K> {
  /** The journal sequence number of the late event that started this count: unique per aggregator. */
  readonly part: number;
}

/**
 * The newest count of every (window, key) not yet written, with at most
 * `maxInFlight` writes outstanding.
 *
 * A newer count of a (window, key) replaces the older one while it waits, so an
 * update-mode stream that outruns the writer coalesces instead of queueing a row per
 * event: memory holds one row per (window, key), however many events arrived. A
 * (window, key) being written is not sent again until that write is acknowledged;
 * then its newer count, if any, goes next.
 * @internal
 */
export class PendingRows<K, R extends WindowRow<K> = WindowRow<K>> {
  /** (window, key) → newest row not yet acknowledged. */
  private readonly newest = new Map<string, R>();
  /** Ids that wait for a write, oldest first. */
  private readonly waiting = new Set<string>();
  /** Id → count of the write outstanding. */
  private readonly writing = new Map<string, number>();

  constructor(
    private readonly maxInFlight: number,
    private readonly send: (row: R) => void,
  ) {}

  /** Rows not yet acknowledged (waiting or being written). */
  get size(): number {
    return this.newest.size;
  }

  get inFlight(): number {
    return this.writing.size;
  }

  add(row: R): void {
    const id = rowId(row);
    const known = this.newest.get(id);
    // Counts only grow for one (window, key); an older count never replaces a newer one,
    // and a partial row never replaces the final row of the same count.
    if (known !== undefined && !isNewer(row, known)) return;
    this.newest.set(id, row);
    if (!this.writing.has(id)) this.waiting.add(id);
  }

  /**
   * The writer acknowledged `row`, or refused it for good (it will never be
   * written): forget it unless a newer count arrived meanwhile.
   */
  settled(row: R): void {
    const id = rowId(row);
    this.writing.delete(id);
    const known = this.newest.get(id);
    if (known === undefined) return;
    if (isNewer(known, row)) this.waiting.add(id);
    else this.newest.delete(id);
  }

  /** Sends waiting rows while fewer than `maxInFlight` writes are outstanding. Re-entrant. */
  pump(): void {
    while (this.writing.size < this.maxInFlight) {
      const id = this.waiting.values().next().value as string | undefined;
      if (id === undefined) return;
      this.waiting.delete(id);
      const row = this.newest.get(id) as R;
      this.writing.set(id, row.count);
      this.send(row);
    }
  }

  /** Every row not yet acknowledged, for the checkpoint, each as `save` keeps it. */
  saved(save: (row: R) => SavedRow<K> = rowToSaved): SavedRow<K>[] {
    return [...this.newest.values()].map(save);
  }

  /** Writes in flight are abandoned (the stream stopped): their rows wait again, for a checkpoint. */
  abandonWrites(): void {
    for (const id of this.writing.keys()) this.waiting.add(id);
    this.writing.clear();
  }
}

/** A count row (or late-count row) as the checkpoint keeps it. */
export function rowToSaved<K>(row: WindowRow<K>): SavedRow<K> {
  const saved = [row.windowStart.getTime(), row.windowEnd.getTime(), row.key, row.count, row.final === true] as const;
  return 'part' in row && typeof row.part === 'number' ? [...saved, row.part] : saved;
}

/**
 * Rebuilds a checkpointed row. A row saved before rows said whether they were final is
 * final when its window ended by the restored `watermark`.
 */
export function savedRowToRow<K>(
  [windowStart, windowEnd, key, count, final, part]: SavedRow<K>,
  watermark: number | undefined,
): WindowRow<K> {
  const row = {
    windowStart: new Date(windowStart),
    windowEnd: new Date(windowEnd),
    key,
    count,
    final: final ?? (watermark !== undefined && windowEnd <= watermark),
  };
  return part === undefined || part === null ? row : ({ ...row, part } as LateRow<K>);
}

/** Whether `row` says more than `than` of the same (window, key): a larger count, or the same count, final. */
function isNewer<K>(row: WindowRow<K>, than: WindowRow<K>): boolean {
  return row.count > than.count || (row.count === than.count && row.final === true && than.final !== true);
}

function rowId(row: WindowRow<unknown>): string {
  const id = `${row.windowStart.getTime()}/${typeof row.key}/${String(row.key)}`;
  return 'part' in row ? `${id}/${String(row.part)}` : id;
}
