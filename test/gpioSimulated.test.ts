import { expect } from 'chai';
import fc from 'fast-check';
import { PassThrough } from 'node:stream';
import { fromGpioButton, tickDiff, type Edge, type Level, type LevelChange } from '../src/index.js';
import { keyboardButton, ManualClock, sharedSimulatedGpio, SimulatedGpio, type DriveStep } from '../src/testing.js';
import { waitFor } from './support/waitFor.js';

/**
 * pigpio's alert path, transcribed from pigpio.c (alertGlitchFilter and the sample
 * compaction after it), run literally on every sample: the line is sampled every
 * `sampleMicros`; a sample at s sees the edges before s. Independent of the
 * simulator's event-driven implementation.
 */
function pigpioAlertsReference(
  initial: Level,
  edges: { at: number; level: Level }[],
  steady: number,
  sampleMicros: number,
  end: number,
  startTick: number,
  edge: Edge,
): string[] {
  let reported: Level = initial; // RBitV
  let last: Level = initial; // LBitV
  let changedTick = 0;
  let level = initial;
  let next = 0;
  const reports: string[] = [];
  for (let sample = sampleMicros; sample <= end; sample += sampleMicros) {
    while (next < edges.length && edges[next]!.at < sample) level = edges[next++]!.level;
    if (level !== last) {
      changedTick = sample;
      last = level;
    }
    if (level !== reported && sample - changedTick >= steady) {
      reported = level;
      if (edge === 'both' || (edge === 'rising') === (level === 1))
        reports.push(`${level}@${(startTick + sample) >>> 0}`);
    }
  }
  return reports;
}

function watchRaw(gpio: SimulatedGpio, pin: number, edge: Edge, glitchFilterMicros: number) {
  const input = gpio.openInput(pin, { pull: 'up', edge, glitchFilterMicros });
  const changes: LevelChange[] = [];
  const stop = input.watch(
    (change) => changes.push(change),
    (error) => {
      throw error;
    },
  );
  return { input, changes, stop };
}

