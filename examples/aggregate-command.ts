// `mqtt-iot-stream aggregate`: the aggregator as a long-running service.
import { readFileSync } from 'node:fs';
import { Subject, lastValueFrom, map, tap, type Observable } from 'rxjs';
import {
  defaultStateDirectory,
  ensureWindowCountTable,
  redactCredentials,
  type Rejection,
  type WindowRow,
} from 'mqtt-iot-stream';
import { aggregator, cassandraWriter, persistentSession } from './aggregator.js';
import { prepareCassandra } from './cassandra-connection.js';
import { describeFlags, integerSetting, qosSetting, readSettings, UsageError, type FlagName } from './settings.js';
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
] as const satisfies readonly FlagName[];

// Without --cassandra the rows go to stdout: the aggregator is useful with a broker alone.
const aggregateDefaults = { cassandra: undefined };

export const aggregateHelp = `mqtt-iot-stream aggregate [flags]

Counts requests per HTTP status in event-time windows, from MQTT, exactly once:
open windows are saved in a state directory before each message is acknowledged,
the MQTT session is persistent (the broker keeps messages while the aggregator is
away), and a restart continues where the last run stopped. With --cassandra, rows
go to that table (created if missing); without it, to stdout. SIGTERM or Ctrl-C
writes the open windows' counts so far, saves the state and exits.

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
  const format = s.format ?? (process.stdout.isTTY ? 'table' : 'json');
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

  const tally = new Tally();
  tally.sending = false;
  tally.writing = s.cassandra !== undefined;
  const cassandra =
    s.cassandra === undefined
      ? undefined
      : await prepareCassandra(
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

  const stop = new Subject<void>();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      process.stderr.write(
        `${signal}: writing the open windows, saving the state, stopping (again to stop at once; nothing is lost either way)\n`,
      );
      stop.next();
    } else {
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  const print = rowPrinter(format);
  const write =
    cassandra === undefined
      ? (rows: Observable<WindowRow<number>>) =>
          rows.pipe(
            tap(print),
            map((row) => ({ value: row })),
          )
      : cassandraWriter(cassandra, { keyspace: s.keyspace, table: s.table, aggregatorId });
  const onRejected = (rejection: Rejection) => {
    tally.countRejected(rejection);
    if (verbose) process.stderr.write(`rejected (${rejection.kind}): ${rejection.reason}\n`);
  };
  const topic = s['share-group'] === undefined ? s.topic : `$share/${s['share-group']}/${s.topic}`;
  process.stderr.write(
    `counting statuses from ${redactCredentials(s.broker)} "${topic}" as ${broker.clientId} (persistent session, ${s['session-expiry']} s)` +
      ` into ${cassandra === undefined ? 'stdout' : `${s.keyspace}.${s.table} at ${s.consistency}`}; windows ${s.window}, watermark ${s.watermark}; state in ${stateDirectory}\n` +
      'the broker must queue what arrives while this aggregator is away: Mosquitto drops past max_queued_messages (default 1000) per client\n',
  );
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
          onBackpressure: ({ paused, pendingRows }) =>
            process.stderr.write(
              paused
                ? `${pendingRows} rows wait for ${cassandra === undefined ? 'the output' : 'Cassandra'}: not taking messages until they are written (the broker queues them)\n`
                : `rows written again (${pendingRows} waiting): taking messages\n`,
            ),
          write,
        },
        { received: tally.countReceived, rejected: onRejected, windowStats: tally.watchWindows },
      ).pipe(
        tap(({ value: row }) => {
          tally.rowsWritten++;
          if (cassandra !== undefined) print(row);
        }),
      ),
      { defaultValue: undefined },
    );
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    await cassandra?.shutdown();
  }
  process.stderr.write(`${tally.summary()}\n`);
  return 0;
}

function rowPrinter(format: 'table' | 'json' | string): (row: WindowRow<number>) => void {
  if (format === 'json') {
    return (row) =>
      process.stdout.write(
        `${JSON.stringify({ windowStart: row.windowStart, windowEnd: row.windowEnd, status: row.key, count: row.count })}\n`,
      );
  }
  return (row) =>
    process.stdout.write(
      `${row.windowStart.toISOString()}  ${row.windowEnd.toISOString()}  ${String(row.key).padStart(3)}  ${String(row.count).padStart(8)}\n`,
    );
}

function readPem(path: string | undefined): Buffer | undefined {
  return path === undefined ? undefined : readFileSync(path);
}
