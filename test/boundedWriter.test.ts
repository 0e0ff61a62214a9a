// The bounded write queue under toMqtt, cassandraSink and lightWhile, on its own:
// plain Observables, a write function the test settles by hand.
import { expect } from 'chai';
import { Observable, Subject } from 'rxjs';
import { BoundedWriter, writeQueueSettings, type WriteSlot } from '../src/internal/boundedWriter.js';
import { QueueFullError, RejectionError, type Rejection, type WriteQueueOptions } from '../src/index.js';

interface Run {
  readonly emitted: string[];
  readonly slots: Map<number, WriteSlot<string>>;
  readonly events: string[];
  readonly errors: unknown[];
  readonly source: Subject<number>;
  readonly teardown: () => void;
}

/** A writer whose every write waits until the test settles its slot. */
function run(order: 'input' | 'completion', options: WriteQueueOptions<number>, release?: () => Promise<void>): Run {
  const emitted: string[] = [];
  const events: string[] = [];
  const errors: unknown[] = [];
  const slots = new Map<number, WriteSlot<string>>();
  const source = new Subject<number>();
  const subscription = new Observable<string>((destination) => {
    const writer = new BoundedWriter<number, string>(
      destination,
      {
        ...writeQueueSettings<number>('toMqtt', options, 2),
        order,
        state: () => 'the test holds them',
        ...(release ? { release } : {}),
      },
      (value, slot) => slots.set(value, slot),
    );
    writer.subscribe(source);
    return () => writer.unsubscribe();
  }).subscribe({
    next: (result) => emitted.push(result),
    error: (error: unknown) => {
      errors.push(error);
      events.push(`error ${(error as Error).message}`);
    },
    complete: () => events.push('complete'),
  });
  return { emitted, slots, events, errors, source, teardown: () => subscription.unsubscribe() };
}

