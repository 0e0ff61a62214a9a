// The state directory failing under the real `aggregate` command, with the real Mosquitto
// (persistence) and the real Cassandra node: its --state-dir on a small tmpfs that the
// test fills with a file in the middle of a stream and then empties, or mounts read-only
// and then writable again. The aggregator must say once that intake paused and once that
// it resumed, and the table must match what was sent cell by cell: lost and
// double-counted events are reported separately, and both must be 0.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode } from '../support/cassandra.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';
import { waitFor } from '../support/waitFor.js';
import {
  aggregatorSuite,
  describeDifferences,
  scriptedEvents,
  sleep,
  startPublishing,
  type AggregatorProcess,
  type AggregatorRunner,
  type Publishing,
  type SentEvent,
} from './aggregatorHarness.js';

const START = Date.UTC(2026, 10, 30, 9, 0, 0);
/** Room for the state (a checkpoint is about 0.5 MB, written beside the last one) and little more. */
const TMPFS_BYTES = 4 * 1024 * 1024;

const PAUSED =
  /state directory (\S+): (.+?) \((E[A-Z]+)\); intake paused, nothing acknowledged since; resumes when it is writable/g;
const RESUMED = /state directory (\S+) writable again after [\d.]+ s: intake resumed/g;

describe('aggregator with a failing state directory (a real tmpfs, real Mosquitto, real Cassandra, the aggregate command)', function () {
  this.timeout(600_000);
  const suite = aggregatorSuite('statedir', CASSANDRA_START_TIMEOUT_MS, async () => {
    const node = await cassandraNode();
    return { client: new Client(node.clientOptions()), args: ['--cassandra', node.contactPoint] };
  });
  /** Undone in reverse order after the suite's aggregators are killed (its own after hook runs first). */
  const undo: (() => void)[] = [];
  after(() => {
    for (const step of undo.reverse()) step();
  });

  function tmpfs(): Tmpfs {
    const disk = mountTmpfs(TMPFS_BYTES);
    undo.push(() => disk.unmount());
    return disk;
  }

  const closeAndCompare = (table: string, events: readonly SentEvent[], caseName: string) =>
    suite.closeAndCompare(table, events, caseName);

  /** The pause and resume lines the aggregator printed. */
  function pauses(process: AggregatorProcess): { paused: string[][]; resumed: string[] } {
    const output = process.output();
    return {
      paused: [...output.matchAll(PAUSED)].map((match) => [match[1] as string, match[2] as string, match[3] as string]),
      resumed: [...output.matchAll(RESUMED)].map((match) => match[1] as string),
    };
  }

  /** A fault done to a running aggregator's state directory, and its undoing. */
  interface DirectoryFault {
    /** Names the case's aggregator, table and state directory. */
    readonly name: string;
    /** Makes the directory fail; returns words for the figures. */
    readonly fail: (disk: Tmpfs, stateDir: string) => string;
    /** Makes the directory writable again; does nothing the second time. */
    readonly heal: (disk: Tmpfs, stateDir: string) => void;
  }

  /**
   * Streams `count` events at 300 a second into an aggregator whose state directory is on
   * a fresh tmpfs, does `fault.fail` once `failAfter` were published, and waits for the
   * pause line. `heal` undoes the fault (also after the suite, if the case fails first).
   */
  async function streamThroughFault(
    fault: DirectoryFault,
    count: number,
    failAfter: number,
  ): Promise<{
    stateDir: string;
    table: string;
    events: SentEvent[];
    aggregator: AggregatorRunner;
    process: AggregatorProcess;
    publishing: Publishing;
    heal: () => void;
    what: string;
  }> {
    const disk = tmpfs();
    const stateDir = join(disk.path, fault.name);
    const table = `statedir_${fault.name}`;
    await suite.freshTable(table);
    const aggregator = suite.aggregator({ id: fault.name, table, stateDir, mode: 'append' });
    const process = await aggregator.start();
    const events = scriptedEvents(suite.lines, count, START, 10);
    const publishing = startPublishing(suite.publisher, events, 300);
    await publishing.reach(failAfter, 'publishing', 30_000);
    const failure = fault.fail(disk, stateDir);
    await waitFor(
      () => pauses(process).paused.length > 0,
      () => `the pause line; the aggregator's output:\n${process.output().slice(-3000)}`,
      30_000,
      50,
    );
    const heal = () => fault.heal(disk, stateDir);
    undo.push(heal);
    return {
      stateDir,
      table,
      events,
      aggregator,
      process,
      publishing,
      heal,
      what: `${failure} after ${publishing.sent()} published`,
    };
  }

  const full: DirectoryFault = {
    name: 'full',
    fail: (disk) =>
      `state directory full (a ${TMPFS_BYTES / 1024 / 1024} MiB tmpfs filled with ${(disk.fill() / 1024 / 1024).toFixed(1)} MiB)`,
    heal: (disk) => disk.empty(),
  };

  const readOnly: DirectoryFault = {
    name: 'readonly',
    fail: (disk, stateDir) => {
      // `mount -o remount,ro` of the file system is refused while the journal is open for writing.
      expect(() => disk.remount('ro')).to.throw(/busy/i);
      // A read-only mount of the directory over itself: every new file there is refused (the
      // checkpoint, due within 5 s, and the probe), the open journal is not.
      execFileSync('mount', ['--bind', stateDir, stateDir]);
      execFileSync('mount', ['-o', 'remount,bind,ro', stateDir]);
      return 'state directory read-only (remount,ro refused with EBUSY; a read-only bind mount over it)';
    },
    heal: (_disk, stateDir) => {
      if (spawnSync('mountpoint', ['-q', stateDir]).status === 0) execFileSync('umount', [stateDir]);
    },
  };

  for (const [fault, cause] of [
    [full, ['no space left', 'ENOSPC']],
    [readOnly, ['read-only file system', 'EROFS']],
  ] as const) {
    it(`pauses intake while the state directory is ${fault === full ? 'full (ENOSPC, short writes)' : 'read-only (EROFS)'} and resumes once it can be written: nothing lost, nothing counted twice`, async () => {
      const { stateDir, table, events, aggregator, process, publishing, heal, what } = await streamThroughFault(
        fault,
        3_000,
        800,
      );
      // The broker's session queues the messages meanwhile; the aggregator probes every second.
      await sleep(4_000);
      expect(process.child.exitCode, process.output()).to.equal(null);
      heal();
      await waitFor(
        () => pauses(process).resumed.length > 0,
        () => `the resume line:\n${process.output()}`,
        30_000,
        50,
      );
      await publishing.done;
      const comparison = await closeAndCompare(table, events, `${what}, writable again 4 s later`);
      expect(comparison, describeDifferences(comparison, process.output().slice(-3000))).to.include({
        lost: 0,
        doubled: 0,
      });
      const { paused, resumed } = pauses(process);
      expect(paused, 'one line when intake paused').to.deep.equal([[stateDir, ...cause]]);
      expect(resumed, 'one line when it resumed').to.deep.equal([stateDir]);
      expect(await aggregator.kill('SIGTERM'), process.output()).to.equal(0);
    });
  }

  /** After the aggregator ended while paused: room again, a restart, and the table must match. */
  async function restartWithRoom(run: Awaited<ReturnType<typeof streamThroughFault>>, what: string): Promise<void> {
    run.heal();
    await run.aggregator.start();
    await run.publishing.done;
    const comparison = await closeAndCompare(run.table, run.events, `${run.what}, ${what}, restarted with room`);
    expect(comparison, describeDifferences(comparison, run.aggregator.current().output().slice(-3000))).to.include({
      lost: 0,
      doubled: 0,
    });
    expect(await run.aggregator.kill('SIGTERM')).to.equal(0);
  }

  it('loses nothing when killed while the state directory is full and restarted once there is room', async () => {
    const run = await streamThroughFault({ ...full, name: 'killed' }, 2_000, 600);
    expect(await run.aggregator.kill('SIGKILL')).to.equal('SIGKILL');
    await restartWithRoom(run, 'SIGKILL while paused');
  });

  it('exits with status 1 naming the directory when stopped while it is full, and loses nothing once restarted with room', async () => {
    const run = await streamThroughFault({ ...full, name: 'stopped' }, 2_000, 600);
    expect(await run.aggregator.kill('SIGTERM'), run.process.output()).to.equal(1);
    expect(run.process.output()).to.include(`state directory ${run.stateDir}: no space left (ENOSPC)`);
    await restartWithRoom(run, 'SIGTERM while paused (status 1)');
  });
});
