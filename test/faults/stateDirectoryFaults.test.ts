// The state directory failing under the real `aggregate` command, with the real Mosquitto
// (persistence) and the real Cassandra node: its --state-dir on a small tmpfs that the
// test fills with a file in the middle of a stream and then empties, or mounts read-only
// and then writable again. The aggregator must say once that intake paused and once that
// it resumed, and the table must match what was sent cell by cell: lost and
// double-counted events are reported separately, and both must be 0.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode } from '../support/cassandra.js';
import { mountTmpfs, type Tmpfs } from '../support/tmpfs.js';
import { waitFor } from '../support/waitFor.js';
import {
  aggregatorSuite,
  describeDifferences,
  expectedCounts,
  scriptedEvents,
  settledComparison,
  sleep,
  startPublishing,
  type AggregatorProcess,
  type Comparison,
  type SentEvent,
} from './aggregatorHarness.js';

const START = Date.UTC(2026, 10, 30, 9, 0, 0);
/** Room for the state (a checkpoint is about 0.5 MB, written beside the last one) and little more. */
const TMPFS_BYTES = 4 * 1024 * 1024;
/** Every case's figures, printed at the end (the fault table of docs/durability.md). */
const figures: string[] = [];

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
    if (figures.length > 0)
      process.stdout.write(
        `\n      state directory figures:\n${figures.map((line) => `        ${line}`).join('\n')}\n`,
      );
  });

  function tmpfs(): Tmpfs {
    const disk = mountTmpfs(TMPFS_BYTES);
    undo.push(() => disk.unmount());
    return disk;
  }

  async function closeAndCompare(table: string, events: readonly SentEvent[], caseName: string): Promise<Comparison> {
    const before = await suite.closeWindows(events);
    const comparison = await settledComparison(suite.cassandra, table, expectedCounts(events), before);
    figures.push(
      `${caseName}: sent ${comparison.expected}, counted ${comparison.counted}, lost ${comparison.lost}, double-counted ${comparison.doubled}`,
    );
    return comparison;
  }

  /** The pause and resume lines the aggregator printed. */
  function pauses(process: AggregatorProcess): { paused: string[][]; resumed: string[] } {
    const output = process.output();
    return {
      paused: [...output.matchAll(PAUSED)].map((match) => [match[1] as string, match[2] as string, match[3] as string]),
      resumed: [...output.matchAll(RESUMED)].map((match) => match[1] as string),
    };
  }

  it('pauses intake while the state directory is full (ENOSPC, short writes) and resumes once there is room: nothing lost, nothing counted twice', async () => {
    const disk = tmpfs();
    const stateDir = join(disk.path, 'full');
    const table = 'statedir_full';
    await suite.freshTable(table);
    const aggregator = suite.aggregator({ id: 'full', table, stateDir, mode: 'append' });
    const process = await aggregator.start();
    const events = scriptedEvents(suite.lines, 3_000, START, 10);
    const publishing = startPublishing(suite.publisher, events, 300);
    await publishing.reach(800, 'publishing', 30_000);
    const taken = disk.fill();
    await waitFor(
      () => pauses(process).paused.length > 0,
      () => `the pause line; the aggregator's output:\n${process.output().slice(-3000)}`,
      30_000,
      50,
    );
    const pausedAt = publishing.sent();
    // The broker's session queues the messages meanwhile; the aggregator probes every second.
    await sleep(4_000);
    expect(process.child.exitCode, process.output()).to.equal(null);
    disk.empty();
    await waitFor(
      () => pauses(process).resumed.length > 0,
      () => `the resume line:\n${process.output()}`,
      30_000,
      50,
    );
    await publishing.done;
    const comparison = await closeAndCompare(
      table,
      events,
      `state directory full (a ${TMPFS_BYTES / 1024 / 1024} MiB tmpfs filled with ${(taken / 1024 / 1024).toFixed(1)} MiB after ${pausedAt} published), freed 4 s later`,
    );
    expect(comparison, describeDifferences(comparison, process.output().slice(-3000))).to.include({
      lost: 0,
      doubled: 0,
    });
    const { paused, resumed } = pauses(process);
    expect(paused, 'one line when intake paused').to.deep.equal([[stateDir, 'no space left', 'ENOSPC']]);
    expect(resumed, 'one line when it resumed').to.deep.equal([stateDir]);
    expect(await aggregator.kill('SIGTERM'), process.output()).to.equal(0);
  });

  it('pauses intake while the state directory is read-only (EROFS) and resumes once it is writable again: nothing lost, nothing counted twice', async () => {
    const disk = tmpfs();
    const stateDir = join(disk.path, 'readonly');
    const table = 'statedir_readonly';
    await suite.freshTable(table);
    const aggregator = suite.aggregator({ id: 'readonly', table, stateDir, mode: 'append' });
    const process = await aggregator.start();
    const events = scriptedEvents(suite.lines, 3_000, START, 10);
    const publishing = startPublishing(suite.publisher, events, 300);
    await publishing.reach(800, 'publishing', 30_000);
    // `mount -o remount,ro` of the file system is refused while the journal is open for writing.
    expect(() => disk.remount('ro')).to.throw(/busy/i);
    // A read-only mount of the directory over itself: every new file there is refused (the
    // checkpoint, due within 5 s, and the probe), the open journal is not.
    execFileSync('mount', ['--bind', stateDir, stateDir]);
    let bound = true;
    const unbind = () => {
      if (bound) execFileSync('umount', [stateDir]);
      bound = false;
    };
    undo.push(unbind);
    execFileSync('mount', ['-o', 'remount,bind,ro', stateDir]);
    await waitFor(
      () => pauses(process).paused.length > 0,
      () => `the pause line; the aggregator's output:\n${process.output().slice(-3000)}`,
      30_000,
      50,
    );
    const pausedAt = publishing.sent();
    await sleep(4_000);
    expect(process.child.exitCode, process.output()).to.equal(null);
    unbind();
    await waitFor(
      () => pauses(process).resumed.length > 0,
      () => `the resume line:\n${process.output()}`,
      30_000,
      50,
    );
    await publishing.done;
    const comparison = await closeAndCompare(
      table,
      events,
      `state directory read-only (after ${pausedAt} published), writable 4 s later`,
    );
    expect(comparison, describeDifferences(comparison, process.output().slice(-3000))).to.include({
      lost: 0,
      doubled: 0,
    });
    const { paused, resumed } = pauses(process);
    expect(paused, 'one line when intake paused').to.deep.equal([[stateDir, 'read-only file system', 'EROFS']]);
    expect(resumed, 'one line when it resumed').to.deep.equal([stateDir]);
    expect(await aggregator.kill('SIGTERM'), process.output()).to.equal(0);
  });

  it('loses nothing when killed while the state directory is full and restarted once there is room', async () => {
    const disk = tmpfs();
    const stateDir = join(disk.path, 'killed');
    const table = 'statedir_killed';
    await suite.freshTable(table);
    const aggregator = suite.aggregator({ id: 'killed', table, stateDir, mode: 'append' });
    const process = await aggregator.start();
    const events = scriptedEvents(suite.lines, 2_000, START, 8);
    const publishing = startPublishing(suite.publisher, events, 300);
    await publishing.reach(600, 'publishing', 30_000);
    disk.fill();
    await waitFor(
      () => pauses(process).paused.length > 0,
      () => `the pause line:\n${process.output()}`,
      30_000,
      50,
    );
    const pausedAt = publishing.sent();
    expect(await aggregator.kill('SIGKILL')).to.equal('SIGKILL');
    disk.empty();
    await aggregator.start();
    await publishing.done;
    const comparison = await closeAndCompare(
      table,
      events,
      `state directory full (after ${pausedAt} published), SIGKILL while paused, restarted with room`,
    );
    expect(comparison, describeDifferences(comparison, aggregator.current().output().slice(-3000))).to.include({
      lost: 0,
      doubled: 0,
    });
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
  });
});
