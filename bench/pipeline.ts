/**
 * The aggregator pipeline as the benchmarks run it, and its hand-written twin:
 * decode the reference payload, parse the access-log line, count statuses in
 * 1-minute event-time windows with a 2-minute watermark, in update mode (one row out
 * per message in, which is what the throughput and latency benchmarks count).
 */
import type { MqttClient } from 'mqtt';
import type { Observable, OperatorFunction } from 'rxjs';
import {
  WindowedCountState,
  decodeIotPayload,
  decodeIotPayloadBytes,
  fromMqtt,
  parseAccessLogLine,
  parseAccessLog,
  windowedCount,
  type DecodedMqttMessage,
  type MqttConnection,
  type MqttMessage,
  type ParsedAccessLog,
  type Rejection,
  type WindowedCountOptions,
  type WindowRow,
} from '../src/index.js';

/** The window settings of the reference scenario, in update mode. */
export const pipelineWindow = {
  windowDuration: '1 minute',
  watermarkDelay: '2 minutes',
  outputMode: 'update',
} as const;

/** A message decoded and its access-log line parsed. */
type ParsedMessage = ParsedAccessLog<DecodedMqttMessage>;

/** decodeIotPayload → parseAccessLog: the steps between the MQTT source and the counter. */
export function decodeAndParse(onReject: (rejection: Rejection) => void): OperatorFunction<MqttMessage, ParsedMessage> {
  return (messages) =>
    messages.pipe(
      decodeIotPayload({ onReject }),
      parseAccessLog({ line: ({ payload }: DecodedMqttMessage) => payload.accesslogs, onReject }),
    );
}

/** What the counter counts a parsed message by: the payload's timestamp, and the line's status as the key. */
export const byStatus = {
  eventTime: ({ input }: ParsedMessage) => input.payload.iottimestamp,
  key: ({ record }: ParsedMessage) => record.status,
};

/** decodeIotPayload → parseAccessLog → windowedCount per status with the `window` settings, as examples/aggregator.ts builds it. */
export function statusCounts(
  window: Pick<WindowedCountOptions<ParsedMessage, number>, 'windowDuration' | 'watermarkDelay' | 'outputMode'>,
  onReject: (rejection: Rejection) => void,
): OperatorFunction<MqttMessage, WindowRow<number>> {
  return (messages) => messages.pipe(decodeAndParse(onReject), windowedCount({ ...byStatus, ...window, onReject }));
}

/** fromMqtt → decodeIotPayload → parseAccessLog → windowedCount, as examples/aggregator.ts builds it. */
export function aggregatorPipeline(
  conn: MqttConnection,
  topic: string,
  qos: 0 | 1,
  onReject: (rejection: Rejection) => void,
): Observable<WindowRow<number>> {
  return fromMqtt(conn, topic, { qos }).pipe(statusCounts(pipelineWindow, onReject));
}

/** The pure counting core with the reference settings, on events already decoded and parsed: each row to `onRow`. */
export function statusCounter(
  onRow: (row: WindowRow<number>) => void,
): WindowedCountState<{ at: Date; status: number }, number> {
  return new WindowedCountState<{ at: Date; status: number }, number>(
    { eventTime: (event) => event.at, key: (event) => event.status, ...pipelineWindow },
    onRow,
  );
}

/**
 * The same work by hand on a raw MQTT.js client: a 'message' handler calling the
 * library's pure cores (decodeIotPayloadBytes, parseAccessLogLine, WindowedCountState) directly.
 * Calls `onRow` per row and `onReject` per refused message.
 */
export function handWrittenPipeline(
  client: MqttClient,
  onRow: (row: WindowRow<number>) => void,
  onReject: () => void,
): void {
  const counter = statusCounter(onRow);
  client.on('message', (_topic, payload) => {
    const decoded = decodeIotPayloadBytes(payload);
    if (decoded._tag === 'Left') return onReject();
    const record = parseAccessLogLine(decoded.right.accesslogs);
    if (record._tag === 'Left') return onReject();
    counter.push({ at: decoded.right.iottimestamp, status: record.right.status });
  });
}
