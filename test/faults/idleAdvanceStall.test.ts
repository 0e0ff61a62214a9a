// Idle advance across a broker stall, on the real parts: the `aggregate` command (idle
// advance on, a 5-second watermark, rows on stdout), a real Mosquitto and a QoS 1
// publisher stamping each event with the time it sends it. Mosquitto is stopped
// (SIGSTOP) for 40 s while the publisher keeps stamping, its messages piling up in its
// own queue; then it goes on (SIGCONT) and the backlog drains. Before BrokerLiveness,
// idle advance moved the watermark with the wall clock through the stall and the
// events stamped just before it came back late (issue 19 item 4). Every event must be
// counted once, none late.
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { encodeIotPayload, makeIotPayload } from '../../src/index.js';
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
  sleep,
  type AggregatorRunner,
  type SentEvent,
} from './aggregatorHarness.js';

const RATE = 50; // events a second
const BEFORE_MS = 20_000; // publishing before the stall
const STALL_MS = 40_000;
const AFTER_MS = 30_000; // publishing after it: 90 s, 4,500 events in all
/** Where in its minute the stall starts: 25 s before a window ends, so the wall clock passes that end during the stall. */
const STALL_SECOND = 35;

/** The last count printed for each `windowStart/status` (append mode: one row each, final or written at the stop). */
function countsFromRows(output: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const row = JSON.parse(line) as { windowStart: string; status: number; count: number };
    counts.set(`${Date.parse(row.windowStart)}/${row.status}`, row.count);
  }
  return counts;
}

/** The periodic status lines: `<time> broker connected · messages N (… msg/s) · … · late N · … · watermark …`. */
function statusLines(output: string): string[] {
  return output.split('\n').filter((text) => / broker \S+ · .*messages \d+/.test(text));
}

/** The latest `messages N` and `late N` of the periodic status lines. */
function statusFigures(output: string): { messages: number; late: number } {
  const line = statusLines(output).at(-1) ?? '';
  return {
    messages: Number(/messages (\d+)/.exec(line)?.[1] ?? 0),
    late: Number(/late (\d+)/.exec(line)?.[1] ?? 0),
  };
}

describe('idle advance across a broker stall (real Mosquitto SIGSTOPped, the aggregate command)', function () {
  this.timeout(600_000);
  let broker: Mosquitto;
  let publisher: MqttClient;
  let workDir: string;
  let aggregator: AggregatorRunner | undefined;
  const lines = corpusLines('elastic');

  before(async function () {
    // The queue limit raised: Mosquitto's default (1000 per client) would drop part of the backlog.
    broker = await startMosquitto({ persistence: true, extraConfig: ['max_queued_messages 1000000'] });
    publisher = await testClient(broker.url, { clientId: 'stall-publisher', reconnectPeriod: 200 });
    workDir = mkdtempSync(join(tmpdir(), 'stall-'));
  });
  after(async function () {
    if (broker?.pid !== undefined) process.kill(broker.pid, 'SIGCONT');
    for (const process of aggregator?.processes ?? []) process.child.kill('SIGKILL');
    await closeClients();
    await broker?.dispose();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it("counts every event stamped before, during and after a 40 s stall: none late, lost or counted twice, although the wall clock passed a window's end", async function () {
    const id = 'stall';
    aggregator = aggregatorRunner(
      broker,
      [
        ...['--broker', broker.url, '--topic', TOPIC, '--aggregator-id', id],
        ...['--state-dir', join(workDir, id), '--session-expiry', '600 s'],
        ...['--window', '1 minute', '--watermark', '5 seconds', '--idle-advance', '5000'],
        ...['--output-mode', 'append', '--format', 'json', '--status-every', '1 s', '--verbose'],
      ],
      `mqtt-iot-stream-aggregator-${id}`,
      TOPIC,
    );
    const running = await aggregator.start();

    // Start so that the stall begins STALL_SECOND into a minute.
    const firstStallSecond = (now: number) => {
      const stallAt = now + BEFORE_MS;
      const into = stallAt % MINUTE;
      return now + ((STALL_SECOND * 1000 - into + MINUTE) % MINUTE);
    };
    await sleep(firstStallSecond(Date.now()) - Date.now());

    const events: SentEvent[] = [];
    const acknowledged: Promise<unknown>[] = [];
    const started = Date.now();
    const total = ((BEFORE_MS + STALL_MS + AFTER_MS) / 1000) * RATE;
    let stoppedAt = 0;
    let resumedAt = 0;
    const watermarks: string[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / RATE;
      if (due > Date.now()) await sleep(due - Date.now());
      const elapsed = Date.now() - started;
      if (stoppedAt === 0 && elapsed >= BEFORE_MS) {
        stoppedAt = Date.now();
        process.kill(broker.pid!, 'SIGSTOP');
      }
      if (stoppedAt !== 0 && resumedAt === 0 && elapsed >= BEFORE_MS + STALL_MS) {
        watermarks.push(/watermark (\S+)/.exec(statusLines(running.output()).at(-1) ?? '')?.[1] ?? '-');
        resumedAt = Date.now();
        process.kill(broker.pid!, 'SIGCONT');
      }
      // Stamped as it is sent, whatever the broker is doing: the publisher does not wait.
      const line = lines[i % lines.length] as string;
      const time = Date.now();
      events.push({ time, line, status: Number(/" (\d{3}) /.exec(line)?.[1]) });
      acknowledged.push(
        publisher.publishAsync(TOPIC, encodeIotPayload(makeIotPayload(line, new Date(time))), { qos: 1 }),
      );
    }
    await Promise.all(acknowledged);
    await waitFor(
      () => statusFigures(running.output()).messages >= events.length,
      () =>
        `the aggregator to take all ${events.length} messages; it says ${JSON.stringify(statusFigures(running.output()))}\n${running.output().slice(-3000)}`,
      120_000,
      200,
    );
    const late = statusFigures(running.output()).late;
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
    const output = running.output();

    const expected = expectedCounts(events);
    const counted = countsFromRows(output);
    let lost = 0;
    let doubled = 0;
    for (const key of new Set([...expected.keys(), ...counted.keys()])) {
      const want = expected.get(key) ?? 0;
      const got = counted.get(key) ?? 0;
      if (got < want) lost += want - got;
      if (got > want) doubled += got - want;
    }
    const summary = aggregateSummary(output);
    const stalledFrom = new Date(stoppedAt).toISOString().slice(11, 19);
    const stalledTo = new Date(resumedAt).toISOString().slice(11, 19);
    const figures =
      `stall ${stalledFrom}–${stalledTo} (${Math.round((resumedAt - stoppedAt) / 1000)} s, watermark at SIGCONT ${watermarks[0]}): ` +
      `sent ${events.length}, counted ${[...counted.values()].reduce((a, b) => a + b, 0)}, late ${summary['late'] ?? late}, ` +
      `lost ${lost - (summary['late'] ?? late)} (beyond the late), double-counted ${doubled}`;
    process.stdout.write(`      ${figures}\n`);
    expect(summary['late'] ?? late, `late events\n${figures}\n${output.slice(-3000)}`).to.equal(0);
    expect(lost, `lost events\n${figures}`).to.equal(0);
    expect(doubled, `double-counted events\n${figures}`).to.equal(0);
  });
});
