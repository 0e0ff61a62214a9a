// IdleAdvance on its own, in virtual time: when its timer is armed, when it fires, the
// watermark it hands over, how an arrival restarts the silence, and that stop() leaves
// nothing scheduled.
import { expect } from 'chai';
import { VirtualTimeScheduler } from 'rxjs';
import { IdleAdvance, type IdleWindows } from '../src/window/idleAdvance.js';

/**
 * Virtual time the test moves by hand, and windows as the window state keeps them: the
 * ends of the open windows (an advance closes those that end by the new watermark).
 * `advanced` records (virtual time, watermark) per advance.
 */
function harness(options: { after: number; watermarkDelay: number }) {
  const scheduler = new VirtualTimeScheduler();
  const windows = {
    openWindowEnds: [] as number[],
    maxEventTime: undefined as number | undefined,
    get earliestOpenWindowEnd(): number | undefined {
      return this.openWindowEnds[0];
    },
  };
  const advanced: [at: number, watermark: number][] = [];
  const idle = new IdleAdvance(
    options.after,
    options.watermarkDelay,
    scheduler,
    windows satisfies IdleWindows,
    (watermark) => {
      advanced.push([scheduler.now(), watermark]);
      windows.openWindowEnds = windows.openWindowEnds.filter((end) => end > watermark);
    },
  );
  // A timer that re-arms without time passing would spin for ever in flush(): fail instead.
  let timers = 0;
  const schedule = scheduler.schedule.bind(scheduler);
  scheduler.schedule = ((...args: Parameters<typeof schedule>) => {
    if (++timers > 100) throw new Error('IdleAdvance armed 100 timers: it wakes without time passing');
    return schedule(...args);
  }) as typeof scheduler.schedule;
  /** Runs what is due up to `time`, and leaves the clock there. */
  const runUntil = (time: number) => {
    scheduler.maxFrames = time;
    scheduler.flush();
    scheduler.frame = time;
  };
  return { scheduler, windows, advanced, idle, runUntil };
}

describe('IdleAdvance', () => {
  it('arms its timer only while a window is open', () => {
    const { scheduler, windows, idle, advanced, runUntil } = harness({ after: 50, watermarkDelay: 0 });
    idle.arrived();
    idle.arm();
    expect(scheduler.actions, 'no event yet').to.have.length(0);
    windows.maxEventTime = 120; // events seen, every window final
    idle.arm();
    expect(scheduler.actions, 'no open window').to.have.length(0);
    windows.openWindowEnds = [200];
    idle.arm();
    idle.arm();
    expect(scheduler.actions, 'one timer, however often armed').to.have.length(1);
    runUntil(10_000);
    expect(advanced).to.deep.equal([[80, 200]]);
    expect(scheduler.actions, 'the window closed: not armed again').to.have.length(0);
  });

  it('fires after `after` of silence when the earliest window would be final sooner', () => {
    const { windows, idle, advanced, runUntil } = harness({ after: 50, watermarkDelay: 0 });
    // window [0, 100), event time 90: final by event time 10 ms after the arrival
    windows.openWindowEnds = [100];
    windows.maxEventTime = 90;
    runUntil(20);
    idle.arrived();
    idle.arm();
    runUntil(69);
    expect(advanced).to.deep.equal([]);
    runUntil(70);
    expect(advanced).to.deep.equal([[70, 140]]); // 90 + 50 of silence − 0
  });

  it('fires when the earliest window would be final, not before, and hands over maxEventTime + silence − watermarkDelay', () => {
    const { windows, idle, advanced, runUntil } = harness({ after: 50, watermarkDelay: 5 });
    // window [0, 100), event time 10, delay 5: final once event time reaches 105, 95 ms after the arrival
    windows.openWindowEnds = [100];
    windows.maxEventTime = 10;
    runUntil(1_000);
    idle.arrived();
    idle.arm();
    runUntil(1_094);
    expect(advanced).to.deep.equal([]);
    runUntil(1_095);
    expect(advanced).to.deep.equal([[1_095, 100]]); // 10 + 95 − 5: exactly the window's end
  });

  it('counts the silence again from each arrival', () => {
    const { windows, idle, advanced, runUntil } = harness({ after: 50, watermarkDelay: 0 });
    windows.openWindowEnds = [100];
    windows.maxEventTime = 90;
    idle.arrived();
    idle.arm(); // due at 50
    runUntil(30);
    idle.arrived(); // another event, same event time: silence from 30
    idle.arm(); // already armed: the timer stays
    runUntil(79);
    expect(advanced, 'woke at 50 after only 20 ms of silence').to.deep.equal([]);
    runUntil(80);
    expect(advanced).to.deep.equal([[80, 140]]);
  });

  it('keeps advancing while windows stay open, the silence growing', () => {
    const { scheduler, windows, advanced, runUntil, idle } = harness({ after: 50, watermarkDelay: 0 });
    windows.openWindowEnds = [100, 200];
    windows.maxEventTime = 90;
    idle.arrived();
    idle.arm();
    runUntil(1_000);
    expect(advanced).to.deep.equal([
      [50, 140],
      [110, 200],
    ]);
    expect(scheduler.actions, 'every window closed').to.have.length(0);
  });

  it('stop() cancels the timer and arms none again', () => {
    const { scheduler, windows, idle, advanced, runUntil } = harness({ after: 50, watermarkDelay: 0 });
    windows.openWindowEnds = [100];
    windows.maxEventTime = 90;
    idle.arrived();
    idle.arm();
    expect(scheduler.actions).to.have.length(1);
    idle.stop();
    expect(scheduler.actions).to.have.length(0);
    idle.arm();
    expect(scheduler.actions).to.have.length(0);
    runUntil(10_000);
    expect(advanced).to.deep.equal([]);
  });
});