describe('SimulatedGpio', () => {
  it('filters glitches exactly as pigpio.c does, for random edge sequences, sample periods and tick origins', () => {
    const step = fc.record({ afterMicros: fc.integer({ min: 0, max: 4000 }), level: fc.constantFrom<Level>(0, 1) });
    fc.assert(
      fc.property(
        fc.array(step, { maxLength: 30 }),
        fc.integer({ min: 1, max: 3000 }),
        fc.constantFrom(1, 2, 4, 5, 8, 10),
        fc.constantFrom<Edge>('rising', 'falling', 'both'),
        fc.oneof(fc.constant(0), fc.constant(2 ** 32 - 20_000), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
        fc.integer({ min: 0, max: 50 }),
        (steps: DriveStep[], steady, sampleMicros, edge, startTick, openAt) => {
          const clock = new ManualClock();
          const gpio = new SimulatedGpio({ clock, sampleMicros, startTick });
          clock.advance(openAt);
          const { changes, stop, input } = watchRaw(gpio, 4, edge, steady);
          gpio.drive(4, steps);
          const edges: { at: number; level: Level }[] = [];
          let at = openAt;
          for (const s of steps) {
            at += s.afterMicros;
            edges.push({ at, level: s.level });
          }
          const end = at + steady + 4 * sampleMicros + 10;
          clock.advance(end - openAt);
          stop();
          input.release();
          // The reference samples from the first sample after opening.
          const firstSample = (Math.floor(openAt / sampleMicros) + 1) * sampleMicros;
          const expected = pigpioAlertsReference(1, edges, steady, sampleMicros, end, startTick, edge).filter(
            (report) => (Number(report.split('@')[1]) - startTick) >>> 0 >= firstSample,
          );
          expect(changes.map((change) => `${change.level}@${change.tick}`)).to.deep.equal(expected);
          expect(clock.pendingTasks).to.equal(0);
        },
      ),
      { numRuns: 1000, seed: 20261127 },
    ); // fixed seed: the same 1000 cases on every run
  });

  it('misses a pulse that falls between two samples, as pigpio’s alerts do', () => {
    const clock = new ManualClock();
    const gpio = new SimulatedGpio({ clock, sampleMicros: 5 });
    const { changes } = watchRaw(gpio, 4, 'both', 10);
    clock.advance(1);
    gpio.drive(4, [
      { afterMicros: 0, level: 0 },
      { afterMicros: 2, level: 1 },
    ]); // low from 1 to 3 µs
    clock.advance(1000);
    expect(changes).to.deep.equal([]);
  });

  it('reports interrupts at once, with the level after the edge and the edge’s tick', () => {
    const clock = new ManualClock();
    const gpio = new SimulatedGpio({ clock, startTick: 2 ** 32 - 2 });
    const { changes } = watchRaw(gpio, 4, 'both', 0);
    gpio.drive(4, [
      { afterMicros: 1, level: 0 },
      { afterMicros: 1, level: 0 },
      { afterMicros: 3, level: 1 },
    ]);
    clock.advance(10);
    expect(changes.map((change) => [change.level, change.tick])).to.deep.equal([
      [0, 2 ** 32 - 1],
      [1, 3],
    ]);
    expect(tickDiff(changes[0]!.tick, changes[1]!.tick)).to.equal(4);
  });

  it('counts ticks as (start + elapsed µs) mod 2^32', () => {
    const clock = new ManualClock();
    const gpio = new SimulatedGpio({ clock, startTick: 2 ** 32 - 1 });
    expect(gpio.tick()).to.equal(2 ** 32 - 1);
    clock.advance(1);
    expect(gpio.tick()).to.equal(0);
    clock.advance(2 ** 32);
    expect(gpio.tick()).to.equal(0);
  });

  it('refuses bounce patterns that would leave the button at the wrong level', () => {
    const gpio = new SimulatedGpio({ clock: new ManualClock() });
    expect(() => gpio.press(4, { bounceMicros: [100] })).to.throw(
      RangeError,
      /^SimulatedGpio: bounceMicros needs an even number/,
    );
  });

  it('names itself (and ManualClock its own) in the errors of bad arguments', () => {
    const clock = new ManualClock();
    expect(() => new SimulatedGpio({ clock, sampleMicros: 0 })).to.throw(
      RangeError,
      /^SimulatedGpio: sampleMicros must be an integer ≥ 1, got 0$/,
    );
    const gpio = new SimulatedGpio({ clock });
    expect(() => gpio.setLevel(54, 1)).to.throw(RangeError, /^SimulatedGpio: pin must be a BCM GPIO number/);
    expect(() => gpio.drive(4, [{ afterMicros: -1, level: 1 }])).to.throw(
      RangeError,
      /^SimulatedGpio: afterMicros must be >= 0, got -1$/,
    );
    expect(() => clock.advance(-1)).to.throw(RangeError, /^ManualClock: advance\(\) needs a non-negative number/);
  });

  it('records output writes with their ticks and frees the pin on release', () => {
    const clock = new ManualClock();
    const gpio = new SimulatedGpio({ clock });
    const led = gpio.openOutput(4);
    clock.advance(10);
    led.write(1);
    clock.advance(5);
    led.write(0);
    expect(gpio.outputHistory(4)).to.deep.equal([
      { level: 0, tick: 0 },
      { level: 1, tick: 10 },
      { level: 0, tick: 15 },
    ]);
    expect(() => gpio.openInput(4, { pull: 'off', edge: 'both' })).to.throw(
      /^SimulatedGpio: GPIO 4 is already open as an output/,
    );
    led.release();
    expect(gpio.openOutputs()).to.deep.equal([]);
    expect(() => led.write(1)).to.throw(/^SimulatedGpio: GPIO 4 was released/);
  });

  describe('keyboardButton', () => {
    // Stream data may be delivered on a later tick: let it arrive before looking.
    const type = async (keys: PassThrough, text: string) => {
      keys.write(text);
      await new Promise((resolve) => setImmediate(resolve));
    };

    it('presses on Enter and releases after hold on the backend clock', async () => {
      const clock = new ManualClock();
      const gpio = new SimulatedGpio({ clock });
      const { changes } = watchRaw(gpio, 17, 'both', 0);
      const keys = new PassThrough();
      const presses: number[] = [];
      const keyboard = keyboardButton(gpio, 17, { input: keys }).subscribe((count) => presses.push(count));
      await type(keys, '\n');
      expect(gpio.lineLevel(17)).to.equal(0);
      clock.advanceMillis(99);
      expect(gpio.lineLevel(17)).to.equal(0);
      clock.advanceMillis(1);
      expect(gpio.lineLevel(17)).to.equal(1);
      await type(keys, 'x\r\n'); // one Enter typed in a raw terminal, plus a stray character
      clock.advanceMillis(200);
      await type(keys, '\r');
      clock.advanceMillis(200);
      expect(changes.map((change) => `${change.level}@${change.tick}`)).to.deep.equal([
        '0@0',
        '1@100000',
        '0@100000',
        '1@200000',
        '0@300000',
        '1@400000',
      ]);
      expect(presses).to.deep.equal([1, 2, 3]);
      keyboard.unsubscribe();
      expect(keys.listenerCount('data')).to.equal(0);
      expect(keys.isPaused()).to.equal(true);
      expect(clock.pendingTasks).to.equal(0);
    });

    it('on unsubscribe, cancels a pending release and lets the button go', async () => {
      const clock = new ManualClock();
      const gpio = new SimulatedGpio({ clock });
      watchRaw(gpio, 17, 'both', 0);
      const keys = new PassThrough();
      const keyboard = keyboardButton(gpio, 17, { input: keys, hold: '500 ms' }).subscribe();
      await type(keys, '\n');
      expect(clock.pendingTasks).to.equal(1);
      keyboard.unsubscribe();
      expect(gpio.lineLevel(17)).to.equal(1);
      expect(clock.pendingTasks).to.equal(0);
      await type(keys, '\n');
      expect(gpio.lineLevel(17)).to.equal(1);
    });

    it('completes when the input ends, and refuses a hold that is not a duration, naming itself', async () => {
      const gpio = new SimulatedGpio({ clock: new ManualClock() });
      const keys = new PassThrough();
      let completed = false;
      keyboardButton(gpio, 17, { input: keys }).subscribe({ complete: () => (completed = true) });
      keys.end();
      await waitFor(() => completed, 'completion at the end of the input');
      expect(() => keyboardButton(gpio, 17, { hold: 'soon' })).to.throw(TypeError, /^keyboardButton: hold must be/);
    });
  });
});

describe("the shared simulated backend ('simulated') on the real clock", () => {
  it('applies a press at once on the real clock, as on the manual one', () => {
    const gpio = new SimulatedGpio();
    const { changes, stop, input } = watchRaw(gpio, 5, 'both', 0);
    gpio.press(5);
    expect(changes.map((change) => change.level)).to.deep.equal([0]);
    stop();
    input.release();
    expect(gpio.clock.pendingTasks).to.equal(0);
  });

  it("is what backend: 'simulated' opens, and the keyboard driver releases after hold of real time", async () => {
    const gpio = sharedSimulatedGpio();
    const keys = new PassThrough();
    const keyboard = keyboardButton(gpio, 27, { input: keys, hold: 20 }).subscribe();
    const events: boolean[] = [];
    const subscription = fromGpioButton(27, { backend: 'simulated' }).subscribe((event) => events.push(event.pressed));
    try {
      expect(gpio.openInputs()).to.include(27);
      keys.write('\n');
      await waitFor(
        () => events.length >= 2,
        () => `a press and a release, got ${JSON.stringify(events)}`,
      );
      expect(events).to.deep.equal([true, false]);
    } finally {
      subscription.unsubscribe();
      keyboard.unsubscribe();
    }
    expect(gpio.openInputs()).to.not.include(27);
    expect(gpio.clock.pendingTasks).to.equal(0);
  });
});
