// The subscriber between an operator's source and its destination
// (src/internal/operatorSubscriber.ts): a throw becomes an error, nothing is delivered
// after the end, and finalize runs once, before the end is passed on.
import { expect } from 'chai';
import { Observable, Subject, of, take } from 'rxjs';
import { subscribeOperator, type OperatorHandlers } from '../src/internal/operatorSubscriber.js';

/** An operator built on the helper, recording what its handlers and finalize saw. */
function recording<T>(handlers: Partial<OperatorHandlers<T>>, log: string[]) {
  return (source: Observable<T>) =>
    new Observable<T>((destination) =>
      subscribeOperator(source, destination, {
        next: (value) => {
          log.push(`next ${String(value)}`);
          if (handlers.next) handlers.next(value);
          else destination.next(value);
        },
        ...(handlers.error ? { error: handlers.error } : {}),
        ...(handlers.complete ? { complete: handlers.complete } : {}),
        finalize: () => {
          log.push('finalize');
          handlers.finalize?.();
        },
      }),
    );
}

describe('subscribeOperator', function () {
  it('ends the stream with the error a handler throws, finalizes first, and takes nothing after it', function () {
    const log: string[] = [];
    const seen: string[] = [];
    of(1, 2, 3)
      .pipe(
        recording<number>(
          {
            next: (value) => {
              if (value === 2) throw new Error('two');
            },
          },
          log,
        ),
      )
      .subscribe({ next: (v) => seen.push(`value ${v}`), error: (e: Error) => seen.push(`error ${e.message}`) });
    // The synchronous source went on emitting 3: it reached no handler.
    expect(log).to.deep.equal(['next 1', 'next 2', 'finalize']);
    expect(seen).to.deep.equal(['error two']);
  });

  it('passes the source error and completion on by default, finalizing once before them', function () {
    const log: string[] = [];
    const source = new Subject<number>();
    const subscription = source.pipe(recording<number>({}, log)).subscribe({
      next: (v) => log.push(`value ${v}`),
      error: (e: Error) => log.push(`error ${e.message}`),
    });
    source.next(1);
    source.error(new Error('upstream'));
    source.next(2);
    subscription.unsubscribe();
    expect(log).to.deep.equal(['next 1', 'value 1', 'finalize', 'error upstream']);

    const completed: string[] = [];
    of(1)
      .pipe(recording<number>({}, completed))
      .subscribe({ complete: () => completed.push('complete') });
    expect(completed).to.deep.equal(['next 1', 'finalize', 'complete']);
  });

  it('runs the complete and error handlers instead, and a throw there becomes the error', function () {
    const log: string[] = [];
    of(1)
      .pipe(
        recording<number>(
          {
            complete: () => {
              throw new Error('flush failed');
            },
          },
          log,
        ),
      )
      .subscribe({ next: () => log.push('value'), error: (e: Error) => log.push(`error ${e.message}`) });
    expect(log).to.deep.equal(['next 1', 'value', 'finalize', 'error flush failed']);
  });

  it('finalizes once on unsubscribe, and stops delivery mid-emission of a synchronous source', function () {
    const log: string[] = [];
    let finalized = 0;
    of(1, 2, 3)
      .pipe(recording<number>({ finalize: () => finalized++ }, log), take(1))
      .subscribe();
    expect(log).to.deep.equal(['next 1', 'finalize']);
    expect(finalized).to.equal(1);

    const source = new Subject<number>();
    const subscription = source.pipe(recording<number>({ finalize: () => finalized++ }, [])).subscribe();
    subscription.unsubscribe();
    subscription.unsubscribe();
    expect(finalized).to.equal(2);
    expect(source.observed).to.equal(false);
  });
});
