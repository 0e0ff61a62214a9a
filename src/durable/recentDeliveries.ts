/**
 * Recognising a QoS 1 message the broker sends again after its PUBACK was lost.
 * @module
 */
import { createHash } from 'node:crypto';

/**
 * The packet identifiers and payload digests of the last messages counted.
 *
 * A broker that did not get our PUBACK (the connection dropped, or we died after
 * saving the message's effect and before acknowledging it) sends the message again
 * with the same packet identifier and the `dup` flag. Identifiers are reused for
 * other messages once acknowledged, so the payload's digest must match as well.
 * Only the last few messages can come again (those not yet acknowledged when the
 * connection ended: at most the broker's in-flight window, 20 by default in
 * Mosquitto), so a bounded memory is enough.
 * @internal
 */
export class RecentDeliveries {
  /** Packet identifier → payload digest, oldest first. */
  private readonly byMessageId = new Map<number, string>();

  constructor(private readonly capacity: number, saved: readonly (readonly [number, string])[] = []) {
    for (const [messageId, digest] of saved) this.remember(messageId, digest);
  }

  /** Whether a `dup` delivery of this identifier and digest was already counted. */
  counted(messageId: number, digest: string): boolean {
    return this.byMessageId.get(messageId) === digest;
  }

  remember(messageId: number, digest: string): void {
    this.byMessageId.delete(messageId); // re-inserted last: the newest use of the identifier
    this.byMessageId.set(messageId, digest);
    if (this.byMessageId.size > this.capacity) {
      const oldest = this.byMessageId.keys().next().value as number;
      this.byMessageId.delete(oldest);
    }
  }

  /** For the checkpoint. */
  entries(): [number, string][] {
    return [...this.byMessageId];
  }
}

/** A short digest of a payload: 96 bits, plenty to tell two messages with one identifier apart. */
export function payloadDigest(payload: Uint8Array): string {
  return createHash('sha1').update(payload).digest('base64').slice(0, 16);
}
