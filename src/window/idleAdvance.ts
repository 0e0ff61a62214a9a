/**
 * Idle advance, once for {@link windowedCount} and {@link durableWindowedCount}: a
 * timer that moves the watermark with the wall clock while no event arrives.
 * @module
 */
import type { SchedulerLike, Subscription } from 'rxjs';

/** What idle advance reads of the window state. @internal */
export interface IdleWindows {
  readonly earliestOpenWindowEnd: number | undefined;
  readonly maxEventTime: number | undefined;
}

/**
 * The timer behind {@link IdleAdvanceOptions}: armed only while a window is open, it
 * wakes when the earliest open window would be final if event time kept pace with the
 * wall clock (but not before `after` of silence), and then hands `advance` the
 * watermark `maxEventTime + silence − watermarkDelay`. Time and timers come from the
 * scheduler, so a `TestScheduler` drives it in tests.
 * @internal
 */
export class IdleAdvance {
  private timer: Subscription | undefined;
  private lastArrival = 0;
  private stopped = false;

  constructor(
    private readonly after: number,
    private readonly watermarkDelay: number,
    private readonly scheduler: SchedulerLike,
    private readonly windows: IdleWindows,
    private readonly advance: (watermark: number) => void,
  ) {}

  /** An event arrived (or saved windows were restored): silence counts from now. */
  arrived(): void {
    this.lastArrival = this.scheduler.now();
  }

  /** Arms the timer if a window is open and none is armed. */
  arm(): void {
    if (this.timer !== undefined || this.stopped) return;
    const earliestEnd = this.windows.earliestOpenWindowEnd;
    const maxEventTime = this.windows.maxEventTime;
    if (earliestEnd === undefined || maxEventTime === undefined) return;
    const finalAt = this.lastArrival + (earliestEnd + this.watermarkDelay - maxEventTime);
    const dueAt = Math.max(this.lastArrival + this.after, finalAt);
    this.timer = this.scheduler.schedule(() => this.wake(), Math.max(0, dueAt - this.scheduler.now()));
  }

  /** For good: no timer armed again. */
  stop(): void {
    this.stopped = true;
    this.timer?.unsubscribe();
    this.timer = undefined;
  }

  private wake(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const maxEventTime = this.windows.maxEventTime;
    const silentFor = this.scheduler.now() - this.lastArrival;
    if (maxEventTime !== undefined && silentFor >= this.after)
      this.advance(maxEventTime + silentFor - this.watermarkDelay);
    this.arm();
  }
}
