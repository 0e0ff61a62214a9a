/**
 * Acknowledgements held until the journal lines of their batch are written.
 * @module
 */
import type { MqttMessage } from '../mqtt/message.js';

/**
 * One `write(2)` (and, for durability `'power'`, one `fsync`) per batch of messages,
 * not per message: a message's PUBACK waits in the corked connection
 * ({@link MqttMessage.holdAcknowledgements}) while MQTT.js hands over the next message;
 * when the event loop turns, `write` saves the batch and only then do its PUBACKs leave.
 * A message that cannot hold its acknowledgement is saved on its own first.
 * @internal
 */
export class AcknowledgementBatch {
  private held: (() => void)[] = [];
  private scheduled: ReturnType<typeof setImmediate> | undefined;

  /**
   * @param write - saves the batch of `messages` messages; throws when it cannot.
   * @param onWriteError - a scheduled save failed: the stream must end (the PUBACKs stay held).
   */
  constructor(
    private readonly write: (messages: number) => void,
    private readonly onWriteError: (error: unknown) => void,
  ) {}

  /** Acknowledges `message` once what it changed is saved; `unsaved` says whether anything is. */
  acknowledge(message: MqttMessage, unsaved: boolean): void {
    if (unsaved) {
      if (typeof message.holdAcknowledgements === 'function') {
        this.held.push(message.holdAcknowledgements());
        this.scheduled ??= setImmediate(() => {
          try {
            this.release();
          } catch (error) {
            this.onWriteError(error);
          }
        });
      } else {
        this.write(1);
      }
    }
    message.ack();
  }

  /** Saves the batch now and lets its PUBACKs leave. Throws when the save fails (they stay held). */
  release(): void {
    clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.write(this.held.length);
    const held = this.held;
    this.held = [];
    for (const release of held) release();
  }
}
