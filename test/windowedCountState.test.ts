// The window state machine on its own: options, bad event times, late reports, output
// modes, flush and watermark advance, with hand-computed expectations.
import { expect } from 'chai';
import {
  RejectionError,
  SnapshotMismatchError,
  WindowedCountState,
  type LateRule,
  type OutputMode,
  type Rejection,
  type WindowedCountSnapshot,
  type WindowedCountOptions,
  type WindowRow,
} from '../src/index.js';

interface Ev {
  readonly t: number | Date;
  readonly k: string;
}

function make(options: Partial<WindowedCountOptions<Ev, string>> & { outputMode?: OutputMode } = {}) {
  const rows: WindowRow<string>[] = [];
  const rejections: Rejection<Ev>[] = [];
  const counter = new WindowedCountState<Ev, string>(
    {
      eventTime: (e) => e.t,
      key: (e) => e.k,
      windowDuration: 10,
      watermarkDelay: 5,
      onReject: (r) => rejections.push(r),
      ...options,
    },
    (row) => rows.push(row),
  );
  const push = (...events: [number | Date, string][]) => {
    for (const [t, k] of events) counter.push({ t, k });
  };
  return { counter, rows, rejections, push };
}

const show = (row: WindowRow<string>) =>
  `[${row.windowStart.getTime()},${row.windowEnd.getTime()}) ${row.key}=${row.count}`;

