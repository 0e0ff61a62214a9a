// `mqtt-iot-stream aggregate`: the aggregator as a long-running service.
import type { Client } from 'cassandra-driver';
import { readFileSync } from 'node:fs';
import { Subject, lastValueFrom, map, tap, type Observable } from 'rxjs';
import {
  LiveStatistics,
  defaultStateDirectory,
  ensureWindowCountTable,
  readWindowTotals,
  redactCredentials,
  type Rejection,
  type StageChange,
  type StatusServer,
  type WindowRow,
} from '../index.js';
import { aggregator, cassandraWriter, persistentSession } from './pipelines.js';
import { prepareCassandra } from './cassandraConnection.js';
import { RecentWindows, totalsView } from './recentWindows.js';
import { RowPrinter } from './rowPrinter.js';
import {
  describeFlags,
  integerSetting,
  millisecondsSetting,
  qosSetting,
  readSettings,
  UsageError,
  type FlagName,
} from './flags.js';
import { StatusDisplay } from './statusDisplay.js';
import { metricsRegistry, readListenAddress, startStatusEndpoint } from './statusEndpoint.js';
import { StatusLine } from './statusLine.js';
import { Tally } from './tally.js';

export const aggregateFlags = [
  'broker',
  'topic',
  'username',
  'password',
  'ca',
  'cert',
  'key',
  'qos',
  'share-group',
  'client-id',
  'session-expiry',
  'aggregator-id',
  'state-dir',
  'durability',
  'cassandra',
  'datacenter',
  'consistency',
  'keyspace',
  'table',
  'replication',
  'cassandra-username',
  'cassandra-password',
  'max-pending-rows',
  'window',
  'watermark',
  'output-mode',
  'idle-advance',
  'max-event-time-ahead',
  'max-message-size',
  'format',
  'status-every',
  'http',
] as const satisfies readonly FlagName[];

// Without --cassandra the rows go to stdout: the aggregator is useful with a broker alone.
// No HTTP endpoint unless asked: an open port is the operator's decision, and two
// aggregators on one host would fight over a default one.
const aggregateDefaults = { cassandra: undefined, http: 'off' };

export const aggregateHelp = `mqtt-iot-stream aggregate [flags]

Counts requests per HTTP status in event-time windows, from MQTT, exactly once:
open windows are saved in a state directory before each message is acknowledged,
the MQTT session is persistent (the broker keeps messages while the aggregator is
away), and a restart continues where the last run stopped. With --cassandra, rows
go to that table (created if missing); without it, to stdout. SIGTERM or Ctrl-C
writes the open windows' counts so far, saves the state and exits.

Rows on stdout (also with --cassandra, once written): window start, window end, status,
count, then state (final: the watermark had passed the window's end; partial: a count
so far, written at a stop or by update mode) and row (new, or update: it replaces a row
printed before in this run); JSON lines carry them as "final" and "update".

Status on stderr: on a terminal a live line (broker, messages and msg/s, rejected,
late, pending rows, watermark); otherwise that line every --status-every; always a line
when the broker is lost or back, Cassandra fails or recovers, intake pauses or resumes.
--http serves the same as Prometheus metrics, health checks and a dashboard. It is off
unless given: an open port is the operator's decision, and two aggregators on one host
would both want a default one.

Broker limits that lose messages: Mosquitto queues at most max_queued_messages
(default 1000) per offline or slow client and drops the rest; raise it (0 = no limit).

  --verbose         print each rejected message's reason on stderr
${describeFlags(aggregateFlags, aggregateDefaults)}`;

