/**
 * The whole reference scenario on one machine with nothing installed but Node:
 * an in-process MQTT broker, the Pi publisher on a simulated button (automatic
 * presses, and Enter presses it too), the bundled access log, and the aggregator,
 * shown as a live table of windows and counts. Give a Cassandra address and the
 * rows are written there as well. The dashboard (--http, on by default) shows the same
 * windows in a browser, with the pipeline's live statistics.
 *
 *   npm run demo
 *   npm run demo -- --cassandra 127.0.0.1:9042 --rate 3
 *   npm run demo -- --aggregates count,sum,max,p99 --value bytes
 */
import type { Client } from 'cassandra-driver';
import { connect } from 'mqtt';
import { EMPTY, Subject, filter, interval, lastValueFrom, merge, share, takeUntil, tap, timer } from 'rxjs';
import {
  LiveStatistics,
  cassandraSink,
  ensureWindowAggregateTable,
  ensureWindowCountTable,
  windowAggregateRows,
  windowCountRows,
  type AggregateRow,
  type StatusServer,
} from '../index.js';
import { sharedSimulatedGpio } from '../testing.js';
import { describeDuration } from '../duration.js';
import { aggregateOptions, type AggregateList, type ValueField } from './aggregateList.js';
import { NewestAggregates } from './newestAggregates.js';
import { statusCounts } from './pipelines.js';
import { DemoButton } from './demoButton.js';
import { startEmbeddedBroker } from './embeddedBroker.js';
import { startedByNpm, whenParentGone } from './launcher.js';
import { FileLines } from './lineSources.js';
import { wrapToWidth } from './fitToWidth.js';
import { LiveView, type LiveViewSource } from './liveView.js';
import { BUTTON, buttonPresses, publishLines } from './publisher.js';
import { prepareCassandra } from './cassandraConnection.js';
import { RecentWindows } from './recentWindows.js';
import { metricsRegistry, startStatusEndpoint, type ListenAddress } from './statusEndpoint.js';
import { Tally } from './tally.js';
import { listenToKeys } from './terminalKeys.js';

export interface DemoSettings {
  readonly logFile: string;
  /** Automatic presses per second; 0 for Enter only. */
  readonly rate: number;
  /** Window length and watermark delay, in milliseconds. */
  readonly window: number;
  readonly watermark: number;
  /** Contact points of a Cassandra to write to as well; none: terminal only. */
  readonly cassandra: string | undefined;
  readonly datacenter: string;
  readonly keyspace: string;
  readonly table: string;
  /** Stop by itself after this many milliseconds; 0: at Ctrl-C. */
  readonly durationMs: number;
  /** Where to serve the dashboard and metrics; none: no endpoint. */
  readonly http?: ListenAddress | undefined;
  /** Aggregates of a number of each line beside the counts (`--aggregates`, `--value`); none: counts only. */
  readonly aggregates?: { readonly list: AggregateList; readonly value: ValueField } | undefined;
}

const { pin: BUTTON_PIN, ledPin: LED_PIN, bounceMs: BOUNCE_MS } = BUTTON; // the publisher's, as on the Pi
const TOPIC = 'rupesh/gpiotopic';

