// Fault injection on the real parts: the `aggregate` command as a child process, a real
// Mosquitto with persistence, the real Cassandra node. A QoS 1 publisher sends corpus
// lines with scripted event times; the aggregator, the broker or Cassandra is killed,
// stopped or frozen meanwhile; the final table is compared cell by cell with what was
// sent, lost and double-counted events reported separately.
import { expect } from 'chai';
import { Client, policies } from 'cassandra-driver';
import { encodeIotPayload, makeIotPayload } from '../../src/index.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode, type CassandraNode } from '../support/cassandra.js';
import { waitFor } from '../support/waitFor.js';
import {
  MINUTE,
  TOPIC,
  aggregatorSuite,
  describeDifferences,
  expectedCounts,
  publishEvents,
  scriptedEvents,
  settledComparison,
  sleep,
  startPublishing,
  type Comparison,
  type SentEvent,
} from './aggregatorHarness.js';

const START = Date.UTC(2026, 10, 30, 8, 0, 0);
// The driver's default waits up to 10 minutes before trying a node that was down again.
const quickReconnection = {
  policies: { reconnection: new policies.reconnection.ExponentialReconnectionPolicy(500, 5_000) },
};
/** Every case's figures, printed at the end (the fault table of docs/durability.md). */
const figures: string[] = [];

