/**
 * parseAccessLog: access-log lines to typed records, as an RxJS operator.
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import { optionChecks } from '../internal/options.js';
import { subscribeOperator } from '../internal/operatorSubscriber.js';
import { reject, type RejectOptions } from '../reject.js';
import type { AccessLogRecord } from './accessLogRecord.js';
import { LastHour } from './logTime.js';
import { scanAccessLine } from './scanAccessLine.js';

/** Options of {@link parseAccessLog} when the source emits something that holds the line. */
export interface ParseAccessLogOptions<T> extends RejectOptions<T> {
  /** Where the line is in each source value, e.g. `({ payload }) => payload.accesslogs`. */
  line: (input: T) => string;
}

/**
 * A parsed line together with the source value it came from, so that what travels
 * with the line (an MQTT message to acknowledge, the payload's `iottimestamp`)
 * reaches the next operator.
 */
export interface ParsedAccessLog<T> {
  /** The line, parsed. */
  readonly record: AccessLogRecord;
  /** The source value the line was taken from. */
  readonly input: T;
}

/**
 * Parses each access-log line into an {@link AccessLogRecord}; reports the lines
 * that are not access-log lines and goes on.
 *
 * ```
 * source:          --a--x--b--|     (x: not an access-log line)
 * parseAccessLog:  --A-----B--|     (x goes to onReject, kind 'line')
 * ```
 *
 * Each line is read by {@link parseAccessLogLine}: Common Log Format, Apache Combined
 * and nginx's default `combined`, with or without its line ending (see there for
 * what each quirk of real logs gives). A line that is not an access-log line, or a
 * value that is not a string, is handed to `onReject` as a {@link Rejection} of kind
 * `'line'` with the reason and the source value as `input`, and the stream goes on;
 * with `strict` the first one errors the stream with a {@link RejectionError}
 * instead. Errors and completion of the source pass through; an exception thrown
 * by `line` or `onReject` errors the stream.
 *
 * Given `line`, the operator reads the line out of each source value and emits
 * `{ record, input }` ({@link ParsedAccessLog}), so the source value is not lost;
 * without it, the source emits the lines themselves and the operator emits records.
 *
 * @example Lines in, records out:
 * ```ts
 * import { of } from 'rxjs';
 * import { parseAccessLog } from 'mqtt-iot-stream';
 *
 * of(
 *   '127.0.0.1 - - [01/Jul/2020:12:34:56 +0000] "GET / HTTP/1.1" 200 512 "-" "curl/7.68.0"',
 *   'hello world',
 * ).pipe(parseAccessLog({ onReject: (rejection) => console.warn(rejection.reason) }))
 *   .subscribe((record) => console.log(record.status, record.path, record.time.toISOString()));
 * // 200 / 2020-07-01T12:34:56.000Z   (and a warning for 'hello world')
 * ```
 *
 * @example The line inside a decoded MQTT payload, keeping the message:
 * ```ts
 * import { fromMqtt, decodeIotPayload, parseAccessLog } from 'mqtt-iot-stream';
 *
 * fromMqtt('mqtt://localhost:1883', 'rupesh/gpiotopic')
 *   .pipe(
 *     decodeIotPayload(),
 *     parseAccessLog({
 *       line: ({ payload }) => payload.accesslogs,
 *       onReject: (rejection) => console.warn(rejection.reason),
 *     }),
 *   )
 *   .subscribe(({ record, input }) => console.log(input.payload.iottimestamp, record.status));
 * ```
 *
 * @param options - `line` to find the line in each source value; `onReject` and `strict`, as everywhere.
 * @returns an operator from lines to {@link AccessLogRecord}s, or, with `line`, from
 *   source values to {@link ParsedAccessLog}s.
 * @see {@link parseAccessLogLine} for the parser without RxJS.
 * @see {@link windowedCount} to count the records per status and window.
 */
export function parseAccessLog<T>(options: ParseAccessLogOptions<T>): OperatorFunction<T, ParsedAccessLog<T>>;
export function parseAccessLog(options?: RejectOptions<string>): OperatorFunction<string, AccessLogRecord>;
export function parseAccessLog<T>(
  options?: RejectOptions<T> & { line?: (input: T) => string },
): OperatorFunction<T, AccessLogRecord | ParsedAccessLog<T>> {
  const selectLine = optionChecks('parseAccessLog').optionalFunc<(input: T) => string>(
    'line',
    options?.line,
    '(input) => line',
  );
  return (source) =>
    new Observable<AccessLogRecord | ParsedAccessLog<T>>((destination) => {
      // Each subscription reads one log: its own memo keeps that log's hour (see LastHour).
      const lastHour = new LastHour();
      // A throw from `line` or `onReject` (strict) ends the stream.
      return subscribeOperator(source, destination, {
        next: (input) => {
          const line: unknown = selectLine === undefined ? input : selectLine(input);
          const result =
            typeof line === 'string'
              ? scanAccessLine(line, lastHour)
              : `expected a line of text, got ${describe(line)}`;
          if (typeof result === 'string') {
            reject(options, { operator: 'parseAccessLog', kind: 'line', reason: result, input });
            return;
          }
          destination.next(selectLine === undefined ? result : { record: result, input });
        },
      });
    });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'an object';
  return typeof value;
}
