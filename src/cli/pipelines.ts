/**
 * The aggregator's pipelines as `aggregate` and the demo run them: the reference
 * windows (requests per HTTP status in event time read from `iottimestamp`, or from a
 * user property with `aggregate --event-time-property`), exactly
 * once for `aggregate` (a persistent session, durableWindowedCount, the rows to
 * Cassandra or stdout) and plain for the demo (windowedCount in update mode), each
 * reporting to the command's live statistics and status line. The same operators as
 * examples/aggregator.ts, with what a long-running service adds: statistics, broker
 * liveness for idle advance, message size and backpressure limits, and the writer's
 * outages as changes.
 */
import type { Client } from 'cassandra-driver';
import { defer, NEVER, takeUntil, tap, type Observable, type OperatorFunction } from 'rxjs';
import {
  BrokerLiveness,
  cassandraSink,
  decodeIotPayload,
  durableWindowedAggregate,
  durableWindowedCount,
  fromMqtt,
  parseAccessLog,
  windowedAggregate,
  windowedCount,
  type AggregateOptions,
  type AggregateRow,
  type CassandraOutage,
  type CassandraTableMapping,
  type DeadLetterOptions,
  type LateRow,
  type CassandraWriteResult,
  type DecodedMqttMessage,
  type DurableWriterHooks,
  type Duration,
  type LiveStatistics,
  type MqttConnection,
  type MqttConnectOptions,
  type MqttMessage,
  type OutputMode,
  type ParsedAccessLog,
  type Rejection,
  type WindowRow,
  type WindowStats,
  type WriteResult,
} from '../index.js';

export interface CountSettings {
  readonly broker: MqttConnection;
  /** A topic, or `$share/<group>/<topic>` to split the stream between aggregators. */
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  readonly window: Duration;
  /** Session windows with this gap instead of fixed windows of `window` (append mode only). */
  readonly sessionGap?: Duration;
  readonly watermark: Duration;
  readonly outputMode: OutputMode;
  /** Milliseconds of silence before the watermark follows the wall clock; 0: never. */
  readonly idleAdvanceMs: number;
  /** When it emits, stop receiving: open windows are flushed (written) and the pipeline completes. */
  readonly stop?: Observable<unknown>;
  /** Where the stages' live statistics go: the broker's, and the durable counter's in {@link aggregator}. */
  readonly statistics?: LiveStatistics;
}

/** What the pipeline tells the person watching it. */
export interface CountReport {
  received(): void;
  rejected(rejection: Rejection): void;
  windowStats(stats: WindowStats): void;
}

export type Request = ParsedAccessLog<DecodedMqttMessage>;

/** Writes rows and emits one `{ value: row }` per stored row, passing a row it refuses for good to `hooks.onReject`. */
export type RowWriter<W extends WindowRow<number>> = (
  rows: Observable<W>,
  hooks: DurableWriterHooks<number>,
) => Observable<WriteResult<W>>;

/**
 * What the aggregator keeps per window and status, and where the rows go: counts
 * (durableWindowedCount) or aggregates (durableWindowedAggregate).
 */
export type AggregatorRows =
  | { readonly kind: 'count'; readonly write: RowWriter<WindowRow<number>> }
  | {
      readonly kind: 'aggregate';
      readonly aggregates: AggregateOptions<Request>;
      readonly write: RowWriter<AggregateRow<number>>;
    };

/**
 * The payload decoded and its log line parsed: the requests to count. The event time
 * is the payload's `iottimestamp`, or the user property `eventTimeProperty` names
 * where a message has it (decodeIotPayload puts it in `iottimestamp`).
 */
function requests(
  onReject: (rejection: Rejection) => void,
  options: { readonly maxPayloadBytes?: number; readonly eventTimeProperty?: string } = {},
): OperatorFunction<MqttMessage, Request> {
  const { maxPayloadBytes, eventTimeProperty } = options;
  return (messages) =>
    messages.pipe(
      decodeIotPayload({
        onReject,
        ...(maxPayloadBytes === undefined ? {} : { maxPayloadBytes }),
        ...(eventTimeProperty === undefined ? {} : { eventTimeProperty }),
      }),
      parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs, onReject }),
    );
}

/**
 * The reference windows: requests per HTTP status, in event time read from `iottimestamp`
 * (which holds the user property's time, with `eventTimeProperty`), in fixed windows of
 * `window` (the window's shape is the caller's: {@link windowShape}).
 * Idle advance counts only the silence `liveness` proves (the broker answering its pings
 * with nothing more for us), so a stalled or lost broker closes no window.
 */