/** Runs the aggregator until SIGTERM/SIGINT; resolves with the exit status. */
export async function aggregateCommand(argv: readonly string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const s = readSettings(
    argv.filter((arg) => arg !== '--verbose'),
    aggregateFlags,
    aggregateDefaults,
  );
  const aggregatorId = s['aggregator-id'];
  if (!/^[A-Za-z0-9._-]{0,100}$/.test(aggregatorId))
    throw new UsageError(
      `--aggregator-id must be letters, digits, '.', '_' or '-', got ${JSON.stringify(aggregatorId)}`,
    );
  const stateDirectory = s['state-dir'] ?? defaultStateDirectory(aggregatorId === '' ? 'default' : aggregatorId);
  const qos = qosSetting(s.qos);
  if (qos === 0)
    throw new UsageError('--qos 0 cannot be counted exactly once (the broker does not resend what was lost); use 1');
  const maxEventTimeAhead = s['max-event-time-ahead'] === 'off' ? undefined : s['max-event-time-ahead'];
  const format = s.format === 'table' || s.format === 'json' ? s.format : process.stdout.isTTY ? 'table' : 'json';
  const tls = { ca: readPem(s.ca), cert: readPem(s.cert), key: readPem(s.key) };
  const maxPayloadBytes = integerSetting('max-message-size', s['max-message-size']);
  const broker = persistentSession(s.broker, {
    aggregatorId,
    sessionExpirySeconds: integerSetting('session-expiry', s['session-expiry']),
    // MQTT.js holds a whole packet in memory before we can look at it: messages well past
    // the limit are left to the broker to drop (it logs them), so one cannot exhaust
    // memory; those up to twice the limit still arrive and are rejected with a reason.
    maximumPacketSize: Math.min(268_435_455, Math.max(2 * maxPayloadBytes, maxPayloadBytes + 65_536)),
    ...(s['client-id'] === undefined ? {} : { clientId: s['client-id'] }),
    ...(s.username === undefined ? {} : { username: s.username }),
    ...(s.password === undefined ? {} : { password: s.password }),
    ...tls,
  });
  const cassandraCredentials =
    s['cassandra-username'] === undefined
      ? undefined
      : { username: s['cassandra-username'], password: s['cassandra-password'] ?? '' };
  const address = readListenAddress(s.http);
  if (address !== undefined && 'problem' in address) throw new UsageError(`--http ${address.problem}`);
  const statusEvery = s['status-every'] === 'off' ? 0 : millisecondsSetting('status-every', s['status-every']);
  const topic = s['share-group'] === undefined ? s.topic : `$share/${s['share-group']}/${s.topic}`;
  const into = s.cassandra === undefined ? 'stdout' : `${s.keyspace}.${s.table}`;

  const statistics = new LiveStatistics();
  const tally = new Tally();
  tally.sending = false;
  tally.writing = s.cassandra !== undefined;
  const watermark = () => tally.windows?.watermark;
  const recent = new RecentWindows();
  let cassandra: Client | undefined;

  // The endpoint before Cassandra and the broker: a missing prom-client or a port in use
  // is one line and an exit, with nothing else opened.
  let server: StatusServer | undefined;
  if (address !== undefined) {
    const metrics = await metricsRegistry(statistics);
    const id = aggregatorId === '' ? '' : ` (aggregator ${aggregatorId})`;
    server = await startStatusEndpoint({
      address,
      statistics,
      metrics,
      title: aggregatorId === '' ? 'aggregator' : `aggregator ${aggregatorId}`,
      watched: {
        broker: redactCredentials(s.broker),
        topic,
        'client id': broker.clientId ?? '',
        into: s.cassandra === undefined ? 'stdout' : `Cassandra ${into} at ${s.consistency}`,
        windows: `${s.window}, watermark ${s.watermark}, ${s['output-mode']} mode`,
      },
      windows: () =>
        recent.view(
          s['share-group'] === undefined ? `this aggregator${id}` : `this aggregator's share${id}`,
          tally.windows,
        ),
      ...(s.cassandra === undefined
        ? {}
        : {
            totals: async () => {
              if (cassandra === undefined) throw new Error('not connected to Cassandra yet');
              const totals = await readWindowTotals(cassandra, { keyspace: s.keyspace, table: s.table });
              return totalsView(`all aggregators (merged rows of ${into})`, totals, watermark());
            },
          }),
    });
  }
  try {
    if (s.cassandra !== undefined)
      cassandra = await prepareCassandra(
        s.cassandra,
        s.datacenter,
        (client) =>
          ensureWindowCountTable(client, {
            keyspace: s.keyspace,
            table: s.table,
            replication: {
              class: 'SimpleStrategy',
              replication_factor: integerSetting('replication', s.replication),
            },
          }),
        cassandraCredentials,
        { consistency: s.consistency },
      );

    const terminal = process.stderr.isTTY === true;
    // The rate over the last 5 s on a terminal's live line; since the last line in a log.
    const line = new StatusLine(statistics, terminal ? 5_000 : statusEvery);
    const display = new StatusDisplay({ line: () => line.text(), every: statusEvery });
    const stopChanges = statistics.onChange((change) => display.note(describeChange(change, statistics, into)));

    const stop = new Subject<void>();
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        display.print(
          `${signal}: writing the open windows, saving the state, stopping (again to stop at once; nothing is lost either way)`,
        );
        stop.next();
      } else {
        process.exit(signal === 'SIGINT' ? 130 : 143);
      }
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);

    const printer = new RowPrinter(format, watermark);
    // A row printed on the terminal the live line is on moves the line out of its way.
    const print =
      process.stdout.isTTY && terminal
        ? (row: WindowRow<number>) => display.around(() => printer.print(row))
        : printer.print;
    const show = (row: WindowRow<number>) => {
      recent.row(row);
      print(row);
    };
    const write =
      cassandra === undefined
        ? (rows: Observable<WindowRow<number>>) =>
            rows.pipe(
              tap(show),
              map((row) => ({ value: row })),
            )
        : cassandraWriter(cassandra, {
            keyspace: s.keyspace,
            table: s.table,
            aggregatorId,
            statistics,
            onOutage: () => {}, // the writer stage reports it: one line, from the change listener
          });
    const onRejected = (rejection: Rejection) => {
      tally.countRejected(rejection);
      if (verbose) display.print(`rejected (${rejection.kind}): ${rejection.reason}`);
    };
    display.print(
      `counting statuses from ${redactCredentials(s.broker)} "${topic}" as ${broker.clientId} (persistent session, ${s['session-expiry']} s)` +
        ` into ${cassandra === undefined ? 'stdout' : `${into} at ${s.consistency}`}; windows ${s.window}, watermark ${s.watermark}; state in ${stateDirectory}\n` +
        'the broker must queue what arrives while this aggregator is away: Mosquitto drops past max_queued_messages (default 1000) per client' +
        (server === undefined ? '' : `\nmetrics, health and dashboard on ${server.url}/ (/metrics, /healthz, /readyz)`),
    );
    printer.header();
    display.start();
    try {
      await lastValueFrom(
        aggregator(
          {
            broker,
            topic,
            qos,
            window: s.window,
            watermark: s.watermark,
            outputMode: s['output-mode'] === 'update' ? 'update' : 'append',
            idleAdvanceMs: integerSetting('idle-advance', s['idle-advance']),
            stop,
            stateDirectory,
            durability: s.durability === 'power' ? 'power' : 'process',
            maxPayloadBytes,
            maxPendingRows: integerSetting('max-pending-rows', s['max-pending-rows']),
            ...(maxEventTimeAhead === undefined ? {} : { maxEventTimeAhead }),
            statistics,
            write,
          },
          {
            received: tally.countReceived,
            rejected: onRejected,
            windowStats: tally.watchWindows,
          },
        ).pipe(
          tap(({ value: row }) => {
            tally.rowsWritten++;
            if (cassandra !== undefined) show(row);
          }),
        ),
        { defaultValue: undefined },
      );
    } finally {
      display.stop();
      stopChanges();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    }
  } finally {
    await server?.close();
    await cassandra?.shutdown();
  }
  process.stderr.write(`${tally.summary()}\n`);
  return 0;
}

/**
 * A stage's change as one line. Where the aggregator printed a line before the live
 * statistics existed (Cassandra failing and back, intake paused and resumed), the line
 * keeps those words: log alerts written against them go on matching.
 */
function describeChange(change: StageChange, statistics: LiveStatistics, into: string): string {
  switch (change.stage) {
    case 'broker':
      return change.reason;
    case 'writer':
      return `cassandraSink: ${change.reason}`;
    case 'durable': {
      const pendingRows = statistics.value('durable', 'pending_rows') ?? 0;
      return change.state === 'paused'
        ? `${pendingRows} rows wait for ${into === 'stdout' ? 'the output' : 'Cassandra'}: not taking messages until they are written (the broker queues them)`
        : `rows written again (${pendingRows} waiting): taking messages`;
    }
    default:
      return `${change.stage} ${change.state}: ${change.reason}`;
  }
}

function readPem(path: string | undefined): Buffer | undefined {
  return path === undefined ? undefined : readFileSync(path);
}
