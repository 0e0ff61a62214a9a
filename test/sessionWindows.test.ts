// Session windows (windowedCount and windowedAggregate given sessionGap, SessionCountState,
// SessionAggregateState) with hand-computed expectations: merging, Spark's late rule and
// when sessions close (the cases probed on a real Spark 3.5.9, quoted in
// src/window/SessionWindows.ts; test/windowSparkOracle.test.ts compares whole streams),
// output modes, the option checks, snapshots, bounded state and idle advance.
import { expect } from 'chai';
import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import {
  AggregateCell,
  RejectionError,
  SessionAggregateState,
  SessionCountState,
  SnapshotMismatchError,
  WindowedCountState,
  resolveAggregateSpec,
  windowedAggregate,
  windowedCount,
  type AggregateOptions,
  type AggregateRow,
  type LateRule,
  type Rejection,
  type SessionAggregateOptions,
  type SessionCountSnapshot,
  type SessionWindowOptions,
  type WindowRow,
} from '../src/index.js';

interface Reading {
  readonly t: number;
  readonly k: string;
  readonly v: number;
}

const S = 1000;
const at = (seconds: number, k = 'a', v = 1): Reading => ({ t: seconds * S, k, v });
/** Spark's probe settings: gap 30 s, watermark delay 10 s. */
const base: SessionWindowOptions<Reading, string> = {
  eventTime: (r) => r.t,
  key: (r) => r.k,
  sessionGap: 30 * S,
  watermarkDelay: 10 * S,
};
const show = (row: WindowRow<string>) =>
  `${row.key} [${row.windowStart.getTime() / S}, ${row.windowEnd.getTime() / S}) ×${row.count}`;

/** A SessionCountState over `base` and `options`, with its rows and rejections. */
function sessions(options: Partial<SessionWindowOptions<Reading, string>> = {}) {
  const rows: WindowRow<string>[] = [];
  const rejections: Rejection<Reading>[] = [];
  const state = new SessionCountState<Reading, string>(
    { ...base, onReject: (r) => rejections.push(r), ...options },
    (row) => rows.push(row),
  );
  const push = (...readings: Reading[]) => readings.forEach((reading) => state.push(reading));
  return { state, rows, rejections, push, shown: () => rows.map(show) };
}

const everything: AggregateOptions<Reading> = { value: (r) => r.v, sum: true, min: true, max: true, mean: true };

