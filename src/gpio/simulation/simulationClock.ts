/**
 * Clocks for the simulated GPIO backend: a manual clock that tests advance by hand
 * (deterministic, microsecond exact) and a real clock for demos.
 *
 * @module
 */

/** The time source and timer queue of a {@link SimulatedGpio}. */
export interface SimulationClock {
  /** Microseconds since the clock started; never wraps, never goes back. */
  elapsedMicros(): number;
  /** The wall-clock time now. */
  now(): Date;
  /**
   * Runs `task` once when {@link elapsedMicros} reaches `atMicros` (at once, in order,
   * if that is already past); returns the function that cancels it.
   */
  schedule(atMicros: number, task: () => void): () => void;
  /** How many scheduled tasks have neither run nor been cancelled. */
  readonly pendingTasks: number;
}

interface Task {
  readonly at: number;
  readonly seq: number;
  readonly run: () => void;
}

/**
 * A clock that only moves when told to: {@link ManualClock.advance} runs the due
 * tasks in time order, each seeing the clock at its own time. Tests use it to
 * replay microsecond-exact edge sequences deterministically.
 *
 * @example
 * ```ts
 * import { ManualClock } from 'mqtt-iot-stream';
 * const clock = new ManualClock();
 * clock.schedule(1_000, () => console.log('1 ms'));
 * clock.advance(5_000); // prints "1 ms"; elapsedMicros() is now 5000
 * ```
 */
export class ManualClock implements SimulationClock {
  private elapsed = 0;
  private seq = 0;
  private tasks: Task[] = [];
  private readonly startMillis: number;

  /**
   * @param start - the wall-clock time at elapsed 0 (default: 2020-07-01T12:00:00Z,
   *   a fixed date so test output does not depend on when it runs)
   */
  constructor(start: Date = new Date(Date.UTC(2020, 6, 1, 12))) {
    this.startMillis = start.getTime();
  }

  elapsedMicros(): number {
    return this.elapsed;
  }

  now(): Date {
    return new Date(this.startMillis + Math.floor(this.elapsed / 1000));
  }

  get pendingTasks(): number {
    return this.tasks.length;
  }

  schedule(atMicros: number, task: () => void): () => void {
    const entry: Task = { at: Math.max(atMicros, this.elapsed), seq: this.seq++, run: task };
    // Keep the queue sorted by (time, insertion order) so ties run first-come first-served.
    let index = this.tasks.length;
    while (index > 0 && this.tasks[index - 1]!.at > entry.at) index--;
    this.tasks.splice(index, 0, entry);
    return () => {
      const at = this.tasks.indexOf(entry);
      if (at >= 0) this.tasks.splice(at, 1);
    };
  }

  /**
   * Moves time forward by `micros`, running every task that falls due on the way,
   * in time order (tasks scheduled by tasks included).
   */
  advance(micros: number): void {
    if (!(micros >= 0))
      throw new RangeError(`ManualClock: advance() needs a non-negative number of microseconds, got ${micros}`);
    const target = this.elapsed + micros;
    for (;;) {
      const next = this.tasks[0];
      if (next === undefined || next.at > target) break;
      this.tasks.shift();
      this.elapsed = next.at;
      next.run();
    }
    this.elapsed = target;
  }

  /** Moves time forward by `millis` milliseconds. */
  advanceMillis(millis: number): void {
    this.advance(millis * 1000);
  }
}

/**
 * A clock that follows real time (`performance.now()` and `setTimeout`), for demos
 * such as the keyboard-driven button. A pending task (a scheduled button release)
 * keeps the process alive until it runs or is cancelled.
 */
export class RealClock implements SimulationClock {
  private readonly origin = performance.now();
  private readonly originDate = Date.now();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();

  elapsedMicros(): number {
    return Math.floor((performance.now() - this.origin) * 1000);
  }

  now(): Date {
    return new Date(this.originDate + Math.floor(performance.now() - this.origin));
  }

  get pendingTasks(): number {
    return this.timers.size;
  }

  schedule(atMicros: number, task: () => void): () => void {
    const delayMillis = Math.max(0, (atMicros - this.elapsedMicros()) / 1000);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task();
    }, delayMillis);
    this.timers.add(timer);
    return () => {
      clearTimeout(timer);
      this.timers.delete(timer);
    };
  }
}
