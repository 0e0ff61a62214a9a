// The windowedCount operator: what the RxJS wrapper adds to the state machine (flush on
// complete, reject handling on a stream, the idle-advance timer and its teardown).
import { expect } from 'chai';
import { Subject, concat, from, lastValueFrom, of, take, throwError, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  LiveStatistics,
  RejectionError,
  WindowedCountState,
  windowedCount,
  type Rejection,
  type WindowedCountOperatorOptions,
  type WindowedCountSnapshot,
  type WindowRow,
  type WindowStats,
} from '../src/index.js';
import { waitFor } from './support/waitFor.js';

interface Ev {
  readonly t: number;
  readonly k: string;
}

const show = (row: WindowRow<string>) =>
  `[${row.windowStart.getTime()},${row.windowEnd.getTime()}) ${row.key}=${row.count}`;
const ev = (t: number, k = 'a'): Ev => ({ t, k });
const base = { eventTime: (e: Ev) => e.t, key: (e: Ev) => e.k, windowDuration: 10, watermarkDelay: 5 };

/**
 * `events` through windowedCount (`base`, `options` on top), its rows gathered in
 * `result`, its rejections in `rejected`, and the live stats it hands to onSubscribe.
 */
function countedWith(events: readonly Ev[], options: Partial<WindowedCountOperatorOptions<Ev, string>> = {}) {
  const rejected: Rejection<Ev>[] = [];
  let stats: WindowStats | undefined;
  const result = lastValueFrom(
    from(events).pipe(
      windowedCount({
        ...base,
        ...options,
        onReject: (r) => rejected.push(r),
        onSubscribe: (s) => {
          stats = s;
        },
      }),
      toArray(),
    ),
  );
  return { result, rejected, stats: () => stats };
}

/** A TestScheduler for marble tests, comparing frames with chai's deep equality. */
const marbleScheduler = () =>
  new TestScheduler((actual, expected) => {
    expect(actual).to.deep.equal(expected);
  });
const timeouts = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;