function statusWindows(settings: Omit<CountSettings, 'broker'>, liveness: BrokerLiveness) {
  return {
    eventTime: ({ input }: Request) => input.payload.iottimestamp,
    key: ({ record }: Request) => record.status,
    windowDuration: settings.window,
    watermarkDelay: settings.watermark,
    outputMode: settings.outputMode,
    ...(settings.idleAdvanceMs > 0 ? { idleAdvance: { after: settings.idleAdvanceMs, liveness } } : {}),
  };
}

/** The windows as they are, or session windows of `sessionGap` instead. */
function windowShape<W extends { readonly windowDuration: Duration }>(
  windows: W,
  sessionGap: Duration | undefined,
): W | (Omit<W, 'windowDuration'> & { readonly sessionGap: Duration }) {
  if (sessionGap === undefined) return windows;
  const { windowDuration, ...rest } = windows;
  void windowDuration;
  return { ...rest, sessionGap };
}

/**
 * Per-status counts in event-time windows, from the MQTT topic; with `aggregates`, the
 * aggregates of windowedAggregate (rows with their partials, for a table that merges them).
 */
export function statusCounts(
  settings: CountSettings,
  report: CountReport,
  aggregates?: AggregateOptions<Request>,
): Observable<WindowRow<number> | AggregateRow<number>> {
  const onReject = report.rejected;
  return defer(() => {
    const liveness = new BrokerLiveness();
    return fromMqtt(settings.broker, settings.topic, {
      qos: settings.qos,
      liveness,
      ...statisticsOption(settings.statistics),
    }).pipe(
      takeUntil(settings.stop ?? NEVER),
      tap(report.received),
      requests(onReject),
      aggregates === undefined
        ? windowedCount({ ...statusWindows(settings, liveness), onReject, onSubscribe: report.windowStats })
        : windowedAggregate({
            ...statusWindows(settings, liveness),
            aggregates,
            partials: true,
            onReject,
            onSubscribe: report.windowStats,
          }),
    );
  });
}

export interface AggregatorSettings extends Omit<CountSettings, 'broker'> {
  /**
   * Connection options, not a client: the aggregator closes its connection while
   * the writer is backlogged. Give a fixed `clientId`, `clean: false` and a
   * `sessionExpiryInterval` (see {@link persistentSession}) so the broker keeps the
   * messages meanwhile.
   */
  readonly broker: MqttConnectOptions;
  /** Where the open windows and the journal live (one directory per aggregator). */
  readonly stateDirectory: string;
  /** `'process'`: survives the process dying; `'power'`: also a power loss (fsync per batch of messages). */
  readonly durability?: 'process' | 'power';
  /** Events stamped further ahead of this machine's clock are rejected (kind 'future'). */
  readonly maxEventTimeAhead?: Duration;
  /** Larger payloads are rejected unparsed. */
  readonly maxPayloadBytes?: number;
  /** The MQTT 5 user property that gives a message's event time when it has it (decodeIotPayload's option). */
  readonly eventTimeProperty?: string;
  /** Rows counted and not yet written before intake stops. */
  readonly maxPendingRows?: number;
  /** Told when intake stops because rows wait for the writer, and when it resumes. */
  readonly onBackpressure?: (state: { readonly paused: boolean; readonly pendingRows: number }) => void;
  /** Counts or aggregates, and where their rows go: Cassandra ({@link cassandraWriter}) or stdout. */
  readonly rows: AggregatorRows;
  /** Where the late events' counts go ({@link cassandraWriter} on the late table); without it they are only reported. */
  readonly writeLate?: (
    rows: Observable<LateRow<number>>,
    hooks: DurableWriterHooks<number>,
  ) => Observable<WriteResult<LateRow<number>>>;
  /** Where rejected messages are republished before their PUBACK. */
  readonly deadLetter?: DeadLetterOptions;
  /**
   * When it emits, leave for good (fromMqtt's `leave`): unsubscribe, count what the broker
   * still holds for the session, then stop as `stop` does and end the session. It must
   * replay (a `ReplaySubject`): intake resuming after a pause subscribes again.
   */
  readonly leave?: Observable<unknown>;
}

/**
 * The whole aggregator, exactly once: each message's effect is saved in the state
 * directory before its PUBACK, rows are written by `write`, and a restart continues
 * the open windows. Emits one result per written row; completes after `stop`. With
 * `statistics`, the broker and durable stages report there (give the same one to
 * {@link cassandraWriter} for the writer's).
 */
