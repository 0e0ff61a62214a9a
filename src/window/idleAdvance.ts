/**
 * Idle advance, once for {@link windowedCount} and {@link durableWindowedCount}: a
 * timer that moves the watermark with the wall clock while no event arrives, and the
 * contract of a source that proves its silence ({@link SourceLiveness}).
 * @module
 */
import { asyncScheduler, type SchedulerLike, type Subscription } from 'rxjs';
import type { WindowSettings } from './options.js';

/**
 * What a source has proven about its silence: from `since` to `until` (epoch
 * milliseconds on the idle advance's clock) it was reachable and answering without a
 * break, and at `until` it had nothing more for us that had not already arrived.
 */
export interface QuietProof {
  readonly since: number;
  readonly until: number;
}

/**
 * A source that can tell real silence from a stall, for
 * {@link IdleAdvanceOptions.liveness}: {@link BrokerLiveness} does it for
 * {@link fromMqtt}, with MQTT pings.
 */
export interface SourceLiveness {
  /**
   * The current proof, or `undefined` while the source proves nothing: it is
   * unreachable, stalled, has just reconnected, or something arrived after its last
   * proof.
   */
  provenQuiet(): QuietProof | undefined;
  /** Calls `listener` each time the proof may have grown, until the returned function is called. */
  onProof(listener: () => void): () => void;
}

/** What idle advance reads of the window state. @internal */
export interface IdleWindows {
  readonly earliestOpenWindowEnd: number | undefined;
  readonly maxEventTime: number | undefined;
}

/** What {@link IdleAdvance} is built from. @internal */
export interface IdleAdvanceSettings {
  /** Silence before the watermark moves, in ms. */
  readonly after: number;
  readonly watermarkDelay: number;
  readonly scheduler: SchedulerLike;
  readonly windows: IdleWindows;
  /** When given, only the silence it proves counts, never the wall clock itself. */
  readonly liveness?: SourceLiveness | undefined;
  /** Moves the watermark to `watermark`. */
  readonly advance: (watermark: number) => void;
}

/**
 * The timer behind {@link IdleAdvanceOptions}: armed only while a window is open, it
 * wakes when the earliest open window would be final if event time kept pace with the
 * wall clock (but not before `after` of silence), and then hands `advance` the
 * watermark `maxEventTime + silence − watermarkDelay`. Time and timers come from the
 * scheduler, so a `TestScheduler` drives it in tests.
 *
 * With a {@link SourceLiveness}, the silence is the part of the time since the last
 * arrival that the source proved quiet (`until − max(since, lastArrival)`), and it is
 * looked at each time the proof grows rather than by a timer of its own: the wall
 * clock cannot get ahead of the proof, so a stall, a reconnection or a backlog on its
 * way moves nothing.
 * @internal
 */
export class IdleAdvance {
  private timer: Subscription | undefined;
  private lastArrival = 0;
  private stopped = false;
  private readonly stopWatching: (() => void) | undefined;

  /**
   * The idle advance the window settings ask for (`idleAdvance`), or `undefined` when they
   * ask for none: on their scheduler (RxJS's `asyncScheduler` by default), moving `windows`
   * through `advance`.
   */
  static of<E, K>(
    settings: Pick<WindowSettings<E, K>, 'idleAdvance' | 'watermarkDelay'>,
    windows: IdleWindows,
    advance: (to: number) => void,
  ): IdleAdvance | undefined {
    const idle = settings.idleAdvance;
    if (idle === undefined) return undefined;
    return new IdleAdvance({
      after: idle.after,
      watermarkDelay: settings.watermarkDelay,
      scheduler: idle.scheduler ?? asyncScheduler,
      windows,
      liveness: idle.liveness,
      advance,
    });
  }

  constructor(private readonly settings: IdleAdvanceSettings) {
    // The proof grows inside the source's own callbacks (a PINGRESP being handled):
    // the watermark moves on the scheduler's next turn, off that stack.
    this.stopWatching = settings.liveness?.onProof(() => {
      if (this.timer === undefined && !this.stopped) this.timer = settings.scheduler.schedule(() => this.wake(), 0);
    });
  }

  /** An event arrived (or saved windows were restored): silence counts from now. */
  arrived(): void {
    this.lastArrival = this.settings.scheduler.now();
  }

  /** Arms the timer if a window is open and none is armed (with a liveness, its proofs wake it instead). */
  arm(): void {
    if (this.timer !== undefined || this.stopped || this.settings.liveness !== undefined) return;
    const earliestEnd = this.settings.windows.earliestOpenWindowEnd;
    const maxEventTime = this.settings.windows.maxEventTime;
    if (earliestEnd === undefined || maxEventTime === undefined) return;
    const dueAt = this.lastArrival + this.needed(earliestEnd, maxEventTime);
    const { scheduler } = this.settings;
    this.timer = scheduler.schedule(() => this.wake(), Math.max(0, dueAt - scheduler.now()));
  }

  /** For good: no timer armed again. */
  stop(): void {
    this.stopped = true;
    this.stopWatching?.();
    this.timer?.unsubscribe();
    this.timer = undefined;
  }

  /** The silence after which the earliest open window is final, and at least `after`. */
  private needed(earliestEnd: number, maxEventTime: number): number {
    return Math.max(this.settings.after, earliestEnd + this.settings.watermarkDelay - maxEventTime);
  }

  /** The silence that counts: the wall clock's, or what the source proved of it. */
  private silence(): number {
    const now = this.settings.scheduler.now();
    const liveness = this.settings.liveness;
    if (liveness === undefined) return now - this.lastArrival;
    const proof = liveness.provenQuiet();
    if (proof === undefined) return 0;
    return Math.max(0, Math.min(proof.until, now) - Math.max(proof.since, this.lastArrival));
  }

  private wake(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const { windows, watermarkDelay, advance } = this.settings;
    const earliestEnd = windows.earliestOpenWindowEnd;
    const maxEventTime = windows.maxEventTime;
    if (earliestEnd === undefined || maxEventTime === undefined) return;
    const silentFor = this.silence();
    // Only an advance that closes a window: a smaller one changes no count and no row,
    // and the durable operator journals each advance.
    if (silentFor >= this.needed(earliestEnd, maxEventTime)) advance(maxEventTime + silentFor - watermarkDelay);
    this.arm();
  }
}
