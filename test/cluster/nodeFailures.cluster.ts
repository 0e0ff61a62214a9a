// The aggregate command writing to a real three-node Cassandra cluster (keyspace with
// NetworkTopologyStrategy, replication 3, writes at LOCAL_QUORUM), while a QoS 1
// publisher streams corpus lines with scripted event times: one node SIGKILLed and
// restarted mid-stream, then two of three nodes down. The table is read at QUORUM and
// compared cell by cell with what was sent; lost and double-counted events apart.
import { expect } from 'chai';
import { Client, types } from 'cassandra-driver';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { encodeIotPayload, ensureWindowCountTable, makeIotPayload } from '../../src/index.js';
import { corpusLines } from '../support/corpora.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { closeClients, testClient } from '../support/mqttHelpers.js';
import { waitFor } from '../support/waitFor.js';
import {
  MINUTE,
  TOPIC,
  aggregateSummary,
  aggregatorRunner,
  expectedCounts,
  publishEvents,
  scriptedEvents,
  settledComparison,
  sinkOutages,
  sleep,
  type AggregatorProcess,
  type AggregatorRunner,
  type Comparison,
  type SentEvent,
} from '../faults/aggregatorHarness.js';
import { CLUSTER_START_TIMEOUT_MS, cassandraCluster, type CassandraCluster } from './cassandraCluster.js';
import { figures } from './figures.js';

const START = Date.UTC(2026, 10, 30, 9, 0, 0);

describe('aggregate on a three-node Cassandra cluster (replication 3, LOCAL_QUORUM writes, QUORUM reads)', function () {
  this.timeout(900_000);
  let cluster: CassandraCluster;
  let broker: Mosquitto;
  let cassandra: Client;
  let publisher: MqttClient;
  let workDir: string;
  const lines = corpusLines('elastic');
  const runners: AggregatorRunner[] = [];

  before(async function () {
    this.timeout(CLUSTER_START_TIMEOUT_MS);
    cluster = await cassandraCluster();
    // The test reads at QUORUM: two of three replicas answer, so a read sees every write
    // that LOCAL_QUORUM acknowledged, whichever node is down.
    cassandra = new Client(cluster.clientOptions({ queryOptions: { consistency: types.consistencies.quorum } }));
    await cassandra.execute(
      `CREATE KEYSPACE IF NOT EXISTS hyper WITH replication = {'class': 'NetworkTopologyStrategy', '${cluster.datacenter}': 3}`,
    );
    broker = await startMosquitto({
      persistence: true,
      extraConfig: ['max_queued_messages 1000000', 'autosave_interval 5'],
    });
    publisher = await testClient(broker.url, { clientId: 'cluster-publisher', reconnectPeriod: 200 });
    workDir = mkdtempSync(join(tmpdir(), 'cluster-'));
  });
  after(async () => {
    for (const runner of runners) for (const process of runner.processes) process.child.kill('SIGKILL');
    await closeClients();
    await cassandra?.shutdown();
    await broker?.dispose();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  /** One aggregator writing to the cluster at LOCAL_QUORUM; its table fresh. */
  async function aggregatorFor(
    name: string,
    mode: 'append' | 'update',
    extra: string[] = [],
  ): Promise<AggregatorRunner & { table: string }> {
    const table = `cluster_${name}`;
    await cassandra.execute(`DROP TABLE IF EXISTS hyper.${table}`);
    await ensureWindowCountTable(cassandra, { table });
    const runner = aggregatorRunner(
      broker,
      [
        '--broker',
        broker.url,
        '--topic',
        TOPIC,
        '--cassandra',
        cluster.contactPoints,
        '--datacenter',
        cluster.datacenter,
        '--consistency',
        'LOCAL_QUORUM',
        '--keyspace',
        'hyper',
        '--table',
        table,
        '--aggregator-id',
        name,
        '--state-dir',
        join(workDir, name),
        '--idle-advance',
        '0',
        '--max-event-time-ahead',
        'off',
        '--output-mode',
        mode,
        '--format',
        'json',
        '--session-expiry',
        '600',
        ...extra,
      ],
      `mqtt-iot-stream-aggregator-${name}`,
      TOPIC,
    );
    runners.push(runner);
    return Object.assign(runner, { table });
  }

  /** One event an hour after the last, so every window before it is final; then the table read at QUORUM. */
  async function closeAndCompare(table: string, events: readonly SentEvent[]): Promise<Comparison> {
    const closing = Math.max(...events.map((event) => event.time)) + 60 * MINUTE;
    await publisher.publishAsync(TOPIC, encodeIotPayload(makeIotPayload(lines[0] as string, new Date(closing))), {
      qos: 1,
    });
    return settledComparison(cassandra, table, expectedCounts(events), closing - (closing % MINUTE), 20_000, 300_000);
  }

  const explain = (comparison: Comparison, process: AggregatorProcess) =>
    `lost ${comparison.lost}, double-counted ${comparison.doubled}:\n${comparison.differences.slice(0, 20).join('\n')}\naggregator output:\n${process.output().slice(-4000)}`;

  it('loses nothing and counts nothing twice when a node is SIGKILLed mid-stream and restarted, and the sink never errors', async () => {
    const aggregator = await aggregatorFor('node_kill', 'update');
    const process = await aggregator.start();
    const events = scriptedEvents(lines, 12_000, START, 40);
    let published = 0;
    const streamStart = Date.now();
    const publishing = publishEvents(publisher, events, 150, (sent) => {
      published = sent;
    });
    await waitFor(() => published >= 3_000, 'a quarter of the stream', 60_000);
    const killedAt = published;
    await cluster.killNode(1);
    const downSince = Date.now();
    await sleep(5_000);
    const restartMs = await cluster.startNode(1);
    const downForMs = Date.now() - downSince;
    const restartedAt = published;
    await publishing;
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
    const aggregator = await aggregatorFor('quorum_lost', 'append', ['--max-pending-rows', '40']);
    const process = await aggregator.start();
    const events = scriptedEvents(lines, 4_000, START, 120);
    await publishEvents(publisher, events.slice(0, 500), 100);
    await cluster.killNode(2);
    await cluster.stopNode(3);
    const outageStart = Date.now();
    // 50 s of event time moving on: windows close, their rows cannot reach two replicas.
    await publishEvents(publisher, events.slice(500, 3_000), 50);
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
    await publishEvents(publisher, events.slice(3_000), 100);
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