export function aggregator(
  settings: AggregatorSettings,
  report: CountReport,
): Observable<WriteResult<WindowRow<number>> | WriteResult<AggregateRow<number>>> {
  const statistics = statisticsOption(settings.statistics);
  return defer(() => {
    // One per subscription; the durable operator's re-subscriptions (intake resuming) attach it again.
    const liveness = new BrokerLiveness();
    return aggregatorOf(settings, report, liveness, statistics);
  });
}

function aggregatorOf(
  settings: AggregatorSettings,
  report: CountReport,
  liveness: BrokerLiveness,
  statistics: { statistics?: LiveStatistics },
): Observable<WriteResult<WindowRow<number>> | WriteResult<AggregateRow<number>>> {
  const durable = {
    stateDirectory: settings.stateDirectory,
    durability: settings.durability ?? 'process',
    // The hook counts each decode and parse rejection by kind in the statistics, then
    // hands it to the operator's onReject below (the report): passing both would report it twice.
    prepare: (messages: Observable<MqttMessage>, { onReject }: { onReject: (rejection: Rejection) => void }) =>
      messages.pipe(requests(onReject, settings)),
    ...windowShape(statusWindows(settings, liveness), settings.sessionGap),
    ...(settings.maxEventTimeAhead === undefined ? {} : { maxEventTimeAhead: settings.maxEventTimeAhead }),
    ...(settings.maxPendingRows === undefined ? {} : { maxPendingRows: settings.maxPendingRows }),
    ...(settings.onBackpressure === undefined ? {} : { onBackpressure: settings.onBackpressure }),
    onReject: report.rejected,
    onSubscribe: report.windowStats,
    ...(settings.writeLate === undefined ? {} : { writeLate: settings.writeLate }),
    ...(settings.deadLetter === undefined ? {} : { deadLetter: settings.deadLetter }),
    ...statistics,
    ...(settings.stop === undefined ? {} : { stop: settings.stop }),
  };
  const rows = settings.rows;
  return fromMqtt(settings.broker, settings.topic, {
    qos: settings.qos,
    ack: 'manual',
    keepSubscription: true,
    liveness,
    ...statistics,
    ...(settings.leave === undefined ? {} : { leave: settings.leave }),
  }).pipe(
    tap(report.received),
    rows.kind === 'count'
      ? durableWindowedCount({ ...durable, write: rows.write })
      : durableWindowedAggregate({ ...durable, aggregates: rows.aggregates, write: rows.write }),
  );
}

/**
 * Writes rows with `mapping` (the window-count table's, the aggregate table's or the late
 * table's, as this aggregator's rows), reporting to `statistics` and `onOutage`.
 */
export function cassandraWriter<W extends WindowRow<number>>(
  cassandra: Client,
  mapping: CassandraTableMapping<W>,
  options: {
    /** Where the writer's live statistics go (stages `writer` and `write_queue`). */
    statistics?: LiveStatistics;
    /** Told when writes start failing and when they work again; default: a line on stderr. */
    onOutage?: (outage: CassandraOutage) => void;
  } = {},
): (rows: Observable<W>, hooks: DurableWriterHooks<number>) => Observable<CassandraWriteResult<W>> {
  const { onOutage } = options;
  return (rows, { onReject }) =>
    rows.pipe(
      cassandraSink(cassandra, {
        ...mapping,
        onReject,
        ...statisticsOption(options.statistics),
        ...(onOutage === undefined ? {} : { onOutage }),
      }),
    );
}

function statisticsOption(statistics: LiveStatistics | undefined): { statistics?: LiveStatistics } {
  return statistics === undefined ? {} : { statistics };
}

/**
 * Connection options for a persistent MQTT session: the aggregator's client id
 * (sessionClientId.ts), `clean: false` and a session expiry, so the broker queues QoS 1
 * messages while the aggregator is stopped, restarting or backlogged.
 */
export function persistentSession(
  url: string,
  options: {
    clientId: string;
    sessionExpirySeconds: number;
    username?: string;
    password?: string;
    ca?: Buffer;
    cert?: Buffer;
    key?: Buffer;
    /** MQTT 5 Maximum Packet Size: the broker drops larger messages instead of sending them (and logs it). */
    maximumPacketSize?: number;
  },
): MqttConnectOptions {
  const { clientId, sessionExpirySeconds, maximumPacketSize, ...rest } = options;
  return {
    url,
    clientId,
    clean: false,
    protocolVersion: 5,
    properties: {
      sessionExpiryInterval: sessionExpirySeconds,
      ...(maximumPacketSize === undefined ? {} : { maximumPacketSize }),
    },
    ...Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)),
  };
}
