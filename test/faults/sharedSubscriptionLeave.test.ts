// Drain and leave (issue 20 item 4): three real `aggregate` processes on one MQTT 5 shared
// subscription of a real Mosquitto, writing to the real Cassandra node, while a publisher
// streams. One is told to leave (SIGUSR2); another is killed, and its share piles up in
// its session at the broker until it is started again with --leave. Each unsubscribes,
// counts what the broker still holds for its session, writes its open windows and ends
// its session; the one that stays takes the rest. The table is then compared cell by cell
// with what was sent, lost and double-counted separately, and the broker is asked for the
// leavers' sessions.
import { expect } from 'chai';
import { Client } from 'cassandra-driver';
import { connect, type IConnackPacket } from 'mqtt';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode } from '../support/cassandra.js';
import {
  aggregateArgs,
  aggregateSummary,
  aggregatorSuite,
  describeDifferences,
  expectedCounts,
  scriptedEvents,
  settledComparison,
  startAggregate,
  startPublishing,
} from './aggregatorHarness.js';

const START = Date.UTC(2026, 11, 1, 9, 0, 0);

/** Connects as `clientId` asking for its persistent session, and says whether the broker still had one. */
async function sessionPresent(url: string, clientId: string): Promise<boolean> {
  const client = connect(url, {
    clientId,
    clean: false,
    protocolVersion: 5,
    // Expiry 0 on the way out: this probe leaves no session behind either.
    properties: { sessionExpiryInterval: 0 },
    reconnectPeriod: 0,
  });
  try {
    const connack = await new Promise<IConnackPacket>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('error', reject);
    });
    return connack.sessionPresent;
  } finally {
    await client.endAsync();
  }
}

describe('aggregators leaving a share group for good (real Mosquitto, real Cassandra, three aggregate processes)', function () {
  this.timeout(600_000);
  let contactPoint: string;
  const suite = aggregatorSuite('leave', CASSANDRA_START_TIMEOUT_MS, async () => {
    const node = await cassandraNode();
    contactPoint = node.contactPoint;
    return { client: new Client(node.clientOptions()), args: ['--cassandra', contactPoint] };
  });

  it('SIGUSR2 and --leave: each drains its session and ends it, the one that stays takes the rest; nothing lost, nothing counted twice', async () => {
    const table = 'leave_three';
    await suite.freshTable(table);
    const shareGroup = 'counters-leave';
    const options = (id: string) => ({
      id,
      table,
      stateDir: `${suite.workDir}/${id}`,
      mode: 'append' as const,
      shareGroup,
    });
    const [stays, leaver, killed] = ['l1', 'l2', 'l3'].map((id) => suite.aggregator(options(id))) as [
      ReturnType<typeof suite.aggregator>,
      ReturnType<typeof suite.aggregator>,
      ReturnType<typeof suite.aggregator>,
    ];
    for (const runner of [stays, leaver, killed]) await runner.start();

    // 6,000 messages at 300 a second over 20 s; event times spread over 30 minutes.
    const events = scriptedEvents(suite.lines, 6_000, START, 30);
    const publishing = startPublishing(suite.publisher, events, 300);

    // Killed: its share waits in its session at the broker, which goes on dealing it one in N.
    await publishing.reach(1_000, '1,000 messages published', 60_000);
    await killed.kill('SIGKILL');

    // Told to leave while the stream goes on.
    await publishing.reach(2_000, '2,000 messages published', 60_000);
    const leaving = leaver.current();
    leaving.child.kill('SIGUSR2');
    expect(await leaving.exited, leaving.output()).to.equal(0);
    const sentWhenLeft = publishing.sent();

    // The killed one started again to leave: it takes what its session piled up, then ends it.
    await publishing.reach(4_000, '4,000 messages published', 60_000);
    const drainer = startAggregate([
      ...aggregateArgs(suite.broker.url, { ...options('l3'), cassandra: ['--cassandra', contactPoint] }),
      '--leave',
    ]);
    expect(await drainer.exited, drainer.output()).to.equal(0);
    const sentWhenDrained = publishing.sent();
    await publishing.done;

    for (const [output, why] of [
      [leaving.output(), 'SIGUSR2'],
      [drainer.output(), '--leave'],
    ] as const) {
      expect(output).to.include(`${why}: leaving "$share/counters-leave/faults/gpiotopic" for good`);
      expect(output).to.match(
        /left for good: the broker held nothing more for mqtt-iot-stream-aggregator-l[23], and its session is ended/,
      );
    }
    // Both left while the stream went on: the one that stays took what came after.
    expect(sentWhenDrained, 'published when the second had left').to.be.below(events.length);

    // Closing events for the one that stays, so that every window before theirs is final.
    const before = await suite.closeWindows(events);
    const comparison = await settledComparison(suite.cassandra, table, expectedCounts(events), before);
    const outputs = [...stays.processes, ...leaver.processes, ...killed.processes, drainer]
      .map((run) => run.output())
      .join('\n');
    const leaverReceived = aggregateSummary(leaving.output()).received ?? 0;
    const drained = aggregateSummary(drainer.output()).received ?? 0;
    process.stdout.write(
      `      sent ${comparison.expected}, counted ${comparison.counted}, lost ${comparison.lost}, double-counted ${comparison.doubled}; ` +
        `SIGUSR2: counted ${leaverReceived}, gone after ${sentWhenLeft} published; ` +
        `--leave: took ${drained} its session held, gone after ${sentWhenDrained} published\n`,
    );
    expect(comparison.lost, describeDifferences(comparison, outputs)).to.equal(0);
    expect(comparison.doubled, describeDifferences(comparison, outputs)).to.equal(0);
    expect(drained, 'messages --leave took from the session').to.be.above(0);

    // Their sessions are gone: nothing is queued for them any more.
    expect(await sessionPresent(suite.broker.url, 'mqtt-iot-stream-aggregator-l2')).to.equal(false);
    expect(await sessionPresent(suite.broker.url, 'mqtt-iot-stream-aggregator-l3')).to.equal(false);
    // Against a plain stop (SIGTERM), which keeps the session for the next start.
    expect(await stays.kill('SIGTERM')).to.equal(0);
    expect(await sessionPresent(suite.broker.url, 'mqtt-iot-stream-aggregator-l1')).to.equal(true);
  });
});