describe('session windows', () => {
  describe('merging', () => {
    it('a reading between two sessions of its key joins them into one, counts and aggregates merged', () => {
      const counted = sessions();
      const aggregated: AggregateRow<string>[] = [];
      const state = new SessionAggregateState<Reading, string>(
        { ...base, aggregates: { ...everything, quantiles: [0.5] }, partials: true },
        (row) => aggregated.push(row),
      );
      // [0, 30) and [60, 90), then 30 s: [30, 60) touches both.
      for (const reading of [at(0, 'a', 5), at(60, 'a', 9), at(30, 'a', 2)]) {
        counted.push(reading);
        state.push(reading);
      }
      expect(counted.state.openWindows).to.equal(1);
      expect(state.openRows().map(show)).to.deep.equal(['a [0, 90) ×3']);
      counted.state.flush();
      state.flush();
      expect(counted.shown()).to.deep.equal(['a [0, 90) ×3']);
      expect(aggregated.map((row) => row.aggregates)).to.deep.equal([
        {
          count: 3,
          sum: 16,
          min: 2,
          max: 9,
          mean: 16 / 3,
          quantiles: { p50: aggregated[0]!.aggregates.quantiles!.p50 },
        },
      ]);
      // The merged cell equals the cell of all three values, sketches included.
      const spec = resolveAggregateSpec<Reading>({ ...everything, quantiles: [0.5] });
      const whole = new AggregateCell(spec);
      for (const value of [5, 9, 2]) whole.add(value, undefined);
      expect(aggregated[0]!.partial).to.deep.equal(whole.toPartial());
    });

    it('merges touching sessions, as Spark does (a session starting at the end of the one before joins it)', () => {
      const { push, state, shown } = sessions();
      push(at(0), at(30)); // Spark 3.5.9: one session [0 s, 60 s) of 2
      state.flush();
      expect(shown()).to.deep.equal(['a [0, 60) ×2']);
      const apart = sessions();
      apart.push(at(0), at(30.001));
      apart.state.flush();
      expect(apart.shown()).to.deep.equal(['a [0, 30) ×1', 'a [30.001, 60.001) ×1']);
    });

    it('keeps the sessions of each key apart, and one session per key for a steady stream', () => {
      const { push, state, shown } = sessions();
      push(at(0, 'a'), at(5, 'b'), at(20, 'a'), at(40, 'a'), at(45, 'b'));
      expect(state.openWindows).to.equal(3); // a [0, 70), b [5, 35), b [45, 75)
      state.flush();
      expect(shown()).to.deep.equal(['a [0, 70) ×3', 'b [5, 35) ×1', 'b [45, 75) ×1']);
    });
  });

  describe("Spark's late rule and when a session closes", () => {
    it("reports an event late, kind 'late', when its session would end by the watermark (t + gap ≤ watermark), and counts one just after", () => {
      const { push, state, shown, rejections } = sessions();
      // Spark 3.5.9: 60 s dropped (60 + 30 ≤ 90), 61 s counted in [61 s, 91 s), though behind the watermark.
      push(at(0), at(100, 'b'), at(60), at(61));
      state.flush();
      expect(shown()).to.deep.equal(['a [0, 30) ×1', 'a [61, 91) ×1', 'b [100, 130) ×1']);
      expect(rejections.map((r) => [r.kind, r.operator, r.input.t])).to.deep.equal([['late', 'windowedCount', 60 * S]]);
      expect(rejections[0]!.reason).to.equal(
        'event time 1970-01-01T00:01:00.000Z is late: its session window [1970-01-01T00:01:00.000Z, 1970-01-01T00:01:30.000Z) ends by the watermark 1970-01-01T00:01:30.000Z, as Spark drops it; not counted',
      );
      expect([state.lateEvents, state.latePairs, state.eventsCounted, state.eventsSeen]).to.deep.equal([1, 1, 3, 4]);
    });

    it('throws a RejectionError for a late event when strict, the state unchanged', () => {
      const { push, state } = sessions({ strict: true });
      push(at(0), at(100, 'b'));
      expect(() => push(at(60))).to.throw(RejectionError, /is late/);
      expect(state.eventsCounted).to.equal(2);
    });

    it('keeps a session the watermark passed open until the next event arrives: that event may extend it, as in Spark', () => {
      const { push, rows, state, shown } = sessions();
      push(at(0), at(50, 'b')); // watermark 40 s: [0 s, 30 s) has ended by it, but is not closed
      expect(rows).to.deep.equal([]);
      expect(state.earliestOpenWindowEnd).to.equal(30 * S);
      push(at(25)); // Spark 3.5.9: not late (55 > 40), joins [0 s, 30 s): a [0 s, 55 s) of 2
      state.flush();
      expect(shown()).to.deep.equal(['a [0, 55) ×2', 'b [50, 80) ×1']);
    });

    it('closes a session on the watermark the next event arrives with; a later event that is not late then opens a new one, overlapping it', () => {
      const { push, rows, state, shown } = sessions();
      push(at(0), at(50, 'b'), at(51, 'b')); // 51 s arrives with watermark 40 s: a [0 s, 30 s) closes
      expect(rows.map((row) => [show(row), row.final])).to.deep.equal([['a [0, 30) ×1', true]]);
      push(at(25)); // Spark 3.5.9: [0 s, 30 s) of 1, then [25 s, 55 s) of 1
      state.flush();
      expect(shown()).to.deep.equal(['a [0, 30) ×1', 'a [25, 55) ×1', 'b [50, 81) ×2']);
      expect(rows.map((row) => row.final)).to.deep.equal([true, false, false]);
    });

    it("under lateRule 'spark-3.4' judges an event by the watermark the previous event arrived with", () => {
      const { push, state, shown, rejections } = sessions({ lateRule: 'spark-3.4' });
      // Spark 3.5.9 with allowMultiple=true: 59 s counted (the watermark before 100 s arrived), 60 s dropped.
      push(at(0), at(100, 'b'), at(59), at(60));
      state.flush();
      expect(shown()).to.deep.equal(['a [0, 30) ×1', 'a [59, 89) ×1', 'b [100, 130) ×1']);
      expect(rejections.map((r) => r.input.t)).to.deep.equal([60 * S]);
    });

    it('advanceWatermark closes what the watermark passed, as a no-data micro-batch does, and never moves it back', () => {
      const { push, rows, state } = sessions();
      push(at(0), at(50, 'b'));
      state.advanceWatermark(0);
      expect(state.watermark).to.equal(40 * S);
      expect(rows.map(show)).to.deep.equal(['a [0, 30) ×1']);
      state.advanceWatermark(80 * S);
      expect(rows.map(show)).to.deep.equal(['a [0, 30) ×1', 'b [50, 80) ×1']);
      expect(state.openWindows).to.equal(0);
      expect(() => state.advanceWatermark(Number.NaN)).to.throw(
        RangeError,
        /advanceWatermark: the watermark must be a finite time/,
      );
    });
  });

  describe('output modes', () => {
    it("complete: every session after every event, none dropped, and late events dropped all the same (as Spark's complete mode)", () => {
      const { push, rows, state, rejections } = sessions({ outputMode: 'complete' });
      const after: string[][] = [];
      for (const reading of [at(0), at(100, 'b'), at(60), at(61), at(5)]) {
        const before = rows.length;
        push(reading);
        after.push(rows.slice(before).map(show));
      }
      // Spark 3.5.9 in complete mode: [0 s, 30 s) kept, 60 s and 5 s dropped by the watermark.
      expect(after).to.deep.equal([
        ['a [0, 30) ×1'],
        ['a [0, 30) ×1', 'b [100, 130) ×1'],
        ['a [0, 30) ×1', 'b [100, 130) ×1'],
        ['a [0, 30) ×1', 'a [61, 91) ×1', 'b [100, 130) ×1'],
        ['a [0, 30) ×1', 'a [61, 91) ×1', 'b [100, 130) ×1'],
      ]);
      expect(rejections.map((r) => r.input.t)).to.deep.equal([60 * S, 5 * S]);
      expect(state.openWindows).to.equal(3);
      expect(rows.every((row) => row.final === false)).to.equal(true);
    });

    it('complete: an event that is not late joins a kept session that ended long before the watermark', () => {
      const { push, rows } = sessions({ outputMode: 'complete' });
      push(at(0), at(50, 'b'), at(51, 'b'), at(52, 'b'), at(25)); // watermark 42 s; Spark 3.5.9: a [0 s, 55 s) of 2
      expect(rows.slice(-2).map(show)).to.deep.equal(['a [0, 55) ×2', 'b [50, 82) ×3']);
    });

    it("refuses outputMode 'update' with sessionGap, saying Spark refuses it and to use append", () => {
      const refusal =
        /^windowedCount: outputMode 'update' is not supported with sessionGap: Spark refuses it for session windows \("Update output mode not supported for session window"\), since an event can merge sessions whose rows went out; use outputMode 'append'/;
      expect(() => windowedCount({ ...base, outputMode: 'update' })).to.throw(RangeError, refusal);
      expect(() => new SessionCountState({ ...base, outputMode: 'update' }, () => {})).to.throw(RangeError, refusal);
      expect(() => windowedAggregate({ ...base, outputMode: 'update', aggregates: {} })).to.throw(
        RangeError,
        /^windowedAggregate: outputMode 'update' is not supported with sessionGap/,
      );
    });

    it('flushes the open sessions when the source completes, as rows not final, unless flushOnComplete is false', async () => {
      const readings = [at(0), at(20), at(100, 'b'), at(101, 'b')];
      const rows = await lastValueFrom(from(readings).pipe(windowedCount(base), toArray()));
      expect(rows.map((row) => [show(row), row.final])).to.deep.equal([
        ['a [0, 50) ×2', true],
        ['b [100, 131) ×2', false],
      ]);
      const unflushed = await lastValueFrom(
        from(readings).pipe(windowedCount({ ...base, flushOnComplete: false }), toArray()),
      );
      expect(unflushed.map(show)).to.deep.equal(['a [0, 50) ×2']);
    });
  });

  describe('options', () => {
    it('takes sessionGap instead of windowDuration, and refuses the options of fixed windows beside it, naming them', () => {
      const options = base as SessionWindowOptions<Reading, string> & Record<string, unknown>;
      expect(() => windowedCount({ ...options, windowDuration: 10 } as never)).to.throw(
        TypeError,
        /^windowedCount: give windowDuration \(fixed windows\) or sessionGap \(session windows\), not both$/,
      );
      for (const option of ['slideDuration', 'offset']) {
        expect(() => windowedCount({ ...options, [option]: 5 } as never)).to.throw(
          TypeError,
          new RegExp(
            `^windowedCount: ${option} is an option of fixed windows \\(windowDuration\\), not of session windows`,
          ),
        );
      }
      expect(() => windowedCount({ ...base, sessionGap: 0 })).to.throw(
        RangeError,
        /^windowedCount: sessionGap must be a positive duration, got 0$/,
      );
      expect(() => windowedCount({ ...base, sessionGap: 'a while' as never })).to.throw(
        TypeError,
        /^windowedCount: sessionGap /,
      );
      expect(() => new SessionCountState({ ...base, sessionGap: undefined } as never, () => {})).to.throw(
        TypeError,
        /^windowedCount: sessionGap is required/,
      );
      expect(() => windowedAggregate({ ...base, sessionGap: -1, aggregates: {} })).to.throw(
        RangeError,
        /^windowedAggregate: sessionGap must be a positive duration/,
      );
      expect(() => windowedCount({ ...base, watermarkDelay: -1 })).to.throw(
        RangeError,
        /^windowedCount: watermarkDelay/,
      );
      expect(() => windowedCount({ ...base, outputMode: 'complete', idleAdvance: { after: 10 } })).to.throw(
        RangeError,
        /^windowedCount: idleAdvance has nothing to do in 'complete' mode, where the watermark closes no session; drop it or use 'append'$/,
      );
      expect(() => windowedCount({ eventTime: base.eventTime, key: base.key, watermarkDelay: 0 } as never)).to.throw(
        TypeError,
        /^windowedCount: windowDuration is required \(e\.g\. '1 minute'; or sessionGap for session windows\)$/,
      );
    });

    it('a fixed-window state given sessionGap says it keeps no sessions and where they are kept', () => {
      expect(() => new WindowedCountState({ ...base } as never, () => {})).to.throw(
        TypeError,
        /^windowedCount: sessionGap asks for session windows, which these fixed windows are not: give windowDuration, or use the windowedCount or windowedAggregate operator \(or SessionCountState, SessionAggregateState\) for sessions$/,
      );
    });

    it('takes durations as text, and rejects unreadable and far-future event times as for fixed windows', () => {
      let now = 0;
      const { push, state, rejections } = sessions({
        sessionGap: '30 s',
        maxEventTimeAhead: '1 minute',
        now: () => now,
      });
      push({ t: Number.NaN, k: 'a', v: 1 }, at(61), at(60));
      now = 10 * S;
      push(at(61));
      expect(rejections.map((r) => [r.kind, r.input.t])).to.deep.equal([
        ['timestamp', Number.NaN],
        ['future', 61 * S],
      ]);
      expect([state.timestampRejects, state.futureRejects, state.eventsCounted]).to.deep.equal([1, 1, 2]);
      expect(state.maxEventTime).to.equal(61 * S);
    });

    it("reports an event whose value cannot be read (kind 'value') and counts it nowhere", () => {
      const rejections: Rejection<Reading>[] = [];
      const state = new SessionAggregateState<Reading, string>(
        { ...base, aggregates: everything, onReject: (r) => rejections.push(r) },
        () => {},
      );
      state.push(at(0, 'a', Number.NaN));
      state.push(at(1, 'a', 4));
      expect(rejections.map((r) => [r.kind, r.operator, r.reason])).to.deep.equal([
        ['value', 'windowedAggregate', 'value is NaN, not a finite number; not counted'],
      ]);
      expect([state.valueRejects, state.eventsCounted, state.openWindows]).to.deep.equal([1, 1, 1]);
      expect(state.openRows()[0]!.aggregates).to.deep.equal({ count: 1, sum: 4, min: 4, max: 4, mean: 4 });
    });

    it('bounds the sessions held with maxWindows: a RangeError naming it, the event not counted, the state unchanged', () => {
      const { push, state } = sessions({ maxWindows: 2 });
      push(at(0, 'a'), at(1, 'b'), at(2, 'a'));
      expect(() => push(at(3, 'c'))).to.throw(
        RangeError,
        /^windowedCount: event time 1970-01-01T00:00:03\.000Z would open a session with 2 held, past maxWindows \(2\); not counted\. raise maxWindows, or shorten watermarkDelay or sessionGap$/,
      );
      expect([state.openWindows, state.eventsCounted, state.maxEventTime]).to.deep.equal([2, 3, 2 * S]);
      push(at(4, 'b')); // joins b's session: no session more
      expect(state.openWindows).to.equal(2);
    });
  });

  describe('snapshot and restore', () => {
    const readingsArb = fc.array(
      fc.record({
        t: fc.integer({ min: 0, max: 400 }),
        k: fc.constantFrom('a', 'b', 'c'),
        v: fc.integer({ min: -1000, max: 1000 }),
      }),
      { maxLength: 60 },
    );
    const settingsArb = fc.record({
      sessionGap: fc.integer({ min: 1, max: 40 }),
      watermarkDelay: fc.integer({ min: 0, max: 60 }),
      outputMode: fc.constantFrom<'append' | 'complete'>('append', 'complete'),
      lateRule: fc.constantFrom<LateRule>('spark-2.4', 'spark-3.4'),
    });

    it('a state restored from a JSON copy of a snapshot taken mid-stream emits what the uninterrupted one emits, with the same stats', () => {
      fc.assert(
        fc.property(readingsArb, settingsArb, fc.nat(), (readings, settings, cut) => {
          const options: SessionAggregateOptions<Reading, string> = {
            ...base,
            ...settings,
            aggregates: { ...everything, quantiles: [0.5], distinct: (r) => r.v % 7 },
            partials: true,
            onReject: () => {},
          };
          const straight: AggregateRow<string>[] = [];
          const whole = new SessionAggregateState(options, (row) => straight.push(row));
          readings.forEach((reading) => whole.push(reading));
          whole.flush();

          const cutAt = cut % (readings.length + 1);
          const rows: AggregateRow<string>[] = [];
          const first = new SessionAggregateState(options, (row) => rows.push(row));
          readings.slice(0, cutAt).forEach((reading) => first.push(reading));
          const second = new SessionAggregateState(options, (row) => rows.push(row));
          second.restore(JSON.parse(JSON.stringify(first.snapshot())));
          readings.slice(cutAt).forEach((reading) => second.push(reading));
          second.flush();
          expect(rows).to.deep.equal(straight);
          for (const stat of ['eventsSeen', 'eventsCounted', 'lateEvents', 'rowsEmitted', 'watermark'] as const)
            expect(second[stat], stat).to.equal(whole[stat]);

          // The count state's snapshot, through JSON, and its rows.
          const countOptions = { ...base, ...settings, onReject: () => {} };
          const counted: string[] = [];
          const firstCount = new SessionCountState(countOptions, (row) => counted.push(show(row)));
          readings.slice(0, cutAt).forEach((reading) => firstCount.push(reading));
          const secondCount = new SessionCountState(countOptions, (row) => counted.push(show(row)));
          secondCount.restore(JSON.parse(JSON.stringify(firstCount.snapshot())) as SessionCountSnapshot<string>);
          readings.slice(cutAt).forEach((reading) => secondCount.push(reading));
          secondCount.flush();
          expect(counted).to.deep.equal(straight.map(show));
        }),
        { numRuns: 200 },
      );
    });

    it('refuses a snapshot taken under other options, a corrupted one, and one into a state that has seen events', () => {
      const { push, state } = sessions();
      push(at(0), at(20), at(100, 'b'));
      const snapshot = state.snapshot();
      expect(snapshot).to.deep.equal({
        format: 1,
        settings: { sessionGap: 30 * S, watermarkDelay: 10 * S, outputMode: 'append', lateRule: 'spark-2.4' },
        watermark: 90 * S,
        closedUpTo: 10 * S,
        maxEventTime: 100 * S,
        sessions: [
          { key: 'a', windowStart: 0, windowEnd: 50 * S, cell: 2 },
          { key: 'b', windowStart: 100 * S, windowEnd: 130 * S, cell: 1 },
        ],
        stats: {
          eventsSeen: 3,
          eventsCounted: 3,
          timestampRejects: 0,
          futureRejects: 0,
          lateEvents: 0,
          latePairs: 0,
          rowsEmitted: 0,
        },
      });
      const other = () => new SessionCountState<Reading, string>({ ...base, sessionGap: 20 * S }, () => {});
      const refusal = (() => {
        try {
          other().restore(snapshot);
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(refusal).to.be.instanceOf(SnapshotMismatchError);
      expect((refusal as SnapshotMismatchError).differences).to.deep.equal([
        { setting: 'sessionGap', saved: 30 * S, current: 20 * S },
      ]);
      const fresh = () => new SessionCountState<Reading, string>(base, () => {});
      const [a, b] = snapshot.sessions;
      const corrupt = (change: object) => ({ ...snapshot, ...change }) as SessionCountSnapshot<string>;
      expect(() =>
        fresh().restore(corrupt({ sessions: [a, { ...a, windowStart: 40 * S, windowEnd: 80 * S }] })),
      ).to.throw(
        /^SessionCountState\.restore: session .* overlaps or touches the key's session before it, so they would be one$/,
      );
      expect(() => fresh().restore(corrupt({ sessions: [b, a] }))).to.throw(/ascending windowStart order/);
      expect(() => fresh().restore(corrupt({ sessions: [{ ...a, windowEnd: 10 * S }] }))).to.throw(
        /shorter than sessionGap/,
      );
      expect(() => fresh().restore(corrupt({ sessions: [{ ...a, cell: 0 }] }))).to.throw(
        /has a count that is not one \(expected whole number > 0\): 0$/,
      );
      expect(() => fresh().restore(corrupt({ closedUpTo: 60 * S }))).to.throw(/ended by closedUpTo/);
      expect(() => fresh().restore(corrupt({ closedUpTo: 95 * S }))).to.throw(
        /closedUpTo 95000 is after watermark 90000/,
      );
      expect(() => state.restore(snapshot)).to.throw(/^SessionCountState\.restore: this counter already has state/);
      expect(() => windowedCount({ ...base, initialState: corrupt({ format: 2 }) })).to.throw(
        /^windowedCount: initialState: snapshot format 2/,
      );
      const aggregate = new SessionAggregateState<Reading, string>({ ...base, aggregates: everything }, () => {});
      aggregate.push(at(0));
      expect(() =>
        new SessionAggregateState<Reading, string>(
          { ...base, aggregates: { value: (r) => r.v, sum: true } },
          () => {},
        ).restore(aggregate.snapshot()),
      ).to.throw(/^SessionAggregateState\.restore: the snapshot was taken with other aggregates: /);
    });

    it('resumes from initialState in the operators', async () => {
      const first = new SessionCountState<Reading, string>(base, () => {});
      first.push(at(0));
      const rows = await lastValueFrom(
        from([at(20), at(100)]).pipe(windowedCount({ ...base, initialState: first.snapshot() }), toArray()),
      );
      expect(rows.map(show)).to.deep.equal(['a [0, 50) ×2', 'a [100, 130) ×1']);
      const aggregate = new SessionAggregateState<Reading, string>({ ...base, aggregates: everything }, () => {});
      aggregate.push(at(0, 'a', 3));
      const aggregated = await lastValueFrom(
        from([at(20, 'a', 4)]).pipe(
          windowedAggregate({ ...base, aggregates: everything, initialState: aggregate.snapshot() }),
          toArray(),
        ),
      );
      expect(aggregated.map((row) => [show(row), row.aggregates.sum])).to.deep.equal([['a [0, 50) ×2', 7]]);
    });
  });

  describe('state stays bounded', () => {
    it('holds a few open sessions over 200,000 readings in bursts: closed sessions are dropped', () => {
      const { state, rows } = sessions();
      let most = 0;
      let clock = 0;
      for (let i = 0; i < 200_000; i++) {
        // Five sensors, a reading every 100 ms, a minute's pause after every 1,000 readings.
        clock += i % 1000 === 0 ? 60 * S : 100;
        state.push({ t: clock, k: `sensor-${i % 5}`, v: 1 });
        most = Math.max(most, state.openWindows);
      }
      expect(most).to.be.at.most(10);
      expect(state.stateSize).to.equal(state.openWindows);
      expect(rows.length).to.equal(199 * 5);
      expect(rows.every((row) => row.count === 200)).to.equal(true);
      expect(JSON.stringify(state.snapshot()).length).to.be.below(2000);
    });
  });

  describe('agrees with a batch sessionization when nothing is late', () => {
    /** Per key, times in order, merged while the next starts at or before the session's end (touching merges). */
    function batchSessions(readings: readonly Reading[], gap: number): string[] {
      const byKey = new Map<string, number[]>();
      for (const { k, t } of readings) byKey.set(k, [...(byKey.get(k) ?? []), t]);
      const rows: { start: number; text: string }[] = [];
      for (const [key, times] of byKey) {
        times.sort((x, y) => x - y);
        let start = times[0]!;
        let end = start + gap;
        let count = 0;
        for (const t of times) {
          if (t > end) {
            rows.push({ start, text: `${key} [${start}, ${end}) ×${count}` });
            start = t;
            count = 0;
          }
          end = Math.max(end, t + gap);
          count++;
        }
        rows.push({ start, text: `${key} [${start}, ${end}) ×${count}` });
      }
      return rows.map((row) => row.text).sort();
    }

    it('with a watermark delay beyond the disorder, append rows are the batch sessions, under either late rule', () => {
      fc.assert(
        fc.property(
          fc.array(
            fc.record({
              step: fc.integer({ min: 0, max: 30 }),
              back: fc.integer({ min: 0, max: 20 }),
              k: fc.constantFrom('a', 'b'),
            }),
            {
              minLength: 1,
              maxLength: 80,
            },
          ),
          fc.integer({ min: 1, max: 40 }),
          fc.constantFrom<LateRule>('spark-2.4', 'spark-3.4'),
          (steps, gap, lateRule) => {
            let clock = 1000;
            const readings = steps.map(({ step, back, k }) => ({ t: (clock += step) - back, k, v: 1 }));
            const rows: string[] = [];
            const state = new SessionCountState<Reading, string>(
              { eventTime: (r) => r.t, key: (r) => r.k, sessionGap: gap, watermarkDelay: 21, lateRule },
              (row) => rows.push(`${row.key} [${row.windowStart.getTime()}, ${row.windowEnd.getTime()}) ×${row.count}`),
            );
            readings.forEach((reading) => state.push(reading));
            state.flush();
            expect(state.lateEvents).to.equal(0);
            expect(rows.sort()).to.deep.equal(batchSessions(readings, gap));
          },
        ),
        { numRuns: 300 },
      );
    });
  });

  describe('the operators', () => {
    it("windowedAggregate's session rows are windowedCount's, at the same moments, with the same rejections", async () => {
      const readings = [at(0), at(50, 'b'), at(25), at(100, 'b'), at(60), at(61), at(200)];
      const countRejections: string[] = [];
      const aggregateRejections: string[] = [];
      const counted = await lastValueFrom(
        from(readings).pipe(windowedCount({ ...base, onReject: (r) => countRejections.push(r.reason) }), toArray()),
      );
      const aggregated = await lastValueFrom(
        from(readings).pipe(
          windowedAggregate({ ...base, aggregates: everything, onReject: (r) => aggregateRejections.push(r.reason) }),
          toArray(),
        ),
      );
      expect(aggregated.map((row) => [show(row), row.final])).to.deep.equal(
        counted.map((row) => [show(row), row.final]),
      );
      expect(aggregateRejections).to.deep.equal(countRejections);
      expect(countRejections).to.have.length(1);
    });

    it('closes a session by the clock when the source goes quiet (idle advance, virtual time)', () => {
      const scheduler = new TestScheduler((actual, expected) => {
        expect(actual).to.deep.equal(expected);
      });
      scheduler.run(({ cold, expectObservable }) => {
        // One reading at 10 ms event time, then 1 s of silence. With a 0 delay the session
        // [10, 110) is final once event time would have reached 110: 100 ms after it arrived.
        const source = cold<Reading>('a 999ms |', { a: { t: 10, k: 'a', v: 1 } });
        const counted = source.pipe(
          windowedCount({ ...base, sessionGap: 100, watermarkDelay: 0, idleAdvance: { after: 50, scheduler } }),
        );
        const row = { windowStart: new Date(10), windowEnd: new Date(110), key: 'a', count: 1, final: true };
        expectObservable(counted).toBe('100ms r 899ms |', { r: row });
      });
    });

    it('closes by the clock, after idleAdvance.after, a session the watermark passed that waits for the next event', () => {
      const scheduler = new TestScheduler((actual, expected) => {
        expect(actual).to.deep.equal(expected);
      });
      scheduler.run(({ cold, expectObservable }) => {
        // a [0, 10), then b at 100: the watermark (100) has passed a's end, but it closes with
        // the next event, or 50 ms of silence (idleAdvance.after); b's [100, 110) 10 ms later.
        const source = cold<Reading>('a b 998ms |', { a: { t: 0, k: 'a', v: 1 }, b: { t: 100, k: 'b', v: 1 } });
        const counted = source.pipe(
          windowedCount({ ...base, sessionGap: 10, watermarkDelay: 0, idleAdvance: { after: 50, scheduler } }),
        );
        expectObservable(counted).toBe('51ms (rs) 945ms |', {
          r: { windowStart: new Date(0), windowEnd: new Date(10), key: 'a', count: 1, final: true },
          s: { windowStart: new Date(100), windowEnd: new Date(110), key: 'b', count: 1, final: true },
        });
      });
    });

    it('hands onSubscribe the live counters, and leaves no idle timer behind when the source completes', async () => {
      let open = -1;
      const rows = await lastValueFrom(
        from([at(0), at(10)]).pipe(
          windowedCount({
            ...base,
            idleAdvance: { after: 1000 },
            onSubscribe: (stats) => {
              open = stats.openWindows;
            },
          }),
          toArray(),
        ),
      );
      expect(open).to.equal(0);
      expect(rows.map(show)).to.deep.equal(['a [0, 40) ×2']);
    });
  });
});
