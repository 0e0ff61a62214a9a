// Interoperability with MQTT clients we did not write: mosquitto_pub and the
// original Python publisher (paho-mqtt) publish, fromMqtt receives and the payload
// codec decodes; what toMqtt publishes, mosquitto_sub receives byte for byte.
import { expect } from 'chai';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { firstValueFrom, from, lastValueFrom, take, toArray, type Subscription } from 'rxjs';
import {
  decodeIotPayload,
  encodeIotPayload,
  fromMqtt,
  makeIotPayload,
  parseAccessLog,
  toMqtt,
  windowedCount,
  type DecodedMqttMessage,
  type Rejection,
} from '../src/index.js';
import { corpusLines, corpusPath } from './support/corpora.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { countLog } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));

describe('MQTT interoperability with mosquitto_pub, mosquitto_sub and the original Python publisher', function () {
  this.timeout(30_000);
  let broker: Mosquitto;
  const subscriptions: Subscription[] = [];
  const children: ChildProcess[] = [];

  before(async function () {
    broker = await startMosquitto();
  });
  afterEach(function () {
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    children.splice(0).forEach((child) => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
  });
  after(async function () {
    await broker?.dispose();
  });

  it('receives and decodes what mosquitto_pub publishes (MQTT 3.1.1 and 5), and reports the junk', async function () {
    const lines = corpusLines('hackers').slice(0, 3);
    const decoded: DecodedMqttMessage[] = [];
    const rejections: Rejection[] = [];
    subscriptions.push(
      fromMqtt(broker.url, 'interop/pub')
        .pipe(decodeIotPayload({ onReject: (r) => rejections.push(r) }))
        .subscribe((d) => decoded.push(d)),
    );
    await waitFor(() => countLog(broker.log(), / 1 interop\/pub/) === 1, 'the subscription');
    const stamps = ['2020-07-01 12:34:56.789012', '2020-07-01T12:34:57Z', '2020-07-01 12:34:58'];
    for (const [i, line] of lines.entries()) {
      const version = i % 2 === 0 ? 'mqttv311' : 'mqttv5';
      await run('mosquitto_pub', [
        '-h',
        '127.0.0.1',
        '-p',
        String(broker.port),
        '-V',
        version,
        '-q',
        '1',
        '-t',
        'interop/pub',
        '-m',
        JSON.stringify({ iottimestamp: stamps[i], accesslogs: line }),
      ]);
    }
    await run('mosquitto_pub', [
      '-h',
      '127.0.0.1',
      '-p',
      String(broker.port),
      '-q',
      '1',
      '-t',
      'interop/pub',
      '-m',
      'not json at all',
    ]);
    await waitFor(
      () => decoded.length === 3 && rejections.length === 1,
      () => `3 decoded and 1 rejected, got ${decoded.length} and ${rejections.length}`,
    );
    expect(decoded.map((d) => d.payload.accesslogs)).to.deep.equal(lines);
    expect(decoded.map((d) => d.payload.iottimestamp.toISOString())).to.deep.equal([
      '2020-07-01T12:34:56.789Z',
      '2020-07-01T12:34:57.000Z',
      '2020-07-01T12:34:58.000Z',
    ]);
    expect(rejections[0]!.kind).to.equal('payload');
    expect(rejections[0]!.reason).to.match(/^message on "interop\/pub": payload is not JSON/);
  });

  it("windows by the event-time user property mosquitto_pub -V mqttv5 -D sets, not by the payload's iottimestamp, and by iottimestamp without one", async function () {
    const topic = 'interop/event-time';
    // Every payload says 2020-07-01 12:00:30; the property, where there is one, says March 2021.
    const payload = (status: number) =>
      JSON.stringify({
        iottimestamp: '2020-07-01 12:00:30',
        accesslogs: `127.0.0.1 - - [01/Jul/2020:12:00:30 +0000] "GET / HTTP/1.1" ${status} 5`,
      });
    const property = (...values: string[]) =>
      values.flatMap((value) => ['-D', 'publish', 'user-property', 'event-time', value]);
    const sent: { readonly version: string; readonly status: number; readonly properties: string[] }[] = [
      // Refused: an unreadable time, and two different times under one name.
      { version: 'mqttv5', status: 200, properties: property('yesterday') },
      { version: 'mqttv5', status: 200, properties: property('2021-03-04T05:06:07Z', '2021-03-04T05:09:00Z') },
      // No property (an MQTT 3.1.1 publisher cannot send one): the payload's time. Sent before
      // the 2021 events, whose watermark would make the 2020 window final.
      { version: 'mqttv5', status: 200, properties: [] },
      { version: 'mqttv311', status: 500, properties: [] },
      // The property's time, in each form it takes.
      { version: 'mqttv5', status: 200, properties: property('2021-03-04 05:06:07.123456') },
      { version: 'mqttv5', status: 200, properties: property('2021-03-04T07:06:30+02:00') },
      { version: 'mqttv5', status: 404, properties: property(String(Date.UTC(2021, 2, 4, 5, 6, 40))) },
      { version: 'mqttv5', status: 200, properties: property('2021-03-04T05:07:01Z', '2021-03-04 05:07:01') },
    ];
    const rejections: Rejection[] = [];
    const onReject = (rejection: Rejection) => rejections.push(rejection);
    const rows = lastValueFrom(
      fromMqtt(broker.url, topic, { qos: 1 }).pipe(
        decodeIotPayload({ eventTimeProperty: 'event-time', onReject }),
        parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs, onReject }),
        take(sent.length - 2),
        windowedCount({
          eventTime: ({ input }) => input.payload.iottimestamp,
          key: ({ record }) => record.status,
          windowDuration: '1 minute',
          watermarkDelay: '2 minutes',
        }),
        toArray(),
      ),
    );
    await waitFor(() => countLog(broker.log(), / 1 interop\/event-time/) === 1, 'the subscription');
    for (const { version, status, properties } of sent) {
      const args = ['-h', '127.0.0.1', '-p', String(broker.port), '-V', version, '-q', '1', '-t', topic];
      await run('mosquitto_pub', [...args, ...properties, '-m', payload(status)]);
    }
    const counted = (await rows).map(
      (row) => `${row.windowStart.toISOString()} ${row.windowEnd.toISOString()} ${row.key} ${row.count}`,
    );
    expect(counted.sort()).to.deep.equal([
      '2020-07-01T12:00:00.000Z 2020-07-01T12:01:00.000Z 200 1',
      '2020-07-01T12:00:00.000Z 2020-07-01T12:01:00.000Z 500 1',
      '2021-03-04T05:06:00.000Z 2021-03-04T05:07:00.000Z 200 2',
      '2021-03-04T05:06:00.000Z 2021-03-04T05:07:00.000Z 404 1',
      '2021-03-04T05:07:00.000Z 2021-03-04T05:08:00.000Z 200 1',
    ]);
    expect(rejections.map(({ kind, reason }) => `${kind}: ${reason}`)).to.deep.equal([
      `timestamp: message on "${topic}": user property "event-time" is "yesterday", not a time like "2020-07-01 12:34:56.789012" (UTC), ISO 8601 ("2020-07-01T12:34:56.789Z") or epoch milliseconds`,
      `timestamp: message on "${topic}": user property "event-time" is given 2 times, with different times: "2021-03-04T05:06:07Z" and "2021-03-04T05:09:00Z"`,
    ]);
  });

  it('receives and decodes what the original Python publisher (paho-mqtt) sends for real access-log lines', async function () {
    const count = 25;
    const lines = corpusLines('elastic').slice(0, count);
    const received = firstValueFrom(
      fromMqtt(broker.url, 'rupesh/gpiotopic').pipe(decodeIotPayload({ strict: true }), take(count), toArray()),
    );
    await waitFor(() => countLog(broker.log(), / 1 rupesh\/gpiotopic/) === 1, 'the subscription');
    const before = Date.now();
    const script = join(here, 'python', 'publish_like_original.py');
    const { stdout } = await run('/usr/bin/python3', [
      script,
      '127.0.0.1',
      String(broker.port),
      'rupesh/gpiotopic',
      corpusPath('elastic'),
      String(count),
    ]);
    const after = Date.now();
    expect(stdout.trim()).to.equal(String(count));
    const decoded = await received;
    // f.readline() keeps the newline, as the original did.
    expect(decoded.map((d) => d.payload.accesslogs)).to.deep.equal(lines.map((line) => `${line}\n`));
    for (const d of decoded) {
      // str(datetime.utcnow()) has microseconds and no zone; we read it as UTC.
      expect(d.payload.iottimestamp.getTime()).to.be.within(before - 1_000, after + 1_000);
      expect(d.message.qos).to.equal(0);
    }
  });

  it('publishes with toMqtt what mosquitto_sub receives byte for byte', async function () {
    const values: (Buffer | string | object)[] = [
      encodeIotPayload(
        makeIotPayload(
          '127.0.0.1 - - [01/Jul/2020:12:34:56 +0000] "GET / HTTP/1.1" 200 5\n',
          new Date(Date.UTC(2020, 6, 1, 12, 34, 56, 789)),
        ),
      ),
      'plain text, ünïcødé ✓',
      Buffer.from([0, 1, 2, 10, 13, 255, 254]),
      { nested: { list: [1, 'two', null] } },
    ];
    const expected = [
      Buffer.from(values[0] as string),
      Buffer.from('plain text, ünïcødé ✓'),
      Buffer.from([0, 1, 2, 10, 13, 255, 254]),
      Buffer.from('{"nested":{"list":[1,"two",null]}}'),
    ];
    // -F %x prints each payload as hex on its own line, so bytes survive exactly.
    const sub = spawn(
      'mosquitto_sub',
      [
        '-h',
        '127.0.0.1',
        '-p',
        String(broker.port),
        '-i',
        'interop-sub',
        '-t',
        'interop/out',
        '-q',
        '1',
        '-C',
        String(values.length),
        '-F',
        '%x',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(sub);
    let output = '';
    sub.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => sub.once('exit', (code) => resolve(code)));
    await waitFor(() => countLog(broker.log(), /interop-sub 1 interop\/out/) === 1, 'mosquitto_sub to subscribe');
    // The default serializer: strings and Buffers as they are, objects as JSON.
    await lastValueFrom(from(values).pipe(toMqtt(broker.url, { topic: 'interop/out', qos: 1 })));
    expect(await exited).to.equal(0);
    expect(output.trim().split('\n')).to.deep.equal(expected.map((b) => b.toString('hex')));
    // The reference payload is exactly what the original publisher would send.
    expect(expected[0]!.toString()).to.equal(
      '{"iottimestamp":"2020-07-01 12:34:56.789000","accesslogs":"127.0.0.1 - - [01/Jul/2020:12:34:56 +0000] \\"GET / HTTP/1.1\\" 200 5\\n"}',
    );
  });
});
