// The durable core's state directory failing on a real file system: a tmpfs of a few
// pages that the test fills with a file (the kernel then answers a journal append with a
// short write and ENOSPC) and empties again, and a read-only mount of it (EROFS). What is
// checked: nothing is taken as written unless all of it was, the journal never keeps half
// a line, a failed checkpoint leaves the previous one and the journal valid, and after a
// retry the state in memory is exactly what a restart reads.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { countKind } from '../src/durable/durableWindowsKind.js';
import { DurableWindowsState } from '../src/durable/DurableWindowsState.js';
import { StateDirectoryError, isTransientStateDirectoryError } from '../src/durable/stateDirectoryError.js';
import { StateFiles } from '../src/durable/stateFiles.js';
import { resolveWindowSettings } from '../src/window/options.js';
import type { WindowRow } from '../src/index.js';
import { mountTmpfs, type Tmpfs } from './support/tmpfs.js';

interface Ev {
  readonly t: number;
  readonly k: number;
}

type State = DurableWindowsState<Ev, number>;

/** What a test's records carry: a sequence number and some text, to make the lines long. */
interface Line {
  readonly q: number;
  readonly text?: string;
}

const PAGE = 4096;

describe('state directory failures (a real tmpfs, filled and emptied)', () => {
  let disk: Tmpfs;
  let dir: string;
  let cleanups: (() => void)[];
  before(() => {
    // Room for a few checkpoints of the durable core (its packet-id table is about 400 KB).
    disk = mountTmpfs(2 * 1024 * 1024);
  });
  after(() => disk?.unmount());
  beforeEach(() => {
    dir = join(disk.path, `state-${Math.random().toString(36).slice(2)}`);
    cleanups = [];
  });
  afterEach(() => {
    for (const cleanup of cleanups.reverse()) {
      try {
        cleanup();
      } catch {
        /* closed already, or the test's own failure */
      }
    }
    disk.empty();
    rmSync(dir, { recursive: true, force: true });
    rmSync(`${dir}-reference`, { recursive: true, force: true });
  });

  const journalPath = () => join(dir, 'journal.log');

  function openFiles() {
    const opened = StateFiles.open<{ readonly sequence: number; readonly text?: string }, Line>(dir, 'process');
    cleanups.push(() => opened.files.close());
    return opened;
  }

  describe('the journal and the checkpoint', () => {
    it('takes a short write as a failure: the journal is cut back to its last complete line and the batch kept, then written whole', () => {
      const { files } = openFiles();
      files.append(JSON.stringify({ q: 1 }));
      files.flush();
      const before = readFileSync(journalPath());
      disk.fill();
      // The journal's page still has room: the kernel writes what fits there, then no more.
      const room = PAGE - (before.length % PAGE);
      const text = 'x'.repeat(90);
      for (let q = 2; q <= 101; q++) files.append(JSON.stringify({ q, text }));
      expect(100 * 110, 'the batch is longer than the room left in its page').to.be.greaterThan(room);
      expect(() => files.flush())
        .to.throw(StateDirectoryError, `state directory ${dir}: no space left (ENOSPC) writing the journal`)
        .with.property('transient', true);
      expect(readFileSync(journalPath()), 'the journal as it was: no half line').to.deep.equal(before);
      expect(files.unflushed, 'the batch is kept').to.equal(true);
      expect(() => files.flush(), 'still full').to.throw(StateDirectoryError, /ENOSPC/);
      expect(readFileSync(journalPath())).to.deep.equal(before);

      disk.empty();
      files.flush();
      expect(files.unflushed).to.equal(false);
      files.close();
      const { saved } = openFiles();
      expect(saved.records.map((record) => record.q)).to.deep.equal(Array.from({ length: 101 }, (_, i) => i + 1));
    });

    it('leaves the previous checkpoint, the journal and the batch as they were when a checkpoint cannot be written, with no temporary file', () => {
      const { files } = openFiles();
      files.append(JSON.stringify({ q: 1 }));
      files.checkpoint({ sequence: 1 });
      files.append(JSON.stringify({ q: 2 }));
      files.flush();
      files.append(JSON.stringify({ q: 3 }));
      const checkpointBefore = readFileSync(join(dir, 'checkpoint.json'), 'utf8');
      const journalBefore = readFileSync(journalPath(), 'utf8');
      disk.fill();
      expect(() => files.checkpoint({ sequence: 3, text: 'y'.repeat(64 * 1024) }))
        .to.throw(StateDirectoryError, `state directory ${dir}: no space left (ENOSPC) writing a checkpoint`)
        .with.property('code', 'ENOSPC');
      expect(readFileSync(join(dir, 'checkpoint.json'), 'utf8')).to.equal(checkpointBefore);
      expect(readFileSync(journalPath(), 'utf8')).to.equal(journalBefore);
      expect(readdirSync(dir).sort()).to.deep.equal(['checkpoint.json', 'journal.log', 'lock']);
      expect(files.unflushed, 'the record appended since is still to be written').to.equal(true);

      disk.empty();
      files.checkpoint({ sequence: 3 });
      expect(files.unflushed, 'the checkpoint holds it').to.equal(false);
      expect(readFileSync(journalPath(), 'utf8')).to.equal('');
    });

    it('probes with a page that it removes again, and fails the probe while the disk is full', () => {
      const { files } = openFiles();
      files.probe();
      expect(readdirSync(dir).sort()).to.deep.equal(['journal.log', 'lock']);
      disk.fill();
      expect(() => files.probe()).to.throw(StateDirectoryError, /no space left \(ENOSPC\) probing/);
      expect(readdirSync(dir).sort()).to.deep.equal(['journal.log', 'lock']);
    });

    it('fails a checkpoint with EROFS on a read-only mount of the directory, and writes it once the mount is writable again', () => {
      const { files } = openFiles();
      files.append(JSON.stringify({ q: 1 }));
      files.flush();
      // The directory mounted read-only over itself: new files there are refused (EROFS).
      execFileSync('mount', ['--bind', dir, dir]);
      cleanups.push(() => execFileSync('umount', [dir]));
      execFileSync('mount', ['-o', 'remount,bind,ro', dir]);
      files.append(JSON.stringify({ q: 2 }));
      expect(() => files.checkpoint({ sequence: 2 }))
        .to.throw(StateDirectoryError, `state directory ${dir}: read-only file system (EROFS) writing a checkpoint`)
        .with.property('transient', true);
      expect(() => files.probe()).to.throw(StateDirectoryError, /EROFS/);
      expect(files.unflushed).to.equal(true);
      execFileSync('mount', ['-o', 'remount,bind,rw', dir]);
      files.probe();
      files.checkpoint({ sequence: 2 });
      expect(JSON.parse(readFileSync(join(dir, 'checkpoint.json'), 'utf8'))).to.deep.equal({ sequence: 2 });
    });

    it('cannot be remounted read-only under a running aggregator: the kernel refuses while the journal is open for writing (EBUSY)', () => {
      const { files } = openFiles();
      expect(() => disk.remount('ro')).to.throw(/busy/i);
      files.close();
      // Closed, it can: a state directory on a read-only file system is refused at start.
      disk.remount('ro');
      try {
        expect(() => StateFiles.open(dir, 'process')).to.throw(/EROFS|read-only/);
      } finally {
        disk.remount('rw');
      }
    });

    it('ends on a failure that does not pass by itself: the directory removed (ENOENT)', () => {
      const { files } = openFiles();
      rmSync(dir, { recursive: true });
      let failure: unknown;
      try {
        files.checkpoint({ sequence: 0 });
      } catch (error) {
        failure = error;
      }
      expect(failure).to.be.instanceOf(StateDirectoryError).and.include({ code: 'ENOENT', transient: false });
      expect(isTransientStateDirectoryError(failure)).to.equal(false);
      mkdirSync(dir);
    });

    it('takes ENOSPC, EDQUOT, EROFS and EIO as failures that may pass, and nothing else', () => {
      const failing = (code: string) =>
        new StateDirectoryError({
          directory: '/x',
          operation: 'writing the journal',
          cause: Object.assign(new Error(code), { code }),
        });
      expect(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO'].map((code) => failing(code).transient)).to.deep.equal([
        true,
        true,
        true,
        true,
      ]);
      expect(['ENOENT', 'EACCES', 'EPERM', 'EBADF', 'ENOTDIR'].map((code) => failing(code).transient)).to.deep.equal([
        false,
        false,
        false,
        false,
        false,
      ]);
      expect(failing('EIO').message).to.equal('state directory /x: input/output error (EIO) writing the journal');
    });
  });

  describe('the durable core', () => {
    const settings = resolveWindowSettings<Ev, number>({
      eventTime: (event) => event.t,
      key: (event) => event.k,
      windowDuration: 10,
      watermarkDelay: 5,
    });
    function open(): State {
      const state = DurableWindowsState.open<Ev, number, WindowRow<number>>({
        kind: countKind(),
        stateDirectory: dir,
        durability: 'process',
        settings,
        maxRowsInFlight: 32,
        checkpointEvery: 100_000,
        now: () => 1_000,
        sendRow: () => undefined,
        onReject: () => undefined,
        strict: false,
      });
      cleanups.push(() => state.close());
      state.enter('running');
      return state;
    }
    /** Message `id`'s events: three, in windows that stay open. */
    const eventsOf = (id: number): Ev[] => [0, 1, 2].map((i) => ({ t: 1_000_000 + ((id * 3 + i) % 50), k: 200 + i }));
    const digestOf = (id: number) => 0x10000 + id;
    const counts = (state: State) =>
      state.stats
        .openRows()
        .map((row) => `${(row as WindowRow<number>).windowStart.getTime()}/${String(row.key)}=${row.count}`)
        .sort();
    /** Takes messages `from`..`to` as durableWindowedCount does: accepted, recorded, flushed as one batch. */
    function take(state: State, from: number, to: number): void {
      for (let id = from; id <= to; id++) {
        if (state.accept(id, digestOf(id))) state.record(id, digestOf(id), eventsOf(id));
      }
      state.flush(to - from + 1);
    }
    /** The same messages into a state that never failed, in a directory of its own. */
    function reference(ids: readonly [number, number][]): string[] {
      const saved = dir;
      dir = `${saved}-reference`;
      try {
        const state = open();
        for (const [from, to] of ids) take(state, from, to);
        return counts(state);
      } finally {
        dir = saved;
      }
    }

    it('keeps what it could not save, and after the retry holds exactly what a restart reads: the redelivery is recognised', () => {
      const state = open();
      take(state, 1, 40);
      disk.fill();
      let failure: unknown;
      try {
        take(state, 41, 80);
      } catch (error) {
        failure = error;
      }
      expect(isTransientStateDirectoryError(failure), String(failure)).to.equal(true);
      state.savingFailed(failure as StateDirectoryError);
      state.enter('paused');
      expect(state.readiness()).to.deep.equal({
        ready: false,
        reason: `intake paused: state directory ${dir}: no space left (ENOSPC) writing the journal; nothing acknowledged since`,
      });
      const statistic = (name: string) => state.statistics().find((s) => s.name === name)?.value;
      expect([statistic('state_directory_failing'), statistic('state_directory_failures_total')]).to.deep.equal([1, 1]);
      expect(state.retrySaving(), 'still full').to.equal(false);
      expect(statistic('state_directory_failures_total'), 'one failure, however many retries').to.equal(1);

      disk.empty();
      expect(state.retrySaving()).to.equal(true);
      expect(statistic('state_directory_failing')).to.equal(0);
      // The broker sends 41..80 again (their PUBACKs never left): saved now, so recognised.
      expect(state.accept(41, digestOf(41))).to.equal(false);
      take(state, 41, 90);
      const inMemory = counts(state);
      expect(inMemory).to.deep.equal(reference([[1, 90]]));
      state.close();
      expect(counts(open()), 'what a restart reads').to.deep.equal(inMemory);
    });

    it('loses nothing when the process dies while the directory is full: the restart counts the unsaved messages once, when the broker sends them again', () => {
      const state = open();
      take(state, 1, 40);
      disk.fill();
      expect(() => take(state, 41, 80)).to.throw(StateDirectoryError);
      // Dies: close() cannot save either, and says so.
      expect(() => state.close()).to.throw(StateDirectoryError, /ENOSPC/);
      disk.empty();
      const restarted = open();
      take(restarted, 41, 90);
      expect(counts(restarted)).to.deep.equal(reference([[1, 90]]));
    });

    it('does not move the watermark when its journal line cannot be written', () => {
      // Filled before the journal has a page: its first line finds no room at all.
      const state = open();
      disk.fill();
      expect(() => state.advanceWatermark(2_000_000)).to.throw(StateDirectoryError, /ENOSPC/);
      expect(state.stats.watermark).to.equal(undefined);
      state.savingFailed(
        new StateDirectoryError({ directory: dir, operation: 'writing the journal', cause: { code: 'ENOSPC' } }),
      );
      disk.empty();
      expect(state.retrySaving()).to.equal(true);
      state.close();
      expect(open().stats.watermark, 'nor after a restart').to.equal(undefined);
    });
  });
});
