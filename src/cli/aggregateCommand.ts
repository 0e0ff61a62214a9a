// `mqtt-iot-stream aggregate`: the aggregator as a long-running service.
import type { Client } from 'cassandra-driver';
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { ReplaySubject, Subject, lastValueFrom, map, tap, type Observable } from 'rxjs';
import { ensureLateCountTable, lateCountRows } from '../cassandra/lateCountTable.js';
import {
  ensureWindowAggregateTable,
  readWindowAggregates,
  windowAggregateRows,
} from '../cassandra/windowAggregateTable.js';
import { ensureWindowCountTable, readWindowTotals, windowCountRows } from '../cassandra/windowCountTable.js';
import { defaultStateDirectory } from '../durable/stateFiles.js';
import { describeDuration } from '../duration.js';
import { redactCredentials } from '../mqtt/connection.js';
import { GIVE_EACH_ITS_OWN_ID, MqttConnectionError } from '../mqtt/connectionError.js';
import { LiveStatistics } from '../observe/LiveStatistics.js';
import type { StatusServer } from '../observe/serveStatus.js';
import type { StageChange } from '../observe/statistic.js';
import type { Rejection } from '../reject.js';
import { SnapshotMismatchError, type SnapshotDifference } from '../window/snapshot.js';
import type { WindowRow } from '../window/windowRow.js';
import { FIRST_CONNECT_TIMEOUT_MS } from './brokerConnection.js';
import { prepareCassandra } from './cassandraConnection.js';
import { flags, leave, readFlags, switchOn, verbose, withoutDefault } from './flags.js';
import { startedByNpm, whenParentGone } from './launcher.js';
import { aggregateList, aggregateOptions } from './aggregateList.js';
import { aggregator, cassandraWriter, persistentSession, type AggregatorRows } from './pipelines.js';
import type { CommandSpec } from './program.js';
import { RecentWindows, totalsView } from './recentWindows.js';
import { RowPrinter } from './rowPrinter.js';
import { sessionClientId } from './sessionClientId.js';
import { StatusDisplay } from './statusDisplay.js';
import { metricsRegistry, startStatusEndpoint } from './statusEndpoint.js';
import { StatusLine } from './statusLine.js';
import { Tally } from './tally.js';
import { UsageError } from './usageError.js';

// Without --cassandra the rows go to stdout: the aggregator is useful with a broker alone.
// No HTTP endpoint unless asked (the table's default, off): an open port is the
// operator's decision, and two aggregators on one host would fight over a default one.
const aggregateFlags = {
  broker: flags.broker,
  topic: flags.subscribeTopic,
  username: flags.username,
  password: flags.password,
  ca: flags.ca,
  cert: flags.cert,
  key: flags.key,
  qos: flags.subscribeQos,
  shareGroup: flags.shareGroup,
  deadLetterTopic: flags.deadLetterTopic,
  clientId: flags.clientId,
  sessionExpiry: flags.sessionExpiry,
  aggregatorId: flags.aggregatorId,
  stateDir: flags.stateDir,
  durability: flags.durability,
  maxPendingRows: flags.maxPendingRows,
  maxMessageSize: flags.maxMessageSize,
  cassandra: withoutDefault(flags.cassandra),
  datacenter: flags.datacenter,
  consistency: flags.consistency,
  keyspace: flags.keyspace,
  table: flags.table,
  lateTable: flags.lateTable,
  aggregateTable: flags.aggregateTable,
  replication: flags.replication,
  cassandraUsername: flags.cassandraUsername,
  cassandraPassword: flags.cassandraPassword,
  window: flags.window,
  watermark: flags.watermark,
  outputMode: flags.outputMode,
  sessionGap: flags.sessionGap,
  aggregates: flags.aggregates,
  value: flags.value,
  idleAdvance: flags.idleAdvance,
  eventTimeProperty: flags.readEventTimeProperty,
  maxEventTimeAhead: flags.maxEventTimeAhead,
  format: flags.format,
  statusEvery: flags.statusEvery,
  http: flags.http,
} as const;

