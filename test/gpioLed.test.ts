import { expect } from 'chai';
import { Observable, Subject, map, of, throwError } from 'rxjs';
import { QueueFullError, fromGpioButton, lightWhile, type Level, type Rejection } from '../src/index.js';
import { ManualClock, SimulatedGpio } from '../src/testing.js';

const LED = 4;
const BUTTON = 17;

function rig() {
  const clock = new ManualClock();
  const gpio = new SimulatedGpio({ clock });
  const log: string[] = [];
  const led = (): Level | undefined => gpio.outputLevel(LED);
  return { clock, gpio, log, led };
}

describe('lightWhile on the simulated backend', () => {
  it('lights the LED before each value’s work and turns it off before the work’s end is passed on', () => {
    const { gpio, log, led } = rig();
    const source = new Subject<string>();
    const works: Subject<string>[] = [];
    source
      .pipe(
        lightWhile(
          LED,
          (value) => {
            log.push(`work(${value}) LED=${led()}`);
            const work = new Subject<string>();
            works.push(work);
            return work;
          },
          { backend: gpio },
        ),
      )
      .subscribe({
        next: (value) => log.push(`next ${value} LED=${led()}`),
        complete: () => log.push(`complete LED=${led()}`),
      });
    expect(gpio.openOutputs()).to.deep.equal([LED]);
    log.push(`idle LED=${led()}`);
    source.next('a');
    works[0]!.next('published a');
    works[0]!.complete();
    source.next('b');
    works[1]!.next('published b');
    source.complete();
    log.push(`source done LED=${led()}`);
    works[1]!.complete();
    expect(log).to.deep.equal([
      'idle LED=0',
      'work(a) LED=1',
      'next published a LED=1',
      'work(b) LED=1',
      'next published b LED=1',
      'source done LED=1',
      'complete LED=0',
    ]);
    expect(gpio.outputHistory(LED).map((write) => write.level)).to.deep.equal([0, 1, 0, 1, 0]);
    expect(gpio.openOutputs()).to.deep.equal([]);
  });

  it('runs queued values one at a time by default, blinking once per value', () => {
    const { gpio, log, led } = rig();
    const works = new Map<number, Subject<number>>();
    const source = new Subject<number>();
    source
      .pipe(
        lightWhile(
          LED,
          (value) => {
            const work = new Subject<number>();
            works.set(value, work);
            return work;
          },
          { backend: gpio },
        ),
      )
      .subscribe((value) => log.push(`done ${value}`));
    source.next(1);
    source.next(2); // waits for 1
    expect([...works.keys()]).to.deep.equal([1]);
    works.get(1)!.next(1);
    works.get(1)!.complete();
    expect([...works.keys()]).to.deep.equal([1, 2]);
    expect(led()).to.equal(1);
    works.get(2)!.next(2);
    works.get(2)!.complete();
    expect(log).to.deep.equal(['done 1', 'done 2']);
    expect(gpio.outputHistory(LED).map((write) => write.level)).to.deep.equal([0, 1, 0, 1, 0]);
  });

  it('with concurrency above 1, keeps the LED lit until the last running work ends', () => {
    const { gpio } = rig();
    const works: Subject<never>[] = [];
    const source = new Subject<number>();
    source
      .pipe(
        lightWhile(
          LED,
          () => {
            const work = new Subject<never>();
            works.push(work);
            return work;
          },
          { backend: gpio, concurrency: 2 },
        ),
      )
      .subscribe();
    source.next(1);
    source.next(2);
    works[0]!.complete();
    expect(gpio.outputLevel(LED)).to.equal(1);
    works[1]!.complete();
    expect(gpio.outputHistory(LED).map((write) => write.level)).to.deep.equal([0, 1, 0]);
  });

  it('turns the LED off before passing on an error from the work, and releases the pin', () => {
    const { gpio, log, led } = rig();
    of('a')
      .pipe(lightWhile(LED, () => throwError(() => new Error('broker refused')), { backend: gpio }))
      .subscribe({
        error: (error: unknown) => log.push(`error ${(error as Error).message} LED=${led()}`),
      });
    expect(log).to.deep.equal(['error broker refused LED=0']);
    expect(gpio.outputHistory(LED).map((write) => write.level)).to.deep.equal([0, 1, 0]);
    expect(gpio.openOutputs()).to.deep.equal([]);
  });

  it('treats a work function that throws like a failed work', () => {
    const { gpio, log, led } = rig();
    of('a')
      .pipe(
        lightWhile(
          LED,
          (): Observable<never> => {
            throw new Error('bad value');
          },
          { backend: gpio },
        ),
      )
      .subscribe({
        error: (error: unknown) => log.push(`error ${(error as Error).message} LED=${led()}`),
      });
    expect(log).to.deep.equal(['error bad value LED=0']);
  });

  it('on unsubscribe mid-work, stops the work, turns the LED off and releases the pin', () => {
    const { clock, gpio } = rig();
    let workSubscribed = false;
    let workTornDown = false;
    const source = new Subject<number>();
    const subscription = source
      .pipe(
        lightWhile(
          LED,
          () =>
            new Observable<number>(() => {
              workSubscribed = true;
              return () => {
                workTornDown = true;
              };
            }),
          { backend: gpio },
        ),
      )
      .subscribe();
    source.next(1);
    expect([workSubscribed, gpio.outputLevel(LED)]).to.deep.equal([true, 1]);
    subscription.unsubscribe();
    expect(workTornDown).to.equal(true);
    expect(gpio.outputLevel(LED)).to.equal(0);
    expect(gpio.openOutputs()).to.deep.equal([]);
    expect(source.observed).to.equal(false);
    expect(clock.pendingTasks).to.equal(0);
  });

  it('lights an active-low LED with level 0', () => {
    const { gpio } = rig();
    of(1)
      .pipe(lightWhile(LED, (value) => of(value), { backend: gpio, activeLow: true }))
      .subscribe();
    expect(gpio.outputHistory(LED).map((write) => write.level)).to.deep.equal([1, 0, 1]);
  });

  it('passes a failure to write the LED to the subscriber', () => {
    const { gpio } = rig();
    gpio.failNextWrite(LED, new Error('LED pin fault'));
    const errors: unknown[] = [];
    of(1)
      .pipe(lightWhile(LED, (value) => of(value), { backend: gpio }))
      .subscribe({ error: (error: unknown) => errors.push(error) });
    expect(errors.map(String)).to.deep.equal(['Error: LED pin fault']);
    expect(gpio.openOutputs()).to.deep.equal([]);
  });

  it('passes a failure to open the LED pin to the subscriber without subscribing to the source', () => {
    const { gpio } = rig();
    gpio.failNextOpen(LED, new Error('GPIO 4 is busy'));
    const source = new Subject<number>();
    const errors: unknown[] = [];
    source
      .pipe(lightWhile(LED, (value) => of(value), { backend: gpio }))
      .subscribe({ error: (error: unknown) => errors.push(error) });
    expect(errors.map(String)).to.deep.equal(['Error: GPIO 4 is busy']);
    expect(source.observed).to.equal(false);
  });

  it('holds at most maxQueued waiting values, then errors with QueueFullError naming lightWhile, or rejects with onQueueFull: reject', () => {
    const { gpio } = rig();
    const backlog: string[] = [];
    const errors: unknown[] = [];
    const source = new Subject<number>();
    source
      .pipe(
        lightWhile(LED, () => new Subject<never>(), {
          backend: gpio,
          maxQueued: 2,
          onBacklog: ({ inFlight, queued }) => backlog.push(`${inFlight}+${queued}`),
        }),
      )
      .subscribe({ error: (error: unknown) => errors.push(error) });
    for (let i = 1; i <= 4; i++) source.next(i);
    expect(backlog).to.deep.equal(['1+0', '1+1', '1+2']);
    expect(errors).to.have.length(1);
    expect(errors[0])
      .to.be.instanceOf(QueueFullError)
      .and.include({ operator: 'lightWhile', concurrency: 1, maxQueued: 2 });
    expect((errors[0] as Error).message).to.match(
      /^lightWhile: 1 value in flight and 2 queued \(the LED on GPIO 4 is lit for 1 running work\)/,
    );
    expect([gpio.outputLevel(LED), gpio.openOutputs()]).to.deep.equal([0, []]);

    const rejections: Rejection[] = [];
    const works: Subject<number>[] = [];
    const done: number[] = [];
    const again = new Subject<number>();
    again
      .pipe(
        lightWhile(
          LED,
          (value) => {
            const work = new Subject<number>();
            works.push(work);
            return work.pipe(map(() => value));
          },
          {
            backend: gpio,
            maxQueued: 1,
            onQueueFull: 'reject',
            onReject: (r) => rejections.push(r),
          },
        ),
      )
      .subscribe((value) => done.push(value));
    for (let i = 1; i <= 4; i++) again.next(i);
    expect(rejections.map((r) => [r.kind, r.input])).to.deep.equal([
      ['queue-full', 3],
      ['queue-full', 4],
    ]);
    works[0]!.next(0);
    works[0]!.complete();
    works[1]!.next(0);
    works[1]!.complete();
    expect(done).to.deep.equal([1, 2]);
  });

  it('checks concurrency and maxQueued when called, naming lightWhile', () => {
    expect(() => lightWhile(LED, (value: number) => of(value), { concurrency: 0 })).to.throw(
      RangeError,
      /^lightWhile: concurrency must be an integer ≥ 1 or Infinity, got 0$/,
    );
    expect(() => lightWhile(LED, (value: number) => of(value), { maxQueued: -1 })).to.throw(
      RangeError,
      /^lightWhile: maxQueued must be/,
    );
    expect(() => lightWhile(LED, (value: number) => of(value), { concurrency: Infinity })).not.to.throw();
  });

  it('refuses a pin that is not a BCM GPIO number and an unknown backend, naming lightWhile', () => {
    expect(() => lightWhile(54, (value: number) => of(value))).to.throw(
      RangeError,
      /^lightWhile: pin must be a BCM GPIO number from 0 to 53, got 54$/,
    );
    const banana = lightWhile(LED, (value: number) => of(value), { backend: 'banana' as never });
    expect(() => banana(of(1))).to.throw(RangeError, /^lightWhile: backend must be 'pigpio', 'gpiod', 'simulated'/);
  });

  it('lights GPIO 4 while a GPIO 17 press is published, as in the reference scenario', () => {
    const { clock, gpio, log, led } = rig();
    const published: string[] = [];
    const broker = new Subject<void>(); // stands for the broker's acknowledgement
    const subscription = fromGpioButton(BUTTON, { backend: gpio, edge: 'falling', debounce: 300 })
      .pipe(
        lightWhile(
          LED,
          (press) => {
            log.push(`publishing press@${press.tick} LED=${led()}`);
            return broker.pipe(map(() => `acked press@${press.tick}`));
          },
          { backend: gpio },
        ),
      )
      .subscribe((ack) => published.push(`${ack} LED=${led()}`));
    gpio.press(BUTTON, { bounceMicros: [200, 300] });
    clock.advanceMillis(50);
    broker.next();
    broker.complete();
    expect(log).to.deep.equal(['publishing press@0 LED=1']);
    expect(published).to.deep.equal(['acked press@0 LED=1']);
    expect(led()).to.equal(0);
    subscription.unsubscribe();
    expect([gpio.openInputs(), gpio.openOutputs(), gpio.watcherCount(), clock.pendingTasks]).to.deep.equal([
      [],
      [],
      0,
      0,
    ]);
  });
});
