// The demo's simulated push button: pressed by a timer and by the Enter key, and
// counted, so the screen can show where presses came from and how many the 300 ms
// bounce time swallowed (at two presses a second an Enter press usually lands within
// 300 ms of an automatic one: the Pi would ignore it too).
import type { SimulatedGpio } from '../testing.js';

/** Where a press came from. */
export type PressSource = 'automatic' | 'keyboard';

export class DemoButton {
  automatic = 0;
  keyboard = 0;
  /** Presses the button reported no event for: within the bounce time, or while already down. */
  swallowed = 0;
  private reported = 0;
  private readonly releases = new Set<ReturnType<typeof setTimeout>>();

  constructor(
    private readonly gpio: SimulatedGpio,
    readonly pin: number,
    readonly bounceMs: number,
  ) {}

  /** Hand this to the pipeline: it is called for each press event the button emits. */
  readonly pressReported = (): void => {
    this.reported++;
  };

  /**
   * Presses and, `hold` later, releases the button. The simulated line delivers the
   * edge synchronously (no glitch filter), so whether the pipeline saw it is known
   * when `press` returns.
   */
  press(source: PressSource, hold: number): void {
    this[source]++;
    const before = this.reported;
    this.gpio.press(this.pin);
    if (this.reported === before) this.swallowed++;
    const release = setTimeout(() => {
      this.releases.delete(release);
      this.gpio.release(this.pin);
    }, hold);
    this.releases.add(release);
  }

  /** Cancels pending releases and lets go of the button. */
  stop(): void {
    for (const release of this.releases) clearTimeout(release);
    if (this.releases.size > 0) this.gpio.release(this.pin);
    this.releases.clear();
  }

  /** One status line. */
  summary(): string {
    return `presses: ${this.automatic} automatic · ${this.keyboard} keyboard · ${this.swallowed} swallowed by the ${this.bounceMs} ms bounce time`;
  }

  /** The status line for a narrow terminal: the same counts, item for item, in fewer words. */
  shortSummary(): string {
    return `presses ${this.automatic} auto · ${this.keyboard} Enter · ${this.swallowed} swallowed`;
  }
}
