// The aggregate command writing to a real three-node Cassandra cluster (keyspace with
// NetworkTopologyStrategy, replication 3, writes at LOCAL_QUORUM), while a QoS 1
// publisher streams corpus lines with scripted event times: one node SIGKILLed and
// restarted mid-stream, then two of three nodes down. The table is read at QUORUM and
// compared cell by cell with what was sent; lost and double-counted events apart.
import { expect } from 'chai';
import { waitFor } from '../support/waitFor.js';
import {
  aggregateSummary,
  aggregatorSuite,
  describeDifferences,
  expectedCounts,
  publishEvents,
  scriptedEvents,
  settledComparison,
  sinkOutages,
  sleep,
  startPublishing,
  type AggregatorProcess,
  type Comparison,
  type SentEvent,
} from '../faults/aggregatorHarness.js';
import { CLUSTER_START_TIMEOUT_MS, cassandraCluster, type CassandraCluster } from './cassandraCluster.js';
import { figures } from './figures.js';

const START = Date.UTC(2026, 10, 30, 9, 0, 0);

describe('aggregate on a three-node Cassandra cluster (replication 3, LOCAL_QUORUM writes, QUORUM reads)', function () {
  this.timeout(900_000);
  let cluster: CassandraCluster;
  const suite = aggregatorSuite('cluster', CLUSTER_START_TIMEOUT_MS, async () => {
    cluster = await cassandraCluster();
    return cluster.access();
  });
  const { lines } = suite;

  /** One event an hour after the last, so every window before it is final; then the table read at QUORUM. */
  async function closeAndCompare(table: string, events: readonly SentEvent[]): Promise<Comparison> {
    const before = await suite.closeWindows(events);
    return settledComparison(suite.cassandra, table, expectedCounts(events), before, 20_000, 300_000);
  }

  const explain = (comparison: Comparison, process: AggregatorProcess) =>
    describeDifferences(comparison, `aggregator output:\n${process.output().slice(-4000)}`);

  it('loses nothing and counts nothing twice when a node is SIGKILLed mid-stream and restarted, and the sink never errors', async () => {
    const aggregator = await suite.caseAggregator('node_kill', 'update');
    const process = await aggregator.start();
    const events = scriptedEvents(lines, 12_000, START, 40);
    const streamStart = Date.now();
    const publishing = startPublishing(suite.publisher, events, 150);
    const killedAt = await publishing.reach(3_000, 'a quarter of the stream', 60_000);
    await cluster.killNode(1);
    const downSince = Date.now();
    await sleep(5_000);
    const restartMs = await cluster.startNode(1);
    const downForMs = Date.now() - downSince;
    const restartedAt = publishing.sent();
    await publishing.done;
    const streamMs = Date.now() - streamStart;
    const comparison = await closeAndCompare(aggregator.table, events);
    expect(comparison, explain(comparison, process)).to.include({ lost: 0, doubled: 0 });
    expect(process.child.exitCode, `the aggregator kept running:\n${process.output()}`).to.equal(null);
    expect(process.output(), 'no write error').to.not.match(/CassandraWriteError|failed:|giving up/);
    const outages = sinkOutages(process.output());
    expect(outages.started, 'every outage the sink reported also ended').to.equal(outages.ended);
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
    const summary = aggregateSummary(process.output());
    figures.push(
      `node 1 SIGKILLed after ${killedAt} of ${events.length} published, back after ${(downForMs / 1000).toFixed(0)} s ` +
        `(its restart ${(restartMs / 1000).toFixed(1)} s; ${restartedAt} published by then); stream ${(streamMs / 1000).toFixed(0)} s: ` +
        `sent ${comparison.expected}, counted ${comparison.counted}, lost ${comparison.lost}, double-counted ${comparison.doubled}; ` +
        `sink outages ${outages.started}, retries ${outages.retries}${outages.causes.length > 0 ? ` (${outages.causes.join('; ')})` : ''}; rows written ${summary['rows written'] ?? '?'}`,
    );
  });

  it('stops taking messages while two of three nodes are down, says why, and ends exact once one is back', async () => {
    // Few rows may wait, so the outage stops intake soon: the broker's session queues the rest.
    const aggregator = await suite.caseAggregator('quorum_lost', 'append', ['--max-pending-rows', '40']);
    const process = await aggregator.start();
    const events = scriptedEvents(lines, 4_000, START, 120);
    await publishEvents(suite.publisher, events.slice(0, 500), 100);
    await cluster.killNode(2);
    await cluster.stopNode(3);
    const outageStart = Date.now();
    // 50 s of event time moving on: windows close, their rows cannot reach two replicas.
    await publishEvents(suite.publisher, events.slice(500, 3_000), 50);
    await waitFor(
      () => /not taking messages until they are written/.test(process.output()),
      () => `intake to stop; output:\n${process.output()}`,
      120_000,
    );
    const stalled = sinkOutages(process.output());
    expect(stalled.started, `the sink reported the outage:\n${process.output()}`).to.be.at.least(1);
    expect(stalled.causes.join('\n'), 'the cause names the consistency Cassandra could not reach').to.match(
      /LOCAL_QUORUM|localQuorum|Cannot achieve consistency|Unavailable|timeout/i,
    );
    expect(process.child.exitCode, `the aggregator waits instead of failing:\n${process.output()}`).to.equal(null);
    const restartMs = await cluster.startNode(2);
    const outageMs = Date.now() - outageStart;
    await waitFor(
      () =>
        /rows written again \(\d+ waiting\): taking messages/.test(
          process.output().split('not taking messages until they are written').at(-1) ?? '',
        ),
      () => `intake to resume; output:\n${process.output()}`,
      180_000,
    );
    await publishEvents(suite.publisher, events.slice(3_000), 100);
    const comparison = await closeAndCompare(aggregator.table, events);
    // The third node comes back while the table is read, so the next file has three again.
    await cluster.startNode(3);
    expect(comparison, explain(comparison, process)).to.include({ lost: 0, doubled: 0 });
    expect(process.output(), 'no write error').to.not.match(/CassandraWriteError|giving up/);
    const outages = sinkOutages(process.output());
    expect(outages.ended, 'the sink said when writes worked again').to.be.at.least(1);
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
    const waits = process.output().match(/(\d+) rows wait for Cassandra: not taking messages/g) ?? [];
    figures.push(
      `nodes 2 (SIGKILL) and 3 (SIGTERM) down ${(outageMs / 1000).toFixed(0)} s (node 2 restart ${(restartMs / 1000).toFixed(1)} s): ` +
        `sent ${comparison.expected}, counted ${comparison.counted}, lost ${comparison.lost}, double-counted ${comparison.doubled}; ` +
        `intake stopped ${waits.length}×; sink outages ${outages.started}, lasting ${outages.durations.map((s) => `${s} s`).join(', ')}, ` +
        `retries ${outages.retries}; cause: ${outages.causes[0]?.slice(0, 160) ?? '?'}`,
    );
  });
});
