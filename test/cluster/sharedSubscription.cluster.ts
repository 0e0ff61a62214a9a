// Three `aggregate` processes on one MQTT 5 shared subscription ($share/<group>/…),
// each with its own --aggregator-id and --state-dir, writing partial counts to the
// three-node cluster at LOCAL_QUORUM; readWindowTotals sums them (read at QUORUM).
// One aggregator is SIGKILLed mid-stream and restarted: the totals stay exact. Then
// what per-aggregator watermarks do to late data, on the real broker: Mosquitto hands
// a shared subscription's messages round robin, so three consecutive messages reach
// the three aggregators, whatever the rotation's starting point.
import { expect } from 'chai';
import { join } from 'node:path';
import { countAsOneAggregator } from '../support/oneAggregator.js';
import {
  MINUTE,
  aggregateSummary,
  aggregatorSuite,
  compareTable,
  describeDifferences,
  expectedCounts,
  publishEvents,
  scriptedEvents,
  settledComparison,
  sleep,
  startPublishing,
  type AggregatorRunner,
  type Comparison,
  type SentEvent,
} from '../faults/aggregatorHarness.js';
import { CLUSTER_START_TIMEOUT_MS, cassandraCluster } from './cassandraCluster.js';
import { figures } from './figures.js';

const START = Date.UTC(2026, 10, 30, 10, 0, 0);
const AGGREGATORS = ['a1', 'a2', 'a3'] as const;

