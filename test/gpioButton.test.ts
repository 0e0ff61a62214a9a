import { expect } from 'chai';
import fc from 'fast-check';
import { take, type Subscription } from 'rxjs';
import {
  fromGpioButton,
  RejectionError,
  tickDiff,
  type GpioBackend,
  type GpioButtonEvent,
  type GpioButtonOptions,
  type Level,
  type Rejection,
} from '../src/index.js';
import { ManualClock, SimulatedGpio, type DriveStep } from '../src/testing.js';

const PIN = 17;

/** A simulated Pi on a manual clock, with one subscribed button and its events. */
function rig(options: GpioButtonOptions & { startTick?: number } = {}) {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio({ clock, startTick: options.startTick ?? 0 });
  const events: GpioButtonEvent[] = [];
  const errors: unknown[] = [];
  let completed = false;
  const subscription: Subscription = fromGpioButton(PIN, { backend: gpio, ...options }).subscribe({
    next: (event) => events.push(event),
    error: (error: unknown) => errors.push(error),
    complete: () => {
      completed = true;
    },
  });
  const summary = () => events.map((event) => `${event.pressed ? 'press' : 'release'}@${event.tick}`);
  return { clock, gpio, events, errors, subscription, summary, completed: () => completed };
}

/** Asserts that nothing is left open or scheduled on the simulated backend. */
function expectAllReleased(gpio: SimulatedGpio, clock: ManualClock): void {
  expect(gpio.openInputs(), 'open inputs').to.deep.equal([]);
  expect(gpio.openOutputs(), 'open outputs').to.deep.equal([]);
  expect(gpio.watcherCount(), 'watchers').to.equal(0);
  expect(clock.pendingTasks, 'pending timers').to.equal(0);
}

