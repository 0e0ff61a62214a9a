// The publisher side of the fault suite: the real `publish` command (lines of a log
// file, pressed by its timer) with an outbox, the real `aggregate` command, a real
// Mosquitto with persistence and the real Cassandra node. The broker is stopped and
// started again while presses go on; the publisher is SIGKILLed with messages in its
// outbox and started again on it. An observer subscribed to the topic records each
// message sent (publisher, seq, payload); the table is compared cell by cell with the
// distinct messages, and those with the log's lines in order: lost and double-counted
// are reported separately, end to end, from the press to the table.
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'cassandra-driver';
import type { MqttClient } from 'mqtt';
import { cliPath as cli } from '../support/cli.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode } from '../support/cassandra.js';
import { testClient } from '../support/mqttHelpers.js';
import { waitFor } from '../support/waitFor.js';
import {
  TOPIC,
  aggregatorSuite,
  describeDifferences,
  sleep,
  type SentEvent,
  quickReconnection,
} from './aggregatorHarness.js';

/** The publish command, running. */
interface PublisherProcess {
  readonly child: ChildProcess;
  output(): string;
  /** How many `sent #n` lines it printed (messages the broker acknowledged). */
  acknowledged(): number;
  readonly exited: Promise<number | NodeJS.Signals>;
}

