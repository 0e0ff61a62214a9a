// The event time as an MQTT 5 user property, end to end with the built command (npm run
// build first) on a real Mosquitto: `publish --event-time-property` stamps the press time
// into the property, `aggregate --event-time-property` windows by it, beside publishers
// that do not set it (counted by their iottimestamp) and one that sets it unreadably
// (rejected, acknowledged).
import { expect } from 'chai';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseEventTime } from '../src/index.js';
import { startAggregate, TOPIC, type AggregatorProcess } from './faults/aggregatorHarness.js';
import { cliPath, projectRoot } from './support/cli.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { closeClients, countLog, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

const run = promisify(execFile);
const MINUTE = 60_000;
const line = (status: number) => `127.0.0.1 - - [01/Jul/2020:12:00:30 +0000] "GET / HTTP/1.1" ${status} 5`;

/** Runs `publish` with `input` on stdin; its status and output. */
function publish(args: readonly string[], input: string): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, 'publish', ...args], {
      cwd: projectRoot,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output }));
    child.stdin.end(input);
  });
}

/** What a subscriber saw of one message. */
interface Seen {
  readonly iottimestamp: string;
  readonly status: number;
  readonly eventTime: string | string[] | undefined;
  readonly publisher: string | string[] | undefined;
}

describe('publish --event-time-property → aggregate --event-time-property (the built command, a real Mosquitto)', function () {
  this.timeout(60_000);
  let broker: Mosquitto;
  let directory: string;
  let aggregator: AggregatorProcess | undefined;

  before(async () => {
    broker = await startMosquitto();
    directory = mkdtempSync(join(tmpdir(), 'event-time-'));
  });
  after(async () => {
    aggregator?.child.kill('SIGKILL');
    await closeClients();
    await broker?.dispose();
    rmSync(directory, { recursive: true, force: true });
  });

  it("windows our publisher's messages by the press time it stamps as a user property, others by their iottimestamp or the property mosquitto_pub sets, and rejects an unreadable one", async () => {
    const id = 'event-time';
    const client = `mqtt-iot-stream-aggregator-${id}`;
    aggregator = startAggregate([
      '--broker',
      broker.url,
      '--topic',
      TOPIC,
      '--aggregator-id',
      id,
      '--state-dir',
      join(directory, 'state'),
      '--idle-advance',
      '0',
      '--max-event-time-ahead',
      'off',
      '--format',
      'json',
      '--verbose',
      '--event-time-property',
      'event-time',
    ]);
    await waitFor(() => broker.log().includes(`${client} 1 ${TOPIC}`), "the aggregator's subscription");
    const seen: Seen[] = [];
    const watcher = await testClient(broker.url);
    watcher.on('message', (_topic, payload, packet) => {
      const { iottimestamp, accesslogs } = JSON.parse(payload.toString()) as Record<string, string>;
      const user = packet.properties?.userProperties ?? {};
      seen.push({
        iottimestamp: iottimestamp!,
        status: Number(/" (\d{3}) /.exec(accesslogs!)![1]),
        eventTime: user['event-time'],
        publisher: user['publisher'],
      });
    });
    await watcher.subscribeAsync(TOPIC, { qos: 1 });

    // A client we did not write: the payload says July 2020, the property March 2021.
    // Sent first, so that the watermark of the presses below does not make it late.
    const mosquittoPub = ['-h', '127.0.0.1', '-p', String(broker.port), '-V', 'mqttv5', '-q', '1', '-t', TOPIC];
    const payload = JSON.stringify({ iottimestamp: '2020-07-01 12:00:30', accesslogs: line(200) });
    await run('mosquitto_pub', [
      ...mosquittoPub,
      '-D',
      'publish',
      'user-property',
      'event-time',
      '2021-03-04T05:06:07Z',
      '-m',
      payload,
    ]);
    await run('mosquitto_pub', [
      ...mosquittoPub,
      '-D',
      'publish',
      'user-property',
      'event-time',
      'at dawn',
      '-m',
      payload,
    ]);
    // Ours, stamping the property (through an outbox, which keeps it with each message), and an
    // older publisher that does not.
    const stamped = await publish(
      [
        '--broker',
        broker.url,
        '--topic',
        TOPIC,
        '--backend',
        'simulated',
        '--log',
        '-',
        '--outbox',
        join(directory, 'outbox'),
        '--event-time-property',
        'event-time',
      ],
      `${line(200)}\n${line(404)}\n`,
    );
    expect(stamped.status, stamped.output).to.equal(0);
    expect(stamped.output).to.match(/published 2 lines; the broker acknowledged all 2\n$/);
    const older = await publish(
      ['--broker', broker.url, '--topic', TOPIC, '--backend', 'simulated', '--log', '-'],
      `${line(503)}\n`,
    );
    expect(older.status, older.output).to.equal(0);

    // Every message counted or rejected: the aggregator acknowledges each only then.
    await waitFor(
      () => countLog(broker.log(), new RegExp(`Received PUBACK from ${client} `)) === 5 && seen.length === 5,
      () =>
        `5 messages acknowledged by the aggregator and seen, got ${countLog(broker.log(), new RegExp(`Received PUBACK from ${client} `))} and ${seen.length}`,
    );
    aggregator.child.kill('SIGTERM');
    expect(await aggregator.exited, aggregator.output()).to.equal(0);

    // What publish sent: the press time as ISO 8601 in the property, the same instant as
    // iottimestamp, beside the outbox's publisher id; nothing from the older publisher.
    const ours = seen.slice(2, 4);
    for (const message of ours) {
      expect(message.eventTime).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      expect(Date.parse(message.eventTime as string)).to.equal(parseEventTime(message.iottimestamp));
      expect(message.publisher).to.be.a('string');
    }
    expect(seen[4]!.eventTime).to.equal(undefined);

    // The rows: windowed by the property where there is one, by iottimestamp otherwise.
    const windowOf = (epoch: number) => new Date(epoch - (epoch % MINUTE)).toISOString();
    const expected = new Map<string, number>([[`2021-03-04T05:06:00.000Z 200`, 1]]);
    for (const message of seen.slice(2)) {
      const time =
        message.eventTime === undefined
          ? parseEventTime(message.iottimestamp)!
          : Date.parse(message.eventTime as string);
      const cell = `${windowOf(time)} ${message.status}`;
      expected.set(cell, (expected.get(cell) ?? 0) + 1);
    }
    const rows = aggregator
      .output()
      .split('\n')
      .filter((text) => text.startsWith('{'))
      .map((text) => JSON.parse(text) as { windowStart: string; status: number; count: number; final: boolean });
    expect(rows.map((row) => `${row.windowStart} ${row.status} ${row.count}`).sort()).to.deep.equal(
      [...expected].map(([cell, count]) => `${cell} ${count}`).sort(),
    );
    expect(rows.find((row) => row.windowStart.startsWith('2021'))?.final, 'closed by the later presses').to.equal(true);
    expect(
      rows.some((row) => row.windowStart.startsWith('2020')),
      "mosquitto_pub's payload time unused",
    ).to.equal(false);
    expect(aggregator.output()).to.include(
      `rejected (timestamp): message on "${TOPIC}": user property "event-time" is "at dawn", not a time like`,
    );
  });
});
