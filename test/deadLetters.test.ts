// Rejected payloads kept: durableWindowedCount republishes each message it rejects for
// what it holds to a dead-letter topic, unchanged, with the reason and kind as MQTT 5
// user properties, before the message's own PUBACK. Read back with mosquitto_sub (a
// client we did not write); a dead letter the broker refuses leaves the message
// unacknowledged, so the broker sends it again.
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Subject, lastValueFrom, map, type Observable } from 'rxjs';
import {
  LiveStatistics,
  decodeIotPayload,
  durableWindowedCount,
  encodeIotPayload,
  fromMqtt,
  makeIotPayload,
  parseAccessLog,
  type DeadLetterOptions,
  type DecodedMqttMessage,
  type MqttConnectOptions,
  type Rejection,
} from '../src/index.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { waitFor } from './support/waitFor.js';

const execFileAsync = promisify(execFile);
const LINE = '127.0.0.1 - - [01/Jul/2020:12:00:01 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/7.68.0"';
const TOPIC = 'rupesh/gpiotopic';

describe('dead letters on a real Mosquitto', function () {
  this.timeout(60_000);
  let broker: Mosquitto;
  let stateDirectory: string;

  before(async () => {
    broker = await startMosquitto({
      users: [
        { username: 'aggregator', password: 'aggregator-secret' },
        { username: 'reader', password: 'reader-secret' },
      ],
      // The aggregator may publish dead letters on dead/# only: 'forbidden' is refused.
      acl:
        ['user aggregator', `topic read ${TOPIC}`, 'topic write dead/#', 'user reader', 'topic readwrite #'].join(
          '\n',
        ) + '\n',
      extraConfig: ['max_queued_messages 0'],
    });
  });
  after(async () => {
    await broker?.dispose();
  });
  beforeEach(() => {
    stateDirectory = mkdtempSync(join(tmpdir(), 'dead-letters-'));
  });
  afterEach(() => {
    rmSync(stateDirectory, { recursive: true, force: true });
  });

  const session = (): MqttConnectOptions => ({
    url: broker.url,
    clientId: 'dead-letter-aggregator',
    clean: false,
    protocolVersion: 5,
    username: 'aggregator',
    password: 'aggregator-secret',
    properties: { sessionExpiryInterval: 600 },
  });

  /** The aggregator: decode, parse, count; its rejections dead-lettered as `deadLetter` says. */
  function aggregate(stop: Observable<void>, deadLetter: DeadLetterOptions | undefined, statistics: LiveStatistics) {
    const rejections: Rejection[] = [];
    let counted = 0;
    const done = lastValueFrom(
      fromMqtt(session(), TOPIC, { qos: 1, ack: 'manual', keepSubscription: true, statistics }).pipe(
        durableWindowedCount({
          stateDirectory,
          prepare: (messages, { onReject }) =>
            messages.pipe(
              decodeIotPayload({ onReject, maxPayloadBytes: 2_000 }),
              parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs, onReject }),
              map((request) => {
                counted++;
                return request;
              }),
            ),
          eventTime: ({ input }) => input.payload.iottimestamp,
          key: ({ record }) => record.status,
          windowDuration: '1 minute',
          watermarkDelay: '2 minutes',
          maxEventTimeAhead: '1 hour',
          onReject: (rejection) => rejections.push(rejection),
          write: (rows) => rows.pipe(map((row) => ({ value: row }))),
          statistics,
          stop,
          ...(deadLetter === undefined ? {} : { deadLetter }),
        }),
      ),
      { defaultValue: undefined },
    );
    return { done, rejections, counted: () => counted };
  }

  const publish = (payload: string) =>
    execFileAsync('mosquitto_pub', [
      ...['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5', '-q', '1'],
      ...['-u', 'reader', '-P', 'reader-secret', '-t', TOPIC, '-m', payload],
    ]);

  const good = (second: number) =>
    encodeIotPayload(makeIotPayload(LINE, new Date(Date.UTC(2020, 6, 1, 12, 0, second)))).toString();

  it('republishes each rejected message unchanged, with kind and reason, before its PUBACK; counts the rest', async () => {
    // mosquitto_sub prints each dead letter's user properties and payload, and exits after 5.
    const reader = spawn('mosquitto_sub', [
      ...['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5', '-q', '1'],
      ...['-u', 'reader', '-P', 'reader-secret', '-t', 'dead/letters', '-C', '5', '-F', '%P|%l|%p'],
    ]);
    let printed = '';
    reader.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const readerExit = new Promise<number | null>((resolve) => reader.on('exit', resolve));
    await waitFor(() => broker.log().includes('dead/letters'), 'mosquitto_sub subscribed', 10_000);

    const statistics = new LiveStatistics();
    const stop = new Subject<void>();
    const run = aggregate(
      stop,
      { broker: { ...session(), clientId: 'dead-letter-publisher' }, topic: 'dead/letters', maxPayloadBytes: 2_500 },
      statistics,
    );
    await waitFor(() => statistics.value('broker', 'broker_subscribed') === 1, 'the aggregator subscribed');

    const big = JSON.stringify({ iottimestamp: '2020-07-01 12:00:09.000000', accesslogs: LINE + ' '.repeat(2_600) });
    const future = encodeIotPayload(makeIotPayload(LINE, new Date(Date.now() + 3 * 3_600_000))).toString();
    const bad = [
      'not json at all',
      '{"iottimestamp": 42}',
      JSON.stringify({ iottimestamp: '2020-07-01 12:00:05.000000', accesslogs: 'no log line' }),
      big,
      future,
    ];
    for (let second = 0; second < 3; second++) await publish(good(second));
    for (const payload of bad) await publish(payload);
    for (let second = 3; second < 5; second++) await publish(good(second));

    await waitFor(
      () => reader.exitCode !== null,
      () =>
        `mosquitto_sub to read 5 dead letters: printed ${JSON.stringify(printed)}, rejections ${run.rejections.map((r) => r.kind).join(',')}, messages ${statistics.value('durable', 'messages_total')}`,
      20_000,
    );
    expect(await readerExit, 'mosquitto_sub read 5 dead letters').to.equal(0);
    await waitFor(
      // The 5 good ones and the far-future one, which counting then refuses.
      () => run.counted() === 6,
      () => `6 requests parsed, got ${run.counted()}`,
    );
    // mosquitto_sub can read a dead letter before its PUBACK reaches the aggregator, which
    // acknowledges the message only then: a stop before that leaves the message to come again.
    await waitFor(
      () => statistics.value('dead_letter', 'dead_letters_total') === 5,
      'the broker to acknowledge the 5 dead letters (and so the aggregator their messages)',
    );
    stop.next();
    await run.done;

    const letters = printed.trimEnd().split('\n');
    expect(letters).to.have.length(5);
    const kinds = letters.map((letter) => /kind:(\w+)/.exec(letter)?.[1]);
    expect(kinds).to.deep.equal(['payload', 'payload', 'line', 'payload', 'future']);
    letters.forEach((letter, index) => {
      expect(letter, 'the original topic').to.include(`topic:${TOPIC}`);
      expect(letter, 'a reason').to.match(/reason:\S/);
      const payload = letter.slice(letter.lastIndexOf('|') + 1);
      if (index === 3) {
        // Over the dead letter's 2,500 bytes: cut, and it says from how much.
        expect(letter).to.include(`truncated-from:${Buffer.byteLength(big)}`);
        expect(payload).to.equal(big.slice(0, 2_500));
      } else {
        expect(payload, 'the payload unchanged').to.equal(bad[index]);
      }
    });
    expect(run.rejections.map((r) => r.kind)).to.deep.equal(kinds);
    expect(statistics.value('dead_letter', 'dead_letters_total')).to.equal(5);
    expect(statistics.value('dead_letter', 'dead_letters_total', { kind: 'payload' })).to.equal(3);
    expect(statistics.value('durable', 'messages_total')).to.equal(10);

    // The stream completes before the connection has closed (MQTT.js ends it on the next
    // turns): a second run connecting before that takes the session over, and the broker
    // drops what the first still had on its way (the last PUBACKs, the DISCONNECT).
    await waitFor(
      () => broker.log().includes('Received DISCONNECT from dead-letter-aggregator'),
      "the first run's DISCONNECT at the broker",
    );
    // Every message was acknowledged: a second run on the session gets nothing again.
    const again = new LiveStatistics();
    const secondStop = new Subject<void>();
    const second = aggregate(secondStop, undefined, again);
    await waitFor(() => again.value('broker', 'broker_subscribed') === 1, 'the second run subscribed');
    await publish(good(6));
    await waitFor(() => second.counted() === 1, 'the new message counted');
    secondStop.next();
    await second.done;
    expect(again.value('durable', 'messages_total'), 'nothing redelivered').to.equal(1);
  });

  it('a dead letter the broker refuses ends the stream with its reason, and the message stays unacknowledged', async () => {
    const statistics = new LiveStatistics();
    const stop = new Subject<void>();
    const run = aggregate(
      stop,
      { broker: { ...session(), clientId: 'dead-letter-publisher' }, topic: 'forbidden' },
      statistics,
    );
    await waitFor(() => statistics.value('broker', 'broker_subscribed') === 1, 'the aggregator subscribed');
    const outcome = run.done.then(
      () => new Error('completed instead of failing'),
      (e: unknown) => e as Error,
    );
    await publish('not json at all');
    const error = await outcome;
    expect(error.message).to.match(/toMqtt: .*forbidden.*not authori[sz]ed/i);

    // The broker sends the rejected message again to the next run, which now keeps it.
    const again = new LiveStatistics();
    const secondStop = new Subject<void>();
    const second = aggregate(secondStop, undefined, again);
    await waitFor(
      () => second.rejections.length === 1,
      () =>
        `the unacknowledged message delivered again: ${broker
          .log()
          .split('\n')
          .filter((l) => / m1\b|Mid: 1\b|dead-letter/.test(l))
          .slice(-12)
          .join(' / ')}`,
    );
    secondStop.next();
    await second.done;
    expect(second.rejections[0]!.kind).to.equal('payload');
  });
});
