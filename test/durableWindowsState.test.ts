// The durable window core on its own, as windowedCountState.test.ts tests WindowedCountState:
// no RxJS, a temporary state directory, a clock the test sets. Journal and checkpoint
// timing, redelivery recognition, restore and replay, a message that cannot be recorded
// whole, rows and their settlement, phases, statistics and watermark advance.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countKind } from '../src/durable/durableWindowsKind.js';
import { DurableWindowsState } from '../src/durable/DurableWindowsState.js';
import { SECONDS_BOUNDS, SIZE_BOUNDS } from '../src/observe/Histogram.js';
import type { HistogramValue, Statistic } from '../src/observe/statistic.js';
import { resolveWindowSettings, type WindowedCountOptions } from '../src/window/options.js';
import { RejectionError, type LateRow, type Rejection, type WindowRow } from '../src/index.js';

interface Ev {
  readonly t: number;
  readonly k: number;
}

const show = (row: WindowRow<number>) =>
  `[${row.windowStart.getTime()},${row.windowEnd.getTime()}) ${row.key}=${row.count}`;

type State = DurableWindowsState<Ev, number>;

interface Setup {
  readonly window?: Partial<WindowedCountOptions<Ev, number>>;
  /** Keep late counts (rows to `lateSent`), holding at most this many. */
  readonly maxLateCounts?: number;
  readonly maxRowsInFlight?: number;
  readonly checkpointEvery?: number;
  readonly strict?: boolean;
}