export async function runDemo(settings: DemoSettings): Promise<Tally> {
  // Cassandra first: if it cannot be used, nothing else has been started.
  let cassandra: Client | undefined;
  if (settings.cassandra !== undefined) {
    cassandra = await prepareCassandra(settings.cassandra, settings.datacenter, (client) =>
      settings.aggregates === undefined
        ? ensureWindowCountTable(client, { keyspace: settings.keyspace, table: settings.table })
        : ensureWindowAggregateTable(client, { keyspace: settings.keyspace, table: settings.table }),
    );
  }
  const broker = await startEmbeddedBroker().catch(async (error: unknown) => {
    await cassandra?.shutdown();
    throw error;
  });
  const tally = new Tally();
  tally.writing = cassandra !== undefined;
  const statistics = new LiveStatistics();
  statistics.add(tally); // the demo's windowedCount keeps no statistics of its own
  const recent = new RecentWindows();
  const { server, endpoint } = await demoEndpoint(settings, statistics, recent, tally).catch(async (error: unknown) => {
    await broker.close();
    await cassandra?.shutdown();
    throw error;
  });
  const button = new DemoButton(sharedSimulatedGpio(), BUTTON_PIN, BOUNCE_MS);
  const keyboard = process.stdin.isTTY === true;
  const newest = settings.aggregates === undefined ? undefined : new NewestAggregates(settings.aggregates.value);
  const view = new LiveView({
    ...demoIntro(settings, { brokerUrl: broker.url, keyboard, endpoint }),
    status: () => [
      ...(newest?.line() === undefined ? [] : [newest.line()!]),
      { text: button.summary(), short: button.shortSummary() },
      { text: tally.summary() },
    ],
    watermark: () => tally.windows?.watermark,
  });

  const stopPublishing = new Subject<void>();
  const stopAggregating = new Subject<void>();
  // The publisher owns nothing: we hand it a client and close it ourselves.
  const publisherClient = connect(broker.url, { protocolVersion: 4 });
  publisherClient.on('error', () => {}); // the broker is ours and local; its end is not news
  const lines = new FileLines(settings.logFile);
  const published = publishLines({
    presses: buttonPresses(BUTTON_PIN, 'simulated').pipe(tap(button.pressReported)),
    lines,
    client: publisherClient,
    topic: TOPIC,
    qos: 1,
    backend: 'simulated',
    ledPin: LED_PIN,
  }).pipe(
    takeUntil(stopPublishing),
    tap(() => tally.sent++),
  );

  // Update mode, so the table fills as presses arrive; the sink upserts, so Cassandra
  // ends with the same rows append mode would write.
  const rows = statusCounts(
    {
      broker: { url: broker.url, protocolVersion: 4 },
      topic: TOPIC,
      qos: 1,
      window: settings.window,
      watermark: settings.watermark,
      outputMode: 'update',
      idleAdvanceMs: 5_000,
      stop: stopAggregating,
      statistics,
    },
    { received: tally.countReceived, rejected: tally.countRejected, windowStats: tally.watchWindows },
    settings.aggregates === undefined
      ? undefined
      : aggregateOptions(settings.aggregates.list, settings.aggregates.value, ({ record }) => record),
  ).pipe(
    tap(view.add),
    tap(recent.row),
    tap((row) => {
      if ('aggregates' in row) newest?.add(row as AggregateRow<number>);
    }),
    share(),
  );
  const where = { keyspace: settings.keyspace, table: settings.table };
  const written =
    cassandra === undefined
      ? EMPTY
      : settings.aggregates === undefined
        ? rows.pipe(
            cassandraSink(cassandra, windowCountRows(where)),
            tap(() => tally.rowsWritten++),
          )
        : rows.pipe(
            filter((row): row is AggregateRow<number> => 'aggregates' in row),
            cassandraSink(cassandra, windowAggregateRows(where)),
            tap(() => tally.rowsWritten++),
          );

  const presses =
    settings.rate > 0
      ? // The first press waits a second, for the aggregator's subscription to be in place.
        timer(1000, 1000 / settings.rate).pipe(tap(() => button.press('automatic', 50)))
      : EMPTY;
  const redraw = interval(250).pipe(tap(() => view.render()));

  // Ctrl-C, q, SIGTERM or --duration: stop pressing, let the last publishes land, then
  // stop the aggregator so open windows are flushed (and written). A second request
  // does not wait.
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(130);
    stopping = true;
    stopPublishing.next();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // npm does not pass a signal on through its shell (launcher.ts): its going is the signal.
  const stopWatchingParent = startedByNpm() ? whenParentGone(stop) : undefined;
  const stopKeys = listenToKeys(process.stdin, { enter: () => button.press('keyboard', 100), quit: stop });
  const deadline = settings.durationMs > 0 ? timer(settings.durationMs).pipe(tap(stop)) : EMPTY;

  view.start();
  view.render();
  const aggregation = lastValueFrom(merge(rows, written), { defaultValue: undefined });
  let failure: unknown;
  try {
    await lastValueFrom(merge(published, presses, redraw, deadline).pipe(takeUntil(stopPublishing)), {
      defaultValue: undefined,
    });
    await lastValueFrom(timer(500)); // the last publishes reach the aggregator
  } catch (error) {
    failure = error;
  }
  try {
    stopAggregating.next();
    await aggregation.catch((error: unknown) => {
      failure ??= error;
    });
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
    stopWatchingParent?.();
    stopKeys();
    button.stop();
    view.close();
    lines.close();
    await publisherClient.endAsync().catch(() => {});
    await server?.close();
    await broker.close();
    await cassandra?.shutdown();
  }
  if (failure !== undefined) throw failure;
  // A terminal has them under the table.
  if (!process.stdout.isTTY)
    process.stdout.write(
      `\n${newest?.line() === undefined ? '' : `${newest.line()!.text}\n`}${button.summary()}\n${tally.summary()}\n`,
    );
  if (tally.lastRejection) printWrapped(`last rejection: ${tally.lastRejection.kind}: ${tally.lastRejection.reason}`);
  process.stdout.write('\n');
  printWrapped(
    'Next: examples/pi-publisher.ts and examples/aggregator.ts are the two pipelines to copy; ' +
      'run them against Mosquitto and Cassandra with "npx mqtt-iot-stream publish|aggregate --help".',
  );
  return tally;
}

