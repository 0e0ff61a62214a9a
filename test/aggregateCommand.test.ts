// `mqtt-iot-stream aggregate` as an operator runs it, with a real Mosquitto and no
// Cassandra: rows on stdout, graceful stop, credentials kept out of the output, one
// aggregator per state directory, window options that cannot change under saved state,
// one MQTT session per aggregator (a session another client takes stops it; default
// client ids that differ between state directories and survive restarts).
import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import {
  SessionAggregateState,
  WindowedAggregateState,
  encodeIotPayload,
  makeIotPayload,
  parseAccessLogLine,
  type AccessLogRecord,
  type AggregateRow,
} from '../src/index.js';
import { corpusLines } from './support/corpora.js';
import { startAggregate, TOPIC, type AggregatorProcess } from './faults/aggregatorHarness.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { closeClients, countLog, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

const LINE = '127.0.0.1 - - [01/Jul/2020:12:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl"';

describe('the aggregate command', function () {
  this.timeout(60_000);
  let broker: Mosquitto;
  let publisher: MqttClient;
  let stateRoot: string;
  const started: AggregatorProcess[] = [];

  before(async () => {
    broker = await startMosquitto({
      persistence: true,
      users: [{ username: 'counter', password: 'not-for-your-eyes' }],
    });
    publisher = await testClient(broker.url, { username: 'counter', password: 'not-for-your-eyes' });
    stateRoot = mkdtempSync(join(tmpdir(), 'aggregate-'));
  });
  afterEach(() => {
    for (const process of started.splice(0)) process.child.kill('SIGKILL');
  });
  after(async () => {
    await closeClients();
    await broker?.dispose();
    rmSync(stateRoot, { recursive: true, force: true });
  });

  const urlWith = (password: string) => broker.url.replace('mqtt://', `mqtt://counter:${password}@`);

  function aggregate(name: string, extra: string[] = []): AggregatorProcess {
    return aggregateIn(join(stateRoot, name), ['--aggregator-id', name, ...extra]);
  }

  /** An aggregator on the state directory `stateDir`, with `extra` arguments (no --aggregator-id unless there). */
  function aggregateIn(stateDir: string, extra: string[] = []): AggregatorProcess {
    const process = startAggregate([
      '--broker',
      urlWith('not-for-your-eyes'),
      '--topic',
      TOPIC,
      '--state-dir',
      stateDir,
      '--idle-advance',
      '0',
      '--max-event-time-ahead',
      'off',
      '--format',
      'json',
      ...extra,
    ]);
    started.push(process);
    return process;
  }

  const subscribed = (name: string) =>
    waitFor(() => broker.log().includes(`mqtt-iot-stream-aggregator-${name} 1 ${TOPIC}`), `${name}'s subscription`);

  it('prints rows as JSON lines without Cassandra, and on SIGTERM writes the open window and exits 0', async () => {
    const process = aggregate('stdout');
    await subscribed('stdout');
    for (const second of [1, 2, 3]) {
      await publisher.publishAsync(
        TOPIC,
        encodeIotPayload(makeIotPayload(LINE, new Date(Date.UTC(2020, 6, 1, 12, 0, second)))),
        { qos: 1 },
      );
    }
    await waitFor(() => broker.log().includes('Sending PUBLISH to mqtt-iot-stream-aggregator-stdout'), 'delivery');
    await new Promise((resolve) => setTimeout(resolve, 500));
    process.child.kill('SIGTERM');
    expect(await process.exited, process.output()).to.equal(0);
    const rows = process
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { status: number; count: number });
    // Written at the stop, before the window closed: a partial count, the first row of its window.
    expect(rows).to.deep.equal([
      {
        windowStart: '2020-07-01T12:00:00.000Z',
        windowEnd: '2020-07-01T12:01:00.000Z',
        status: 200,
        count: 3,
        final: false,
        update: false,
      },
    ]);
  });

  it('with --aggregates, prints the aggregates of --value per window and status, equal to windowedAggregate over the same real log lines', async () => {
    const lines = corpusLines('elastic')
      .filter((line) => parseAccessLogLine(line)._tag === 'Right')
      .slice(0, 150);
    const base = Date.UTC(2020, 6, 1, 12, 0, 0);
    const events = lines.map((line, i) => ({ at: base + i * 1_000, line }));
    const expected: AggregateRow<number>[] = [];
    const single = new WindowedAggregateState<{ at: number; record: AccessLogRecord }, number>(
      {
        eventTime: (event) => event.at,
        key: (event) => event.record.status,
        windowDuration: '10 s',
        watermarkDelay: '5 s',
        aggregates: {
          value: (event) => event.record.bytes,
          sum: true,
          max: true,
          mean: true,
          quantiles: [0.99],
          distinct: (event) => event.record.client,
        },
      },
      (row) => expected.push(row),
    );
    for (const { at, line } of events) {
      const parsed = parseAccessLogLine(line);
      if (parsed._tag === 'Right') single.push({ at, record: parsed.right });
    }
    single.flush();

    const closed = expected.filter((row) => row.windowEnd.getTime() <= events.at(-1)!.at - 5_000).length;
    const process = aggregate('aggregates', [
      '--window',
      '10 s',
      '--watermark',
      '5 s',
      '--aggregates',
      'count,sum,max,mean,p99,distinct(client)',
      '--value',
      'bytes',
    ]);
    await subscribed('aggregates');
    for (const { at, line } of events)
      await publisher.publishAsync(TOPIC, encodeIotPayload(makeIotPayload(line, new Date(at))), { qos: 1 });
    await waitFor(
      () =>
        process
          .output()
          .split('\n')
          .filter((line) => line.startsWith('{')).length >= closed,
      () => `the closed windows' rows:\n${process.output()}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    process.child.kill('SIGTERM'); // writes the last open windows
    expect(await process.exited, process.output()).to.equal(0);
    const printed = process
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { windowStart: string; status: number; count: number; aggregates: unknown });
    expect(
      printed.map(({ windowStart, status, count, aggregates }) => [windowStart, status, count, aggregates]),
    ).to.deep.equal(expected.map((row) => [row.windowStart.toISOString(), row.key, row.count, row.aggregates]));
    expect(process.output()).to.include('aggregating count,sum,max,mean,p99,distinct(client) of bytes per status');
  });

  it('with --session-gap, prints each session of a status once, final, as SessionAggregateState makes them from the same lines', async () => {
    const lines = corpusLines('elastic')
      .filter((line) => parseAccessLogLine(line)._tag === 'Right')
      .slice(0, 120);
    const base = Date.UTC(2020, 6, 1, 12, 0, 0);
    // Bursts of 20 lines 1 s apart, 45 s of quiet between them: with a 10 s gap each
    // status's sessions end between bursts, and within one the statuses interleave.
    const events = lines.map((line, i) => ({ at: base + i * 1_000 + Math.floor(i / 20) * 45_000, line }));
    const expected: AggregateRow<number>[] = [];
    const single = new SessionAggregateState<{ at: number; record: AccessLogRecord }, number>(
      {
        eventTime: (event) => event.at,
        key: (event) => event.record.status,
        sessionGap: '10 s',
        watermarkDelay: '5 s',
        aggregates: { value: (event) => event.record.bytes, sum: true, max: true },
      },
      (row) => expected.push(row),
    );
    for (const { at, line } of events) {
      const parsed = parseAccessLogLine(line);
      if (parsed._tag === 'Right') single.push({ at, record: parsed.right });
    }
    single.flush();

    const process = aggregate('sessions', ['--session-gap', '10 s', '--watermark', '5 s', '--aggregates', 'sum,max']);
    await subscribed('sessions');
    for (const { at, line } of events)
      await publisher.publishAsync(TOPIC, encodeIotPayload(makeIotPayload(line, new Date(at))), { qos: 1 });
    const closed = expected.filter((row) => row.windowEnd.getTime() <= events.at(-1)!.at - 5_000).length;
    const rowsPrinted = () =>
      process
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'));
    await waitFor(
      () => rowsPrinted().length >= closed,
      () => `the closed sessions' rows:\n${process.output()}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    process.child.kill('SIGTERM'); // writes the open sessions
    expect(await process.exited, process.output()).to.equal(0);
    const printed = rowsPrinted().map(
      (line) =>
        JSON.parse(line) as {
          windowStart: string;
          windowEnd: string;
          status: number;
          count: number;
          aggregates: unknown;
        },
    );
    const byStart = (a: { start: string; status: number }, b: { start: string; status: number }) =>
      a.start.localeCompare(b.start) || a.status - b.status;
    expect(
      printed
        .map(({ windowStart, windowEnd, status, count, aggregates }) => ({
          start: windowStart,
          end: windowEnd,
          status,
          count,
          aggregates,
        }))
        .sort(byStart),
    ).to.deep.equal(
      expected
        .map((row) => ({
          start: row.windowStart.toISOString(),
          end: row.windowEnd.toISOString(),
          status: row.key,
          count: row.count,
          aggregates: row.aggregates,
        }))
        .sort(byStart),
    );
    expect(
      expected.some((row) => row.count > 3),
      'sessions of several requests',
    ).to.equal(true);
    expect(process.output()).to.include('windows sessions, gap 10 seconds, watermark 5 seconds');
  });

  it('refuses --session-gap with --window, with update mode and with --late-table, with status 2 and why', async () => {
    const cases: [string[], string][] = [
      [
        ['--window', '1 minute'],
        '--session-gap counts in session windows, --window in fixed windows: give one of them',
      ],
      [['--output-mode', 'update'], '--session-gap writes each session once, final (append mode)'],
      [['--late-table', 'late', '--cassandra', '127.0.0.1:9'], '--late-table keeps late counts per fixed window'],
    ];
    for (const [extra, message] of cases) {
      const process = aggregate('sessions-refused', ['--session-gap', '30 s', ...extra]);
      expect(await process.exited, extra.join(' ')).to.equal(2);
      expect(process.output()).to.include(message);
    }
  });

  it('refuses an --aggregates list it cannot read, with status 2 and what it takes', async () => {
    const process = aggregate('bad-list', ['--aggregates', 'count,median']);
    expect(await process.exited).to.equal(2);
    expect(process.output()).to.include(
      '--aggregates must be a comma-separated list of count, sum, min, max, mean, pNN (a quantile: p50, p99, p99.9) and distinct(<field>)',
    );
    expect(process.output()).to.include('"median" is none of them, got "count,median"');
  });

  it('never prints the password of a broker URL, also when the broker refuses it', async () => {
    const accepted = aggregate('masked');
    await subscribed('masked');
    accepted.child.kill('SIGTERM');
    await accepted.exited;
    const refused = startAggregate([
      '--broker',
      urlWith('wrong-secret'),
      '--topic',
      TOPIC,
      '--aggregator-id',
      'refused',
      '--state-dir',
      join(stateRoot, 'refused'),
    ]);
    started.push(refused);
    expect(await refused.exited).to.equal(1);
    expect(refused.output()).to.match(/refused|not authori[sz]ed/i);
    for (const output of [accepted.output(), refused.output()]) {
      expect(output).to.match(/counter:\*\*\*@/);
      expect(output).not.to.match(/not-for-your-eyes|wrong-secret/);
    }
  });

  it('refuses a second aggregator on the same state directory, naming the process that holds it', async () => {
    const first = aggregate('locked');
    await subscribed('locked');
    const second = aggregate('locked');
    expect(await second.exited).to.equal(1);
    expect(second.output()).to.match(
      new RegExp(
        `in use by process ${first.child.pid}; give each aggregator its own --state-dir \\(or --aggregator-id\\)`,
      ),
    );
  });

  it('refuses to continue saved windows under other window options, and says how to start afresh', async () => {
    const first = aggregate('reshaped');
    await subscribed('reshaped');
    await publisher.publishAsync(
      TOPIC,
      encodeIotPayload(makeIotPayload(LINE, new Date(Date.UTC(2020, 6, 1, 12, 0, 1)))),
      {
        qos: 1,
      },
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    first.child.kill('SIGTERM');
    expect(await first.exited).to.equal(0);
    const second = aggregate('reshaped', ['--window', '5 minutes']);
    expect(await second.exited).to.equal(1);
    // In flags and files, not the library's option names: which --window the directory holds, what to do.
    const failure = second
      .output()
      .split('\n')
      .filter((line) => line.startsWith('mqtt-iot-stream: '));
    expect(failure).to.deep.equal([
      `mqtt-iot-stream: this state directory (${join(stateRoot, 'reshaped')}) was written with --window '1 minute'; ` +
        "start with that, or give another --state-dir (this run has --window '5 minutes'; a new state directory does " +
        'not continue the open windows saved in this one)',
    ]);
    expect(second.output()).not.to.match(/windowDuration|WindowedCountState|durableWindowedCount/);
    // Restarted as it was written (in milliseconds this time), it continues.
    const subscriptions = () => countLog(broker.log(), new RegExp(`mqtt-iot-stream-aggregator-reshaped 1 ${TOPIC}`));
    const before = subscriptions();
    const third = aggregate('reshaped', ['--window', '60000']);
    await waitFor(() => subscriptions() > before, "the restarted aggregator's subscription");
    third.child.kill('SIGTERM');
    expect(await third.exited, third.output()).to.equal(0);
  });

  it('refuses QoS 0, which cannot be counted exactly once', async () => {
    const process = aggregate('qos0', ['--qos', '0']);
    expect(await process.exited).to.equal(2);
    expect(process.output()).to.match(
      /--qos must be 1 or 2 \(0 cannot be counted exactly once: the broker does not resend what is lost\), got "0"/,
    );
  });

  /** The client id an aggregator said it connects as, on its first line. */
  const clientIdOf = async (process: AggregatorProcess) => {
    await waitFor(
      () => / as \S+ \(persistent session/.test(process.output()),
      () => `its first line:\n${process.output()}`,
    );
    return / as (\S+) \(persistent session/.exec(process.output())![1]!;
  };
  const subscribedAs = (clientId: string) =>
    waitFor(() => broker.log().includes(`${clientId} 1 ${TOPIC}`), `${clientId}'s subscription`);
  const failureLines = (process: AggregatorProcess) =>
    process
      .output()
      .split('\n')
      .filter((line) => line.startsWith('mqtt-iot-stream: '));

  it('stops with status 3 and one line naming the client id when another aggregator takes its MQTT session, and the other goes on', async () => {
    // The same --aggregator-id on two state directories, as on two hosts: one MQTT client id.
    const first = aggregateIn(join(stateRoot, 'twice-1'), ['--aggregator-id', 'twice']);
    await subscribed('twice');
    const second = aggregateIn(join(stateRoot, 'twice-2'), ['--aggregator-id', 'twice']);
    // Mosquitto 2.0 closes the older connection without a DISCONNECT (checked: not even to
    // an MQTT 5 client), so the one that stops is the first whose connections keep being
    // closed right after they were accepted; each reconnects a second later.
    const stopped = await Promise.race([
      first.exited.then((status) => ({ status, process: first, other: second })),
      second.exited.then((status) => ({ status, process: second, other: first })),
      new Promise<never>((_, reject) =>
        setTimeout(
          () =>
            reject(
              new Error(
                `neither stopped within 30 s:\n${first.output()}\n---\n${second.output()}\n${broker.log().slice(-2000)}`,
              ),
            ),
          30_000,
        ),
      ),
    ]);
    expect(stopped.status, stopped.process.output()).to.equal(3);
    expect(failureLines(stopped.process)).to.deep.equal([
      'mqtt-iot-stream: the MQTT broker at mqtt://counter:***@127.0.0.1:' +
        `${broker.port} closed the connection right after accepting it, 3 times in a row: is another client connected ` +
        `with this client's id "mqtt-iot-stream-aggregator-twice"? Two clients with one id take the session from each ` +
        'other in turn: give each aggregator its own --aggregator-id (or --client-id), and if the other is an earlier ' +
        'run of this one, stop it first',
    ]);
    // The other keeps the session: no more take-overs, and it stops as usual.
    const takeOvers = () => countLog(broker.log(), /Client mqtt-iot-stream-aggregator-twice already connected/);
    const afterStop = takeOvers();
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(takeOvers(), 'take-overs after one stopped').to.equal(afterStop);
    expect(stopped.other.child.exitCode, stopped.other.output()).to.equal(null);
    stopped.other.child.kill('SIGTERM');
    expect(await stopped.other.exited, stopped.other.output()).to.equal(0);
  });

  it('gives aggregators started without an id on two state directories two client ids, each kept across restarts', async () => {
    const logFrom = broker.log().length;
    const one = aggregateIn(join(stateRoot, 'default-1'));
    const two = aggregateIn(join(stateRoot, 'default-2'));
    const [oneId, twoId] = [await clientIdOf(one), await clientIdOf(two)];
    expect(oneId).to.match(/^mqtt-iot-stream-aggregator-[a-z0-9-]+-[0-9a-f]{6}$/);
    expect(twoId).to.match(/^mqtt-iot-stream-aggregator-[a-z0-9-]+-[0-9a-f]{6}$/);
    expect(oneId).to.not.equal(twoId);
    expect(readFileSync(join(stateRoot, 'default-1', 'mqtt-client-id'), 'utf8')).to.equal(`${oneId}\n`);
    await subscribedAs(oneId);
    await subscribedAs(twoId);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(broker.log().slice(logFrom)).not.to.match(/already connected/);
    one.child.kill('SIGTERM');
    expect(await one.exited, one.output()).to.equal(0);
    // Restarted on its state directory, it takes up its own session again (CONNACK session present: 1).
    const restarted = aggregateIn(join(stateRoot, 'default-1'));
    expect(await clientIdOf(restarted)).to.equal(oneId);
    await waitFor(
      () => countLog(broker.log(), new RegExp(`Sending CONNACK to ${oneId} \\(1, 0\\)`)) >= 1,
      'the restarted aggregator resuming its session',
    );
    for (const process of [restarted, two]) {
      process.child.kill('SIGTERM');
      expect(await process.exited, process.output()).to.equal(0);
    }
  });

  it("keeps the earlier versions' default client id for a state directory they counted in, whose session holds their messages", async () => {
    const earlier = join(stateRoot, 'earlier-version');
    mkdirSync(earlier, { recursive: true });
    writeFileSync(join(earlier, 'journal.log'), ''); // what a run before this version left: no mqtt-client-id
    const process = aggregateIn(earlier);
    expect(await clientIdOf(process)).to.equal('mqtt-iot-stream-aggregator');
    expect(readFileSync(join(earlier, 'mqtt-client-id'), 'utf8')).to.equal('mqtt-iot-stream-aggregator\n');
    await subscribedAs('mqtt-iot-stream-aggregator');
    process.child.kill('SIGTERM');
    expect(await process.exited, process.output()).to.equal(0);
  });
});
