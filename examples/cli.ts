#!/usr/bin/env node
// The mqtt-iot-stream command: the reference scenario without writing code.
import { connect } from 'mqtt';
import { Subject, lastValueFrom, takeUntil, tap } from 'rxjs';
import { ensureWindowCountTable, keyboardButton, sharedSimulatedGpio } from 'mqtt-iot-stream';
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { aggregator } from './aggregator.js';
import { runDemo } from './demo.js';
import { piPublisher } from './pi-publisher.js';
import { describeFlags, integerSetting, prepareCassandra, qosSetting, readSettings, type FlagName } from './settings.js';
import { Tally } from './tally.js';

const publishFlags = ['broker', 'topic', 'username', 'password', 'qos', 'file', 'backend', 'button-pin', 'led-pin'] as const satisfies readonly FlagName[];
const aggregateFlags = ['broker', 'topic', 'username', 'password', 'qos', 'share-group', 'cassandra', 'datacenter', 'keyspace', 'table',
  'replication', 'window', 'watermark', 'idle-advance', 'aggregator-id'] as const satisfies readonly FlagName[];
const demoFlags = ['file', 'rate', 'window', 'watermark', 'cassandra', 'datacenter', 'keyspace', 'table', 'duration'] as const satisfies readonly FlagName[];
// The demo closes windows quickly so a newcomer sees final rows within a minute.
const demoDefaults = { window: '10 seconds', watermark: '20 seconds', cassandra: undefined };

const usage = `mqtt-iot-stream: a Raspberry Pi button → MQTT → per-status counts in event-time windows → Cassandra

Usage:
  mqtt-iot-stream demo [flags]        everything on this machine: in-process broker, simulated
                                      button, bundled log, live table (Cassandra optional)
  mqtt-iot-stream publish [flags]     the Pi side: each press of GPIO 17 publishes the next log line
  mqtt-iot-stream aggregate [flags]   the aggregator: count statuses per window into Cassandra
  mqtt-iot-stream <command> --help    the flags of a command

Every flag can also come from the environment variable shown beside it.`;

const help: Record<string, string> = {
  demo: `mqtt-iot-stream demo [flags]\n\n${describeFlags(demoFlags, demoDefaults)}`,
  publish: `mqtt-iot-stream publish [flags]\n\nOn a Raspberry Pi 1–4 the pigpio backend needs root and the pigpio C library;\non a Pi 5 use --backend gpiod. --backend simulated: press Enter.\n\n${describeFlags(publishFlags)}`,
  aggregate: `mqtt-iot-stream aggregate [flags]\n\nCreates the keyspace and table if missing. Ctrl-C flushes open windows and exits.\n\n${describeFlags(aggregateFlags)}`,
};

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${usage}\n`);
    return command === undefined ? 1 : 0;
  }
  if (!(command in help)) {
    process.stderr.write(`unknown command "${command}"\n\n${usage}\n`);
    return 1;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${help[command]}\n`);
    return 0;
  }
  switch (command) {
    case 'demo': return demo(rest);
    case 'publish': return publish(rest);
    default: return aggregate(rest);
  }
}

async function demo(argv: readonly string[]): Promise<number> {
  const s = readSettings(argv, demoFlags, demoDefaults);
  await runDemo({
    logFile: s.file, rate: Number(s.rate), window: s.window, watermark: s.watermark, cassandra: s.cassandra,
    datacenter: s.datacenter, keyspace: s.keyspace, table: s.table, durationSeconds: integerSetting('duration', s.duration),
  });
  return 0;
}

async function publish(argv: readonly string[]): Promise<number> {
  const s = readSettings(argv, publishFlags);
  const backend = s.backend;
  if (backend !== 'pigpio' && backend !== 'gpiod' && backend !== 'simulated') throw new Error(`--backend must be pigpio, gpiod or simulated, got "${backend}"`);
  const client = connect(s.broker, credentials(s.username, s.password));
  const stop = new Subject<void>();
  process.once('SIGINT', () => stop.next());
  const stopKeyboard = backend === 'simulated' ? keyboardButton(sharedSimulatedGpio(), integerSetting('button-pin', s['button-pin'])) : () => {};
  // With the keyboard as the button, the end of input (Ctrl-D, or a pipe) ends the run
  // too, a moment later, so the last press still gets published.
  if (backend === 'simulated') process.stdin.once('end', () => setTimeout(() => stop.next(), 1_000));
  process.stdout.write(`publishing a line of ${s.file} to ${s.broker} "${s.topic}" on each press of GPIO ${s['button-pin']} (${backend}${backend === 'simulated' ? ': press Enter' : ''}); Ctrl-C stops\n`);
  let sent = 0;
  try {
    await lastValueFrom(piPublisher({
      broker: client, topic: s.topic, qos: qosSetting(s.qos), logFile: s.file, backend,
      buttonPin: integerSetting('button-pin', s['button-pin']), ledPin: integerSetting('led-pin', s['led-pin']),
    }).pipe(takeUntil(stop), tap((published) => process.stdout.write(`sent #${++sent} ${published.value.accesslogs.slice(0, 100)}\n`))), { defaultValue: undefined });
  } finally {
    stopKeyboard();
    client.end();
  }
  return 0;
}

async function aggregate(argv: readonly string[]): Promise<number> {
  const s = readSettings(argv, aggregateFlags);
  const replication = { class: 'SimpleStrategy', replication_factor: integerSetting('replication', s.replication) };
  const cassandra = await prepareCassandra(s.cassandra, s.datacenter,
    (client) => ensureWindowCountTable(client, { keyspace: s.keyspace, table: s.table, replication }));
  const tally = new Tally();
  tally.sending = false;
  const stop = new Subject<void>();
  process.once('SIGINT', () => stop.next());
  try {
    process.stdout.write(`counting statuses from ${s.broker} "${s.topic}" into ${s.keyspace}.${s.table} (windows ${s.window}, watermark ${s.watermark}); Ctrl-C flushes and stops\n`);
    await lastValueFrom(aggregator({
      broker: { url: s.broker, ...credentials(s.username, s.password) },
      topic: s['share-group'] === undefined ? s.topic : `$share/${s['share-group']}/${s.topic}`,
      qos: qosSetting(s.qos), window: s.window, watermark: s.watermark, outputMode: 'append',
      idleAdvanceMs: integerSetting('idle-advance', s['idle-advance']), stop,
      cassandra, keyspace: s.keyspace, table: s.table, aggregatorId: s['aggregator-id'],
    }, { received: tally.countReceived, rejected: tally.countRejected, windowStats: tally.watchWindows }).pipe(tap(({ row }) => {
      tally.rowsWritten++;
      process.stdout.write(`${row.windowStart.toISOString()} – ${row.windowEnd.toISOString()}  status ${row.key}  count ${row.count}   [${tally.summary()}]\n`);
    })), { defaultValue: undefined });
  } finally {
    await cassandra.shutdown();
  }
  process.stdout.write(`${tally.summary()}\n`);
  return 0;
}

function credentials(username: string | undefined, password: string | undefined): { username?: string; password?: string } {
  return { ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }) };
}

// Run when started as a program (also through npm's bin link), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (error: Error) => {
    process.stderr.write(`mqtt-iot-stream: ${error.message}\n`);
    process.exitCode = 1;
  });
}