export const aggregateCommand: CommandSpec = {
  name: 'aggregate',
  summary: 'the aggregator: count (or aggregate) statuses per window, into Cassandra or to stdout',
  description: `Counts requests per HTTP status in event-time windows, from MQTT, exactly once:
open windows are saved in a state directory before each message is acknowledged,
the MQTT session is persistent (the broker keeps messages while the aggregator
is away), and a restart continues where the last run stopped. With --cassandra,
rows go to that table (created if missing); without it, to stdout. SIGTERM or
Ctrl-C writes the open windows' counts so far, saves the state and exits.

Rows on stdout (also with --cassandra, once written): window start, window end,
status, count, then state (final: the watermark had passed the window's end;
partial: a count so far, written at a stop or by update mode) and row (new, or
update: it replaces a row printed before in this run); JSON lines carry them as
"final" and "update".

With --aggregates, each row also carries aggregates of --value (a log line's
bytes or status): sum, min, max, mean, quantiles (p50, p99) and distinct(<field>),
e.g. --aggregates count,sum,max,p99,distinct(client); Cassandra rows go to
--aggregate-table, where the rows of several aggregators merge when read.

With --session-gap (e.g. '30 s') instead of --window, a status's requests no
further apart than the gap make one session, [first, last + gap), as Spark's
session_window does; each session is printed (and written to --aggregate-table)
once, final, when the watermark passes its end.

Status on stderr: on a terminal a live line (broker, messages and msg/s,
rejected, late, pending rows, watermark); otherwise that line every
--status-every; always a line when the broker is lost or back, Cassandra fails
or recovers, intake pauses or resumes. --http serves the same as Prometheus
metrics, health checks and a dashboard.

Leaving for good (one of several aggregators on --share-group going away):
SIGUSR2, or --leave at the start, unsubscribes, so that the broker deals this
aggregator nothing new, counts what the broker still holds for its session until
the broker proves there is nothing more, writes the open windows, saves the state,
ends the session and exits. The others take its share from then on.

Broker limits that lose messages: Mosquitto queues at most max_queued_messages
(default 1000) per offline or slow client and drops the rest; raise it (0: no
limit).`,
  flags: aggregateFlags,
  switches: [verbose, leave],
  run: runAggregate,
};

