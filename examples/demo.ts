/**
 * The whole reference scenario on one machine with nothing installed but Node:
 * an in-process MQTT broker, the Pi publisher on a simulated button (automatic
 * presses, and Enter presses it too), the bundled access log, and the aggregator,
 * shown as a live table of windows and counts. Give a Cassandra address and the
 * rows are written there as well.
 *
 *   npm run demo
 *   npm run demo -- --cassandra 127.0.0.1:9042 --rate 3
 */
import type { Client } from 'cassandra-driver';
import { connect } from 'mqtt';
import { EMPTY, Subject, interval, lastValueFrom, merge, share, takeUntil, tap, timer } from 'rxjs';
import { cassandraSink, ensureWindowCountTable, keyboardButton, sharedSimulatedGpio } from 'mqtt-iot-stream';
import { statusCounts } from './aggregator.js';
import { startEmbeddedBroker } from './embedded-broker.js';
import { LiveView } from './live-view.js';
import { piPublisher } from './pi-publisher.js';
import { prepareCassandra } from './settings.js';
import { Tally } from './tally.js';

export interface DemoSettings {
  readonly logFile: string;
  /** Automatic presses per second; 0 for Enter only. */
  readonly rate: number;
  readonly window: string;
  readonly watermark: string;
  /** Contact points of a Cassandra to write to as well; none: terminal only. */
  readonly cassandra: string | undefined;
  readonly datacenter: string;
  readonly keyspace: string;
  readonly table: string;
  /** Stop by itself after this many seconds; 0: at Ctrl-C. */
  readonly durationSeconds: number;
}

const BUTTON_PIN = 17;
const LED_PIN = 4;

export async function runDemo(settings: DemoSettings): Promise<Tally> {
  const tally = new Tally();
  const view = new LiveView(tally);
  const broker = await startEmbeddedBroker();
  const gpio = sharedSimulatedGpio();
  const stopPublishing = new Subject<void>();
  const stopAggregating = new Subject<void>();

  let cassandra: Client | undefined;
  if (settings.cassandra !== undefined) {
    cassandra = await prepareCassandra(settings.cassandra, settings.datacenter,
      (client) => ensureWindowCountTable(client, { keyspace: settings.keyspace, table: settings.table }));
  }

  // The publisher owns nothing: we hand it a client and close it ourselves.
  const publisherClient = connect(broker.url, { protocolVersion: 4 });
  const published = piPublisher({
    broker: publisherClient, topic: 'rupesh/gpiotopic', qos: 1, logFile: settings.logFile,
    backend: gpio, buttonPin: BUTTON_PIN, ledPin: LED_PIN,
  }).pipe(takeUntil(stopPublishing), tap(() => tally.sent++));

  // Update mode, so the table fills as presses arrive; the sink upserts, so Cassandra
  // ends with the same rows append mode would write.
  const rows = statusCounts({
    broker: { url: broker.url, protocolVersion: 4 }, topic: 'rupesh/gpiotopic', qos: 1,
    window: settings.window, watermark: settings.watermark, outputMode: 'update', idleAdvanceMs: 5_000,
    stop: stopAggregating,
  }, { received: tally.countReceived, rejected: tally.countRejected, windowStats: tally.watchWindows }).pipe(
    tap(view.add),
    share(),
  );
  tally.writing = cassandra !== undefined;
  const written = cassandra === undefined ? EMPTY : rows.pipe(
    cassandraSink(cassandra, { keyspace: settings.keyspace, table: settings.table }),
    tap(() => tally.rowsWritten++),
  );

  const presses = settings.rate > 0
    // The first press waits a second, for the aggregator's subscription to be in place.
    ? timer(1000, 1000 / settings.rate).pipe(tap(() => { gpio.press(BUTTON_PIN); setTimeout(() => gpio.release(BUTTON_PIN), 50); }))
    : EMPTY;
  const stopKeyboard = process.stdin.isTTY ? keyboardButton(gpio, BUTTON_PIN) : () => {};
  const redraw = interval(500).pipe(tap(() => view.render()));

  process.stdout.write(`broker ${broker.url} (in-process) · button GPIO ${BUTTON_PIN}, LED GPIO ${LED_PIN} (simulated)`
    + ` · windows ${settings.window}, watermark ${settings.watermark}`
    + ` · ${cassandra ? `writing to Cassandra ${settings.keyspace}.${settings.table}` : 'no Cassandra (give --cassandra to write rows)'}\n`
    + `${settings.rate > 0 ? `${settings.rate} presses/s` : 'no automatic presses'}${process.stdin.isTTY ? ', Enter presses the button' : ''}; Ctrl-C stops, flushing open windows\n\n`);

  // Ctrl-C (or --duration): stop pressing, let the last publishes land, then stop the
  // aggregator so open windows are flushed and written.
  const stop = (): void => { stopPublishing.next(); };
  process.once('SIGINT', stop);
  const deadline = settings.durationSeconds > 0 ? timer(settings.durationSeconds * 1000).pipe(tap(stop)) : EMPTY;

  const aggregation = lastValueFrom(merge(rows, written), { defaultValue: undefined });
  try {
    await lastValueFrom(merge(published, presses.pipe(takeUntil(stopPublishing)), redraw.pipe(takeUntil(stopPublishing)), deadline.pipe(takeUntil(stopPublishing))), { defaultValue: undefined });
    await lastValueFrom(timer(500)); // the last publishes reach the aggregator
    stopAggregating.next();
    await aggregation;
  } finally {
    process.removeListener('SIGINT', stop);
    stopKeyboard();
    view.render(true);
    publisherClient.end();
    await broker.close();
    await cassandra?.shutdown();
  }
  if (!process.stdout.isTTY) process.stdout.write(`\n${tally.summary()}\n`); // a terminal has it in the table
  if (tally.lastRejection) process.stdout.write(`last rejection: ${tally.lastRejection.kind}: ${tally.lastRejection.reason}\n`);
  process.stdout.write(`\nNext: examples/pi-publisher.ts and examples/aggregator.ts are the two pipelines to copy;\n`
    + `run them against Mosquitto and Cassandra with "npx mqtt-iot-stream publish|aggregate --help".\n`);
  return tally;
}
