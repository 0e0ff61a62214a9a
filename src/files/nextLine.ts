import { Observable, type OperatorFunction } from 'rxjs';
import { optionChecks } from '../internal/options.js';
import { subscribeOperator } from '../internal/operatorSubscriber.js';
import { NextLineState, nextLineSettings, type NextLineOptions } from './NextLineState.js';

/**
 * Replaces each value with the next line of a file: the Pi publisher's "each press
 * reads the next line of the access log".
 *
 * ```
 * source:   --p-----p---p---|
 * nextLine: --1-----2---3---|     (1, 2, 3: the file's lines in order)
 * ```
 *
 * The file is opened when the result is subscribed to and closed on teardown; only
 * one chunk is held in memory, so the file may be of any size. After the last line
 * it starts again from the first (`loop`, the default), or completes (`loop: false`).
 * A file that cannot be opened errors the stream with the system's message.
 *
 * @example
 * ```ts
 * import { interval } from 'rxjs';
 * import { nextLine } from 'mqtt-iot-stream';
 * interval(1000).pipe(nextLine('access.log')).subscribe((line) => console.log(line));
 * ```
 * @param path - the text file to read.
 * @param options - `loop`, `chunkSize` and `start`, see {@link NextLineOptions}.
 * @returns an operator emitting one line per source value.
 * @see {@link NextLineState} for the same without RxJS.
 */
export function nextLine<T>(path: string, options: NextLineOptions = {}): OperatorFunction<T, string> {
  optionChecks('nextLine').string('path', path, 'a file path');
  const settings = nextLineSettings(options, 'nextLine');
  return (source) =>
    new Observable<string>((destination) => {
      let cursor: NextLineState;
      try {
        cursor = new NextLineState(path, settings);
      } catch (error) {
        destination.error(error);
        return;
      }
      return subscribeOperator(source, destination, {
        next: () => {
          const line = cursor.next();
          if (line === undefined) destination.complete();
          else destination.next(line);
        },
        finalize: () => cursor.close(),
      });
    });
}