describe('three aggregators on one shared subscription, writing partials to the cluster', function () {
  this.timeout(900_000);
  const suite = aggregatorSuite('shared', CLUSTER_START_TIMEOUT_MS, async () => (await cassandraCluster()).access());
  const { lines } = suite;

  /**
   * Three aggregators on a shared subscription of their own, all subscribed before
   * anything is published. Its own group: the sessions of a case's aggregators outlive
   * them (persistent), and the broker would go on dealing them their share.
   */
  async function sharedAggregators(
    name: string,
    extra: string[] = [],
  ): Promise<{ table: string; aggregators: AggregatorRunner[] }> {
    const table = `shared_${name}`;
    await suite.freshTable(table);
    const aggregators = AGGREGATORS.map((id) =>
      suite.aggregator({
        id: `${name}-${id}`,
        table,
        stateDir: join(suite.workDir, name, id),
        mode: 'append',
        shareGroup: `counters-${name}`,
        extra,
      }),
    );
    for (const aggregator of aggregators) await aggregator.start();
    return { table, aggregators };
  }

  /**
   * Closes every aggregator's windows: each needs an event past them, and a shared
   * subscription gives one event to one aggregator, so send one per aggregator, twice over.
   */
  async function closeAll(events: readonly SentEvent[]): Promise<number> {
    return suite.closeWindows(events, 2 * AGGREGATORS.length);
  }

  async function stopAll(aggregators: readonly AggregatorRunner[]): Promise<Record<string, number>[]> {
    const codes = await Promise.all(aggregators.map((aggregator) => aggregator.kill('SIGTERM')));
    expect(codes).to.deep.equal(aggregators.map(() => 0));
    return aggregators.map((aggregator) => aggregateSummary(aggregator.current().output()));
  }

  const outputs = (aggregators: readonly AggregatorRunner[]) =>
    aggregators
      .map(
        (aggregator, i) =>
          `--- ${AGGREGATORS[i]}:\n${aggregator.processes.map((process) => process.output().slice(-1500)).join('\n(restart)\n')}`,
      )
      .join('\n');
  const explain = (comparison: Comparison, aggregators: readonly AggregatorRunner[]) =>
    describeDifferences(comparison, outputs(aggregators));

  it('sums the partials to the exact totals when one of the three is SIGKILLed mid-stream and restarted', async () => {
    const { table, aggregators } = await sharedAggregators('kill');
    const events = scriptedEvents(lines, 9_000, START, 30);
    const started = Date.now();
    const publishing = startPublishing(suite.publisher, events, 300);
    const killedAt = await publishing.reach(3_000, 'a third of the stream', 60_000);
    expect(await aggregators[1]!.kill('SIGKILL')).to.equal('SIGKILL');
    await sleep(1_000);
    await aggregators[1]!.start();
    await publishing.done;
    const streamMs = Date.now() - started;
    const before = await closeAll(events);
    const comparison = await settledComparison(suite.cassandra, table, expectedCounts(events), before, 20_000, 300_000);
    expect(comparison, explain(comparison, aggregators)).to.include({ lost: 0, doubled: 0 });
    const summaries = await stopAll(aggregators);
    // Each process's own count since it started; the killed one's first life is in its journal, not here.
    const received = summaries.map((summary) => summary['received'] ?? 0);
    figures.push(
      `3 aggregators, a2 SIGKILLed after ${killedAt} of ${events.length} published and restarted: sent ${comparison.expected}, ` +
        `counted ${comparison.counted}, lost ${comparison.lost}, double-counted ${comparison.doubled}; stream ${(streamMs / 1000).toFixed(0)} s; ` +
        `received since (re)start: ${received.join(' / ')}`,
    );
  });

  it('counts late data as one aggregator does unless the late event reaches an aggregator whose own watermark is behind', async () => {
    const { table, aggregators } = await sharedAggregators('late', ['--verbose']);
    const status = (line: string) => Number(/" (\d{3}) /.exec(line)?.[1]);
    const event = (time: number, line = lines[1] as string): SentEvent => ({ time, line, status: status(line) });
    const base = scriptedEvents(lines, 600, START, 5);
    // Three events at +20 min: one reaches each aggregator, so every watermark is +18 min;
    // three at +1 min after them are late for all three, as for one aggregator: dropped.
    const lateEverywhere = [...Array(3)]
      .map(() => event(START + 20 * MINUTE))
      .concat([...Array(3)].map(() => event(START + MINUTE, lines[2])));
    // One event at +40 min reaches one aggregator (watermark +38 min); the two at +25 min
    // after it reach the other two, whose watermark is +18 min: on time there. One
    // aggregator (watermark +38 min) would drop them.
    const lateForOne = [
      event(START + 40 * MINUTE),
      event(START + 25 * MINUTE, lines[3]),
      event(START + 25 * MINUTE, lines[3]),
    ];
    const events = [...base, ...lateEverywhere, ...lateForOne];
    await publishEvents(suite.publisher, base, 300);
    await publishEvents(suite.publisher, lateEverywhere, 1_000);
    await publishEvents(suite.publisher, lateForOne, 1_000);
    const before = await closeAll(events);

    const single = countAsOneAggregator(
      events,
      (sent) => sent.time,
      (sent) => sent.status,
    ).counts;
    const expected = new Map(single);
    const graceCell = `${START + 25 * MINUTE}/${status(lines[3] as string)}`;
    expected.set(graceCell, (expected.get(graceCell) ?? 0) + 2);
    const comparison = await settledComparison(suite.cassandra, table, expected, before, 20_000, 300_000);
    expect(comparison, explain(comparison, aggregators)).to.include({ lost: 0, doubled: 0 });
    // Against one aggregator: the same everywhere but the two events of the +25 min window.
    const againstSingle = await compareTable(suite.cassandra, table, single, before);
    expect(againstSingle.differences).to.deep.equal([
      `${new Date(START + 25 * MINUTE).toISOString()} status ${status(lines[3] as string)}: 2 (sent 0)`,
    ]);
    const summaries = await stopAll(aggregators);
    const late = summaries.map((summary) => summary['late'] ?? 0);
    expect(
      late.reduce((a, b) => a + b, 0),
      `late reported by the three: ${late.join(', ')}`,
    ).to.equal(3);
    figures.push(
      `late data, 3 aggregators: ${events.length} events; 3 late everywhere, dropped by all (late per aggregator ${late.join(' / ')}); ` +
        `2 late for one aggregator's watermark, counted by the two whose watermark was behind (one aggregator: 5 late, 0 counted there)`,
    );
  });
});