describe('windowedCount operator', () => {
  it('emits final rows as the watermark passes, then flushes the open windows when the source completes', async () => {
    const rows = await lastValueFrom(
      from([ev(1), ev(4, 'b'), ev(12), ev(16, 'b')]).pipe(windowedCount(base), toArray()),
    );
    expect(rows.map(show)).to.deep.equal(['[0,10) a=1', '[0,10) b=1', '[10,20) a=1', '[10,20) b=1']);
    // Closed by the watermark: final; flushed open at the end: partial.
    expect(rows.map((row) => row.final)).to.deep.equal([true, true, false, false]);
  });

  it('behaves as the marble diagram in its documentation shows', () => {
    const late: Rejection<Ev>[] = [];
    const rows: WindowRow<string>[] = [];
    from([ev(1), ev(4, 'b'), ev(12), ev(3), ev(17, 'b'), ev(2)])
      .pipe(windowedCount({ ...base, onReject: (r) => late.push(r) }))
      .subscribe((row) => rows.push(row));
    expect(rows.map(show)).to.deep.equal(['[0,10) a=2', '[0,10) b=1', '[10,20) a=1', '[10,20) b=1']);
    expect(late.map((r) => r.input)).to.deep.equal([ev(2)]);
  });

  it('does not flush with flushOnComplete: false, as Spark', async () => {
    const rows = await lastValueFrom(
      from([ev(1), ev(4, 'b'), ev(12), ev(16, 'b')]).pipe(
        windowedCount({ ...base, flushOnComplete: false }),
        toArray(),
      ),
    );
    expect(rows.map(show)).to.deep.equal(['[0,10) a=1', '[0,10) b=1']);
  });

  it('hands late events to onReject and goes on counting', async () => {
    const { result, rejected: late, stats } = countedWith([ev(1), ev(30), ev(2), ev(31)]);
    const rows = await result;
    expect(rows.map(show)).to.deep.equal(['[0,10) a=1', '[30,40) a=2']);
    expect(late.map((r) => [r.kind, r.input.t])).to.deep.equal([['late', 2]]);
    expect(stats()).to.include({
      eventsSeen: 4,
      eventsCounted: 3,
      lateEvents: 1,
      latePairs: 1,
      rowsEmitted: 2,
      openWindows: 0,
      watermark: 26,
      maxEventTime: 31,
    });
  });

  it('reports its window stage to a LiveStatistics: counted, rejected by kind, late, rows, open windows, watermark', async () => {
    const statistics = new LiveStatistics();
    const { result } = countedWith([ev(1), ev(30), ev(2), ev(Number.NaN), ev(31), ev(35)], {
      outputMode: 'update',
      flushOnComplete: false,
      statistics,
    });
    await result;
    const value = (name: string, labels?: Record<string, string>) => statistics.value('window', name, labels);
    expect(value('events_seen_total')).to.equal(6);
    expect(value('events_counted_total')).to.equal(4);
    expect(value('rejections_total', { kind: 'timestamp' })).to.equal(1);
    expect(value('rejections_total', { kind: 'late' })).to.equal(1);
    expect(value('rejections_total', { kind: 'future' })).to.equal(0);
    expect(value('late_events_total')).to.equal(1);
    expect(value('rows_emitted_total')).to.equal(4);
    expect(value('open_windows')).to.equal(1);
    expect(value('window_counts')).to.equal(1);
    expect(value('watermark_timestamp_seconds')).to.equal(0.03);
    expect(value('max_event_timestamp_seconds')).to.equal(0.035);
  });

  it('with strict, errors the stream with a RejectionError at the first late event and stops counting', async () => {
    const { result, rejected: seen, stats } = countedWith([ev(1), ev(30), ev(2), ev(31), ev(3)], { strict: true });
    const error = await result.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RejectionError);
    expect((error as RejectionError).rejection).to.include({ kind: 'late' });
    expect((error as RejectionError).message).to.match(
      /^windowedCount: late rejected: event time 1970-01-01T00:00:00\.002Z is late/,
    );
    expect(seen).to.deep.equal([]); // strict throws instead of reporting
    expect(stats()?.eventsSeen).to.equal(3); // the events after the error were not processed
  });

  it('with strict, errors the stream on a bad event time', async () => {
    const error = await lastValueFrom(of(ev(Number.NaN)).pipe(windowedCount({ ...base, strict: true }))).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RejectionError);
    expect((error as RejectionError).rejection.kind).to.equal('timestamp');
  });

  it('errors the stream when an accessor throws, and passes source errors through without flushing', async () => {
    const boom = await lastValueFrom(
      of(ev(1)).pipe(
        windowedCount({
          ...base,
          key: () => {
            throw new Error('no key');
          },
        }),
      ),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((boom as Error).message).to.equal('no key');
    const rows: WindowRow<string>[] = [];
    let upstream: unknown;
    concat(
      of(ev(1)),
      throwError(() => new Error('upstream')),
    )
      .pipe(windowedCount(base))
      .subscribe({
        next: (row) => rows.push(row),
        error: (e: unknown) => {
          upstream = e;
        },
      });
    expect((upstream as Error).message).to.equal('upstream');
    expect(rows).to.deep.equal([]); // [0, 10) stays unflushed: the source failed, it did not complete
  });

  it('stops counting as soon as the consumer unsubscribes, even in the middle of a synchronous source', () => {
    let stats: WindowStats | undefined;
    const rows: WindowRow<string>[] = [];
    from(Array.from({ length: 1_000 }, (_, i) => ev(i)))
      .pipe(
        windowedCount({
          ...base,
          outputMode: 'update',
          onSubscribe: (s) => {
            stats = s;
          },
        }),
        take(1),
      )
      .subscribe((row) => rows.push(row));
    expect(rows.map(show)).to.deep.equal(['[0,10) a=1']);
    expect(stats?.eventsSeen).to.equal(1);
  });

  it('throws on bad options when the operator is created, before any subscription', () => {
    expect(() => windowedCount({ ...base, slideDuration: 20 })).to.throw(
      RangeError,
      /slideDuration must be positive and at most windowDuration/,
    );
    expect(() => windowedCount({ ...base, windowDuration: 0 })).to.throw(RangeError, /windowDuration/);
    expect(() => windowedCount({ ...base, watermarkDelay: -1 })).to.throw(RangeError, /watermarkDelay/);
    expect(() => windowedCount({ ...base, outputMode: 'upsert' as 'update' })).to.throw(RangeError, /outputMode/);
  });

  it('checks its options once, when created, not again for each subscription', async () => {
    let reads = 0;
    const options = {
      ...base,
      get windowDuration() {
        reads++;
        return '10 ms';
      },
    };
    const counted = of(ev(1), ev(12)).pipe(windowedCount(options), toArray());
    const readsAtCreation = reads;
    expect(readsAtCreation).to.be.greaterThan(0);
    expect((await lastValueFrom(counted)).map(show)).to.deep.equal(['[0,10) a=1', '[10,20) a=1']);
    expect((await lastValueFrom(counted)).map(show)).to.deep.equal(['[0,10) a=1', '[10,20) a=1']);
    expect(reads).to.equal(readsAtCreation);
  });

  it('keeps separate state for each subscription', async () => {
    const counted = of(ev(1), ev(2)).pipe(windowedCount(base), toArray());
    const [first, second] = [await lastValueFrom(counted), await lastValueFrom(counted)];
    expect(first.map(show)).to.deep.equal(['[0,10) a=2']);
    expect(second.map(show)).to.deep.equal(['[0,10) a=2']);
  });

  it("errors the stream with maxWindows's RangeError when complete mode would hold too many windows", async () => {
    const error = await lastValueFrom(
      from([ev(1), ev(12), ev(25)]).pipe(windowedCount({ ...base, outputMode: 'complete', maxWindows: 2 }), toArray()),
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RangeError);
    expect((error as Error).message).to.match(/past maxWindows \(2\); not counted/);
  });

  it('rejects far-future events as future and goes on counting the others', async () => {
    const { result, rejected, stats } = countedWith([ev(1), ev(9e12), ev(2), ev(15)], {
      maxEventTimeAhead: '1 s',
      now: () => 0,
    });
    const rows = await result;
    expect(rows.map(show)).to.deep.equal(['[0,10) a=2', '[10,20) a=1']);
    expect(rejected.map((r) => [r.kind, r.input.t])).to.deep.equal([['future', 9e12]]);
    expect(stats()).to.include({ futureRejects: 1, lateEvents: 0, eventsCounted: 3 });
  });

  describe('initialState', () => {
    function snapshotAfter(
      events: readonly Ev[],
      outputMode: 'append' | 'update' = 'append',
    ): WindowedCountSnapshot<string> {
      const counter = new WindowedCountState<Ev, string>({ ...base, outputMode }, () => {});
      for (const event of events) counter.push(event);
      return JSON.parse(JSON.stringify(counter.snapshot())) as WindowedCountSnapshot<string>;
    }

    it('resumes from the snapshot on each subscription: counts, late rule and stats carry on', async () => {
      const initialState = snapshotAfter([ev(1), ev(4, 'b'), ev(12)]);
      const all: Rejection<Ev>[] = [];
      const statsSeen: WindowStats[] = [];
      const counted = from([ev(3), ev(17, 'b'), ev(2)]).pipe(
        windowedCount({
          ...base,
          initialState,
          onReject: (r) => all.push(r),
          onSubscribe: (s) => {
            statsSeen.push(s);
          },
        }),
        toArray(),
      );
      for (let run = 0; run < 2; run++) {
        expect((await lastValueFrom(counted)).map(show)).to.deep.equal([
          '[0,10) a=2',
          '[0,10) b=1',
          '[10,20) a=1',
          '[10,20) b=1',
        ]);
      }
      expect(all.map((r) => [r.kind, r.input.t])).to.deep.equal([
        ['late', 2],
        ['late', 2],
      ]);
      for (const stats of statsSeen)
        expect(stats).to.include({ eventsSeen: 6, eventsCounted: 5, lateEvents: 1, rowsEmitted: 4 });
    });

    it('refuses a snapshot taken under other options when the operator is created', () => {
      const initialState = snapshotAfter([ev(1)], 'update');
      expect(() => windowedCount({ ...base, initialState })).to.throw(
        Error,
        /^windowedCount: initialState: the snapshot was taken with other options: outputMode "update" \(this counter: "append"\)/,
      );
      expect(() =>
        windowedCount({
          ...base,
          initialState: { ...initialState, format: 0 } as unknown as WindowedCountSnapshot<string>,
        }),
      ).to.throw(/snapshot format 0/);
    });

    it('closes restored windows by the clock when the source stays silent (idle advance)', () => {
      const initialState = snapshotAfter([ev(10)]);
      const scheduler = marbleScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        // Restored: window [10, 20), max event time 10, watermark 5. Counting the silence
        // from the subscription, [10, 20) would be final at 15 ms, but idleness starts at 50 ms.
        const counted = cold<Ev>('200ms |').pipe(
          windowedCount({ ...base, initialState, idleAdvance: { after: 50, scheduler } }),
        );
        expectObservable(counted).toBe('50ms r 149ms |', {
          r: { windowStart: new Date(10), windowEnd: new Date(20), key: 'a', count: 1, final: true },
        });
      });
    });
  });

  describe('idle advance', () => {
    it('closes a window by the clock when the source goes quiet (virtual time)', () => {
      const scheduler = marbleScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        // One event at 10 ms event time, then 1 s of silence. With a 0 delay the window
        // [0, 100) is final once event time would have reached 100: 90 ms after the event.
        const source = cold<Ev>('a 999ms |', { a: ev(10) });
        const counted = source.pipe(
          windowedCount({ ...base, windowDuration: 100, watermarkDelay: 0, idleAdvance: { after: 50, scheduler } }),
        );
        const row = { windowStart: new Date(0), windowEnd: new Date(100), key: 'a', count: 1, final: true };
        expectObservable(counted).toBe('90ms r 909ms |', { r: row });
      });
    });

    it('waits at least idleAdvance.after, and does nothing before the first event', () => {
      const scheduler = marbleScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        // window [0, 100) would be final 10 ms after the event, but idleness starts at 300 ms
        const source = cold<Ev>('500ms a 999ms |', { a: ev(90) });
        const counted = source.pipe(
          windowedCount({ ...base, windowDuration: 100, watermarkDelay: 0, idleAdvance: { after: 300, scheduler } }),
        );
        expectObservable(counted).toBe('800ms r 699ms |', {
          r: { windowStart: new Date(0), windowEnd: new Date(100), key: 'a', count: 1, final: true },
        });
      });
    });

    it('does not advance while events keep arriving', () => {
      const scheduler = marbleScheduler();
      scheduler.run(({ cold, expectObservable }) => {
        // events every 40 ms (< idleAdvance.after 50) with event times that stay in [0, 100): the
        // wall clock never takes over, and the window only ends with the flush
        const source = cold<Ev>('a 39ms b 39ms c 39ms d 39ms |', { a: ev(1), b: ev(2), c: ev(3), d: ev(4) });
        const counted = source.pipe(
          windowedCount({ ...base, windowDuration: 100, watermarkDelay: 0, idleAdvance: { after: 50, scheduler } }),
        );
        expectObservable(counted).toBe('160ms (r|)', {
          r: { windowStart: new Date(0), windowEnd: new Date(100), key: 'a', count: 4, final: false },
        });
      });
    });

    it('closes windows with the real clock, and clears its timer on unsubscribe', async () => {
      const events = new Subject<Ev>();
      const rows: WindowRow<string>[] = [];
      const subscription = events
        .pipe(windowedCount({ ...base, windowDuration: 100, watermarkDelay: 0, idleAdvance: { after: 20 } }))
        .subscribe((row) => rows.push(row));
      events.next(ev(10));
      events.next(ev(150, 'b')); // [0, 100) final by the event itself; [100, 200) open
      expect(rows.map(show)).to.deep.equal(['[0,100) a=1']);
      await waitFor(() => rows.length === 2, 'the idle advance to close [100, 200)');
      expect(rows.map(show)).to.deep.equal(['[0,100) a=1', '[100,200) b=1']);
      // No window open now, so no timer of ours (mocha's own test timer may be running).
      const before = timeouts();
      events.next(ev(250, 'c')); // opens [200, 300): the timer is armed again
      expect(timeouts()).to.equal(before + 1);
      subscription.unsubscribe();
      expect(timeouts()).to.equal(before);
    });

    it('clears its timer when the source completes or errors', () => {
      // synchronous test: only our timer can come and go in between
      const before = timeouts();
      const events = new Subject<Ev>();
      const rows: WindowRow<string>[] = [];
      let completed = false;
      events.pipe(windowedCount({ ...base, idleAdvance: { after: 60_000 } })).subscribe({
        next: (row) => rows.push(row),
        complete: () => {
          completed = true;
        },
      });
      events.next(ev(1));
      expect(timeouts()).to.equal(before + 1);
      events.complete();
      expect(completed).to.equal(true);
      expect(rows.map(show)).to.deep.equal(['[0,10) a=1']);
      expect(timeouts()).to.equal(before);

      const failing = new Subject<Ev>();
      let failure: unknown;
      failing.pipe(windowedCount({ ...base, idleAdvance: { after: 60_000 } })).subscribe({
        error: (e: unknown) => {
          failure = e;
        },
      });
      failing.next(ev(1));
      expect(timeouts()).to.equal(before + 1);
      failing.error(new Error('gone'));
      expect((failure as Error).message).to.equal('gone');
      expect(timeouts()).to.equal(before);
    });
  });
});
