/**
 * One line of a durable aggregator's journal, and its encoding.
 * @module
 */
import type { JournalBatch } from './journalBatch.js';

/**
 * One journal line. `m`/`h`: packet identifier and payload digest of a QoS ≥ 1 message.
 * @internal
 */
export interface JournalRecord {
  readonly q: number;
  readonly m?: number;
  readonly h?: number;
  /** Arrival (clock ms), event time (ms, `null` when unreadable) and key of a counted event. */
  readonly n?: number;
  readonly t?: number | null;
  readonly k?: string | number;
  /** The value and distinct value of an aggregated event (`null` when unreadable). */
  readonly v?: number | null;
  readonly d?: string | number | null;
  /** A watermark advance without an event (idle advance). */
  readonly a?: number;
  /** The publisher id and sequence number of a message from an outbox (see PublisherSequences). */
  readonly p?: string;
  readonly s?: number;
}

/**
 * Appends the text `JSON.stringify` makes of `{ q, ...record }`, character for character,
 * and a newline, to `batch`: the aggregator journals every message, and the generic
 * walk of `JSON.stringify` over a spread object took about 0.9 µs of it.
 * `record` should hold every field, `undefined` where absent (one shape, so that
 * reading it stays fast); fields are written in the order of {@link JournalRecord}.
 * @internal
 */
export function writeJournalRecord(batch: JournalBatch, q: number, record: Omit<JournalRecord, 'q'>): void {
  batch.text('{"q":');
  batch.number(q);
  if (record.m !== undefined) field(batch, ',"m":', record.m);
  if (record.h !== undefined) field(batch, ',"h":', record.h);
  if (record.n !== undefined) field(batch, ',"n":', record.n);
  if (record.t !== undefined) field(batch, ',"t":', record.t);
  if (record.k !== undefined) field(batch, ',"k":', record.k);
  if (record.v !== undefined) field(batch, ',"v":', record.v);
  if (record.d !== undefined) field(batch, ',"d":', record.d);
  if (record.a !== undefined) field(batch, ',"a":', record.a);
  if (record.p !== undefined) field(batch, ',"p":', record.p);
  if (record.s !== undefined) field(batch, ',"s":', record.s);
  batch.ascii(CLOSING_BRACE);
  batch.newline();
}

const CLOSING_BRACE = 0x7d;

/** `name` (its `,"x":` text) and `value` as JSON writes it. */
function field(batch: JournalBatch, name: string, value: string | number | null): void {
  batch.text(name);
  if (value === null) batch.text('null');
  else if (typeof value === 'number') batch.number(value);
  else batch.string(value);
}
