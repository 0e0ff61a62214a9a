/**
 * `durableWindowedCount`'s `prepare`, run one message at a time.
 * @module
 */
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { MqttMessage } from '../mqtt/message.js';
import type { DurablePrepareHooks } from './durableOptions.js';

/**
 * Feeds `prepare` one message at a time and collects the events that come out while
 * that message goes in. An event that comes out later is an error: its message has
 * been acknowledged by then, so the event could be lost in a crash.
 * @internal
 */
export class MessagePreparation<E> {
  /** The events of the message last prepared. */
  readonly events: E[] = [];
  private readonly messages = new Subject<MqttMessage>();
  private preparing = false;
  private readonly subscription: Subscription;

  constructor(
    prepare: (messages: Observable<MqttMessage>, hooks: DurablePrepareHooks) => Observable<E>,
    hooks: DurablePrepareHooks,
    onError: (error: unknown) => void,
  ) {
    this.subscription = prepare(this.messages, hooks).subscribe({
      next: (event) => {
        if (!this.preparing) {
          onError(
            new Error(
              'durableWindowedCount: prepare emitted an event after its message was handled; it must be synchronous',
            ),
          );
          return;
        }
        this.events.push(event);
      },
      error: onError,
    });
  }

  /** Runs `message` through `prepare`; its events are then in {@link events}. */
  prepare(message: MqttMessage): void {
    this.events.length = 0;
    this.preparing = true;
    try {
      this.messages.next(message);
    } finally {
      this.preparing = false;
    }
  }

  close(): void {
    this.subscription.unsubscribe();
  }
}
