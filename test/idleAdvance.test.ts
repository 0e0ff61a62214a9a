// IdleAdvance on its own, in virtual time: when its timer is armed, when it fires, the
// watermark it hands over, how an arrival restarts the silence, and that stop() leaves
// nothing scheduled.
import { expect } from 'chai';
import { VirtualTimeScheduler } from 'rxjs';
import { IdleAdvance, type IdleWindows, type QuietProof, type SourceLiveness } from '../src/window/idleAdvance.js';

/** A source's liveness the test drives: `prove` sets the proof and tells the listeners, as a PINGRESP would. */
class TestLiveness implements SourceLiveness {
  proof: QuietProof | undefined;
  readonly listeners = new Set<() => void>();
  provenQuiet(): QuietProof | undefined {
    return this.proof;
  }
  onProof(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  prove(since: number, until: number): void {
    this.proof = { since, until };
    for (const listener of this.listeners) listener();
  }
  /** A stall or a reconnection: nothing proven until the next prompt answer. */
  lose(): void {
    this.proof = undefined;
  }
}

/**
 * Virtual time the test moves by hand, and windows as the window state keeps them: the
 * ends of the open windows (an advance closes those that end by the new watermark).
 * `advanced` records (virtual time, watermark) per advance.
 */
function harness(options: { after: number; watermarkDelay: number; liveness?: SourceLiveness }) {
  const scheduler = new VirtualTimeScheduler();
  const windows = {
    openWindowEnds: [] as number[],
    maxEventTime: undefined as number | undefined,
    get earliestOpenWindowEnd(): number | undefined {
      return this.openWindowEnds[0];
    },
  };
  const advanced: [at: number, watermark: number][] = [];
  const idle = new IdleAdvance({
    after: options.after,
    watermarkDelay: options.watermarkDelay,
    scheduler,
    windows: windows satisfies IdleWindows,
    liveness: options.liveness,
    advance: (watermark) => {
      advanced.push([scheduler.now(), watermark]);
      windows.openWindowEnds = windows.openWindowEnds.filter((end) => end > watermark);
    },
  });
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

describe('IdleAdvance with a source liveness (only proven silence counts)', () => {
  /** Window [0, 100) open, last event time 90, arrival at 0: final once 10 ms of silence count, after 50. */
  function started(options: { after: number; watermarkDelay: number }) {
    const liveness = new TestLiveness();
    const h = harness({ ...options, liveness });
    h.windows.openWindowEnds = [100];
    h.windows.maxEventTime = 90;
    h.idle.arrived();
    h.idle.arm();
    return { ...h, liveness };
  }

  it('moves nothing while the source proves nothing, however long the wall clock runs', () => {
    const { scheduler, advanced, runUntil } = started({ after: 50, watermarkDelay: 0 });
    expect(scheduler.actions, 'no wall-clock timer').to.have.length(0);
    runUntil(600_000);
    expect(advanced).to.deep.equal([]);
  });

  it('advances by the proven silence, up to the proof and not to the wall clock: maxEventTime + (until − lastArrival) − watermarkDelay', () => {
    const { liveness, advanced, runUntil } = started({ after: 50, watermarkDelay: 5 });
    runUntil(40);
    liveness.prove(-500, 30); // 30 ms proven: less than `after`
    runUntil(41);
    expect(advanced).to.deep.equal([]);
    runUntil(2_000);
    liveness.prove(-500, 60); // proven at 2000 for up to 60: the 1940 ms since do not count
    runUntil(2_001);
    expect(advanced).to.deep.equal([[2_000, 145]]); // 90 + 60 − 5
  });

  it('moves the watermark on the scheduler’s next turn, not inside the proof’s callback', () => {
    const { liveness, advanced, runUntil } = started({ after: 50, watermarkDelay: 0 });
    runUntil(100);
    liveness.prove(0, 80);
    expect(advanced, 'inside the callback').to.deep.equal([]);
    runUntil(100);
    expect(advanced).to.deep.equal([[100, 170]]);
  });

  it('counts a stall for nothing: after it, silence counts from the start of the new proof, and `after` again', () => {
    const { liveness, advanced, runUntil } = started({ after: 50, watermarkDelay: 0 });
    runUntil(20);
    liveness.prove(0, 20); // 20 ms of real idleness before the broker stalls
    liveness.lose(); // the next ping is not answered in time
    runUntil(60_000); // a minute stalled: the wall clock says 60 s of silence
    expect(advanced).to.deep.equal([]);
    liveness.prove(60_000, 60_000); // answers again: a new run of proofs starts
    runUntil(60_030);
    liveness.prove(60_000, 60_030);
    runUntil(60_031);
    expect(advanced, 'only 30 ms proven since the stall').to.deep.equal([]);
    runUntil(60_050);
    liveness.prove(60_000, 60_050);
    runUntil(60_051);
    expect(advanced).to.deep.equal([[60_050, 140]]); // 90 + 50, not 90 + 60 050
  });

  it('counts nothing of a proof older than the last arrival', () => {
    const { idle, liveness, advanced, runUntil } = started({ after: 50, watermarkDelay: 0 });
    runUntil(1_000);
    idle.arrived(); // an event at 1000, same event time
    liveness.prove(0, 900); // proven quiet up to 900 only
    runUntil(2_000);
    expect(advanced).to.deep.equal([]);
    liveness.prove(0, 1_060);
    runUntil(2_000);
    expect(advanced).to.deep.equal([[2_000, 150]]); // 90 + (1060 − 1000)
  });

  it('takes no proof while no window is open, and none after stop()', () => {
    const { windows, idle, liveness, advanced, scheduler, runUntil } = started({ after: 50, watermarkDelay: 0 });
    windows.openWindowEnds = [];
    liveness.prove(0, 500);
    runUntil(600);
    expect(advanced).to.deep.equal([]);
    windows.openWindowEnds = [100];
    idle.stop();
    expect(liveness.listeners.size, 'stopped listening').to.equal(0);
    liveness.prove(0, 700);
    runUntil(800);
    expect(advanced).to.deep.equal([]);
    expect(scheduler.actions).to.have.length(0);
  });
});