function startPublish(args: readonly string[]): PublisherProcess {
  const child = spawn(process.execPath, [cli, 'publish', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(signal ?? code ?? -1)),
  );
  return {
    child,
    output: () => output,
    acknowledged: () => (output.match(/^sent #\d+ /gm) ?? []).length,
    exited,
  };
}

/** One message the observer saw: who sent it, its sequence number, its payload. */
interface Observed {
  readonly publisher: string;
  readonly seq: number;
  readonly payload: string;
}

/** A persistent-session subscriber recording every message on the topic (it sees resends too). */
async function observe(url: string, clientId: string): Promise<{ client: MqttClient; seen: Observed[] }> {
  const seen: Observed[] = [];
  const client = await testClient(url, {
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
  });
  client.on('message', (_topic, payload, packet) => {
    const user = packet.properties?.userProperties ?? {};
    seen.push({ publisher: String(user['publisher']), seq: Number(user['seq']), payload: payload.toString() });
  });
  await client.subscribeAsync(TOPIC, { qos: 1 });
  return { client, seen };
}

/**
 * What was pressed, as the observer saw it: one event per distinct (publisher, seq),
 * checked to be the log's lines in order, each seq from 1 to `presses` once at least.
 */
function pressedEvents(seen: readonly Observed[], logLines: readonly string[], presses: number): SentEvent[] {
  const distinct = new Map<string, Observed>();
  for (const message of seen) {
    const id = `${message.publisher}/${message.seq}`;
    const earlier = distinct.get(id);
    if (earlier !== undefined && earlier.payload !== message.payload)
      throw new Error(`${id} was sent with two payloads:\n${earlier.payload}\n${message.payload}`);
    distinct.set(id, message);
  }
  const messages = [...distinct.values()].filter((message) => message.payload.includes('accesslogs'));
  messages.sort((a, b) => a.seq - b.seq);
  expect(
    messages.map((message) => message.seq),
    'the publisher sent each press once at least, numbered from 1',
  ).to.deep.equal(Array.from({ length: presses }, (_, i) => i + 1));
  return messages.map((message, i) => {
    const { iottimestamp, accesslogs } = JSON.parse(message.payload) as { iottimestamp: string; accesslogs: string };
    expect(accesslogs, `press ${i + 1} published line ${i + 1} of the log`).to.equal(logLines[i]);
    return {
      time: Date.parse(`${iottimestamp.replace(' ', 'T')}Z`),
      line: accesslogs,
      status: Number(/" (\d{3}) /.exec(accesslogs)?.[1]),
    };
  });
}

describe('publisher under faults (the publish and aggregate commands, real Mosquitto, real Cassandra)', function () {
  this.timeout(600_000);
  const suite = aggregatorSuite('pubfaults', CASSANDRA_START_TIMEOUT_MS, async () => {
    const node = await cassandraNode();
    return { client: new Client(node.clientOptions(quickReconnection)), args: ['--cassandra', node.contactPoint] };
  });

  /** A log of `count` corpus lines in the case's folder; its lines. */
  function writeLog(name: string, count: number): { path: string; lines: string[] } {
    const lines = Array.from({ length: count }, (_, i) => suite.lines[i % suite.lines.length] as string);
    const path = join(suite.workDir, `${name}.log`);
    writeFileSync(path, `${lines.join('\n')}\n`);
    return { path, lines };
  }

  function publishArgs(log: string, outbox: string, rate: number, count: number, name: string): string[] {
    return [
      '--broker',
      suite.broker.url,
      '--topic',
      TOPIC,
      '--backend',
      'simulated',
      '--log',
      log,
      '--position-file',
      join(suite.workDir, `${name}.position`),
      '--outbox',
      outbox,
      '--rate',
      String(rate),
      '--count',
      String(count),
      '--ack-wait',
      '30 s',
    ];
  }

  const closeAndCompare = (table: string, events: readonly SentEvent[], caseName: string) =>
    suite.closeAndCompare(table, events, caseName, { sent: 'pressed' });

  it('loses no press and counts none twice when the broker is stopped and restarted during presses', async () => {
    const aggregator = await suite.caseAggregator('outage', 'append');
    await aggregator.start();
    const observer = await observe(suite.broker.url, 'pubfaults-observer-outage');
    const presses = 300;
    const log = writeLog('outage', presses);
    const publisher = startPublish(publishArgs(log.path, join(suite.workDir, 'outage-outbox'), 25, presses, 'outage'));
    await waitFor(
      () => publisher.acknowledged() >= 60,
      () => `60 presses sent:\n${publisher.output()}`,
      30_000,
    );
    await suite.broker.stop();
    await sleep(3_000); // 75 presses while the broker is away
    await suite.broker.restart();
    expect(await publisher.exited, publisher.output()).to.equal(0);
    expect(publisher.output()).to.match(/lost the connection to .*; reconnecting/);
    expect(publisher.output()).to.match(/published 300 lines; the broker acknowledged all 300/);
    await sleep(500);
    const events = pressedEvents(observer.seen, log.lines, presses);
    const comparison = await closeAndCompare(aggregator.table, events, 'broker stopped 3 s during presses');
    expect(comparison, describeDifferences(comparison, aggregator.current().output().slice(-3000))).to.include({
      lost: 0,
      doubled: 0,
    });
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
  });

  it('loses no press and counts none twice when the publisher is SIGKILLed with messages in its outbox and restarted on it', async () => {
    const aggregator = await suite.caseAggregator('publisher_kill', 'append');
    await aggregator.start();
    const observer = await observe(suite.broker.url, 'pubfaults-observer-kill');
    const presses = 1_000;
    const log = writeLog('kill', presses);
    const outbox = join(suite.workDir, 'kill-outbox');
    // 1. Killed 4 times while it streams: the broker got the messages in flight, their
    //    PUBACKs are never read (SIGSTOP first), so the outbox still holds them.
    const killedAt: number[] = [];
    for (let kill = 0; kill < 4; kill++) {
      const run = startPublish(publishArgs(log.path, outbox, 1000, presses, 'kill'));
      const after = 60 + Math.floor(Math.random() * 60);
      await waitFor(
        () => run.acknowledged() >= after,
        () => `${after} presses sent:\n${run.output()}`,
        30_000,
      );
      run.child.kill('SIGSTOP');
      await sleep(500);
      run.child.kill('SIGKILL');
      expect(await run.exited).to.equal('SIGKILL');
      killedAt.push(new Set(observer.seen.map((message) => message.seq)).size);
    }
    // 2. Killed with the broker away: the presses meanwhile are in the outbox only.
    const second = startPublish(publishArgs(log.path, outbox, 50, presses, 'kill'));
    await waitFor(
      () => second.acknowledged() >= 20,
      () => `20 more presses sent:\n${second.output()}`,
      30_000,
    );
    await suite.broker.stop();
    await sleep(2_000);
    second.child.kill('SIGKILL');
    expect(await second.exited).to.equal('SIGKILL');
    await suite.broker.restart();
    // 3. Started again on the same outbox: it sends what is left there, then goes on with the log.
    const taken = (log: string) => (log.match(/^sent #\d+ /gm) ?? []).length;
    const third = startPublish(publishArgs(log.path, outbox, 200, 100, 'kill'));
    expect(await third.exited, third.output()).to.equal(0);
    expect(third.output()).to.match(/sending again the \d+ messages? the last run left in /);
    await sleep(500);
    const distinct = new Set(observer.seen.map((message) => message.seq)).size;
    const events = pressedEvents(observer.seen, log.lines, distinct);
    const resent = observer.seen.length - distinct;
    const comparison = await closeAndCompare(aggregator.table, events, 'publisher SIGKILLed 5 times');
    suite.figures.push(
      `  (killed with ${killedAt.join(', ')} seen; ${resent} messages the observer got twice (sent again from the outbox, or redelivered to it); third run acknowledged ${taken(third.output())})`,
    );
    expect(resent, 'messages sent again from the outbox').to.be.above(0);
    expect(comparison, describeDifferences(comparison, aggregator.current().output().slice(-3000))).to.include({
      lost: 0,
      doubled: 0,
    });
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
  });
});