/**
 * The lines above the live table: what runs, and how to press and stop (`keys`, the
 * one kept when the terminal is too short for the others).
 */
export function demoIntro(
  settings: Pick<DemoSettings, 'rate' | 'window' | 'watermark' | 'cassandra' | 'keyspace' | 'table'>,
  running: { readonly brokerUrl: string; readonly keyboard: boolean; readonly endpoint: readonly string[] },
): Pick<LiveViewSource, 'intro' | 'keys'> {
  const { keyboard } = running;
  const automatic = settings.rate > 0 ? `${settings.rate} presses/s` : 'no automatic presses';
  const keys = keyboard ? 'q stops · Enter presses' : 'Ctrl-C stops';
  return {
    intro: [
      {
        text: `broker ${running.brokerUrl} (in-process) · simulated button on GPIO ${BUTTON_PIN}, LED on GPIO ${LED_PIN}`,
      },
      {
        text:
          `windows of ${describeDuration(settings.window)}, watermark ${describeDuration(settings.watermark)} · ` +
          (settings.cassandra === undefined
            ? 'no Cassandra (--cassandra writes the rows)'
            : `writing rows to Cassandra ${settings.keyspace}.${settings.table}`),
      },
      {
        text:
          `${automatic}${keyboard ? ' · Enter presses the button' : ''}` +
          ` · ${keyboard ? 'q or ' : ''}Ctrl-C stops, flushing the open windows`,
        // On one narrow row, how to stop comes first.
        short: `${keys} · ${automatic}`,
      },
      ...running.endpoint.map((text) => ({ text })),
    ],
    keys,
  };
}

// A paragraph after the table, wrapped between words to the terminal (to a pipe, to 80 columns).
function printWrapped(text: string): void {
  const width = process.stdout.isTTY ? Math.min(100, process.stdout.columns || 80) : 80;
  process.stdout.write(`${wrapToWidth(text, width).join('\n')}\n`);
}

/**
 * The dashboard and metrics endpoint, when asked for, and the intro line that says
 * where. Without prom-client the demo still serves the dashboard and says how to get
 * /metrics too: the demo is for watching, the metrics are for a Prometheus.
 */
async function demoEndpoint(
  settings: DemoSettings,
  statistics: LiveStatistics,
  recent: RecentWindows,
  tally: Tally,
): Promise<{ server: StatusServer | undefined; endpoint: string[] }> {
  if (settings.http === undefined) return { server: undefined, endpoint: [] };
  let metrics: Awaited<ReturnType<typeof metricsRegistry>> | undefined;
  try {
    metrics = await metricsRegistry(statistics);
  } catch {
    // The line above the table says how to get /metrics.
  }
  const server = await startStatusEndpoint({
    address: settings.http,
    statistics,
    ...(metrics === undefined ? {} : { metrics }),
    title: 'mqtt-iot-stream demo',
    watched: {
      broker: 'in-process',
      topic: TOPIC,
      windows: `${describeDuration(settings.window)}, watermark ${describeDuration(settings.watermark)}`,
    },
    windows: () => recent.view('the demo aggregator', tally.windows),
  });
  return { server, endpoint: [dashboardLine(server.url, metrics !== undefined)] };
}

/** The intro line that says where the dashboard is, and /metrics (or how to get it). */
export function dashboardLine(url: string, metrics: boolean): string {
  return `dashboard ${url}/ · metrics ${url}/metrics${metrics ? '' : ' · /metrics needs prom-client (npm install prom-client)'}`;
}
