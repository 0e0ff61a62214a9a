/**
 * The aggregator side of the reference scenario, exactly once.
 *
 * Subscribes to `rupesh/gpiotopic`, decodes and validates each payload, parses its
 * access-log line, counts requests per HTTP status in 1-minute event-time windows
 * keyed on `iottimestamp` with a 2-minute watermark, and writes each final
 * `(window start, window end, status, count)` row to Cassandra `hyper.mqtt`.
 * Nothing bad stops it: undecodable payloads, unparseable lines and late events are
 * handed to `onReject`. Nothing is lost or counted twice: the open windows live in
 * a state directory, each message is saved there before it is acknowledged, the
 * broker keeps messages for the persistent session while the aggregator is away, and
 * a restart continues where the last run stopped (docs/durability.md).
 *
 * Run it (Ctrl-C writes the open windows and stops):
 *
 *   MQTT_URL=mqtt://localhost:1883 CASSANDRA_CONTACT_POINTS=127.0.0.1:9042 npx tsx examples/aggregator.ts
 *
 * `npx mqtt-iot-stream aggregate` runs the same pipeline with a flag for everything.
 */
import { Client } from 'cassandra-driver';
import { Subject, tap, type Observable } from 'rxjs';
import { pathToFileURL } from 'node:url';
import {
  cassandraSink,
  decodeIotPayload,
  defaultStateDirectory,
  durableWindowedCount,
  ensureWindowCountTable,
  fromMqtt,
  parseAccessLog,
  windowCountRows,
  type DecodedMqttMessage,
  type Duration,
  type Rejection,
} from 'mqtt-iot-stream';

export interface AggregatorOptions {
  /** The broker's URL, e.g. `mqtt://localhost:1883`. */
  readonly broker: string;
  /** The topic; `$share/<group>/rupesh/gpiotopic` splits the stream between aggregators. */
  readonly topic?: string;
  readonly cassandra: Client;
  /** The counts table in keyspace `hyper`. Default `mqtt`. */
  readonly table?: string;
  /** This aggregator's id, when several share the stream: each writes its own partial counts. */
  readonly aggregatorId?: string;
  /** Where the open windows and the journal are saved. */
  readonly stateDirectory: string;
  /** When it emits, the open windows are written and the pipeline completes. */
  readonly stop: Observable<unknown>;
  /**
   * Silence after which the watermark follows this machine's clock, so that a sparse
   * source (a button) still closes its windows; 0: never (events stamped long ago, as
   * a replay's, would all be late). Default `'5 s'`.
   */
  readonly idleAdvance?: Duration;
  /** Called for each message received. */
  readonly onMessage?: () => void;
  /** Called for each message or event not counted, with the reason. Default: a line on stderr. */
  readonly onReject?: (rejection: Rejection) => void;
}

/** Requests per HTTP status in event-time windows, from MQTT into Cassandra; emits one result per row written. */
export function aggregator(options: AggregatorOptions) {
  const { aggregatorId = '', cassandra, table = 'mqtt', idleAdvance = '5 s' } = options;
  // A persistent session: the broker queues QoS 1 messages for this client id while it is away.
  const session = {
    url: options.broker,
    clientId: `aggregator-${aggregatorId || 'default'}`,
    clean: false,
    protocolVersion: 5 as const,
    properties: { sessionExpiryInterval: 7 * 86_400 },
  };
  return fromMqtt(session, options.topic ?? 'rupesh/gpiotopic', { qos: 1, ack: 'manual', keepSubscription: true }).pipe(
    tap(() => options.onMessage?.()),
    durableWindowedCount({
      stateDirectory: options.stateDirectory,
      prepare: (messages, { onReject }) =>
        messages.pipe(
          decodeIotPayload({ onReject }),
          parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs, onReject }),
        ),
      eventTime: ({ input }) => input.payload.iottimestamp,
      key: ({ record }) => record.status,
      windowDuration: '1 minute',
      watermarkDelay: '2 minutes',
      ...(idleAdvance === 0 ? {} : { idleAdvance: { after: idleAdvance } }),
      onReject: options.onReject ?? ((rejection) => console.warn(`${rejection.kind}: ${rejection.reason}`)),
      write: (rows, { onReject }) =>
        rows.pipe(cassandraSink(cassandra, { ...windowCountRows({ table, aggregator: aggregatorId }), onReject })),
      stop: options.stop,
    }),
  );
}

// Run as a program (not when imported, as the tests do).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cassandra = new Client({
    contactPoints: (process.env['CASSANDRA_CONTACT_POINTS'] ?? '127.0.0.1:9042').split(','),
    localDataCenter: process.env['CASSANDRA_DATACENTER'] ?? 'datacenter1',
  });
  await ensureWindowCountTable(cassandra); // keyspace hyper, table mqtt
  const stop = new Subject<void>();
  process.once('SIGINT', () => stop.next());
  process.once('SIGTERM', () => stop.next());
  aggregator({
    broker: process.env['MQTT_URL'] ?? 'mqtt://localhost:1883',
    cassandra,
    stateDirectory: defaultStateDirectory('example'),
    stop,
  }).subscribe({
    next: ({ value: row }) => console.log(row.windowStart.toISOString(), row.key, row.count),
    error: (error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 1;
      void cassandra.shutdown();
    },
    complete: () => void cassandra.shutdown(),
  });
}
