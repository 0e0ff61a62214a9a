/**
 * The aggregator side of the reference scenario.
 *
 * Subscribes to `rupesh/gpiotopic`, decodes and validates each payload, parses its
 * access-log line, counts requests per HTTP status in 1-minute event-time windows
 * keyed on `iottimestamp` with a 2-minute watermark, and writes each final
 * `(window start, window end, status, count)` row to Cassandra `hyper.mqtt`.
 * Nothing bad stops it: undecodable payloads, unparseable lines and late events are
 * counted and reported.
 *
 *   npx mqtt-iot-stream aggregate --broker mqtt://localhost:1883 --cassandra 127.0.0.1:9042
 */
import type { Client } from 'cassandra-driver';
import { NEVER, takeUntil, tap, type Observable } from 'rxjs';
import {
  cassandraSink, decodeIotPayload, fromMqtt, parseAccessLog, windowedCount,
  type CassandraWriteResult, type DecodedMqttMessage, type Duration, type MqttConnection, type OutputMode, type Rejection,
  type WindowRow, type WindowStats,
} from 'mqtt-iot-stream';

export interface CountSettings {
  readonly broker: MqttConnection;
  /** A topic, or `$share/<group>/<topic>` to split the stream between aggregators. */
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  readonly window: Duration;
  readonly watermark: Duration;
  readonly outputMode: OutputMode;
  /** Milliseconds of silence before the watermark follows the wall clock; 0: never. */
  readonly idleAdvanceMs: number;
  /** When it emits, stop receiving: open windows are flushed and the pipeline completes. */
  readonly stop?: Observable<unknown>;
}

/** What the pipeline tells the person watching it. */
export interface CountReport {
  received(): void;
  rejected(rejection: Rejection): void;
  windowStats(stats: WindowStats): void;
}

/** Per-status counts in event-time windows, from the MQTT topic. */
export function statusCounts(settings: CountSettings, report: CountReport): Observable<WindowRow<number>> {
  const onReject = report.rejected;
  return fromMqtt(settings.broker, settings.topic, { qos: settings.qos }).pipe(
    takeUntil(settings.stop ?? NEVER),
    tap(report.received),
    decodeIotPayload({ onReject }),
    parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs, onReject }),
    windowedCount({
      eventTime: ({ input }) => input.payload.iottimestamp,
      key: ({ record }) => record.status,
      windowDuration: settings.window,
      watermarkDelay: settings.watermark,
      outputMode: settings.outputMode,
      ...(settings.idleAdvanceMs > 0 ? { idleAdvance: { afterMs: settings.idleAdvanceMs } } : {}),
      onReject,
      onSubscribe: report.windowStats,
    }),
  );
}

export interface AggregatorSettings extends CountSettings {
  /** A cassandra-driver client; the sink writes through it and leaves it open. */
  readonly cassandra: Client;
  readonly keyspace: string;
  readonly table: string;
  /** This aggregator's id when several share the stream; '' when it is alone. */
  readonly aggregatorId: string;
}

/** The whole aggregator: counts written to Cassandra, one result per written row. */
export function aggregator(settings: AggregatorSettings, report: CountReport): Observable<CassandraWriteResult<WindowRow<number>>> {
  const { cassandra, keyspace, table, aggregatorId } = settings;
  return statusCounts(settings, report).pipe(
    cassandraSink(cassandra, { keyspace, table, aggregator: aggregatorId }),
  );
}