describe('aggregator under faults (real Mosquitto, real Cassandra, the aggregate command)', function () {
  this.timeout(600_000);
  let node: CassandraNode;
  const suite = aggregatorSuite('faults', CASSANDRA_START_TIMEOUT_MS, async () => {
    node = await cassandraNode();
    return { client: new Client(node.clientOptions(quickReconnection)), args: ['--cassandra', node.contactPoint] };
  });
  const { lines } = suite;
  after(() => {
    if (figures.length > 0)
      process.stdout.write(`\n      fault figures:\n${figures.map((line) => `        ${line}`).join('\n')}\n`);
  });

  /** Sends one event an hour after the last, so every window before it is final, then compares. */
  async function closeAndCompare(
    table: string,
    events: readonly SentEvent[],
    caseName: string,
    extra = '',
  ): Promise<Comparison> {
    const before = await suite.closeWindows(events);
    const comparison = await settledComparison(suite.cassandra, table, expectedCounts(events), before);
    figures.push(
      `${caseName}: sent ${comparison.expected}, counted ${comparison.counted}, lost ${comparison.lost}, double-counted ${comparison.doubled}${extra}`,
    );
    return comparison;
  }

  const explain = (comparison: Comparison, output: string) =>
    describeDifferences(comparison, `aggregator output:\n${output.slice(-3000)}`);

  for (const mode of ['append', 'update'] as const) {
    it(`loses nothing and counts nothing twice when SIGKILLed at 5 random points and restarted (${mode} mode)`, async () => {
      const aggregator = await suite.caseAggregator(`kill_${mode}`, mode);
      await aggregator.start();
      const events = scriptedEvents(lines, 6_000, START, 30);
      const publishing = startPublishing(suite.publisher, events, 500);
      const killedAt: number[] = [];
      for (let kill = 0; kill < 5; kill++) {
        await sleep(400 + Math.random() * 1_500);
        killedAt.push(publishing.sent());
        expect(await aggregator.kill('SIGKILL')).to.equal('SIGKILL');
        await sleep(200);
        await aggregator.start();
      }
      await publishing.done;
      const comparison = await closeAndCompare(
        aggregator.table,
        events,
        `SIGKILL ×5, ${mode}`,
        ` (killed after ${killedAt.join(', ')} published)`,
      );
      expect(comparison, explain(comparison, aggregator.current().output())).to.include({
        lost: 0,
        doubled: 0,
      });
      expect(await aggregator.kill('SIGTERM')).to.equal(0);
    });
  }

  it('loses nothing and counts nothing twice when stopped with SIGTERM and SIGINT mid-window and restarted', async () => {
    const aggregator = await suite.caseAggregator('term', 'append');
    await aggregator.start();
    const events = scriptedEvents(lines, 1_500, START, 5);
    const publishing = startPublishing(suite.publisher, events, 300);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      await publishing.reach(signal === 'SIGTERM' ? 500 : 1_000, 'publishing', 30_000);
      const process = aggregator.current();
      expect(await aggregator.kill(signal), process.output()).to.equal(0);
      expect(process.output()).to.match(new RegExp(`${signal}: writing the open windows`));
      await aggregator.start();
    }
    await publishing.done;
    const comparison = await closeAndCompare(aggregator.table, events, 'SIGTERM + SIGINT mid-window');
    expect(comparison, explain(comparison, aggregator.current().output())).to.include({
      lost: 0,
      doubled: 0,
    });
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
  });

  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    it(`counts nothing twice when the broker is ${signal === 'SIGTERM' ? 'stopped' : 'killed'} and restarted with messages in flight${signal === 'SIGTERM' ? ', and loses nothing' : ''}`, async () => {
      const aggregator = await suite.caseAggregator(`broker_${signal.toLowerCase()}`, 'append');
      const process = await aggregator.start();
      const events = scriptedEvents(lines, 3_000, START, 10);
      // Frozen aggregator: the broker queues the first half for its session.
      process.child.kill('SIGSTOP');
      await publishEvents(suite.publisher, events.slice(0, 1_500), 2_000);
      process.child.kill('SIGCONT');
      await sleep(150); // the aggregator is taking the queue in when the broker goes
      await suite.broker.stop(signal);
      const logBefore = suite.broker.log().length;
      await suite.broker.restart();
      // A killed broker may have lost the session itself (saved every 5 s here): then
      // MQTT.js subscribes again, and what is published before that reaches nobody.
      await waitFor(
        () =>
          suite.broker
            .log()
            .slice(logBefore)
            .includes(`Sending CONNACK to mqtt-iot-stream-aggregator-broker_${signal.toLowerCase()}`),
        'the aggregator reconnecting',
        30_000,
      );
      await sleep(500);
      await publishEvents(suite.publisher, events.slice(1_500), 1_000);
      const comparison = await closeAndCompare(aggregator.table, events, `broker ${signal} + restart`);
      expect(comparison.doubled, explain(comparison, process.output())).to.equal(0);
      // Mosquitto acknowledges before it saves (autosave every 5 s here): a killed
      // broker loses what it queued since its last save. Measured, not ours to fix.
      if (signal === 'SIGTERM') expect(comparison.lost, explain(comparison, process.output())).to.equal(0);
      expect(process.child.exitCode, 'the aggregator rode out the broker restart').to.equal(null);
      expect(await aggregator.kill('SIGTERM')).to.equal(0);
    });
  }

  it('rides out Cassandra stopped for 3 minutes and then frozen (SIGSTOP), with bounded memory, losing nothing', async function () {
    this.timeout(900_000);
    // Few rows may wait, so the outage also stops intake: the broker's session queues
    // the messages meanwhile, and the aggregator reconnects for them once Cassandra is back.
    const aggregator = await suite.caseAggregator('cassandra', 'append', ['--max-pending-rows', '40']);
    const process = await aggregator.start();
    const events = scriptedEvents(lines, 4_400, START, 240);
    const rss: number[] = [];
    const sampler = setInterval(() => {
      try {
        rss.push(process.rssMb());
      } catch {
        /* exited: the checks below say so */
      }
    }, 1_000);
    try {
      await publishEvents(suite.publisher, events.slice(0, 200), 200);
      // The test's own client sits the outage out: cassandra-driver 4 leaks the timers
      // of a host it replaces after an outage, which would keep this process alive.
      await suite.cassandra.shutdown();
      await node.stop();
      const outageStart = Date.now();
      // 3 minutes at 20 messages a second, event time running: windows close, rows wait.
      await publishEvents(suite.publisher, events.slice(200, 3_800), 20);
      while (Date.now() - outageStart < 185_000) await sleep(1_000);
      expect(process.child.exitCode, `the aggregator survived the outage:\n${process.output()}`).to.equal(null);
      await node.start();
      await publishEvents(suite.publisher, events.slice(3_800, 4_100), 100);
      // Frozen rather than gone: writes time out instead of being refused.
      globalThis.process.kill(node.pid, 'SIGSTOP');
      try {
        await publishEvents(suite.publisher, events.slice(4_100), 10);
        await sleep(10_000);
      } finally {
        globalThis.process.kill(node.pid, 'SIGCONT');
      }
      suite.cassandra = new Client(node.clientOptions(quickReconnection));
      const comparison = await closeAndCompare(
        aggregator.table,
        events,
        'Cassandra stopped 185 s, then SIGSTOP 40 s',
        `; RSS ${Math.min(...rss).toFixed(0)}–${Math.max(...rss).toFixed(0)} MB`,
      );
      expect(comparison, explain(comparison, process.output())).to.include({ lost: 0, doubled: 0 });
      expect(process.output(), 'the outage is reported').to.match(/cassandraSink|Cassandra/);
      expect(process.output(), 'intake stopped and resumed')
        .to.match(/not taking messages until they are written/)
        .and.match(/taking messages\n/);
      const early = Math.max(...rss.slice(0, 10));
      expect(Math.max(...rss) - early, `RSS ${rss.map((mb) => mb.toFixed(0)).join(' ')}`).to.be.lessThan(80);
    } finally {
      clearInterval(sampler);
    }
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
  });

  it('survives hostile payloads, each followed by good events, and counts the good ones exactly', async () => {
    const aggregator = await suite.caseAggregator('hostile', 'append', [
      '--max-event-time-ahead',
      '1 hour',
      '--verbose',
    ]);
    const process = await aggregator.start();
    // Event times near now: the far-future guard compares with this machine's clock.
    const events = scriptedEvents(lines, 600, Date.now() - 30 * MINUTE, 6);
    const hostile: (string | Buffer)[] = [
      '['.repeat(5_000) + ']'.repeat(5_000),
      JSON.stringify({ iottimestamp: '2020-07-01 12:34:56.789012', accesslogs: { nested: '['.repeat(100_000) } }),
      '{"iottimestamp": ' + '['.repeat(50_000) + ']'.repeat(50_000) + ', "accesslogs": "x"}',
      encodeIotPayload(makeIotPayload(lines[1] as string, new Date('9999-12-31T23:59:59Z'))),
      JSON.stringify({ iottimestamp: '2020-07-01 12:34:56', accesslogs: 'x'.repeat(1536 * 1024) }),
      // Past twice --max-message-size: the broker drops it for us (MQTT 5 Maximum Packet Size).
      Buffer.alloc(64 * 1024 * 1024, 0x5b),
      Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28]),
      '',
      '{"__proto__": {"polluted": true}, "iottimestamp": "2020-07-01 12:34:56", "accesslogs": 7}',
    ];
    const rssBefore = process.rssMb();
    const perPart = Math.ceil(events.length / hostile.length);
    for (let i = 0; i < hostile.length; i++) {
      await suite.publisher.publishAsync(TOPIC, hostile[i] as string | Buffer, { qos: 1 });
      await publishEvents(suite.publisher, events.slice(i * perPart, (i + 1) * perPart), 1_000);
    }
    const comparison = await closeAndCompare(aggregator.table, events, 'hostile payloads');
    expect(comparison, explain(comparison, process.output())).to.include({ lost: 0, doubled: 0 });
    expect(process.child.exitCode, process.output()).to.equal(null);
    expect(process.output())
      .to.match(/rejected \(future\)/)
      .and.match(/rejected \(payload\): .*more than the 1,048,576 allowed/);
    expect(process.rssMb() - rssBefore, 'a 64 MiB message never reached the aggregator').to.be.lessThan(40);
    expect(
      process
        .output()
        .split('\n')
        .every((line) => line.length < 2_000),
      'every output line has a readable length',
    ).to.equal(true);
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
  });
});
