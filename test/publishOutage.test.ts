// `publish` while the broker is away, as a Pi user meets it: the simulated button
// pressed with Enter, a real Mosquitto stopped and started again. Presses meanwhile are
// kept, in order, and sent once it is back; past --max-queued a press is ignored and
// stderr says so; a run that could not deliver everything never ends with status 0.
// With --outbox, the messages survive a SIGKILL and carry their publisher id and seq.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { cliPath as cli, projectRoot } from './support/cli.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { closeClients, testClient } from './support/mqttHelpers.js';
import { waitFor } from './support/waitFor.js';

const TOPIC = 'outage/gpiotopic';

interface Publisher {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Presses Enter once. */
  press(): void;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startPublish(args: readonly string[]): Publisher {
  const child = spawn(process.execPath, [cli, 'publish', ...args], {
    cwd: projectRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, press: () => child.stdin!.write('\n'), exited };
}

/** Beyond the simulated button's 300 ms bounce time: each press counts. */
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const PRESS_GAP_MS = 400;

async function pressTimes(publisher: Publisher, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    publisher.press();
    await sleep(PRESS_GAP_MS);
  }
}

describe('publish while the broker is away (real Mosquitto stopped and restarted, the built command)', function () {
  this.timeout(90_000);
  let broker: Mosquitto;
  let dir: string;
  let log: string;
  let lines: string[];
  let subscriber: MqttClient;
  const received: { line: string; publisher?: string; seq?: string }[] = [];

  before(async () => {
    broker = await startMosquitto({ persistence: true });
    dir = mkdtempSync(join(tmpdir(), 'publish-outage-'));
    log = join(dir, 'access.log');
    lines = Array.from(
      { length: 40 },
      (_, i) => `127.0.0.1 - - [01/Jul/2020:12:00:${String(i).padStart(2, '0')} +0000] "GET /${i + 1} HTTP/1.1" 200 5`,
    );
    writeFileSync(log, `${lines.join('\n')}\n`);
    // A persistent session: what is published while it reconnects waits for it.
    subscriber = await testClient(broker.url, {
      clientId: 'outage-subscriber',
      clean: false,
      properties: { sessionExpiryInterval: 600 },
    });
    subscriber.on('message', (_topic, payload, packet) => {
      const user = packet.properties?.userProperties ?? {};
      received.push({
        line: (JSON.parse(payload.toString()) as { accesslogs: string }).accesslogs,
        ...(user['publisher'] === undefined ? {} : { publisher: String(user['publisher']) }),
        ...(user['seq'] === undefined ? {} : { seq: String(user['seq']) }),
      });
    });
    await subscriber.subscribeAsync(TOPIC, { qos: 1 });
  });
  beforeEach(() => {
    received.length = 0;
  });
  after(async () => {
    await closeClients();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const args = (...more: string[]) => [
    '--broker',
    broker.url,
    '--topic',
    TOPIC,
    '--backend',
    'simulated',
    '--log',
    log,
    '--position-file',
    'off',
    ...more,
  ];

  it('refuses --outbox at QoS 0 before it connects (a message leaves the outbox at its acknowledgement), with status 2', async () => {
    const publisher = startPublish(args('--outbox', join(dir, 'never'), '--qos', '0'));
    publisher.child.stdin!.end();
    const ended = await publisher.exited;
    expect(ended.code).to.equal(2);
    expect(publisher.stderr()).to.match(
      /^mqtt-iot-stream: --outbox keeps each message until the broker acknowledges it, which QoS 0 never does: use --qos 1/,
    );
  });

  it('keeps the presses made while the broker is stopped and sends them in order once it is back, then exits 0', async () => {
    const publisher = startPublish(args());
    await waitFor(() => publisher.stdout().includes('connected to '), 'publish to connect', 10_000);
    await pressTimes(publisher, 2);
    await waitFor(() => received.length === 2, 'the first two presses', 10_000);
    await broker.stop();
    await waitFor(() => publisher.stdout().includes('reconnecting'), 'publish to see the broker gone', 10_000);
    await sleep(1_500); // "stayed up for 5 s, reconnecting": the case, shorter
    await pressTimes(publisher, 4);
    expect(publisher.child.exitCode, `publish ended on a press during the outage:\n${publisher.stderr()}`).to.equal(
      null,
    );
    await broker.restart();
    await waitFor(
      () => received.length === 6,
      () => `the 4 presses made meanwhile: ${received.length}`,
      20_000,
    );
    await pressTimes(publisher, 1);
    publisher.child.stdin!.end();
    const ended = await publisher.exited;
    expect(ended.code, publisher.stderr()).to.equal(0);
    await waitFor(() => received.length === 7, 'the last press', 10_000);
    expect(received.map((message) => message.line)).to.deep.equal(lines.slice(0, 7));
    expect(publisher.stdout()).to.match(/lost the connection to .*; reconnecting/);
    expect(publisher.stdout()).to.match(/connected to .* again/);
    expect(publisher.stdout().trimEnd().split('\n').at(-1)).to.equal(
      'published 7 lines; the broker acknowledged all 7',
    );
    expect(publisher.stderr()).to.equal('');
  });

  it('past --max-queued ignores a press, leaving its line for later, says so on stderr, and ends with status 1', async () => {
    const publisher = startPublish(args('--max-queued', '2', '--ack-wait', '1 s'));
    await waitFor(() => publisher.stdout().includes('connected to '), 'publish to connect', 10_000);
    await broker.stop();
    await waitFor(() => publisher.stdout().includes('reconnecting'), 'publish to see the broker gone', 10_000);
    await pressTimes(publisher, 5);
    expect(publisher.stderr()).to.match(
      /^2 messages wait for the broker \(--max-queued 2\): presses are ignored, their lines left for later presses, until it acknowledges$/m,
    );
    publisher.child.stdin!.end();
    const ended = await publisher.exited;
    expect(ended.code).to.equal(1);
    expect(publisher.stderr().trimEnd().split('\n').at(-1)).to.equal(
      'mqtt-iot-stream: published 2 lines; the broker acknowledged 0, not the other 2 (none came within 1 second of the last line: --ack-wait); 3 presses were ignored while 2 messages waited (--max-queued)',
    );
    await broker.restart();
  });

  it('with --outbox, a SIGKILL loses nothing: the next start sends the kept messages again, in order, with their publisher id and seq, and goes on from the place in the log', async () => {
    const outbox = join(dir, 'outbox');
    const position = join(dir, 'outbox.position');
    const first = startPublish(args('--outbox', outbox, '--position-file', position));
    await waitFor(() => first.stdout().includes('connected to '), 'publish to connect', 10_000);
    await pressTimes(first, 2);
    await waitFor(() => received.length === 2, 'the first two presses', 10_000);
    await broker.stop();
    await waitFor(() => first.stdout().includes('reconnecting'), 'publish to see the broker gone', 10_000);
    await pressTimes(first, 3);
    first.child.kill('SIGKILL');
    expect((await first.exited).signal).to.equal('SIGKILL');
    expect(readFileSync(join(outbox, 'outbox.log'), 'utf8').trimEnd().split('\n')).to.have.length.above(3);
    await broker.restart();

    const second = startPublish(args('--outbox', outbox, '--position-file', position));
    await waitFor(
      () => received.length === 5,
      () => `the 3 kept presses: ${received.length}`,
      20_000,
    );
    expect(second.stdout()).to.match(/sending again the 3 messages the last run left in .*outbox \(publisher [^)]+\)/);
    await pressTimes(second, 1);
    second.child.stdin!.end();
    const ended = await second.exited;
    expect(ended.code, second.stderr()).to.equal(0);
    await waitFor(() => received.length === 6, 'the press after the restart', 10_000);
    expect(received.map((message) => message.line)).to.deep.equal(lines.slice(0, 6));
    expect(received.map((message) => message.seq)).to.deep.equal(['1', '2', '3', '4', '5', '6']);
    expect(new Set(received.map((message) => message.publisher)).size).to.equal(1);
    expect(received[0]!.publisher).to.match(/^[A-Za-z0-9._-]+-[0-9a-f]{8}$/);
  });
});