/** Runs the aggregator until SIGTERM/SIGINT; resolves with the exit status. */
async function runAggregate(command: Command): Promise<number> {
  const s = readFlags(command, aggregateFlags);
  const printRejections = switchOn(command, verbose);
  const leaveAtStart = switchOn(command, leave);
  let left = false;
  const ending = { leftForGood: false };
  const { aggregatorId } = s;
  // The members' rows are partial counts summed at reading: under one id they would replace each other's.
  if (s.shareGroup !== undefined && s.cassandra !== undefined && aggregatorId === '')
    throw new UsageError(
      '--share-group with --cassandra needs --aggregator-id: each member writes its own partial counts, summed when read; give each member its own id',
    );
  const stateDirectory = s.stateDir ?? defaultStateDirectory(aggregatorId === '' ? 'default' : aggregatorId);
  const format = s.format ?? (process.stdout.isTTY ? 'table' : 'json');
  const tls = { ca: readPem(s.ca), cert: readPem(s.cert), key: readPem(s.key) };
  const maxPayloadBytes = s.maxMessageSize;
  const clientId = sessionClientId({ clientId: s.clientId, aggregatorId, stateDirectory });
  const session = persistentSession(s.broker, {
    clientId,
    sessionExpirySeconds: s.sessionExpiry / 1000,
    // MQTT.js holds a whole packet in memory before we can look at it: messages well past
    // the limit are left to the broker to drop (it logs them), so one cannot exhaust
    // memory; those up to twice the limit still arrive and are rejected with a reason.
    maximumPacketSize: Math.min(268_435_455, Math.max(2 * maxPayloadBytes, maxPayloadBytes + 65_536)),
    ...(s.username === undefined ? {} : { username: s.username }),
    ...(s.password === undefined ? {} : { password: s.password }),
    ...tls,
  });
  const broker = { ...session, connectTimeout: FIRST_CONNECT_TIMEOUT_MS };
  const { sessionGap } = s;
  if (sessionGap !== undefined) {
    const window = command.getOptionValueSource('window');
    if (window === 'cli' || window === 'env')
      throw new UsageError(
        `--session-gap counts in session windows, --window in fixed windows: give one of them${window === 'env' ? ' (--window came from $WINDOW)' : ''}`,
      );
    if (s.outputMode === 'update')
      throw new UsageError(
        '--session-gap writes each session once, final (append mode): a session changes its bounds as events join it, so Spark refuses update mode for sessions too',
      );
    if (s.lateTable !== undefined)
      throw new UsageError(
        '--late-table keeps late counts per fixed window: session windows have none (give one of them)',
      );
  }
  // Sessions are kept as aggregates (the count at least): their rows merge across aggregators only as partials.
  const aggregates = s.aggregates ?? (sessionGap === undefined ? undefined : aggregateList('count'));
  const table = aggregates === undefined ? s.table : s.aggregateTable;
  if (s.lateTable !== undefined && s.cassandra === undefined)
    throw new UsageError('--late-table keeps the late counts in Cassandra: give --cassandra too');
  if (s.lateTable !== undefined && s.lateTable.toLowerCase() === table.toLowerCase())
    throw new UsageError(
      `--late-table must name another table than ${aggregates === undefined ? '--table' : '--aggregate-table'} (${table})`,
    );
  // Dead letters go out on a connection of their own (the session's closes while the writer is backlogged).
  const deadLetter =
    s.deadLetterTopic === undefined
      ? undefined
      : {
          broker: { ...broker, clean: true, clientId: `${clientId}-dead-letters` },
          topic: s.deadLetterTopic,
        };
  const cassandraCredentials =
    s.cassandraUsername === undefined
      ? undefined
      : { username: s.cassandraUsername, password: s.cassandraPassword ?? '' };
  const address = s.http;
  const statusEvery = s.statusEvery ?? 0;
  const topic = s.shareGroup === undefined ? s.topic : `$share/${s.shareGroup}/${s.topic}`;
  const into = s.cassandra === undefined ? 'stdout' : `${s.keyspace}.${table}`;
  const windows =
    `${sessionGap === undefined ? describeDuration(s.window) : `sessions, gap ${describeDuration(sessionGap)}`}, watermark ${describeDuration(s.watermark)}` +
    (s.eventTimeProperty === undefined
      ? ''
      : `, event time from user property "${s.eventTimeProperty}" (iottimestamp without it)`);

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
        'client id': clientId,
        into: s.cassandra === undefined ? 'stdout' : `Cassandra ${into} at ${s.consistency}`,
        windows: `${windows}, ${s.outputMode} mode`,
      },
      windows: () =>
        recent.view(
          s.shareGroup === undefined ? `this aggregator${id}` : `this aggregator's share${id}`,
          tally.windows,
        ),
      ...(s.cassandra === undefined
        ? {}
        : {
            totals: async () => {
              if (cassandra === undefined) throw new Error('not connected to Cassandra yet');
              const where = { keyspace: s.keyspace, table };
              const totals =
                aggregates === undefined
                  ? await readWindowTotals(cassandra, where)
                  : await readWindowAggregates(cassandra, { ...where, sessions: sessionGap !== undefined });
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
        async (client) => {
          const replication = { class: 'SimpleStrategy', replication_factor: s.replication };
          if (aggregates === undefined)
            await ensureWindowCountTable(client, { keyspace: s.keyspace, table, replication });
          else await ensureWindowAggregateTable(client, { keyspace: s.keyspace, table, replication });
          if (s.lateTable !== undefined)
            await ensureLateCountTable(client, { keyspace: s.keyspace, table: s.lateTable, replication });
        },
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
    // Replays: intake resuming after a pause subscribes to the broker again, and leaves at once.
    const leaving = new ReplaySubject<void>(1);
    const startLeaving = (why: string) => {
      if (left || signals > 0) return;
      left = true;
      display.print(
        `${why}: leaving "${topic}" for good: unsubscribing, counting what the broker still holds for ${broker.clientId}, ` +
          'then writing the open windows, saving the state and ending the session (SIGTERM stops as usual instead, the session kept)',
      );
      leaving.next();
    };
    const onLeaveSignal = () => startLeaving('SIGUSR2');
    process.on('SIGUSR2', onLeaveSignal);
    // npm does not pass a signal on to this process through its shell (launcher.ts): its going is the signal.
    const stopWatchingParent = startedByNpm()
      ? whenParentGone((parent) => {
          if (signals > 0) return;
          signals++;
          display.print(
            `npx (or npm), which started this aggregator, has gone (its shell was process ${parent}) without passing a signal on: writing the open windows, saving the state, stopping`,
          );
          stop.next();
        })
      : () => {};

    const printer = new RowPrinter(format, watermark, aggregates !== undefined);
    // A row printed on the terminal the live line is on moves the line out of its way.
    const print =
      process.stdout.isTTY && terminal
        ? (row: WindowRow<number>) => display.around(() => printer.print(row))
        : printer.print;
    const show = (row: WindowRow<number>) => {
      recent.row(row);
      print(row);
    };
    const printed = <W extends WindowRow<number>>(rows: Observable<W>) =>
      rows.pipe(
        tap((row: W) => show(row)),
        map((row) => ({ value: row })),
      );
    // The writer stage reports Cassandra's outages: one line, from the change listener.
    const writerOptions = { statistics, onOutage: () => {} };
    const where = { keyspace: s.keyspace, table, aggregator: aggregatorId };
    const rows: AggregatorRows =
      aggregates === undefined
        ? {
            kind: 'count',
            write:
              cassandra === undefined ? printed : cassandraWriter(cassandra, windowCountRows(where), writerOptions),
          }
        : {
            kind: 'aggregate',
            aggregates: aggregateOptions(aggregates, s.value, ({ record }) => record),
            write:
              cassandra === undefined ? printed : cassandraWriter(cassandra, windowAggregateRows(where), writerOptions),
          };
    const onRejected = (rejection: Rejection) => {
      tally.countRejected(rejection);
      if (printRejections) display.print(`rejected (${rejection.kind}): ${rejection.reason}`);
    };
    display.print(
      `${aggregates === undefined || aggregates.text === 'count' ? 'counting statuses' : `aggregating ${aggregates.text} of ${s.value} per status`} from ${redactCredentials(s.broker)} "${topic}" as ${clientId} (persistent session, ${describeDuration(s.sessionExpiry)})` +
        ` into ${cassandra === undefined ? 'stdout' : `${into} at ${s.consistency}`}; windows ${windows}; state in ${stateDirectory}\n` +
        'the broker must queue what arrives while this aggregator is away: Mosquitto drops past max_queued_messages (default 1000) per client' +
        (server === undefined
          ? ''
          : `\nmetrics, health and dashboard on ${server.url}/ (/metrics, /healthz, /readyz)`) +
        (startedByNpm()
          ? `\nstarted by npm, which passes SIGTERM and Ctrl-C to its shell, not on to this aggregator (process ${process.pid}): ` +
            'it stops by itself once npm has gone, but npm neither waits for the stop nor reports its status; ' +
            'as a service, run node_modules/.bin/mqtt-iot-stream itself (docs/cli.md)'
          : ''),
    );
    printer.header();
    display.start();
    if (leaveAtStart) startLeaving('--leave');
    try {
      await lastValueFrom(
        aggregator(
          {
            broker,
            topic,
            qos: s.qos,
            window: s.window,
            ...(sessionGap === undefined ? {} : { sessionGap }),
            watermark: s.watermark,
            outputMode: s.outputMode,
            idleAdvanceMs: s.idleAdvance ?? 0,
            stop,
            stateDirectory,
            durability: s.durability,
            maxPayloadBytes,
            maxPendingRows: s.maxPendingRows,
            ...(s.eventTimeProperty === undefined ? {} : { eventTimeProperty: s.eventTimeProperty }),
            ...(s.maxEventTimeAhead === undefined ? {} : { maxEventTimeAhead: s.maxEventTimeAhead }),
            statistics,
            rows,
            ...(cassandra === undefined || s.lateTable === undefined
              ? {}
              : {
                  writeLate: cassandraWriter(
                    cassandra,
                    lateCountRows({ keyspace: s.keyspace, table: s.lateTable, aggregator: aggregatorId }),
                    { onOutage: () => {} }, // the rows' writer reports Cassandra's outages, once
                  ),
                }),
            ...(deadLetter === undefined ? {} : { deadLetter }),
            leave: leaving,
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
      ).catch((error: unknown) => {
        throw inFlags(error, stateDirectory);
      });
      // Completed without a stop signal after leaving: the broker had nothing more, the session is ended.
      ending.leftForGood = left && signals === 0;
    } finally {
      display.stop();
      stopChanges();
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      process.off('SIGUSR2', onLeaveSignal);
      stopWatchingParent();
    }
  } finally {
    await server?.close();
    await cassandra?.shutdown();
  }
  if (ending.leftForGood)
    process.stderr.write(
      `left for good: the broker held nothing more for ${broker.clientId}, and its session is ended\n`,
    );
  process.stderr.write(`${tally.summary()}\n`);
  return 0;
}

/**
 * A stage's change as one line. Where the aggregator printed a line before the live
 * statistics existed (Cassandra failing and back, intake paused and resumed), the line
 * keeps those words after its subject (`Cassandra: writes to … failing since …`), so log
 * alerts matching them go on matching; the subject is what fails, not an operator's name.
 */
function describeChange(change: StageChange, statistics: LiveStatistics, into: string): string {
  switch (change.stage) {
    case 'broker':
      return change.reason;
    case 'writer':
      return `Cassandra: ${change.reason}`;
    case 'durable': {
      // The state directory's pause and resumption say themselves what to do.
      if (change.reason.startsWith('state directory ')) return change.reason;
      const pendingRows = statistics.value('durable', 'pending_rows') ?? 0;
      return change.state === 'paused'
        ? `${pendingRows} rows wait for ${into === 'stdout' ? 'the output' : 'Cassandra'}: not taking messages until they are written (the broker queues them)`
        : `rows written again (${pendingRows} waiting): taking messages`;
    }
    default:
      return `${change.stage} ${change.state}: ${change.reason}`;
  }
}

/** The window options flags set, by the name a snapshot gives them. */
const WINDOW_FLAGS: Partial<Record<SnapshotDifference['setting'], string>> = {
  windowDuration: '--window',
  sessionGap: '--session-gap',
  watermarkDelay: '--watermark',
  outputMode: '--output-mode',
};

/**
 * A failure of the pipeline in flags: state saved under other window options names the
 * flags it was written with (the library's SnapshotMismatchError, wherever it is in the
 * chain of causes), a session another client took says which flags give each aggregator
 * its own; anything else is left to failureMessage.
 */
function inFlags(error: unknown, stateDirectory: string): unknown {
  const takenOver = inChain(error, (cause) => cause instanceof MqttConnectionError && cause.takenOver);
  if (takenOver instanceof MqttConnectionError)
    return new Error(takenOver.message.replace(GIVE_EACH_ITS_OWN_ID, GIVE_EACH_AGGREGATOR_ITS_OWN_ID), {
      cause: error,
    });
  const mismatch = inChain(error, (cause) => cause instanceof SnapshotMismatchError);
  if (!(mismatch instanceof SnapshotMismatchError)) return error;
  const value = (setting: SnapshotDifference['setting'], saved: number | string) =>
    typeof saved === 'number' ? `'${describeDuration(saved)}'` : setting === 'outputMode' ? saved : `'${saved}'`;
  // This command's windows slide by their length: the slide differs with the window, and --window says it.
  const windowDiffers = mismatch.differences.some(({ setting }) => setting === 'windowDuration');
  const differences = mismatch.differences.filter(({ setting }) => !(setting === 'slideDuration' && windowDiffers));
  const written = differences.map(({ setting, saved }) => {
    const flag = WINDOW_FLAGS[setting];
    return flag === undefined
      ? `${setting} ${String(saved)} (not a flag: another version of mqtt-iot-stream wrote it)`
      : `${flag} ${value(setting, saved)}`;
  });
  const now = differences
    .filter(({ setting }) => WINDOW_FLAGS[setting] !== undefined)
    .map(({ setting, current }) => `${WINDOW_FLAGS[setting]!} ${value(setting, current)}`);
  return new Error(
    `this state directory (${stateDirectory}) was written with ${written.join(' and ')}; start with ` +
      `${written.length === 1 ? 'that' : 'those'}, or give another --state-dir (this run has ${now.join(' and ')}; ` +
      'a new state directory does not continue the open windows saved in this one)',
    { cause: error },
  );
}

/** The first error in the chain of causes from `error` that `matches`. */
function inChain(error: unknown, matches: (cause: Error) => boolean): Error | undefined {
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) if (matches(cause)) return cause;
  return undefined;
}

/**
 * What to do when another client took the session, in flags. Both aggregators' ids
 * come from the same flags: the default one (kept in the state directory) differs
 * between state directories, so a collision is two ids given alike, or one aggregator
 * started twice on copies of its state.
 */
const GIVE_EACH_AGGREGATOR_ITS_OWN_ID =
  'give each aggregator its own --aggregator-id (or --client-id), and if the other is an earlier run of this one, stop it first';

function readPem(path: string | undefined): Buffer | undefined {
  return path === undefined ? undefined : readFileSync(path);
}