describe('BoundedWriter (the write queue under every writing operator)', () => {
  it('input order: emits results in the order of the values, and a settled value keeps its slot until then', () => {
    const { emitted, slots, source } = run('input', { concurrency: 2 });
    for (let i = 1; i <= 3; i++) source.next(i);
    expect([...slots.keys()]).to.deep.equal([1, 2]);
    slots.get(2)!.done('r2');
    expect(emitted).to.deep.equal([]);
    expect([...slots.keys()], 'value 2 still holds its slot').to.deep.equal([1, 2]);
    slots.get(1)!.done('r1');
    expect(emitted).to.deep.equal(['r1', 'r2']);
    expect([...slots.keys()]).to.deep.equal([1, 2, 3]);
  });

  it('completion order: emits each result as its value is settled', () => {
    const { emitted, slots, source } = run('completion', { concurrency: 2 });
    source.next(1);
    source.next(2);
    slots.get(2)!.done('r2');
    slots.get(1)!.done('r1');
    expect(emitted).to.deep.equal(['r2', 'r1']);
  });

  it('frees a rejected value at once, ahead of earlier values, before reporting it', () => {
    const rejections: Rejection[] = [];
    const backlogAtReport: number[] = [];
    let inFlight = 0;
    const { emitted, slots, source } = run('input', {
      concurrency: 2,
      onBacklog: (b) => {
        inFlight = b.inFlight;
      },
      onReject: (r) => {
        rejections.push(r);
        backlogAtReport.push(inFlight);
      },
    });
    source.next(1);
    source.next(2);
    source.next(3);
    slots.get(2)!.reject('message', 'cannot serialize 2');
    expect(rejections.map((r) => [r.kind, r.reason, r.input])).to.deep.equal([['message', 'cannot serialize 2', 2]]);
    expect([...slots.keys()], 'value 3 took the freed slot while 1 is still in flight').to.deep.equal([1, 2, 3]);
    slots.get(3)!.done('r3');
    slots.get(1)!.done('r1');
    expect(emitted).to.deep.equal(['r1', 'r3']);
    slots.get(2)!.done('late');
    expect(emitted, 'a slot settles once').to.deep.equal(['r1', 'r3']);
  });

  it('with strict, a rejection ends the stream with a RejectionError', () => {
    const { slots, source, events, errors } = run('completion', { strict: true });
    source.next(1);
    slots.get(1)!.reject('row', 'cannot make a row of 1');
    expect(events).to.deep.equal(['error toMqtt: row rejected: cannot make a row of 1']);
    expect(errors[0]).to.be.instanceOf(RejectionError);
    expect(source.observed).to.equal(false);
  });

  it("a full queue errors with QueueFullError, or with onQueueFull: 'reject' rejects the value (kind 'queue-full')", () => {
    const failing = run('completion', { concurrency: 1, maxQueued: 1 });
    failing.source.next(1);
    failing.source.next(2);
    failing.source.next(3);
    expect(failing.events).to.deep.equal([
      'error toMqtt: 1 value in flight and 1 queued (the test holds them): the source is faster than they are written. ' +
        "Pace the source on the operator's results, raise maxQueued, or set onQueueFull: 'reject'",
    ]);

    const rejections: Rejection[] = [];
    const rejecting = run('completion', {
      concurrency: 1,
      maxQueued: 1,
      onQueueFull: 'reject',
      onReject: (r) => rejections.push(r),
    });
    for (let i = 1; i <= 4; i++) rejecting.source.next(i);
    expect(rejections.map((r) => [r.kind, r.input])).to.deep.equal([
      ['queue-full', 3],
      ['queue-full', 4],
    ]);
    expect(rejecting.events).to.deep.equal([]);
    expect(new QueueFullError({ operator: 'cassandraSink', concurrency: 2, maxQueued: 3, state: 'x' })).to.include({
      name: 'QueueFullError',
      operator: 'cassandraSink',
      concurrency: 2,
      maxQueued: 3,
    });
  });

  it('a source paced on the results, with maxQueued 0, never overflows, however the writes settle (synchronously too)', () => {
    for (const order of ['input', 'completion'] as const) {
      const emitted: number[] = [];
      const pull = new Subject<void>();
      let next = 0;
      const errors: unknown[] = [];
      const more = () => {
        if (next < 100_000) pull.next();
      };
      // As in toMqtt's example: a result or a rejection asks for the next value.
      const options = { concurrency: 4, maxQueued: 0, onReject: more };
      new Observable<number>((destination) => {
        const writer = new BoundedWriter<number, number>(
          destination,
          {
            ...writeQueueSettings<number>('cassandraSink', options, 1),
            order,
            state: () => '',
          },
          (value, slot) => (value % 3 === 0 ? slot.reject('row', 'every third') : slot.done(value)),
        );
        writer.subscribe(new Observable<number>((subscriber) => pull.subscribe(() => subscriber.next(next++))));
        return () => writer.unsubscribe();
      }).subscribe({
        next: (value) => {
          emitted.push(value);
          more();
        },
        error: (error: unknown) => errors.push(error),
      });
      for (let i = 0; i < 4; i++) more(); // fill the window
      expect(errors, order).to.deep.equal([]);
      expect(next, order).to.equal(100_000);
      expect(emitted.length, order).to.equal(66_666);
    }
  });

  it('completes once the source completed and every value was settled; a source error ends it at once', () => {
    const { slots, source, events } = run('completion', {});
    source.next(1);
    source.complete();
    expect(events).to.deep.equal([]);
    slots.get(1)!.done('r1');
    expect(events).to.deep.equal(['complete']);

    const failing = run('completion', {});
    failing.source.next(1);
    failing.source.error(new Error('source broke'));
    expect(failing.events).to.deep.equal(['error source broke']);
  });

  it('passes the end on only after release settled; unsubscribing releases without an end', async () => {
    let released = 0;
    let finishRelease!: () => void;
    const ended = run('completion', {}, () => {
      released++;
      return new Promise<void>((resolve) => {
        finishRelease = resolve;
      });
    });
    ended.source.complete();
    expect([released, ended.events]).to.deep.equal([1, []]);
    finishRelease();
    await Promise.resolve();
    expect(ended.events).to.deep.equal(['complete']);

    const unsubscribed = run('completion', {}, () => {
      released++;
      return Promise.resolve();
    });
    unsubscribed.source.next(1);
    unsubscribed.teardown();
    unsubscribed.teardown();
    expect(released).to.equal(2);
    expect(unsubscribed.source.observed).to.equal(false);
  });

  it('checks its options with the operator named', () => {
    expect(() => writeQueueSettings('cassandraSink', { concurrency: 1.5 }, 1)).to.throw(
      RangeError,
      /^cassandraSink: concurrency must be an integer ≥ 1 or Infinity, got 1.5$/,
    );
    expect(() => writeQueueSettings('toMqtt', { maxQueued: Number.NaN }, 1)).to.throw(
      RangeError,
      /^toMqtt: maxQueued must be an integer ≥ 0 or Infinity, got NaN$/,
    );
    expect(() => writeQueueSettings('lightWhile', { onQueueFull: 'drop' as 'error' }, 1)).to.throw(
      RangeError,
      /^lightWhile: onQueueFull must be 'error' or 'reject', got "drop"$/,
    );
    expect(writeQueueSettings('lightWhile', {}, 1)).to.include({
      concurrency: 1,
      maxQueued: 10_000,
      onQueueFull: 'error',
    });
  });
});