describe('WindowedCountState', () => {
  describe('options', () => {
    const base: WindowedCountOptions<Ev, string> = {
      eventTime: (e) => e.t,
      key: (e) => e.k,
      windowDuration: 10,
      watermarkDelay: 5,
    };
    const bad: [string, Partial<WindowedCountOptions<Ev, string>>, RegExp][] = [
      ['a zero window', { windowDuration: 0 }, /windowDuration must be a positive duration/],
      ['a negative window', { windowDuration: -5 }, /windowDuration must be a positive duration/],
      [
        'a slide longer than the window',
        { slideDuration: 11 },
        /slideDuration must be positive and at most windowDuration \(10 ms\)/,
      ],
      ['a zero slide', { slideDuration: 0 }, /slideDuration must be positive/],
      ['a negative delay', { watermarkDelay: -1 }, /watermarkDelay must be a duration ≥ 0/],
      ['no delay', { watermarkDelay: undefined as unknown as number }, /watermarkDelay is required/],
      [
        'an unknown output mode',
        { outputMode: 'final' as OutputMode },
        /outputMode must be 'append', 'update' or 'complete', got "final"/,
      ],
      [
        'unreadable duration text',
        { windowDuration: 'ten minutes' },
        /windowDuration must be milliseconds or text like '10 minutes', got "ten minutes"/,
      ],
      ['an unknown unit', { watermarkDelay: '2 fortnights' }, /watermarkDelay must be milliseconds or text/],
      ['a non-finite offset', { offset: Number.NaN }, /offset must be a finite duration/],
      ['a zero idle time', { idleAdvance: { after: 0 } }, /idleAdvance.after must be a positive duration/],
      ['no key accessor', { key: undefined as unknown as (e: Ev) => string }, /key must be a function/],
      [
        'an unknown late rule',
        { lateRule: 'spark-3.5' as LateRule },
        /lateRule must be 'spark-2.4' or 'spark-3.4', got "spark-3.5"/,
      ],
      ['a zero window bound', { maxWindows: 0 }, /maxWindows must be an integer ≥ 1 or Infinity, got 0/],
      ['a fractional window bound', { maxWindows: 2.5 }, /maxWindows must be an integer ≥ 1 or Infinity, got 2.5/],
      ['a negative future guard', { maxEventTimeAhead: -1 }, /maxEventTimeAhead must be a duration ≥ 0/],
      [
        'unreadable future guard text',
        { maxEventTimeAhead: 'an hour' },
        /maxEventTimeAhead must be milliseconds or text/,
      ],
      ['a clock that is not a function', { now: 5 as unknown as () => number }, /now must be a function/],
      [
        'idle advance in complete mode',
        { outputMode: 'complete', idleAdvance: { after: 10 } },
        /idleAdvance has nothing to do in 'complete' mode/,
      ],
    ];
    for (const [what, change, message] of bad) {
      it(`refuses ${what} when created, naming the option`, () => {
        expect(() => new WindowedCountState({ ...base, ...change }, () => {})).to.throw(message);
      });
    }

    it('reads durations as text the way Spark writes them', () => {
      const { counter, rows } = make({
        windowDuration: '1 minute',
        slideDuration: '30 s',
        watermarkDelay: '2 minutes',
        offset: '250ms',
        outputMode: 'update',
      });
      counter.push({ t: 70_000, k: 'a' });
      expect(rows.map(show)).to.deep.equal(['[30250,90250) a=1', '[60250,120250) a=1']);
      expect(counter.watermark).to.equal(70_000 - 120_000);
    });
  });

  describe('window assignment', () => {
    it('puts times before the epoch in the window that holds them ([-10, 0) for -1, not [0, 10))', () => {
      const { counter, rows } = make({ outputMode: 'update', watermarkDelay: 100 });
      counter.push({ t: -1, k: 'a' });
      counter.push({ t: -10, k: 'a' });
      counter.push({ t: -11, k: 'a' });
      expect(rows.map(show)).to.deep.equal(['[-10,0) a=1', '[-10,0) a=2', '[-20,-10) a=1']);
    });

    it("shifts the grid by the offset, taken modulo the slide (Spark's startTime)", () => {
      const hour = 3_600_000;
      const quarter = 900_000;
      for (const offset of [quarter, quarter - hour, quarter + 3 * hour]) {
        const { counter, rows } = make({ windowDuration: hour, watermarkDelay: 0, offset, outputMode: 'update' });
        counter.push({ t: Date.UTC(2020, 0, 1, 12, 10), k: 'a' });
        expect(rows.map((r) => r.windowStart.toISOString())).to.deep.equal(['2020-01-01T11:15:00.000Z']);
      }
    });

    it('counts an event in every sliding window that holds it, ends exclusive', () => {
      const { counter, rows } = make({ windowDuration: 10, slideDuration: 5, outputMode: 'update' });
      counter.push({ t: 10, k: 'a' });
      expect(rows.map(show)).to.deep.equal(['[5,15) a=1', '[10,20) a=1']);
    });

    it('handles slides that do not divide the window (some events in 3 windows, some in 4)', () => {
      const { counter, rows } = make({
        windowDuration: 10,
        slideDuration: 3,
        outputMode: 'update',
        watermarkDelay: 100,
      });
      counter.push({ t: 9, k: 'a' }); // starts 0, 3, 6, 9
      counter.push({ t: 11, k: 'b' }); // starts 3, 6, 9
      expect(rows.map(show)).to.deep.equal([
        '[0,10) a=1',
        '[3,13) a=1',
        '[6,16) a=1',
        '[9,19) a=1',
        '[3,13) b=1',
        '[6,16) b=1',
        '[9,19) b=1',
      ]);
    });
  });

  describe('event times', () => {
    it('takes epoch milliseconds or Dates', () => {
      const { push, rows, counter } = make({ outputMode: 'update' });
      push([new Date(25), 'a'], [27, 'a']);
      expect(rows.map(show)).to.deep.equal(['[20,30) a=1', '[20,30) a=2']);
      expect(counter.maxEventTime).to.equal(27);
    });

    it('rejects NaN, an invalid Date, infinities and times beyond the Date range as timestamp, without counting them or moving the watermark', () => {
      const { push, rows, rejections, counter } = make({ outputMode: 'update' });
      push([Number.NaN, 'a'], [new Date('nope'), 'a'], [Number.POSITIVE_INFINITY, 'a'], [9e15, 'a']);
      counter.push({ t: '2020-01-01' as unknown as number, k: 'a' });
      expect(rows).to.deep.equal([]);
      expect(counter.watermark).to.equal(undefined);
      expect(counter.eventsSeen).to.equal(5);
      expect(counter.timestampRejects).to.equal(5);
      expect(rejections.map((r) => r.kind)).to.deep.equal([
        'timestamp',
        'timestamp',
        'timestamp',
        'timestamp',
        'timestamp',
      ]);
      expect(rejections.map((r) => r.reason.split(',')[0])).to.deep.equal([
        'event time is NaN',
        'event time is Invalid Date',
        'event time is Infinity',
        'event time is 9000000000000000',
        'event time is a string',
      ]);
      expect(rejections[1]?.input.k).to.equal('a');
    });

    it('throws a RejectionError for a bad time when strict', () => {
      const { counter } = make({ strict: true });
      expect(() => counter.push({ t: Number.NaN, k: 'a' }))
        .to.throw(RejectionError)
        .with.nested.property('rejection.kind', 'timestamp');
    });
  });

  describe('watermark and late events', () => {
    it('has no watermark before the first event, then max event time − delay, never moving back', () => {
      const { counter, push } = make();
      expect(counter.watermark).to.equal(undefined);
      push([100, 'a']);
      expect(counter.watermark).to.equal(95);
      push([50, 'a']);
      expect(counter.watermark).to.equal(95);
      counter.advanceWatermark(90);
      expect(counter.watermark).to.equal(95);
      counter.advanceWatermark(120);
      push([110, 'a']); // 110 − 5 < 120: the advance holds
      expect(counter.watermark).to.equal(120);
    });

    it('judges lateness by the watermark before the event, so the event that moves it is never late', () => {
      const { push, rejections, rows } = make({ watermarkDelay: 0, outputMode: 'update' });
      push([5, 'a'], [100, 'b']);
      expect(rejections).to.deep.equal([]);
      expect(rows.map(show)).to.deep.equal(['[0,10) a=1', '[100,110) b=1']);
    });

    it("still counts an event older than the watermark when its window is open (Spark's rule)", () => {
      const { push, rejections, rows, counter } = make({ watermarkDelay: 0, outputMode: 'update' });
      push([15, 'a'], [12, 'a']); // watermark 15 > 12, but [10, 20) ends at 20 > 15
      expect(rejections).to.deep.equal([]);
      expect(rows.map(show)).to.deep.equal(['[10,20) a=1', '[10,20) a=2']);
      push([9, 'a']); // [0, 10) ends at 10 ≤ 15: late
      expect(rejections.map((r) => r.kind)).to.deep.equal(['late']);
      expect(counter.lateEvents).to.equal(1);
      expect(counter.eventsCounted).to.equal(2);
    });

    it('counts a sliding-window event in its open windows and reports the final ones once', () => {
      const { push, rejections, rows, counter } = make({
        windowDuration: 10,
        slideDuration: 5,
        watermarkDelay: 0,
        outputMode: 'update',
      });
      push([22, 'a']); // watermark 22
      push([13, 'b']); // [5,15) is final, [10,20) is not (ends 20 ≤ 22? yes: final too)
      push([18, 'c']); // [10,20) final (20 ≤ 22), [15,25) open
      expect(rows.map(show)).to.deep.equal(['[15,25) a=1', '[20,30) a=1', '[15,25) c=1']);
      expect(rejections.map((r) => r.input.k)).to.deep.equal(['b', 'c']);
      expect(rejections[0]?.reason).to.equal(
        'event time 1970-01-01T00:00:00.013Z is late for 2 of its 2 window(s): windows [1970-01-01T00:00:00.005Z, 1970-01-01T00:00:00.015Z) ' +
          'to [1970-01-01T00:00:00.010Z, 1970-01-01T00:00:00.020Z) already final at watermark 1970-01-01T00:00:00.022Z; not counted',
      );
      expect(rejections[1]?.reason).to.match(
        /late for 1 of its 2 window\(s\): window \[1970-01-01T00:00:00\.010Z, 1970-01-01T00:00:00\.020Z\) already final .*; counted in its 1 later window\(s\)$/,
      );
      expect(counter.lateEvents).to.equal(2);
      expect(counter.latePairs).to.equal(3);
      expect(counter.eventsCounted).to.equal(2);
    });

    it('with strict, throws the late rejection after counting the open windows', () => {
      const { push, counter, rows } = make({
        windowDuration: 10,
        slideDuration: 5,
        watermarkDelay: 0,
        outputMode: 'update',
        strict: true,
      });
      push([22, 'a']);
      expect(() => push([18, 'c'])).to.throw(
        RejectionError,
        /^windowedCount: late rejected: event time .* is late for 1 of its 2/,
      );
      expect(rows.map(show)).to.deep.equal(['[15,25) a=1', '[20,30) a=1', '[15,25) c=1']);
      expect(counter.stateSize).to.equal(3);
    });
  });

  describe('output modes', () => {
    it('append: each row once, final, when the watermark passes the window end, in window then key order', () => {
      const { push, rows, counter } = make();
      push([3, 'b'], [1, 'a'], [4, 'b'], [12, 'a']);
      expect(rows).to.deep.equal([]); // watermark 7 < 10
      push([15, 'c']); // watermark 10: [0, 10) final
      expect(rows.map(show)).to.deep.equal(['[0,10) b=2', '[0,10) a=1']);
      expect(counter.openWindows).to.equal(1);
      expect(counter.stateSize).to.equal(2);
      expect(counter.rowsEmitted).to.equal(2);
    });

    it('append: windows opened out of order still come out in window order', () => {
      const { push, rows } = make({ watermarkDelay: 100 });
      push([25, 'a'], [5, 'a'], [15, 'a'], [200, 'z']);
      expect(rows.map(show)).to.deep.equal(['[0,10) a=1', '[10,20) a=1', '[20,30) a=1']);
    });

    it('update: after each event the rows it changed; nothing when a window becomes final', () => {
      const { push, rows } = make({ outputMode: 'update' });
      push([3, 'a'], [4, 'a'], [30, 'b']);
      expect(rows.map(show)).to.deep.equal(['[0,10) a=1', '[0,10) a=2', '[30,40) b=1']);
    });

    it("complete: after each event every row of every window; the watermark drops and closes nothing (Spark's complete mode)", () => {
      const { push, rows, rejections, counter } = make({ outputMode: 'complete' });
      push([3, 'a'], [12, 'b']);
      expect(rows.map(show)).to.deep.equal(['[0,10) a=1', '[0,10) a=1', '[10,20) b=1']);
      rows.length = 0;
      push([16, 'a']); // watermark 11 is past [0, 10): still kept and shown
      expect(rows.map(show)).to.deep.equal(['[0,10) a=1', '[10,20) b=1', '[10,20) a=1']);
      rows.length = 0;
      push([2, 'a']); // older than the watermark: counted all the same
      expect(rows.map(show)).to.deep.equal(['[0,10) a=2', '[10,20) b=1', '[10,20) a=1']);
      counter.advanceWatermark(1_000);
      push([4, 'b']);
      expect(rows.slice(3).map(show)).to.deep.equal(['[0,10) a=2', '[0,10) b=1', '[10,20) b=1', '[10,20) a=1']);
      expect(rejections).to.deep.equal([]);
      expect([counter.lateEvents, counter.openWindows, counter.watermark]).to.deep.equal([0, 2, 1_000]);
    });

    it('complete: a window out of order is shown in window order among the others', () => {
      const { push, rows } = make({ outputMode: 'complete' });
      push([25, 'a'], [5, 'b']);
      expect(rows.map(show)).to.deep.equal(['[20,30) a=1', '[0,10) b=1', '[20,30) a=1']);
    });
  });

  describe('maxWindows', () => {
    it('throws a RangeError naming maxWindows when complete mode would hold one window more, and leaves the state as it was', () => {
      const { push, rows, counter } = make({ outputMode: 'complete', maxWindows: 2 });
      push([3, 'a'], [12, 'a']);
      const state = () => [
        counter.eventsCounted,
        counter.openWindows,
        counter.stateSize,
        counter.watermark,
        counter.maxEventTime,
      ];
      const before = { rows: rows.length, state: state() };
      expect(() => push([25, 'a'])).to.throw(
        RangeError,
        "windowedCount: event time 1970-01-01T00:00:00.025Z would open 1 more window(s) with 2 held, past maxWindows (2); not counted. complete mode keeps every window it has seen: raise maxWindows, or use outputMode 'update', which keeps only the windows the watermark has not closed",
      );
      expect(rows.length).to.equal(before.rows);
      expect([state(), counter.eventsSeen]).to.deep.equal([before.state, 3]);
      push([4, 'b']); // an event in a window already held still counts
      expect(rows.slice(before.rows).map(show)).to.deep.equal(['[0,10) a=1', '[0,10) b=1', '[10,20) a=1']);
    });

    it('counts every window of a sliding event, so an event that would open two past the bound is refused whole', () => {
      const { push, counter } = make({
        outputMode: 'update',
        windowDuration: 10,
        slideDuration: 5,
        watermarkDelay: 100,
        maxWindows: 3,
      });
      push([7, 'a']); // [0, 10) and [5, 15)
      expect(() => push([17, 'a'])).to.throw(
        RangeError,
        /would open 2 more window\(s\) with 2 held, past maxWindows \(3\); not counted\. raise maxWindows, or shorten watermarkDelay/,
      );
      expect([counter.openWindows, counter.stateSize, counter.eventsCounted]).to.deep.equal([2, 2, 1]);
      push([12, 'a']); // [5, 15) held, [10, 20) new: 3 in all
      expect(counter.openWindows).to.equal(3);
    });

    it('in append mode, the windows the watermark closed no longer count against it', () => {
      const { push, rows, counter } = make({ maxWindows: 2 });
      push([3, 'a'], [16, 'a'], [27, 'a'], [38, 'a']); // each event opens a window, then closes the one before
      expect([counter.openWindows, rows.length]).to.deep.equal([1, 3]);
    });
  });

  describe('maxEventTimeAhead', () => {
    const clock = Date.UTC(2026, 0, 1);
    const hour = 3_600_000;
    const farFuture = Date.UTC(9999, 11, 31);

    it('without it, as in Spark, one event stamped year 9999 moves the watermark there and every later event is late', () => {
      const { push, rejections, counter } = make({ outputMode: 'update' });
      push([clock, 'a'], [farFuture, 'a'], [clock + 1_000, 'a']);
      expect(counter.watermark).to.equal(farFuture - 5);
      expect(rejections.map((r) => r.kind)).to.deep.equal(['late']);
    });

    it('rejects an event more than maxEventTimeAhead after now() as future: not counted, the watermark stays, later events count', () => {
      const { push, rows, rejections, counter } = make({
        outputMode: 'update',
        maxEventTimeAhead: '1 hour',
        now: () => clock,
      });
      push([clock - 30_000, 'a']);
      const watermark = counter.watermark;
      push([farFuture, 'b']);
      expect(rejections.map((r) => [r.kind, r.input.k, r.reason])).to.deep.equal([
        [
          'future',
          'b',
          "event time 9999-12-31T00:00:00.000Z is 7973 years ahead of this machine's clock (maxEventTimeAhead 1 hour); not counted",
        ],
      ]);
      expect([
        counter.watermark,
        counter.maxEventTime,
        counter.futureRejects,
        counter.eventsSeen,
        counter.eventsCounted,
      ]).to.deep.equal([watermark, clock - 30_000, 1, 2, 1]);
      push([clock - 20_000, 'a'], [clock + hour, 'c']); // a normal event, and one exactly at the limit
      expect(rows.map((row) => `${row.key}=${row.count}`)).to.deep.equal(['a=1', 'a=1', 'c=1']);
      expect(rejections).to.have.length(1);
      expect([counter.lateEvents, counter.eventsCounted]).to.deep.equal([0, 3]);
    });

    it('rejects the first event too, so there is still no watermark', () => {
      const { push, counter } = make({ maxEventTimeAhead: 0, now: () => clock });
      push([clock + 1, 'a']);
      expect([counter.watermark, counter.futureRejects]).to.deep.equal([undefined, 1]);
    });

    it('measures from the clock at each event: a time refused earlier passes once the clock has caught up, and not after it is set back', () => {
      let now = clock;
      const { push, rejections, counter } = make({ outputMode: 'update', maxEventTimeAhead: hour, now: () => now });
      push([clock + 2 * hour, 'a']);
      expect(rejections.map((r) => r.reason)).to.deep.equal([
        "event time 2026-01-01T02:00:00.000Z is 2 hours ahead of this machine's clock (maxEventTimeAhead 1 hour); not counted",
      ]);
      now = clock + 1.5 * hour;
      push([clock + 2 * hour, 'a']);
      expect([counter.futureRejects, counter.eventsCounted]).to.deep.equal([1, 1]);
      now = clock;
      push([clock + 2 * hour, 'a']);
      expect([counter.futureRejects, counter.eventsCounted]).to.deep.equal([2, 1]);
    });

    it('throws a RejectionError of kind future when strict', () => {
      const { counter } = make({ strict: true, maxEventTimeAhead: '1 hour', now: () => clock });
      expect(() => counter.push({ t: farFuture, k: 'a' }))
        .to.throw(RejectionError, /^windowedCount: future rejected: event time 9999/)
        .with.nested.property('rejection.kind', 'future');
      expect(counter.futureRejects).to.equal(1);
    });
  });

  describe('snapshot and restore', () => {
    const options = { windowDuration: 10, slideDuration: 5, watermarkDelay: 5, outputMode: 'update' } as const;

    it('snapshots plain data that survives JSON and stays as it was when the counter goes on', () => {
      const { push, counter } = make(options);
      push([3, 'b'], [1, 'a'], [12, 'a'], [Number.NaN, 'x'], [2, 'c']);
      const snapshot = counter.snapshot();
      expect(snapshot).to.deep.equal({
        format: 1,
        settings: {
          windowDuration: 10,
          slideDuration: 5,
          offset: 0,
          watermarkDelay: 5,
          outputMode: 'update',
          lateRule: 'spark-2.4',
        },
        watermark: 7,
        closedUpTo: 7,
        maxEventTime: 12,
        windows: [
          // [-5, 5) is final; 2 was late there, counted in [0, 10)
          {
            windowStart: 0,
            counts: [
              ['b', 1],
              ['a', 1],
              ['c', 1],
            ],
          },
          { windowStart: 5, counts: [['a', 1]] },
          { windowStart: 10, counts: [['a', 1]] },
        ],
        stats: {
          eventsSeen: 5,
          eventsCounted: 4,
          timestampRejects: 1,
          futureRejects: 0,
          lateEvents: 1,
          latePairs: 1,
          rowsEmitted: 7,
        },
      });
      expect(JSON.parse(JSON.stringify(snapshot))).to.deep.equal(snapshot);
      push([30, 'z']);
      expect(snapshot.windows).to.have.length(3);
    });

    it('restores into a new counter that goes on as the first would have, rows in the same key order', () => {
      const first = make(options);
      first.push([11, 'b'], [12, 'a'], [13, 'c']);
      const second = make(options);
      second.counter.restore(JSON.parse(JSON.stringify(first.counter.snapshot())) as WindowedCountSnapshot<string>);
      expect([second.counter.openWindows, second.counter.stateSize, second.counter.eventsSeen]).to.deep.equal([
        2, 6, 3,
      ]);
      for (const { push } of [first, second]) push([14, 'c'], [40, 'd']);
      expect(second.rows.map(show)).to.deep.equal(first.rows.slice(6).map(show));
      const append = make();
      append.push([11, 'b'], [12, 'a'], [11, 'b']);
      const resumed = make();
      resumed.counter.restore(append.counter.snapshot());
      resumed.counter.flush();
      expect(resumed.rows.map(show)).to.deep.equal(['[10,20) b=2', '[10,20) a=1']);
    });

    it('refuses to restore into a counter that has seen an event or advanced its watermark', () => {
      const snapshot = make(options).counter.snapshot();
      const pushed = make(options);
      pushed.push([1, 'a']);
      expect(() => pushed.counter.restore(snapshot)).to.throw(
        Error,
        /^WindowedCountState\.restore: this counter already has state \(1 event\(s\) seen, watermark -4\); restore into a new counter, before its first event$/,
      );
      const advanced = make(options);
      advanced.counter.advanceWatermark(50);
      expect(() => advanced.counter.restore(snapshot)).to.throw(
        /already has state \(0 event\(s\) seen, watermark 50\)/,
      );
    });

    const source = make(options);
    source.push([11, 'b'], [12, 'a']);
    const good = source.counter.snapshot();
    const bad: [string, unknown, RegExp][] = [
      ['something that is not a snapshot', 'state', /expected a snapshot object, got "state"/],
      ['another format', { ...good, format: 2 }, /snapshot format 2 is not one this version reads \(1\)/],
      [
        'a snapshot taken with other options',
        { ...good, settings: { ...good.settings, windowDuration: 20, lateRule: 'spark-3.4' } },
        /taken with other options: windowDuration 20 \(this counter: 10\), lateRule "spark-3.4" \(this counter: "spark-2.4"\)/,
      ],
      [
        'a watermark that is not a number',
        { ...good, watermark: '7' },
        /watermark must be a finite number or null, got "7"/,
      ],
      [
        'closedUpTo apart from the watermark under spark-2.4',
        { ...good, closedUpTo: 3 },
        /closedUpTo 3 does not fit watermark 7 under update mode and the spark-2.4 rule/,
      ],
      [
        'a negative stat',
        { ...good, stats: { ...good.stats, lateEvents: -1 } },
        /stats\.lateEvents must be a whole number ≥ 0, got -1/,
      ],
      [
        'windows out of order',
        { ...good, windows: [...good.windows].reverse() },
        /window starts must be finite numbers in ascending order, got 5 after 10/,
      ],
      [
        'a window already final',
        { ...good, windows: [{ windowStart: -5, counts: [['a', 1]] }, ...good.windows] },
        /window -5 ended by closedUpTo 7/,
      ],
      [
        'a key twice in a window',
        {
          ...good,
          windows: [
            {
              windowStart: 10,
              counts: [
                ['a', 1],
                ['a', 2],
              ],
            },
          ],
        },
        /window 10 has key "a" twice/,
      ],
      [
        'a zero count',
        { ...good, windows: [{ windowStart: 10, counts: [['a', 0]] }] },
        /window 10 has a count that is not \[key, whole number > 0\]: \["a",0\]/,
      ],
      ['more windows than maxWindows', good, /holds 2 windows, more than maxWindows \(1\)/],
    ];
    it('refuses a snapshot taken with other options with a SnapshotMismatchError listing each option and both values', () => {
      const target = make(options);
      const other = { ...good, settings: { ...good.settings, windowDuration: 20, watermarkDelay: 0 } };
      let refusal: unknown;
      try {
        target.counter.restore(other);
      } catch (error) {
        refusal = error;
      }
      expect(refusal).to.be.instanceOf(SnapshotMismatchError);
      expect((refusal as SnapshotMismatchError).differences).to.deep.equal([
        { setting: 'windowDuration', saved: 20, current: 10 },
        { setting: 'watermarkDelay', saved: 0, current: good.settings.watermarkDelay },
      ]);
      expect(() => target.counter.restore({ ...good, format: 2 } as unknown as WindowedCountSnapshot<string>)).to.throw(
        Error,
      );
      expect(() =>
        target.counter.restore({ ...good, format: 2 } as unknown as WindowedCountSnapshot<string>),
      ).not.to.throw(SnapshotMismatchError);
    });

    for (const [what, snapshot, message] of bad) {
      it(`refuses ${what}, and the counter stays usable`, () => {
        const tooMany = what.startsWith('more windows');
        const target = make({ ...options, ...(tooMany ? { maxWindows: 1 } : {}) });
        expect(() => target.counter.restore(snapshot as WindowedCountSnapshot<string>)).to.throw(Error, message);
        expect([target.counter.stateSize, target.counter.watermark]).to.deep.equal([0, undefined]);
        if (tooMany) return;
        target.push([2, 'a']);
        expect(target.rows.map(show)).to.deep.equal(['[-5,5) a=1', '[0,10) a=1']);
      });
    }
  });

  describe('flush and advance', () => {
    it('flush emits the open windows in append mode and drops all state', () => {
      const { push, rows, counter } = make();
      push([3, 'a'], [12, 'b']);
      counter.flush();
      expect(rows.map(show)).to.deep.equal(['[0,10) a=1', '[10,20) b=1']);
      expect([counter.openWindows, counter.stateSize]).to.deep.equal([0, 0]);
    });

    it('flush emits nothing new in update mode (every count was already emitted)', () => {
      const { push, rows, counter } = make({ outputMode: 'update' });
      push([3, 'a'], [12, 'b']);
      counter.flush();
      expect(rows.map(show)).to.deep.equal(['[0,10) a=1', '[10,20) b=1']);
      expect(counter.stateSize).to.equal(0);
    });

    it('advanceWatermark refuses a watermark that is not a finite time', () => {
      const { counter } = make();
      for (const to of [Number.NaN, Number.POSITIVE_INFINITY])
        expect(() => counter.advanceWatermark(to)).to.throw(RangeError, /must be a finite time in epoch milliseconds/);
    });

    it('advanceWatermark finalises the windows it passes and makes later events for them late', () => {
      const { push, rows, rejections, counter } = make();
      push([3, 'a']);
      expect(counter.earliestOpenWindowEnd).to.equal(10);
      counter.advanceWatermark(10);
      expect(rows.map(show)).to.deep.equal(['[0,10) a=1']);
      expect(counter.earliestOpenWindowEnd).to.equal(undefined);
      push([4, 'a']);
      expect(rejections.map((r) => r.kind)).to.deep.equal(['late']);
    });
  });
});
