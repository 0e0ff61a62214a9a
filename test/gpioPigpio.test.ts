import { expect } from 'chai';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { fromGpioButton, GpioBackendUnavailableError, loadPigpioBackend } from '../src/index.js';
import { detectBoard, diagnosePigpioFailure, type BoardInfo } from '../src/gpio/backends/pigpio/pigpioDiagnosis.js';
import { loadPigpioBackendWith, type PigpioLoaderEnvironment } from '../src/gpio/backends/pigpio/pigpioBackend.js';

const PI4: BoardInfo = detectBoard(
  'Raspberry Pi 4 Model B Rev 1.4\0',
  'Revision\t: c03114\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n',
);
const PI5: BoardInfo = detectBoard(
  'Raspberry Pi 5 Model B Rev 1.0\0',
  'Revision\t: d04170\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n',
);

async function failure(promise: Promise<unknown>): Promise<GpioBackendUnavailableError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(GpioBackendUnavailableError);
    return error as GpioBackendUnavailableError;
  }
  throw new Error('expected the pigpio backend to fail to load');
}

describe('pigpio backend', () => {
  describe('loading it here, for real (x86, addon never built)', () => {
    it('fails with the causes named: native addon not built, not a Raspberry Pi', async () => {
      const error = await failure(loadPigpioBackend());
      expect(error.backend).to.equal('pigpio');
      expect(error.causes).to.deep.equal(['native-addon-missing', 'not-a-raspberry-pi']);
      expect(error.message).to.contain("pigpio's native addon was never built");
      expect(error.message).to.contain('sudo apt install pigpio');
      expect(error.message).to.contain('npm rebuild pigpio');
      expect(error.message).to.contain("use backend 'simulated'");
    });

    it('gives the same diagnosis on a second attempt (pigpio is evaluated once)', async () => {
      const error = await failure(loadPigpioBackend());
      expect(error.causes).to.deep.equal(['native-addon-missing', 'not-a-raspberry-pi']);
    });

    it('errors fromGpioButton’s subscriber with it when backend is pigpio', async () => {
      const error = await new Promise<unknown>((resolve) => {
        fromGpioButton(17, { backend: 'pigpio' }).subscribe({ next: () => resolve('an event'), error: resolve });
      });
      expect(error).to.be.instanceOf(GpioBackendUnavailableError);
      expect((error as GpioBackendUnavailableError).causes).to.include('native-addon-missing');
    });
  });

  describe('load-failure diagnosis on other machines (loader over given facts)', () => {
    const environment = (overrides: Partial<PigpioLoaderEnvironment>): PigpioLoaderEnvironment => ({
      importPigpio: () => Promise.reject(new Error('importPigpio not expected')),
      readBoard: () => PI4,
      uid: () => 0,
      lockFilePresent: () => false,
      ...overrides,
    });
    /** The loader's failure when importing pigpio gives `module` and prints `warnings`, on the machine `overrides` describe. */
    const failureImporting = (module: unknown, warnings: string, overrides: Partial<PigpioLoaderEnvironment> = {}) =>
      failure(
        loadPigpioBackendWith(environment({ importPigpio: () => Promise.resolve({ module, warnings }), ...overrides })),
      );
    /** pigpio's exports when its addon cannot reach the C library: the first call, getTick, throws. */
    const getTickThrows = (error: Error) => ({
      getTick: () => {
        throw error;
      },
    });
    // Module objects shaped like pigpio's exports, standing in for the package at
    // the point where the C library is (or is not) reached.
    const initFails = {
      getTick: () => 1,
      initialize: () => {
        throw new Error('pigpio error -1 in gpioInitialise');
      },
    };

    it('not installed: says to install the C library and the package on the Pi', async () => {
      const notFound = Object.assign(new Error("Cannot find package 'pigpio' imported from /app/index.js"), {
        code: 'ERR_MODULE_NOT_FOUND',
      });
      const error = await failure(loadPigpioBackendWith(environment({ importPigpio: () => Promise.reject(notFound) })));
      expect(error.causes).to.deep.equal(['not-installed']);
      expect(error.message).to.equal(
        "The pigpio GPIO backend cannot be used: the optional package 'pigpio' is not installed: on the Pi, install the C library (`sudo apt install pigpio`), then the package (`npm install pigpio`).",
      );
      expect(error.cause).to.equal(notFound);
    });

    it('C library missing: names libpigpio.so and apt', async () => {
      const warnings =
        'Error: libpigpio.so.1: cannot open shared object file: No such file or directory\n    at Module._extensions..node';
      const error = await failureImporting(getTickThrows(new TypeError('pigpio.gpioTick is not a function')), warnings);
      expect(error.causes).to.deep.equal(['c-library-missing']);
      expect(error.message).to.contain('libpigpio.so').and.to.contain('sudo apt install pigpio');
    });

    it('addon built for another Node.js: says so', async () => {
      const warnings =
        'Error: The module pigpio.node was compiled against a different Node.js version using NODE_MODULE_VERSION 108.';
      // As import() gives a CommonJS package: its exports under `default`.
      const error = await failureImporting({ default: getTickThrows(new TypeError('x')) }, warnings);
      expect(error.causes).to.deep.equal(['native-addon-missing']);
      expect(error.message).to.contain('was built for another Node.js version');
    });

    it('not root: says to run with sudo', async () => {
      const error = await failureImporting(initFails, '', { uid: () => 1000 });
      expect(error.causes).to.deep.equal(['not-root']);
      expect(error.message)
        .to.contain('pigpio needs root')
        .and.to.contain('uid 1000')
        .and.to.contain('sudo node app.js');
    });

    it('pigpiod running: says to stop it', async () => {
      const error = await failureImporting(initFails, '', { lockFilePresent: () => true });
      expect(error.causes).to.deep.equal(['daemon-running']);
      expect(error.message).to.contain('sudo systemctl stop pigpiod');
    });

    it('Raspberry Pi 5: refuses before importing pigpio and points to the gpiod backend', async () => {
      let imported = false;
      const error = await failure(
        loadPigpioBackendWith(
          environment({
            readBoard: () => PI5,
            importPigpio: () => {
              imported = true;
              return Promise.reject(new Error('no'));
            },
          }),
        ),
      );
      expect(imported).to.equal(false);
      expect(error.causes).to.deep.equal(['raspberry-pi-5']);
      expect(error.message).to.equal(
        "The pigpio GPIO backend cannot be used: this is a Raspberry Pi 5 Model B Rev 1.0, and pigpio does not support the Raspberry Pi 5: use backend 'gpiod' instead (the libgpiod tools: `sudo apt install gpiod`).",
      );
    });

    it('an unrecognised initialisation failure keeps pigpio’s own message', () => {
      const diagnosis = diagnosePigpioFailure({
        board: PI4,
        uid: 0,
        initError: new Error('pigpio error -1 in gpioInitialise'),
      });
      expect(diagnosis.causes).to.deep.equal(['unknown']);
      expect(diagnosis.message).to.contain('pigpio error -1 in gpioInitialise');
    });
  });

  describe('detectBoard', () => {
    it('recognises a Pi 4 by model and revision, and not as a Pi 5', () => {
      expect(PI4).to.deep.equal({
        model: 'Raspberry Pi 4 Model B Rev 1.4',
        isRaspberryPi: true,
        isRaspberryPi5: false,
      });
    });

    it('recognises the Pi 5 family by name or by a BCM2712 revision code alone', () => {
      expect(PI5.isRaspberryPi5).to.equal(true);
      expect(detectBoard(undefined, 'processor\t: 0\nRevision\t: c04170\nSerial\t\t: 1234\n')).to.deep.equal({
        model: undefined,
        isRaspberryPi: true,
        isRaspberryPi5: true,
      });
      expect(detectBoard('Raspberry Pi Compute Module 5 Rev 1.0\0', undefined).isRaspberryPi5).to.equal(true);
      expect(detectBoard('Raspberry Pi 500 Rev 1.0\0', undefined).isRaspberryPi5).to.equal(true);
      expect(detectBoard('Raspberry Pi Compute Module 4 Rev 1.1\0', undefined).isRaspberryPi5).to.equal(false);
    });

    it('recognises an old Pi by its device-tree model (old-style revision code)', () => {
      expect(detectBoard('Raspberry Pi Model B Rev 2\0', 'Hardware\t: BCM2835\nRevision\t: 000e\n')).to.deep.equal({
        model: 'Raspberry Pi Model B Rev 2',
        isRaspberryPi: true,
        isRaspberryPi5: false,
      });
    });

    it('finds no Pi in this machine’s real /proc/cpuinfo', () => {
      expect(detectBoard(undefined, readFileSync('/proc/cpuinfo', 'utf8'))).to.deep.equal({
        model: undefined,
        isRaspberryPi: false,
        isRaspberryPi5: false,
      });
    });
  });

  // A stand-in for pigpio's Gpio class with the members the adapter uses. It proves
  // the adapter's bookkeeping (which pigpio calls it makes, and when), not how pigpio
  // behaves on a Pi.
  describe('adapter bookkeeping against a stand-in Gpio', () => {
    class StandInGpio extends EventEmitter {
      static readonly INPUT = 0;
      static readonly OUTPUT = 1;
      static readonly PUD_OFF = 0;
      static readonly PUD_DOWN = 1;
      static readonly PUD_UP = 2;
      static readonly RISING_EDGE = 0;
      static readonly FALLING_EDGE = 1;
      static readonly EITHER_EDGE = 2;
      static readonly made: StandInGpio[] = [];
      readonly calls: string[] = [];
      constructor(
        readonly gpio: number,
        readonly options: { mode?: number; pullUpDown?: number },
      ) {
        super();
        StandInGpio.made.push(this);
      }
      digitalRead() {
        return 1;
      }
      digitalWrite(level: number) {
        this.calls.push(`write ${level}`);
        return this;
      }
      enableInterrupt(edge: number) {
        this.calls.push(`enableInterrupt ${edge}`);
        return this;
      }
      disableInterrupt() {
        this.calls.push('disableInterrupt');
        return this;
      }
      enableAlert() {
        this.calls.push('enableAlert');
        return this;
      }
      disableAlert() {
        this.calls.push('disableAlert');
        return this;
      }
      glitchFilter(steady: number) {
        this.calls.push(`glitchFilter ${steady}`);
        return this;
      }
    }
    const load = () =>
      loadPigpioBackendWith({
        importPigpio: () =>
          Promise.resolve({
            module: { Gpio: StandInGpio, getTick: () => 5, initialize: () => undefined, terminate: () => undefined },
            warnings: '',
          }),
        readBoard: () => PI4,
        uid: () => 0,
        lockFilePresent: () => false,
      });
    beforeEach(() => {
      StandInGpio.made.length = 0;
    });

    it('uses interrupts with the edge in the kernel, shares one Gpio per pin, and disables interrupts when the last watch ends', async () => {
      const backend = await load();
      const presses: string[] = [];
      const a = fromGpioButton(17, { backend, edge: 'falling' }).subscribe((event) =>
        presses.push(`a ${event.pressed}@${event.tick}`),
      );
      const b = fromGpioButton(17, { backend, edge: 'falling' }).subscribe((event) =>
        presses.push(`b ${event.pressed}@${event.tick}`),
      );
      expect(StandInGpio.made).to.have.length(1);
      const gpio = StandInGpio.made[0]!;
      expect(gpio.options).to.deep.equal({ mode: 0, pullUpDown: 2 });
      gpio.emit('interrupt', 0, 4_294_967_295);
      a.unsubscribe();
      gpio.emit('interrupt', 0, 10);
      b.unsubscribe();
      expect(presses).to.deep.equal(['a true@4294967295', 'b true@4294967295', 'b true@10']);
      expect(gpio.calls).to.deep.equal(['enableInterrupt 1', 'disableInterrupt']);
      expect(gpio.listenerCount('interrupt')).to.equal(0);
    });

    it('uses alerts with the glitch filter, applies the edge choice itself, and clears the filter on release', async () => {
      const backend = await load();
      const events: number[] = [];
      const subscription = fromGpioButton(22, { backend, edge: 'rising', glitchFilterMicros: 10_000 }).subscribe(
        (event) => events.push(event.level),
      );
      const gpio = StandInGpio.made[0]!;
      gpio.emit('alert', 0, 100);
      gpio.emit('alert', 1, 200);
      subscription.unsubscribe();
      expect(events).to.deep.equal([1]);
      expect(gpio.calls).to.deep.equal(['glitchFilter 10000', 'enableAlert', 'disableAlert', 'glitchFilter 0']);
      expect(gpio.listenerCount('alert')).to.equal(0);
    });

    it('hands a timeout level (2) to onReject instead of inventing an edge', async () => {
      const backend = await load();
      const reasons: string[] = [];
      const subscription = fromGpioButton(17, {
        backend,
        onReject: (rejection) => reasons.push(rejection.reason),
      }).subscribe();
      StandInGpio.made[0]!.emit('interrupt', 2, 99);
      subscription.unsubscribe();
      expect(reasons).to.deep.equal([
        'GPIO 17 (pigpio): pigpio reported level 2 (2 is an interrupt timeout, which this backend never sets)',
      ]);
    });
  });
});
