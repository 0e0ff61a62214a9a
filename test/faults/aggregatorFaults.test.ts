// Fault injection on the real parts: the `aggregate` command as a child process, a real
// Mosquitto with persistence, the real Cassandra node. A QoS 1 publisher sends corpus
// lines with scripted event times; the aggregator, the broker or Cassandra is killed,
// stopped or frozen meanwhile; the final table is compared cell by cell with what was
// sent, lost and double-counted events reported separately.
import { expect } from 'chai';
import { Client } from 'cassandra-driver';
import { join } from 'node:path';
import {
  WindowedCountState,
  encodeIotPayload,
  ensureWindowAggregateTable,
  makeIotPayload,
  readLateTotals,
} from '../../src/index.js';
import { testClient } from '../support/mqttHelpers.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode } from '../support/cassandra.js';
import { waitFor } from '../support/waitFor.js';
import {
  MINUTE,
  TOPIC,
  aggregatorSuite,
  compareCounts,
  describeDifferences,
  publishEvents,
  scriptedEvents,
  settledAggregateComparison,
  settledComparison,
  sleep,
  startPublishing,
  type AggregatorRunner,
  type Comparison,
  type Publishing,
  type SentEvent,
  quickReconnection,
} from './aggregatorHarness.js';

const START = Date.UTC(2026, 10, 30, 8, 0, 0);
describe('aggregator under faults (real Mosquitto, real Cassandra, the aggregate command)', function () {
  this.timeout(600_000);
  const suite = aggregatorSuite('faults', CASSANDRA_START_TIMEOUT_MS, async () => {
    const node = await cassandraNode();
    return { client: new Client(node.clientOptions(quickReconnection)), args: ['--cassandra', node.contactPoint] };
  });
  const { lines } = suite;

  /** Sends one event an hour after the last, so every window before it is final, then compares. */
  const closeAndCompare = (table: string, events: readonly SentEvent[], caseName: string, extra?: string) =>
    suite.closeAndCompare(table, events, caseName, { extra });

  const explain = (comparison: Comparison, output: string) =>
    describeDifferences(comparison, `aggregator output:\n${output.slice(-3000)}`);

  /**
   * SIGKILLs the aggregator `kills` times at random points while `publishing` goes on,
   * starting it again each time; returns how many events were published at each kill,
   * once publishing is done.
   */
  async function killRepeatedly(
    aggregator: AggregatorRunner,
    publishing: Publishing,
    kills: number,
  ): Promise<number[]> {
    const killedAt: number[] = [];
    for (let kill = 0; kill < kills; kill++) {
      await sleep(400 + Math.random() * 1_500);
      killedAt.push(publishing.sent());
      expect(await aggregator.kill('SIGKILL')).to.equal('SIGKILL');
      await sleep(200);
      await aggregator.start();
    }
    await publishing.done;
    return killedAt;
  }

  for (const mode of ['append', 'update'] as const) {
    it(`loses nothing and counts nothing twice when SIGKILLed at 5 random points and restarted (${mode} mode)`, async () => {
      const aggregator = await suite.caseAggregator(`kill_${mode}`, mode);
      await aggregator.start();
      const events = scriptedEvents(lines, 6_000, START, 30);
      const publishing = startPublishing(suite.publisher, events, 500);
      const killedAt = await killRepeatedly(aggregator, publishing, 5);
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

  it('folds nothing in twice and loses nothing when aggregating the sum and max of bytes, SIGKILLed at 4 random points and restarted', async () => {
    const table = 'faults_kill_aggregates';
    await suite.cassandra.execute(`DROP TABLE IF EXISTS hyper.${table}`);
    await ensureWindowAggregateTable(suite.cassandra, { table });
    const aggregator = suite.aggregator({
      id: 'kill_aggregates',
      table: 'faults_unused_counts',
      stateDir: join(suite.workDir, 'kill_aggregates'),
      mode: 'append',
      extra: ['--aggregates', 'count,sum,max,p99,distinct(client)', '--value', 'bytes', '--aggregate-table', table],
    });
    await aggregator.start();
    const events = scriptedEvents(lines, 3_000, START, 20);
    const publishing = startPublishing(suite.publisher, events, 250);
    const killedAt = await killRepeatedly(aggregator, publishing, 4);
    const before = await suite.closeWindows(events);
    const comparison = await settledAggregateComparison(suite.cassandra, table, events, before);
    suite.figures.push(
      `SIGKILL ×4, aggregates (sum and max of bytes): sent ${comparison.expected}, folded in ${comparison.counted}, ` +
        `lost ${comparison.lost}, double-counted ${comparison.doubled}, cells with another sum or max ${comparison.valueDifferences} ` +
        `(killed after ${killedAt.join(', ')} published)`,
    );
    expect(comparison, explain(comparison, aggregator.current().output())).to.include({
      lost: 0,
      doubled: 0,
      valueDifferences: 0,
    });
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
  });

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

  it('keeps late events and rejected payloads through SIGKILLs: on-time, late and dead-lettered each exactly once', async () => {
    // A 5 s watermark under ±20 s of jitter: many events late. Garbage payloads in between.
    const late = 'faults_kept_late';
    await suite.cassandra.execute(`DROP TABLE IF EXISTS hyper.${late}`).catch(() => undefined);
    const aggregator = await suite.caseAggregator('kept', 'append', [
      '--watermark',
      '5 s',
      '--late-table',
      late,
      '--dead-letter-topic',
      'faults/dead-letters',
    ]);
    // The dead letters, read by a persistent client that outlives the aggregator's kills.
    const reader = await testClient(suite.broker.url, { clientId: 'faults-dead-letter-reader', protocolVersion: 5 });
    const deadLetters: string[] = [];
    reader.on('message', (_topic, payload) => deadLetters.push(payload.toString()));
    await reader.subscribeAsync('faults/dead-letters', { qos: 1 });
    await aggregator.start();
    const events = scriptedEvents(lines, 3_000, START, 10);
    const garbage = Array.from({ length: 30 }, (_, i) => `garbage ${i}: not an IoT payload`);
    const publishing = startPublishing(suite.publisher, events, 500);
    const garbageSent = (async () => {
      for (const payload of garbage) {
        await suite.publisher.publishAsync(TOPIC, payload, { qos: 1 });
        await sleep(150);
      }
    })();
    for (let kill = 0; kill < 3; kill++) {
      await sleep(800 + Math.random() * 1_200);
      expect(await aggregator.kill('SIGKILL')).to.equal('SIGKILL');
      await sleep(200);
      await aggregator.start();
    }
    await Promise.all([publishing.done, garbageSent]);

    // What one plain counter makes of the same sequence: on-time rows and late events by window.
    const closing = Math.max(...events.map((event) => event.time)) + 60 * MINUTE;
    const onTime = new Map<string, number>();
    const lateByWindow = new Map<string, number>();
    const reference = new WindowedCountState<SentEvent, number>(
      {
        eventTime: (event) => event.time,
        key: (event) => event.status,
        windowDuration: '1 minute',
        watermarkDelay: '5 s',
        onReject: ({ input }) => {
          const id = `${input.time - (input.time % MINUTE)}/${input.status}`;
          lateByWindow.set(id, (lateByWindow.get(id) ?? 0) + 1);
        },
      },
      (row) => onTime.set(`${row.windowStart.getTime()}/${row.key}`, row.count),
    );
    for (const event of events) reference.push(event);
    reference.push({ time: closing, line: '', status: 0 });
    const lateSent = [...lateByWindow.values()].reduce((a, b) => a + b, 0);
    expect(lateSent, 'the jitter makes events late').to.be.greaterThan(100);

    const before = await suite.closeWindows(events);
    const counted = await settledComparison(suite.cassandra, aggregator.table, onTime, before);
    const kept = await settledLateComparison(suite.cassandra, late, lateByWindow);
    await waitFor(
      () => new Set(deadLetters).size >= garbage.length,
      () => `${garbage.length} dead letters, got ${new Set(deadLetters).size}`,
      60_000,
    );
    const unique = new Set(deadLetters);
    const deadLost = garbage.filter((payload) => !unique.has(payload)).length;
    suite.figures.push(
      `late and rejected, SIGKILL ×3: sent ${events.length} (${lateSent} late) + ${garbage.length} garbage; ` +
        `on-time lost ${counted.lost}, double ${counted.doubled}; late kept ${kept.counted}, lost ${kept.lost}, double ${kept.doubled}; ` +
        `dead-lettered ${unique.size} of ${garbage.length} (${deadLetters.length - unique.size} sent twice)`,
    );
    expect(counted, explain(counted, aggregator.current().output())).to.include({ lost: 0, doubled: 0 });
    expect(kept, explain(kept, aggregator.current().output())).to.include({ lost: 0, doubled: 0 });
    expect(deadLost, 'dead letters lost').to.equal(0);
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
    await reader.endAsync();
  });

  /** The late table against the late events sent, by window and status, once it stops changing. */
  async function settledLateComparison(
    cassandra: Client,
    table: string,
    expected: Map<string, number>,
  ): Promise<Comparison> {
    let comparison: Comparison | undefined;
    await waitFor(
      async () => {
        const actual = new Map<string, number>();
        for (const total of await readLateTotals(cassandra, { keyspace: 'hyper', table }))
          actual.set(`${total.windowStart.getTime()}/${total.status}`, total.count);
        comparison = compareCounts(expected, actual);
        return comparison.lost === 0 && comparison.doubled === 0;
      },
      () => `the late table to match: lost ${comparison?.lost}, double ${comparison?.doubled}`,
      60_000,
      500,
    ).catch(() => undefined);
    return comparison!;
  }
});
