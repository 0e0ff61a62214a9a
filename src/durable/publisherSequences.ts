/**
 * Recognising a message a publisher sent again from its outbox after a restart: a new
 * PUBLISH (new packet identifier, no `dup`), which only its publisher id and sequence
 * number tell.
 * @module
 */
import { PUBLISHER_PROPERTY, SEQUENCE_PROPERTY } from '../mqtt/outbox.js';

/** A message's origin: the `publisher` and `seq` user properties an outbox gives it. */
export interface PublisherSequence {
  readonly publisher: string;
  readonly seq: number;
}

/** Sequence numbers remembered below each publisher's highest, one bit each. */
const WINDOW = 1_024;
/** Publishers remembered at most; past it the one heard from least recently is forgotten. */
const MAX_PUBLISHERS = 1_000;

/** A publisher's highest sequence number counted, and which of the `WINDOW` below it were counted. */
interface Seen {
  highest: number;
  /** Bit i: `highest - i` was counted (bit 0 is `highest` itself). */
  readonly bits: Uint8Array;
}

/** What the checkpoint keeps: publisher, highest sequence number, the window's bits (base64). */
export type SavedSequences = [publisher: string, highest: number, bits: string][];

/**
 * The sequence numbers counted, per publisher, in bounded memory: the highest, and a
 * window of 1,024 below it. A sequence number above the highest is new; one in the
 * window is new unless its bit is set (a gap: a message that arrived out of order, or
 * that another member of a share group got); one below the window is taken as counted.
 * That last rule is safe because a publisher sends in order and a restart sends again
 * only what was not acknowledged, which is never more than its in-flight messages plus
 * the acknowledgements its outbox had not yet written: far fewer than 1,024.
 *
 * At most 1,000 publishers are remembered; the least recently heard is then forgotten,
 * and a message it sends again after that is counted again.
 * @internal
 */
export class PublisherSequences {
  /** In the order heard from, least recent first (a Map keeps insertion order). */
  private readonly publishers = new Map<string, Seen>();

  constructor(saved?: SavedSequences) {
    for (const [publisher, highest, bits] of saved ?? []) {
      const bytes = Buffer.from(bits, 'base64');
      const seen: Seen = { highest, bits: new Uint8Array(WINDOW / 8) };
      seen.bits.set(bytes.subarray(0, WINDOW / 8));
      this.publishers.set(publisher, seen);
    }
  }

  /** How many publishers are remembered now. */
  get size(): number {
    return this.publishers.size;
  }

  /** Whether `origin`'s message was counted already. */
  counted(origin: PublisherSequence): boolean {
    const seen = this.publishers.get(origin.publisher);
    if (seen === undefined || origin.seq > seen.highest) return false;
    const below = seen.highest - origin.seq;
    if (below >= WINDOW) return true;
    return ((seen.bits[below >> 3] as number) & (1 << (below & 7))) !== 0;
  }

  /** `origin`'s message is counted. */
  remember(origin: PublisherSequence): void {
    let seen = this.publishers.get(origin.publisher);
    if (seen === undefined) {
      if (this.publishers.size >= MAX_PUBLISHERS) this.publishers.delete(this.publishers.keys().next().value as string);
      seen = { highest: origin.seq, bits: new Uint8Array(WINDOW / 8) };
    } else this.publishers.delete(origin.publisher); // moved to the most recent end
    this.publishers.set(origin.publisher, seen);
    if (origin.seq > seen.highest) {
      shiftBits(seen.bits, origin.seq - seen.highest);
      seen.highest = origin.seq;
    }
    const below = seen.highest - origin.seq;
    if (below < WINDOW) seen.bits[below >> 3] = (seen.bits[below >> 3] as number) | (1 << (below & 7));
  }

  /** For the checkpoint. */
  save(): SavedSequences {
    return [...this.publishers].map(([publisher, seen]) => [
      publisher,
      seen.highest,
      Buffer.from(seen.bits).toString('base64'),
    ]);
  }
}

/** Moves every bit `by` places towards the old end (bit i becomes bit i + by). */
function shiftBits(bits: Uint8Array, by: number): void {
  if (by >= WINDOW) {
    bits.fill(0);
    return;
  }
  const bytes = by >> 3;
  const shift = by & 7;
  for (let i = bits.length - 1; i >= 0; i--) {
    const from = i - bytes;
    const high = from >= 0 ? (bits[from] as number) : 0;
    const low = from - 1 >= 0 ? (bits[from - 1] as number) : 0;
    bits[i] = shift === 0 ? high : ((high << shift) | (low >> (8 - shift))) & 0xff;
  }
}

/**
 * A message's `publisher` and `seq` user properties, when it has both and `seq` is a
 * whole number; otherwise `undefined` (mosquitto_pub, the original Python publisher).
 */
export function publisherSequenceOf(
  properties: { readonly userProperties?: Record<string, string | string[]> } | undefined,
): PublisherSequence | undefined {
  const user = properties?.userProperties;
  if (user === undefined) return undefined;
  const publisher = user[PUBLISHER_PROPERTY];
  const seq = user[SEQUENCE_PROPERTY];
  if (typeof publisher !== 'string' || publisher === '' || typeof seq !== 'string' || !/^[1-9]\d{0,15}$/.test(seq))
    return undefined;
  const number = Number(seq);
  return Number.isSafeInteger(number) ? { publisher, seq: number } : undefined;
}