describe('DurableWindowsState', () => {
  let dir: string;
  /** Every state opened by the test, closed after it (a failing test must not keep its lock). */
  let opened: State[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'durable-state-'));
    opened = [];
  });
  afterEach(() => {
    for (const state of opened) state.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const journal = () => readFileSync(join(dir, 'journal.log'), 'utf8');
  const checkpointFile = () => JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8')) as { sequence: number };

  /**
   * A state directory's core as durableWindowedCount builds it: 10 ms windows, 5 ms
   * watermark delay, append mode unless `window` says otherwise. `open()` opens it
   * again with the same options, the clock, rows and rejections shared.
   */
  function setup(options: Setup = {}) {
    const clock = { now: 1_000 };
    const sent: WindowRow<number>[] = [];
    const lateSent: LateRow<number>[] = [];
    const rejections: Rejection[] = [];
    const settings = resolveWindowSettings<Ev, number>({
      eventTime: (event) => event.t,
      key: (event) => event.k,
      windowDuration: 10,
      watermarkDelay: 5,
      ...options.window,
    });
    const open = (): State => {
      const state = DurableWindowsState.open<Ev, number, WindowRow<number>>({
        kind: countKind(),
        stateDirectory: dir,
        durability: 'process',
        settings,
        maxRowsInFlight: options.maxRowsInFlight ?? 32,
        checkpointEvery: options.checkpointEvery ?? 1_000,
        now: () => clock.now,
        sendRow: (row) => sent.push(row),
        ...(options.maxLateCounts === undefined
          ? {}
          : { sendLateRow: (row: LateRow<number>) => lateSent.push(row), maxLateCounts: options.maxLateCounts }),
        onReject: (rejection) => rejections.push(rejection),
        strict: options.strict ?? false,
      });
      opened.push(state);
      return state;
    };
    return { clock, sent, lateSent, rejections, open };
  }

  /**
   * The process dies after the last flush: the files stay as they are (no checkpoint
   * at close), only the lock is released, as a dead process's is taken over.
   */
  function crash(state: State): void {
    const journalText = journal();
    const checkpointPath = join(dir, 'checkpoint.json');
    const checkpointText = existsSync(checkpointPath) ? readFileSync(checkpointPath, 'utf8') : undefined;
    state.close();
    writeFileSync(join(dir, 'journal.log'), journalText);
    if (checkpointText === undefined) rmSync(checkpointPath, { force: true });
    else writeFileSync(checkpointPath, checkpointText);
  }

  describe('counting and the journal', () => {
    it('hands rows to sendRow as windowedCount emits them (append), and writes journal lines at flush(), not before', () => {
      const { clock, sent, open } = setup();
      const state = open();
      state.enter('running');
      clock.now = 5_000;
      state.record(1, 101, [
        { t: 1, k: 200 },
        { t: 3, k: 404 },
      ]);
      state.record(2, 102, [{ t: 16, k: 200 }]); // watermark 11: [0, 10) is final
      state.record(3, 103, []); // no event: the message itself, so its redelivery is recognised
      state.record(undefined, undefined, []); // QoS 0 without events: nothing to remember
      expect(journal(), 'nothing on disk before flush()').to.equal('');
      expect(state.unflushed).to.equal(true);
      expect(sent, 'rows wait for pump()').to.deep.equal([]);
      state.pump();
      expect(sent.map(show)).to.deep.equal(['[0,10) 200=1', '[0,10) 404=1']);
      state.flush(4);
      expect(state.unflushed).to.equal(false);
      expect(journal().split('\n')).to.deep.equal([
        '{"q":1,"m":1,"h":101,"n":5000,"t":1,"k":200}',
        '{"q":2,"m":1,"h":101,"n":5000,"t":3,"k":404}',
        '{"q":3,"m":2,"h":102,"n":5000,"t":16,"k":200}',
        '{"q":4,"m":3,"h":103}',
        '',
      ]);
      expect(state.stats.journalRecords).to.equal(4);
      expect(state.stats.eventsCounted).to.equal(3);
      expect(state.stats.watermark).to.equal(11);
    });

    it('recognises a redelivery by the same packet identifier and the same digest, with or without dup, and counts it', () => {
      const { open } = setup();
      const state = open();
      state.enter('running');
      expect(state.accept(7, 0xabc)).to.equal(true);
      expect(state.accept(7, 0xabc), 'sent again, but never counted (lost before it arrived)').to.equal(true);
      state.record(7, 0xabc, [{ t: 1, k: 200 }]);
      state.record(9, 0x999, []);
      expect(state.accept(7, 0xabc), 'the same message again').to.equal(false);
      expect(state.accept(9, 0x999), 'a message without events, again').to.equal(false);
      expect(state.accept(7, 0xabd), 'the identifier reused for another payload').to.equal(true);
      expect(state.accept(undefined, undefined), 'QoS 0').to.equal(true);
      expect(state.stats.messages).to.equal(6);
      expect(state.stats.duplicates).to.equal(2);
    });

    it('recognises a message an outbox sent again (a new packet id and payload, the same publisher and seq), after a crash and after a checkpoint', () => {
      const { open } = setup();
      const pi = (seq: number) => ({ publisher: 'pi-1a2b3c4d', seq });
      const first = open();
      first.enter('running');
      expect(first.accept(1, 0x11, pi(1))).to.equal(true);
      first.record(1, 0x11, [{ t: 1, k: 200 }], true, pi(1));
      first.record(2, 0x12, [], true, pi(2));
      first.flush(2);
      expect(first.accept(50, 0x51, pi(1)), 'sent again from the outbox: another packet id').to.equal(false);
      expect(first.accept(51, 0x52, pi(3))).to.equal(true);
      expect(first.accept(52, 0x53, { publisher: 'pi-other', seq: 1 }), 'another publisher').to.equal(true);
      crash(first);

      const second = open();
      second.enter('running');
      expect(second.accept(60, 0x61, pi(1)), 'replayed from the journal').to.equal(false);
      expect(second.accept(61, 0x62, pi(2)), 'a message without events, replayed').to.equal(false);
      second.record(62, 0x63, [{ t: 2, k: 200 }], true, pi(3));
      second.checkpoint();
      second.close();

      const third = open();
      expect(third.accept(70, 0x71, pi(3)), 'restored from the checkpoint').to.equal(false);
      expect(third.accept(71, 0x72, pi(4))).to.equal(true);
      expect(third.stats.eventsCounted).to.equal(2);
    });
  });

  describe('restart', () => {
    it('continues the open windows after close() and open() (restore), with the unwritten rows', () => {
      const { sent, rejections, open } = setup();
      const first = open();
      first.enter('running');
      first.record(1, 11, [{ t: 1, k: 200 }]);
      first.record(2, 12, [{ t: 30, k: 200 }]); // watermark 25: [0, 10) final
      first.record(3, 13, [{ t: 2, k: 200 }]); // late for [0, 10)
      expect(rejections.map((r) => [r.operator, r.kind])).to.deep.equal([['durableWindowedCount', 'late']]);
      first.close();
      expect(journal(), 'close() checkpoints').to.equal('');

      const second = open();
      expect(second.replayedRecords).to.equal(0);
      expect(second.stats.eventsCounted).to.equal(2);
      expect(second.stats.lateEvents).to.equal(1);
      expect(second.stats.watermark).to.equal(25);
      expect(second.stats.openWindows).to.equal(1);
      expect(second.pendingRows, 'the row of [0, 10) was never written').to.equal(1);
      second.enter('running');
      second.pump();
      expect(sent.map(show)).to.deep.equal(['[0,10) 200=1']);
      second.record(4, 14, [{ t: 31, k: 200 }]);
      second.writeOpenWindows();
      second.pump();
      expect(sent.map(show)).to.deep.equal(['[0,10) 200=1', '[30,40) 200=2']);
      expect(second.accept(2, 12), 'the deliveries are restored too').to.equal(false);
      expect(rejections).to.have.length(1);
    });

    it('replays the journal after the checkpoint and does not report its rejections again', () => {
      const { rejections, open } = setup();
      const first = open();
      first.enter('running');
      first.record(1, 11, [{ t: 1, k: 200 }]);
      first.checkpoint();
      first.record(2, 12, [{ t: 30, k: 200 }]);
      first.record(3, 13, [{ t: 2, k: 200 }]); // late
      first.record(4, 14, [{ t: Number.NaN, k: 200 }]); // unreadable time
      first.flush(3);
      expect(rejections.map((r) => r.kind)).to.deep.equal(['late', 'timestamp']);
      crash(first);

      const second = open();
      expect(second.replayedRecords).to.equal(3);
      expect(second.stats.replayedRecords).to.equal(3);
      expect(second.stats.eventsSeen).to.equal(4);
      expect(second.stats.eventsCounted).to.equal(2);
      expect(second.stats.lateEvents).to.equal(1);
      expect(second.stats.timestampRejects).to.equal(1);
      expect(second.stats.watermark).to.equal(25);
      expect(second.stats.openWindows).to.equal(1);
      expect(second.pendingRows).to.equal(1);
      expect(second.accept(4, 14), 'deliveries replayed from the journal').to.equal(false);
      expect(
        rejections.map((r) => r.kind),
        'not reported again',
      ).to.deep.equal(['late', 'timestamp']);
      const late = second.statistics().find((s) => s.name === 'rejections_total' && s.labels?.['kind'] === 'late');
      expect(late?.value).to.equal(0);
    });
  });

  describe('checkpoints', () => {
    it('checkpoints once the journal holds checkpointEvery records, and empties the journal', () => {
      const { open } = setup({ checkpointEvery: 3 });
      const state = open();
      state.enter('running');
      state.record(1, 11, [{ t: 1, k: 200 }]);
      state.record(2, 12, [{ t: 2, k: 200 }]);
      state.checkpointIfDue();
      state.flush(2);
      expect(state.stats.checkpoints).to.equal(0);
      expect(journal().split('\n')).to.have.length(3);
      state.record(3, 13, [{ t: 3, k: 200 }]);
      state.checkpointIfDue();
      expect(state.stats.checkpoints).to.equal(1);
      expect(state.stats.journalRecords).to.equal(0);
      expect(state.unflushed, 'the batch is in the checkpoint').to.equal(false);
      expect(journal()).to.equal('');
      expect(checkpointFile().sequence).to.equal(3);
    });

    it('checkpoints 5 s of the clock after the last one when something changed, and not without a change', () => {
      const { clock, open } = setup();
      const state = open(); // at 1 000
      state.enter('running');
      clock.now = 8_000;
      state.checkpointIfDue();
      expect(state.stats.checkpoints, 'nothing changed').to.equal(0);
      state.record(1, 11, [{ t: 1, k: 200 }]);
      state.flush(1);
      state.checkpointIfDue();
      expect(state.stats.checkpoints, '7 s after opening, with a change').to.equal(1);
      expect(journal()).to.equal('');

      state.record(2, 12, [{ t: 2, k: 200 }]);
      state.flush(1);
      clock.now = 12_999;
      state.checkpointIfDue();
      expect(state.stats.checkpoints).to.equal(1);
      expect(journal().split('\n')).to.have.length(2);
      clock.now = 13_000;
      state.checkpointIfDue();
      expect(state.stats.checkpoints).to.equal(2);
      expect(journal()).to.equal('');
      clock.now = 60_000;
      state.checkpointIfDue();
      expect(state.stats.checkpoints).to.equal(2);
    });
  });

  describe('a message that cannot be recorded whole', () => {
    it('a key that is neither a string nor a number throws, and none of its message is saved', () => {
      const { open } = setup();
      const first = open();
      first.enter('running');
      first.record(1, 11, [{ t: 1, k: 200 }]); // acknowledged: its line waits in the batch
      const bad = { t: 3, k: { status: 200 } as unknown as number };
      expect(() => first.record(2, 12, [{ t: 2, k: 200 }, bad])).to.throw(
        TypeError,
        'durableWindowedCount: key must return a string or a number to be saved, got object',
      );
      first.close();

      const second = open();
      // Message 2 was not acknowledged: the broker sends it again, and it must count whole then.
      expect(second.stats.eventsCounted).to.equal(1);
      expect(second.accept(1, 11), 'message 1 was counted').to.equal(false);
      expect(second.accept(2, 12), 'its redelivery is counted').to.equal(true);
    });

    it('with strict, a rejection leaves the state in memory unsaved: close() keeps what the files hold', () => {
      const { rejections, open } = setup({ strict: true });
      const first = open();
      first.enter('running');
      first.record(1, 11, [{ t: 30, k: 200 }]);
      first.checkpoint();
      first.record(2, 12, [{ t: 31, k: 200 }]);
      first.flush(1);
      expect(() =>
        first.record(3, 13, [
          { t: 32, k: 200 },
          { t: 1, k: 200 },
        ]),
      ).to.throw(RejectionError, /durableWindowedCount: late rejected/);
      first.checkpoint();
      expect(first.stats.checkpoints, 'checkpoint() saves nothing now').to.equal(1);
      first.close();
      expect(rejections).to.deep.equal([]);

      const second = open();
      expect(second.replayedRecords).to.equal(1);
      expect(second.stats.eventsSeen).to.equal(2);
      expect(second.stats.lateEvents).to.equal(0);
      expect(second.accept(3, 13)).to.equal(true);
    });
  });

  describe('rows', () => {
    it('keeps a row until rowSettled, one write per slot, a newer count replacing a waiting one', () => {
      const { sent, open } = setup({ maxRowsInFlight: 1, window: { outputMode: 'update' } });
      const state = open();
      state.enter('running');
      state.record(1, 11, [{ t: 1, k: 200 }]);
      state.record(2, 12, [{ t: 1, k: 404 }]);
      state.pump();
      expect(sent.map(show)).to.deep.equal(['[0,10) 200=1']);
      expect([state.pendingRows, state.stats.rowsInFlight]).to.deep.equal([2, 1]);
      state.record(3, 13, [{ t: 2, k: 200 }]); // 200=2 waits behind the write of 200=1
      state.pump();
      expect(sent).to.have.length(1);
      state.rowSettled(sent[0]!, true);
      expect([state.pendingRows, state.stats.rowsInFlight, state.stats.rowsWritten]).to.deep.equal([2, 0, 1]);
      state.pump();
      expect(sent.map(show)).to.deep.equal(['[0,10) 200=1', '[0,10) 404=1']);
      state.rowSettled(sent[1]!, false); // refused for good: it leaves, unwritten
      expect([state.pendingRows, state.stats.rowsWritten]).to.deep.equal([1, 1]);
      state.pump();
      expect(sent.map(show)).to.deep.equal(['[0,10) 200=1', '[0,10) 404=1', '[0,10) 200=2']);
      state.rowSettled(sent[2]!, true);
      expect([state.pendingRows, state.stats.rowsInFlight, state.stats.rowsWritten]).to.deep.equal([0, 0, 2]);
    });

    it('a settled row is a change: the next checkpoint drops it, and a row written but unsettled comes back', () => {
      const { clock, sent, open } = setup();
      const first = open();
      first.enter('running');
      first.record(1, 11, [
        { t: 1, k: 200 },
        { t: 2, k: 404 },
        { t: 30, k: 200 },
      ]);
      first.pump();
      first.checkpoint();
      first.rowSettled(sent[0]!, true);
      clock.now += 5_000;
      first.checkpointIfDue();
      expect(first.stats.checkpoints).to.equal(2);
      first.close(); // 404=1 still out: abandoned, saved
      const second = open();
      expect(second.pendingRows).to.equal(1);
      second.pump();
      expect(sent.map(show)).to.deep.equal(['[0,10) 200=1', '[0,10) 404=1', '[0,10) 404=1']);
    });

    it('writeOpenWindows() hands over the open windows so far; they keep counting after the next start', () => {
      const { sent, open } = setup();
      const first = open();
      first.enter('running');
      first.record(1, 11, [
        { t: 1, k: 200 },
        { t: 3, k: 404 },
        { t: 12, k: 200 },
      ]);
      first.enter('stopping');
      first.writeOpenWindows();
      first.pump();
      expect(sent.map(show)).to.deep.equal(['[0,10) 200=1', '[0,10) 404=1', '[10,20) 200=1']);
      for (const row of sent) first.rowSettled(row, true);
      expect(first.pendingRows).to.equal(0);
      first.close();
      const second = open();
      expect(second.stats.openWindows).to.equal(2);
      second.enter('running');
      second.record(2, 12, [{ t: 4, k: 200 }]);
      second.advanceWatermark(10);
      second.pump();
      expect(sent.slice(3).map(show)).to.deep.equal(['[0,10) 200=2', '[0,10) 404=1']);
    });
  });

  describe('final and partial rows', () => {
    const marked = (row: WindowRow<number>) => `${show(row)} ${row.final === true ? 'final' : 'partial'}`;

    it('append mode: rows the watermark closes are final, open windows written at a stop partial', () => {
      const { sent, open } = setup();
      const state = open();
      state.enter('running');
      state.record(1, 11, [
        { t: 1, k: 200 },
        { t: 16, k: 404 }, // watermark 11: [0,10) closes
      ]);
      state.writeOpenWindows();
      state.pump();
      expect(sent.map(marked)).to.deep.equal(['[0,10) 200=1 final', '[10,20) 404=1 partial']);
    });

    it('update mode: each change partial, then one final row per key when the watermark closes the window', () => {
      const { sent, open } = setup({ window: { outputMode: 'update' } });
      const state = open();
      state.enter('running');
      state.record(1, 11, [{ t: 1, k: 200 }]);
      state.pump();
      state.rowSettled(sent[0]!, true);
      state.record(2, 12, [{ t: 2, k: 200 }]);
      state.record(3, 13, [{ t: 16, k: 404 }]); // closes [0,10) with 200=2 still waiting, partial
      state.pump();
      expect(sent.map(marked)).to.deep.equal([
        '[0,10) 200=1 partial',
        '[0,10) 200=2 final', // the final row of the same count replaced the waiting partial one
        '[10,20) 404=1 partial',
      ]);
    });

    it('a final row waiting at a crash is final after the restart; a partial row never replaces it', () => {
      const { sent, open } = setup({ window: { outputMode: 'update' } });
      const first = open();
      first.enter('running');
      first.record(1, 11, [{ t: 1, k: 200 }]);
      first.record(2, 12, [{ t: 16, k: 404 }]);
      first.flush(2);
      first.close(); // nothing written: [0,10) 200=1 waits, final
      const second = open();
      second.pump();
      expect(sent.map(marked)).to.deep.equal(['[0,10) 200=1 final', '[10,20) 404=1 partial']);
    });
  });

  describe('late counts', () => {
    const late = (row: LateRow<number>) => `${show(row)} part ${row.part}`;

    it('counts each (window, key) an event was late for, in a part named after the event that started it', () => {
      const { lateSent, open } = setup({ maxLateCounts: 100, window: { windowDuration: 10, slideDuration: 5 } });
      const state = open();
      state.enter('running');
      state.record(1, 11, [{ t: 30, k: 200 }]); // watermark 25: windows ending by 25 are final
      state.record(2, 12, [{ t: 14, k: 200 }]); // late for [5,15) and [10,20)
      state.record(3, 13, [{ t: 8, k: 404 }]); // late for [0,10) and [5,15)
      state.record(4, 14, [{ t: 9, k: 404 }]); // again: the waiting rows take the newer counts
      state.pump();
      expect(lateSent.map(late)).to.deep.equal([
        '[5,15) 200=1 part 2',
        '[10,20) 200=1 part 2',
        '[0,10) 404=2 part 3',
        '[5,15) 404=2 part 3',
      ]);
      expect(lateSent.every((row) => row.final === true)).to.equal(true);
      expect([state.stats.pendingLateRows, state.backlog]).to.deep.equal([4, 4 + state.pendingRows]);
    });

    it('holds at most maxLateCounts; a (window, key) forgotten and late again starts a new part, never a smaller count', () => {
      const { lateSent, open } = setup({ maxLateCounts: 1 });
      const state = open();
      state.enter('running');
      state.record(1, 11, [{ t: 30, k: 200 }]);
      state.record(2, 12, [{ t: 1, k: 200 }]);
      state.record(3, 13, [{ t: 2, k: 404 }]); // pushes [0,10) 200 out
      state.record(4, 14, [{ t: 3, k: 200 }]); // late again: a new part, count 1
      state.pump();
      expect(lateSent.map(late)).to.deep.equal(['[0,10) 200=1 part 2', '[0,10) 404=1 part 3', '[0,10) 200=1 part 4']);
    });

    it('replays to the same parts and counts after a crash, and keeps them across a checkpoint', () => {
      const { lateSent, open } = setup({ maxLateCounts: 100 });
      const first = open();
      first.enter('running');
      const settleAll = (state: State) => {
        state.pump();
        for (const row of lateSent.splice(0)) state.lateRowSettled(row, true);
      };
      first.record(1, 11, [{ t: 30, k: 200 }]);
      first.record(2, 12, [{ t: 1, k: 200 }]);
      first.pump(); // [0,10) 200=1 part 2 goes out, unsettled at the checkpoint
      first.checkpoint();
      first.record(3, 13, [{ t: 2, k: 200 }]);
      first.flush(1);
      expect(first.stats.pendingLateRows).to.equal(1);
      crash(first); // the checkpoint and the journal line of message 3 are what is left
      const second = open();
      second.enter('running');
      expect(second.stats.pendingLateRows).to.equal(1);
      settleAll(second);
      second.record(4, 14, [{ t: 4, k: 200 }]);
      second.pump();
      // The same part, its count going on from the replayed 2: never a fresh count of 1.
      expect(lateSent.map(late)).to.deep.equal(['[0,10) 200=3 part 2']);
      second.lateRowSettled(lateSent[0]!, true);
      second.checkpoint();
      second.close();
      const third = open();
      third.enter('running');
      third.record(5, 15, [{ t: 5, k: 200 }]);
      third.pump();
      expect(lateSent.map(late)).to.deep.equal(['[0,10) 200=3 part 2', '[0,10) 200=4 part 2']);
    });

    it('reports late events as before, and keeps no late state when no late writer is given', () => {
      const { rejections, open } = setup();
      const state = open();
      state.enter('running');
      state.record(1, 11, [{ t: 30, k: 200 }]);
      state.record(2, 12, [{ t: 1, k: 200 }]);
      expect(rejections.map((r) => r.kind)).to.deep.equal(['late']);
      expect([state.stats.pendingLateRows, state.backlog]).to.deep.equal([0, state.pendingRows]);
    });
  });

  describe('phases and statistics', () => {
    it('moves through restoring, running, paused, stopping and closed, with a readiness for each', () => {
      const { open } = setup({ maxRowsInFlight: 1 });
      const state = open();
      expect([state.phase, state.taking]).to.deep.equal(['restoring', false]);
      expect(state.readiness()).to.deep.equal({ ready: false, reason: `restoring the saved state in ${dir}` });
      state.enter('running');
      expect([state.phase, state.taking]).to.deep.equal(['running', true]);
      expect(state.readiness()).to.deep.equal({ ready: true, reason: 'counting' });
      state.record(1, 11, [{ t: 1, k: 200 }]);
      state.record(2, 12, [{ t: 30, k: 200 }]);
      state.enter('paused');
      state.enter('paused');
      expect([state.phase, state.taking, state.stats.paused, state.stats.pauses]).to.deep.equal([
        'paused',
        false,
        true,
        1,
      ]);
      expect(state.readiness()).to.deep.equal({ ready: false, reason: 'intake paused: 1 rows wait for the writer' });
      state.enter('running');
      state.enter('paused');
      expect(state.stats.pauses).to.equal(2);
      state.enter('stopping');
      expect([state.phase, state.taking, state.stats.paused]).to.deep.equal(['stopping', false, false]);
      expect(state.readiness()).to.deep.equal({ ready: false, reason: 'stopping: writing the open windows' });
      state.close();
      state.enter('running');
      expect([state.phase, state.taking]).to.deep.equal(['closed', false]);
      expect(state.readiness()).to.deep.equal({ ready: false, reason: 'stopped' });
      state.close(); // twice: nothing more
    });

    it("reports its statistics in Prometheus's naming, histograms cumulative, _total counting this process only", () => {
      const { clock, sent, open } = setup({ maxRowsInFlight: 1 });
      const first = open();
      first.enter('running');
      clock.now = 10_000;
      const message = (id: number, events: Ev[]) => {
        expect(first.accept(id, id)).to.equal(true);
        first.record(id, id, events);
      };
      message(1, [{ t: 9_000, k: 200 }]); // 1 s from event to arrival
      message(2, [{ t: 9_500, k: 404 }]); // 0.5 s
      message(3, [{ t: 20_000, k: 200 }]); // from the future: 0 s; watermark 19 995 closes two windows
      message(4, [{ t: 9_001, k: 200 }]); // late, 0.999 s
      message(5, [{ t: Number.NaN, k: 200 }]); // unreadable: no delay
      expect(first.accept(1, 1)).to.equal(false);
      first.countRejection('payload');
      first.flush(5);
      first.pump();
      first.rowSettled(sent[0]!, true);
      first.pump();
      first.enter('paused');
      first.checkpoint();

      const statistics = first.statistics();
      const named = (statistic: Statistic) =>
        statistic.labels === undefined ? statistic.name : `${statistic.name}{kind=${statistic.labels['kind']}}`;
      for (const statistic of statistics) {
        expect(statistic.name).to.match(/^[a-z][a-z0-9_]*$/);
        expect(statistic.help).to.be.a('string').and.not.equal('');
        expect(statistic.name.endsWith('_total'), named(statistic)).to.equal(statistic.type === 'counter');
      }
      const scalars = (all: readonly Statistic[]) =>
        Object.fromEntries(
          all
            .filter((s) => s.type !== 'histogram' && s.name !== 'watermark_lag_seconds')
            .map((s) => [named(s), s.value]),
        );
      expect(scalars(statistics)).to.deep.equal({
        messages_total: 6,
        duplicate_messages_total: 1,
        events_counted_total: 3,
        'rejections_total{kind=payload}': 1,
        'rejections_total{kind=line}': 0,
        'rejections_total{kind=timestamp}': 1,
        'rejections_total{kind=future}': 0,
        'rejections_total{kind=late}': 1,
        'rejections_total{kind=message}': 0,
        'rejections_total{kind=row}': 0,
        'rejections_total{kind=queue-full}': 0,
        late_events_total: 1,
        late_rows_pending: 0,
        late_rows_written_total: 0,
        open_windows: 1,
        window_counts: 1,
        watermark_timestamp_seconds: 19.995,
        max_event_timestamp_seconds: 20,
        pending_rows: 1,
        rows_in_flight: 1,
        rows_written_total: 1,
        intake_paused: 1,
        intake_pauses_total: 1,
        state_directory_failing: 0,
        state_directory_failures_total: 0,
        journal_records: 0,
        checkpoints_total: 1,
        replayed_records: 0,
      });
      const lag = statistics.find((s) => s.name === 'watermark_lag_seconds');
      expect(lag?.type).to.equal('gauge');
      expect(lag?.value as number).to.be.closeTo((Date.now() - 19_995) / 1000, 60);

      const histogram = (name: string): HistogramValue => {
        const found = statistics.find((s) => s.name === name);
        expect(found?.type, name).to.equal('histogram');
        const value = found!.value as HistogramValue;
        expect(value.cumulativeCounts, name).to.have.length(value.bounds.length + 1);
        value.cumulativeCounts.forEach((count, i) => {
          if (i > 0) expect(count, `${name} is cumulative`).to.be.at.least(value.cumulativeCounts[i - 1]!);
        });
        expect(value.cumulativeCounts.at(-1), `${name}: the +Inf bucket is the count`).to.equal(value.count);
        return value;
      };
      const delay = histogram('event_delay_seconds');
      expect(delay.bounds).to.deep.equal(SECONDS_BOUNDS);
      // bounds 0.001 0.005 0.01 0.05 0.1 0.5 1 5 …: 0 in the first, 0.5 in ≤ 0.5, 0.999 and 1 in ≤ 1
      expect(delay.cumulativeCounts).to.deep.equal([1, 1, 1, 1, 1, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
      expect(delay.count).to.equal(4);
      expect(delay.sum).to.be.closeTo(2.499, 1e-9);
      const batch = histogram('acknowledgement_batch_size');
      expect(batch.bounds).to.deep.equal(SIZE_BOUNDS);
      expect(batch.cumulativeCounts).to.deep.equal([0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
      expect([batch.sum, batch.count]).to.deep.equal([5, 1]);
      expect(histogram('checkpoint_duration_seconds').count).to.equal(1);

      first.close();
      const second = open();
      second.enter('running');
      expect(second.stats.eventsCounted, 'the live stats continue').to.equal(3);
      expect(second.stats.lateEvents).to.equal(1);
      const again = scalars(second.statistics());
      expect(again).to.include({
        messages_total: 0,
        duplicate_messages_total: 0,
        events_counted_total: 0,
        'rejections_total{kind=payload}': 0,
        'rejections_total{kind=timestamp}': 0,
        'rejections_total{kind=late}': 0,
        late_events_total: 0,
        rows_written_total: 0,
        intake_pauses_total: 0,
        checkpoints_total: 0,
        open_windows: 1,
        pending_rows: 1,
        intake_paused: 0,
      });
      second.record(6, 6, [{ t: 20_001, k: 200 }]);
      expect(scalars(second.statistics())['events_counted_total']).to.equal(1);
    });

    it('reports no watermark before the first event (NaN), and every rejection kind at zero', () => {
      const { open } = setup();
      const state = open();
      const statistics = state.statistics();
      const value = (name: string) => statistics.find((s) => s.name === name)?.value;
      for (const name of ['watermark_timestamp_seconds', 'watermark_lag_seconds', 'max_event_timestamp_seconds'])
        expect(Number.isNaN(value(name)), name).to.equal(true);
      expect(
        statistics.filter((s) => s.name === 'rejections_total').map((s) => [s.labels?.['kind'], s.value]),
      ).to.deep.equal([
        ['payload', 0],
        ['line', 0],
        ['timestamp', 0],
        ['future', 0],
        ['late', 0],
        ['message', 0],
        ['row', 0],
        ['queue-full', 0],
      ]);
      const empty = statistics.find((s) => s.name === 'event_delay_seconds')!.value as HistogramValue;
      expect([empty.count, empty.sum, empty.cumulativeCounts.at(-1)]).to.deep.equal([0, 0, 0]);
    });
  });

  describe('advanceWatermark', () => {
    it('journals the advance (on disk at once) before it takes effect, and returns false when it would not move', () => {
      const { sent, open } = setup();
      const first = open();
      first.enter('running');
      first.record(1, 11, [{ t: 12, k: 200 }]); // watermark 7
      first.flush(1);
      expect(first.advanceWatermark(7)).to.equal(false);
      expect(first.advanceWatermark(3)).to.equal(false);
      expect(journal().split('\n')).to.have.length(2);
      expect(first.stats.journalRecords).to.equal(1);
      expect(first.advanceWatermark(25)).to.equal(true);
      expect(journal().split('\n').slice(1)).to.deep.equal(['{"q":2,"a":25}', '']);
      expect(first.stats.watermark).to.equal(25);
      first.pump();
      expect(sent.map(show)).to.deep.equal(['[10,20) 200=1']);
      crash(first);

      const second = open();
      expect(second.replayedRecords).to.equal(2);
      expect(second.stats.watermark).to.equal(25);
      expect(second.stats.openWindows).to.equal(0);
      expect(second.pendingRows).to.equal(1);
      second.close();
      // An advance that cannot be saved does not happen.
      expect(() => second.advanceWatermark(40)).to.throw(/the state directory .* is closed/);
      expect(second.stats.watermark).to.equal(25);
    });
  });
});