describe('fromGpioButton on the simulated backend', () => {
  describe('debounce (RPi.GPIO bouncetime semantics)', () => {
    it('turns contact chatter within the debounce window into one press and one release', () => {
      const { clock, gpio, summary, subscription } = rig({ edge: 'both', debounce: 300 });
      // Press: 5 edges in 750 µs, ending low (pressed with the pull-up).
      gpio.press(PIN, { bounceMicros: [200, 150, 300, 100] });
      clock.advanceMillis(500);
      // Release 500 ms after the press, chattering for 1 ms.
      gpio.release(PIN, { bounceMicros: [400, 600] });
      clock.advanceMillis(500);
      expect(summary()).to.deep.equal(['press@0', 'release@500000']);
      subscription.unsubscribe();
      expectAllReleased(gpio, clock);
    });

    it('ignores an edge exactly debounce after the accepted one and accepts one a microsecond later', () => {
      const { clock, gpio, summary, subscription } = rig({ edge: 'falling', debounce: 300 });
      gpio.press(PIN); // falling at 0
      clock.advance(100_000);
      gpio.release(PIN); // rising, not watched
      clock.advance(200_000);
      gpio.press(PIN); // falling at exactly 300 000 µs: ignored (RPi.GPIO compares with >)
      clock.advance(1);
      gpio.release(PIN);
      gpio.press(PIN); // falling at 300 001 µs — still measured from the accepted edge at 0
      expect(summary()).to.deep.equal(['press@0', 'press@300001']);
      subscription.unsubscribe();
    });

    it('with both edges, swallows a release that comes sooner than debounce after the press, as RPi.GPIO does', () => {
      const { clock, gpio, summary, subscription } = rig({ edge: 'both', debounce: 300 });
      gpio.press(PIN);
      clock.advanceMillis(100);
      gpio.release(PIN);
      clock.advanceMillis(1000);
      gpio.press(PIN);
      expect(summary()).to.deep.equal(['press@0', 'press@1100000']);
      subscription.unsubscribe();
    });

    it('with falling edges only, takes the bounce of a late release for a press, as RPi.GPIO does; a glitch filter does not', () => {
      const run = (options: GpioButtonOptions) => {
        const { clock, gpio, summary, subscription } = rig({ edge: 'falling', ...options });
        gpio.press(PIN);
        clock.advanceMillis(500);
        gpio.release(PIN, { bounceMicros: [100, 200] }); // rising, falling at +100 µs, rising at +300 µs
        clock.advanceMillis(500);
        subscription.unsubscribe();
        return summary();
      };
      expect(run({ debounce: 300 })).to.deep.equal(['press@0', 'press@500100']);
      expect(run({ glitchFilterMicros: 1000 })).to.deep.equal(['press@1005']);
    });

    it('accepts exactly the edges RPi.GPIO’s rule accepts, for random edge sequences and tick origins', () => {
      const step = fc.record({
        afterMicros: fc.integer({ min: 0, max: 400_000 }),
        level: fc.constantFrom<Level>(0, 1),
      });
      fc.assert(
        fc.property(
          fc.array(step, { maxLength: 40 }),
          fc.integer({ min: 0, max: 500 }),
          fc.constantFrom('rising', 'falling', 'both' as const),
          fc.integer({ min: 0, max: 2 ** 32 - 1 }),
          (steps: DriveStep[], debounce, edge, startTick) => {
            const { clock, gpio, events, subscription } = rig({ edge, debounce, startTick });
            gpio.drive(PIN, steps);
            clock.advance(steps.reduce((sum, s) => sum + s.afterMicros, 0) + 1);
            subscription.unsubscribe();
            // RPi.GPIO (event_gpio.c): accept when no edge was accepted yet or
            // now - lastcall > bouncetime * 1000; lastcall moves on accepted edges only.
            const expected: string[] = [];
            let level: Level = 1; // pull-up idle
            let at = 0;
            let lastAccepted: number | undefined;
            for (const s of steps) {
              at += s.afterMicros;
              if (s.level === level) continue;
              level = s.level;
              if (edge !== 'both' && (edge === 'rising') !== (level === 1)) continue;
              if (lastAccepted !== undefined && !(at - lastAccepted > debounce * 1000)) continue;
              lastAccepted = at;
              expected.push(`${level}@${(startTick + at) >>> 0}`);
            }
            expect(events.map((event) => `${event.level}@${event.tick}`)).to.deep.equal(expected);
          },
        ),
        { numRuns: 500, seed: 20261127 },
      ); // fixed seed: the same cases on every run
    });

    it('reports every edge when debounce is 0', () => {
      const { clock, gpio, summary, subscription } = rig({ edge: 'both' });
      gpio.press(PIN, { bounceMicros: [200, 150] });
      clock.advance(1000);
      expect(summary()).to.deep.equal(['press@0', 'release@200', 'press@350']);
      subscription.unsubscribe();
    });
  });

  describe('edge choice and polarity', () => {
    const cycle = (gpio: SimulatedGpio, clock: ManualClock) => {
      gpio.press(PIN);
      clock.advanceMillis(10);
      gpio.release(PIN);
      clock.advanceMillis(10);
      gpio.press(PIN);
      clock.advanceMillis(10);
      gpio.release(PIN);
    };

    it('falling reports only presses with a pull-up; rising only releases; both reports both', () => {
      const seen: Record<string, string[]> = {};
      for (const edge of ['falling', 'rising', 'both'] as const) {
        const { clock, gpio, events, subscription } = rig({ edge });
        cycle(gpio, clock);
        seen[edge] = events.map((event) => `${event.level}:${event.pressed}@${event.tick}`);
        subscription.unsubscribe();
      }
      expect(seen).to.deep.equal({
        falling: ['0:true@0', '0:true@20000'],
        rising: ['1:false@10000', '1:false@30000'],
        both: ['0:true@0', '1:false@10000', '0:true@20000', '1:false@30000'],
      });
    });

    it('with a pull-down, a press raises the line and pressed means level 1', () => {
      const { clock, gpio, events, subscription } = rig({ pull: 'down', edge: 'both' });
      expect(gpio.lineLevel(PIN)).to.equal(0);
      cycle(gpio, clock);
      expect(events.map((event) => [event.level, event.pressed])).to.deep.equal([
        [1, true],
        [0, false],
        [1, true],
        [0, false],
      ]);
      subscription.unsubscribe();
    });

    it('activeLow overrides the polarity the pull implies', () => {
      const { gpio, events, subscription } = rig({ pull: 'up', activeLow: false });
      gpio.press(PIN);
      expect(events.map((event) => [event.level, event.pressed])).to.deep.equal([[0, false]]);
      subscription.unsubscribe();
    });

    it('stamps each event with the pin, the backend tick and the clock’s wall time', () => {
      const { clock, gpio, events, subscription } = rig();
      clock.advanceMillis(1500);
      gpio.press(PIN);
      expect(events).to.have.length(1);
      expect(events[0]).to.deep.equal({
        pin: PIN,
        pressed: true,
        level: 0,
        tick: 1_500_000,
        at: new Date(Date.UTC(2020, 6, 1, 12, 0, 1, 500)),
      });
      subscription.unsubscribe();
    });
  });

  describe('glitch filter (pigpio gpioGlitchFilter) versus debounce', () => {
    it('drops a glitch shorter than the filter entirely', () => {
      const { clock, gpio, events, subscription } = rig({ edge: 'both', glitchFilterMicros: 10_000 });
      gpio.drive(PIN, [
        { afterMicros: 1000, level: 0 },
        { afterMicros: 9000, level: 1 },
      ]); // a 9 ms dip
      clock.advanceMillis(100);
      expect(events).to.deep.equal([]);
      subscription.unsubscribe();
      expectAllReleased(gpio, clock);
    });

    it('passes a level that stays steady, timestamped at first edge + steady (the sample that proved it steady)', () => {
      const { clock, gpio, summary, subscription } = rig({ edge: 'both', glitchFilterMicros: 10_000 });
      clock.advance(1002); // first edge at 1002 µs: seen by the sample at 1005
      gpio.press(PIN, { bounceMicros: [300, 200] }); // settles low at 1502 µs → seen at 1505
      clock.advanceMillis(100);
      gpio.release(PIN, { bounceMicros: [100, 4000] }); // bounce of the release removed too
      clock.advanceMillis(100);
      // The last sampled change before the level held: 1505 → reported at 1505 + 10000.
      // Release: first edge at 101002 (sample 101005), bounce back at 101102, up again
      // at 105102 (sample 105105) → reported at 115105.
      expect(summary()).to.deep.equal(['press@11505', 'release@115105']);
      subscription.unsubscribe();
    });

    it('removes the spike a debounce alone reports as a press', () => {
      const spike = (options: GpioButtonOptions) => {
        const { clock, gpio, summary, subscription } = rig({ edge: 'falling', ...options });
        gpio.drive(PIN, [
          { afterMicros: 0, level: 0 },
          { afterMicros: 2000, level: 1 },
        ]); // 2 ms noise
        clock.advanceMillis(50);
        subscription.unsubscribe();
        return summary();
      };
      expect(spike({ debounce: 300 })).to.deep.equal(['press@0']);
      expect(spike({ glitchFilterMicros: 5000 })).to.deep.equal([]);
    });

    it('applies the edge choice after the filter', () => {
      const { clock, gpio, summary, subscription } = rig({ edge: 'rising', glitchFilterMicros: 1000 });
      gpio.press(PIN);
      clock.advanceMillis(10);
      gpio.release(PIN);
      clock.advanceMillis(10);
      expect(summary()).to.deep.equal(['release@11005']);
      subscription.unsubscribe();
    });
  });

  describe('tick wrap-around', () => {
    it('reports wrapped ticks and keeps debouncing across the wrap', () => {
      const start = 2 ** 32 - 500;
      const { clock, gpio, events, subscription } = rig({ edge: 'both', debounce: 300, startTick: start });
      gpio.press(PIN, { bounceMicros: [300, 400, 250, 100] }); // chatter across the wrap at 500 µs
      clock.advanceMillis(200);
      gpio.release(PIN); // 200 ms after the press: within the window, ignored
      clock.advanceMillis(200);
      gpio.press(PIN); // 400 ms: accepted; tick has wrapped
      expect(events.map((event) => [event.pressed, event.tick])).to.deep.equal([
        [true, start],
        [true, 400_000 - 500],
      ]);
      expect(tickDiff(events[0]!.tick, events[1]!.tick)).to.equal(400_000);
      subscription.unsubscribe();
    });

    it('does not mistake an edge 2^32 µs later for chatter', () => {
      const { clock, gpio, summary, subscription } = rig({ edge: 'falling', debounce: 300 });
      gpio.press(PIN);
      clock.advance(10);
      gpio.release(PIN);
      clock.advance(2 ** 32 - 10); // exactly one tick period later: the same tick value
      gpio.press(PIN);
      expect(summary()).to.deep.equal(['press@0', 'press@0']);
      subscription.unsubscribe();
    });
  });

  describe('initial state', () => {
    it('emits the idle state first when asked, with the current tick', () => {
      const clock = new ManualClock();
      const gpio = new SimulatedGpio({ clock, startTick: 42 });
      clock.advance(1000);
      const events: GpioButtonEvent[] = [];
      const subscription = fromGpioButton(PIN, { backend: gpio, emitInitial: true }).subscribe((event) =>
        events.push(event),
      );
      gpio.press(PIN);
      expect(events.map((event) => [event.pressed, event.level, event.tick])).to.deep.equal([
        [false, 1, 1042],
        [true, 0, 1042],
      ]);
      subscription.unsubscribe();
    });

    it('reports a button already held down at subscribe as pressed', () => {
      const clock = new ManualClock();
      const gpio = new SimulatedGpio({ clock });
      fromGpioButton(PIN, { backend: gpio }).subscribe().unsubscribe(); // sets the pull-up
      gpio.press(PIN);
      const events: GpioButtonEvent[] = [];
      fromGpioButton(PIN, { backend: gpio, emitInitial: true })
        .pipe(take(1))
        .subscribe((event) => events.push(event));
      expect(events.map((event) => event.pressed)).to.deep.equal([true]);
      expectAllReleased(gpio, clock); // take(1) unsubscribed synchronously, inside the subscribe
    });

    it('emits no initial event by default', () => {
      const { events, subscription } = rig();
      expect(events).to.deep.equal([]);
      subscription.unsubscribe();
    });
  });

  describe('teardown', () => {
    it('releases the pin, its watch and pending glitch-filter timers on unsubscribe', () => {
      const { clock, gpio, subscription } = rig({ glitchFilterMicros: 10_000 });
      expect(gpio.openInputs()).to.deep.equal([PIN]);
      expect(gpio.watcherCount(PIN)).to.equal(1);
      gpio.press(PIN);
      clock.advance(100); // a sample has seen the edge; the report waits for the steady time
      expect(clock.pendingTasks).to.equal(1);
      subscription.unsubscribe();
      expectAllReleased(gpio, clock);
      clock.advanceMillis(50);
      gpio.release(PIN);
      expectAllReleased(gpio, clock);
    });

    it('lets two subscriptions use the same pin and releases each on its own', () => {
      const clock = new ManualClock();
      const gpio = new SimulatedGpio({ clock });
      const a: boolean[] = [];
      const b: boolean[] = [];
      const first = fromGpioButton(PIN, { backend: gpio }).subscribe((event) => a.push(event.pressed));
      const second = fromGpioButton(PIN, { backend: gpio }).subscribe((event) => b.push(event.pressed));
      gpio.press(PIN);
      first.unsubscribe();
      expect(gpio.watcherCount(PIN)).to.equal(1);
      gpio.release(PIN);
      second.unsubscribe();
      expect([a, b]).to.deep.equal([[true], [true, false]]);
      expectAllReleased(gpio, clock);
    });
  });

  describe('errors', () => {
    it('passes an error opening the pin to the subscriber', () => {
      const clock = new ManualClock();
      const gpio = new SimulatedGpio({ clock });
      gpio.failNextOpen(PIN, new Error('GPIO 17 is busy'));
      const errors: unknown[] = [];
      fromGpioButton(PIN, { backend: gpio }).subscribe({ error: (error: unknown) => errors.push(error) });
      expect(errors.map(String)).to.deep.equal(['Error: GPIO 17 is busy']);
      expectAllReleased(gpio, clock);
    });

    it('passes a backend failure after opening to the subscriber and releases the pin', () => {
      const { clock, gpio, errors, events } = rig({ glitchFilterMicros: 1000 });
      gpio.press(PIN);
      gpio.failWatchers(PIN, new Error('alert thread died'));
      expect(errors.map(String)).to.deep.equal(['Error: alert thread died']);
      expect(events).to.deep.equal([]);
      expectAllReleased(gpio, clock);
    });

    it('refuses opening a pin that another subscription opened with different options', () => {
      const clock = new ManualClock();
      const gpio = new SimulatedGpio({ clock });
      const first = fromGpioButton(PIN, { backend: gpio, edge: 'falling' }).subscribe();
      const errors: unknown[] = [];
      fromGpioButton(PIN, { backend: gpio, edge: 'rising' }).subscribe({
        error: (error: unknown) => errors.push(error),
      });
      expect(String(errors[0])).to.match(/SimulatedGpio: GPIO 17 is already open as an input with other options/);
      first.unsubscribe();
      expectAllReleased(gpio, clock);
    });

    it('hands a report the backend cannot read to onReject, or errors when strict', () => {
      // A hand-written backend: reports one unreadable line, then one real edge.
      const backend: GpioBackend = {
        name: 'test',
        openInput: (pin) => ({
          pin,
          read: () => 1,
          tick: () => 0,
          now: () => new Date(0),
          watch: (onChange, _onError, onUnexpected) => {
            onUnexpected?.('garbage', 'not a gpiomon event line');
            onChange({ level: 0, tick: 7, at: new Date(0) });
            return () => undefined;
          },
          release: () => undefined,
        }),
        openOutput: () => {
          throw new Error('not used');
        },
      };
      const rejections: Rejection[] = [];
      const events: GpioButtonEvent[] = [];
      fromGpioButton(PIN, { backend, onReject: (rejection) => rejections.push(rejection) }).subscribe((event) =>
        events.push(event),
      );
      expect(rejections).to.deep.equal([
        {
          operator: 'fromGpioButton',
          kind: 'gpio',
          reason: 'GPIO 17 (test): not a gpiomon event line',
          input: 'garbage',
        },
      ]);
      expect(events.map((event) => event.tick)).to.deep.equal([7]);

      const errors: unknown[] = [];
      fromGpioButton(PIN, { backend, strict: true }).subscribe({
        next: (event) => events.push(event),
        error: (error: unknown) => errors.push(error),
      });
      expect(errors[0]).to.be.instanceOf(RejectionError);
      expect(events).to.have.length(1);
    });

    it('throws a RangeError naming a bad option at once', () => {
      expect(() => fromGpioButton(99)).to.throw(RangeError, /pin must be a BCM GPIO number from 0 to 53, got 99/);
      expect(() => fromGpioButton(PIN, { debounce: -1 })).to.throw(RangeError, /debounce/);
      expect(() => fromGpioButton(PIN, { glitchFilterMicros: 300_001 })).to.throw(RangeError, /300000/);
      expect(() => fromGpioButton(PIN, { edge: 'up' as never })).to.throw(RangeError, /edge must be/);
      expect(() => fromGpioButton(PIN, { pull: 'high' as never })).to.throw(RangeError, /pull must be/);
    });
  });
});
