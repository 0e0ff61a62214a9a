/**
 * The subscriber an operator puts between its source and its destination, written
 * once, as RxJS's `createOperatorSubscriber` is: a throw becomes an error, nothing is
 * delivered after the end, and what the subscription holds is freed once.
 * @module
 */
import type { Observable, Observer, Subscriber } from 'rxjs';

/** What an operator does with its source's notifications. @internal */
export interface OperatorHandlers<T> {
  /** Each source value. A throw ends the stream with that error. */
  readonly next: (value: T) => void;
  /** The source's error. Default: passed on. A throw ends the stream with that error instead. */
  readonly error?: (error: unknown) => void;
  /** The source's completion. Default: passed on. A throw ends the stream with that error. */
  readonly complete?: () => void;
  /**
   * Frees what the subscription holds (a timer, a file), once: when the stream ends,
   * before the end is passed on, or when it is unsubscribed.
   */
  readonly finalize?: () => void;
}

/**
 * The source's observer. After the stream ended, or once the destination is closed
 * (a consumer that unsubscribed while a synchronous source was still emitting: the
 * teardown runs only once that emission returns), notifications are ignored.
 * @internal
 */
export class OperatorSubscriber<T, R> implements Observer<T> {
  private stopped = false;
  private finalized = false;

  constructor(
    private readonly destination: Subscriber<R>,
    private readonly handlers: OperatorHandlers<T>,
  ) {}

  /** Whether the stream ended or the destination is closed: nothing more is delivered. */
  get closed(): boolean {
    return this.stopped || this.destination.closed;
  }

  next(value: T): void {
    if (this.closed) return;
    try {
      this.handlers.next(value);
    } catch (error) {
      this.fail(error);
    }
  }

  error(error: unknown): void {
    if (this.closed) return;
    const onError = this.handlers.error;
    this.end(onError === undefined ? () => this.destination.error(error) : () => onError(error));
  }

  complete(): void {
    if (this.closed) return;
    const onComplete = this.handlers.complete;
    this.end(onComplete === undefined ? () => this.destination.complete() : onComplete);
  }

  /** Ends the stream with `error` (once; after the end it does nothing). */
  fail(error: unknown): void {
    if (this.closed) return;
    this.end(() => this.destination.error(error));
  }

  /** Stops delivery and frees what the subscription holds, once: the teardown's part. */
  unsubscribe(): void {
    this.stopped = true;
    this.finalize();
  }

  private end(signal: () => void): void {
    this.stopped = true;
    try {
      this.finalize();
      signal();
    } catch (error) {
      this.destination.error(error);
    }
  }

  private finalize(): void {
    if (this.finalized) return;
    this.finalized = true;
    this.handlers.finalize?.();
  }
}

/**
 * Subscribes to `source` through an {@link OperatorSubscriber} that hands its
 * notifications to `handlers` and passes the result on to `destination`; returns the
 * teardown for the `new Observable` body (it unsubscribes from the source and
 * finalizes, once). The body of most operators is then
 * `(source) => new Observable((destination) => subscribeOperator(source, destination, { next, … }))`.
 * @internal
 */
export function subscribeOperator<T, R>(
  source: Observable<T>,
  destination: Subscriber<R>,
  handlers: OperatorHandlers<T>,
): () => void {
  const subscriber = new OperatorSubscriber<T, R>(destination, handlers);
  const subscription = source.subscribe(subscriber);
  return () => {
    subscriber.unsubscribe();
    subscription.unsubscribe();
  };
}
