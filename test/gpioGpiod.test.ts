import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromGpioButton, GpioBackendUnavailableError, loadGpiodBackend, type GpioButtonEvent } from '../src/index.js';
import { parseGpiomonLine } from '../src/gpio/backends/gpiod/gpiomonOutput.js';
import {
  createGpiodBackend,
  gpiogetArguments,
  gpiomonArguments,
  gpiosetArguments,
  parseGpiogetOutput,
  parseLibgpiodVersion,
} from '../src/gpio/backends/gpiod/gpiodBackend.js';
import { nanosToTick } from '../src/gpio/backends/gpiod/gpiomonOutput.js';
import { waitFor } from './support/waitFor.js';

/** The libgpiod tools of this machine (Debian package gpiod). */
function installedVersion(): string {
  let text: string;
  try {
    text = execFileSync('gpiomon', ['--version'], { encoding: 'utf8' });
  } catch (error) {
    throw new Error(`the libgpiod tools are needed for these tests (apt-get install gpiod): ${String(error)}`, {
      cause: error,
    });
  }
  const version = parseLibgpiodVersion(text);
  if (version === undefined) throw new Error(`gpiomon --version printed no version: ${text}`);
  return version;
}

describe('gpiod backend', () => {
  describe('gpiomon output parser', () => {
    // Lines in the exact printf formats of libgpiod's tools/gpiomon.c: v1.6.x
    // ("event: %s offset: %u timestamp: [%8ld.%09ld]") and v2.2.x (seconds.nanos, tab,
    // edge, tab, line id). Constructed from the source, as no GPIO chip is here to
    // record from; libgpiod's own tool tests match them with the same shapes.
    it('reads libgpiod v1 lines, including the space-padded seconds of a monotonic clock', () => {
      expect(parseGpiomonLine('event:  RISING EDGE offset: 17 timestamp: [1589554219.545618376]')).to.deep.equal({
        kind: 'edge',
        edge: {
          level: 1,
          timestampNanos: 1_589_554_219_545_618_376n,
          offset: 17,
          lineName: undefined,
          chip: undefined,
          format: 'v1',
        },
      });
      expect(parseGpiomonLine('event: FALLING EDGE offset: 4 timestamp: [     164.000012345]')).to.deep.equal({
        kind: 'edge',
        edge: {
          level: 0,
          timestampNanos: 164_000_012_345n,
          offset: 4,
          lineName: undefined,
          chip: undefined,
          format: 'v1',
        },
      });
    });

    it('reads libgpiod v2 lines by name, by chip and offset, unnamed, unquoted and in UTC', () => {
      const edge = (text: string) => {
        const parsed = parseGpiomonLine(text);
        if (parsed.kind !== 'edge') throw new Error(`not an edge: ${text}`);
        return parsed.edge;
      };
      expect(edge('1589554219.545618376\trising\t"GPIO17"')).to.deep.equal({
        level: 1,
        timestampNanos: 1_589_554_219_545_618_376n,
        offset: undefined,
        lineName: 'GPIO17',
        chip: undefined,
        format: 'v2',
      });
      expect(edge('164.000012345\tfalling\tgpiochip0 17 "GPIO17"')).to.deep.include({
        level: 0,
        offset: 17,
        chip: 'gpiochip0',
        lineName: 'GPIO17',
      });
      expect(edge('164.000012345\tfalling\tgpiochip4 17')).to.deep.include({
        offset: 17,
        chip: 'gpiochip4',
        lineName: undefined,
      });
      expect(edge('164.000012345\trising\tGPIO17')).to.deep.include({ lineName: 'GPIO17', offset: undefined });
      expect(edge('2024-05-01T12:00:00.000000123Z\trising\t"GPIO17"').timestampNanos).to.equal(
        1_714_564_800_000_000_123n,
      );
    });

    it('tells a banner from an event and explains a line it cannot read', () => {
      expect(parseGpiomonLine("Monitoring line 'GPIO17'...")).to.deep.equal({ kind: 'banner' });
      const unknown = parseGpiomonLine(
        'gpiomon: unable to request lines on chip /dev/gpiochip0: Device or resource busy',
      );
      expect(unknown.kind).to.equal('unknown');
      expect(unknown.kind === 'unknown' && unknown.reason).to.match(
        /^not a gpiomon event line \(libgpiod v1 or v2 default format\): "gpiomon: unable/,
      );
    });

    it('turns kernel nanoseconds into 32-bit microsecond ticks', () => {
      expect(nanosToTick(164_000_012_345n)).to.equal(164_000_012);
      expect(nanosToTick(4_294_967_296_000n + 5_000n)).to.equal(5);
    });
  });

  describe('tool arguments and outputs', () => {
    const both = { pull: 'up', edge: 'both' } as const;
    it('builds gpiomon, gpioget and gpioset arguments for libgpiod v1', () => {
      const line = { chip: 'gpiochip0', offset: 17 };
      expect(gpiomonArguments(1, line, both)).to.deep.equal(['--line-buffered', '--bias=pull-up', 'gpiochip0', '17']);
      expect(gpiomonArguments(1, line, { pull: 'off', edge: 'falling' })).to.deep.equal([
        '--line-buffered',
        '--bias=disable',
        '--falling-edge',
        'gpiochip0',
        '17',
      ]);
      expect(gpiogetArguments(1, line, 'down')).to.deep.equal(['--bias=pull-down', 'gpiochip0', '17']);
      expect(gpiosetArguments(1, { chip: 'gpiochip0', offset: 4 }, 1)).to.deep.equal([
        '--mode=signal',
        'gpiochip0',
        '4=1',
      ]);
      expect(() => gpiomonArguments(1, line, { ...both, glitchFilterMicros: 1000 })).to.throw(
        /^gpiod backend: libgpiod v1 has no glitch filter: use debounce/,
      );
    });

    it('builds them for libgpiod v2, by line name or by chip', () => {
      expect(
        gpiomonArguments(2, { name: 'GPIO17' }, { pull: 'up', edge: 'rising', glitchFilterMicros: 5000 }),
      ).to.deep.equal(['--bias', 'pull-up', '--edges', 'rising', '--debounce-period', '5000us', 'GPIO17']);
      expect(gpiomonArguments(2, { chip: 'gpiochip4', offset: 17 }, { pull: 'off', edge: 'both' })).to.deep.equal([
        '--bias',
        'disabled',
        '--edges',
        'both',
        '--chip',
        'gpiochip4',
        '17',
      ]);
      expect(gpiogetArguments(2, { name: 'GPIO17' }, 'up')).to.deep.equal(['--bias', 'pull-up', 'GPIO17']);
      expect(gpiosetArguments(2, { name: 'GPIO4' }, 0)).to.deep.equal(['GPIO4=0']);
    });

    it('reads gpioget output of both versions', () => {
      expect([
        parseGpiogetOutput('1\n'),
        parseGpiogetOutput('0\n'),
        parseGpiogetOutput('"GPIO17"=active\n'),
        parseGpiogetOutput('"GPIO17"=inactive\n'),
        parseGpiogetOutput('huh'),
      ]).to.deep.equal([1, 0, 1, 0, undefined]);
    });
  });

  describe('with the real libgpiod tools on this machine (no GPIO chip)', () => {
    it('reads the installed libgpiod version', () => {
      expect(installedVersion()).to.match(/^\d+\.\d+/);
    });

    it('refuses to load for lack of /dev/gpiochip*, saying so', async () => {
      installedVersion();
      expect(existsSync('/dev/gpiochip0'), 'this test expects a machine without GPIO chips').to.equal(false);
      const error = await loadGpiodBackend().then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect(error).to.be.instanceOf(GpioBackendUnavailableError);
      expect((error as GpioBackendUnavailableError).causes).to.deep.equal(['no-gpio-chip']);
      expect((error as Error).message).to.contain('no GPIO character device (/dev/gpiochip*)');
    });

    it('says the tools are not installed when gpiomon cannot be found', async () => {
      const error = await loadGpiodBackend({ toolPrefix: '/nonexistent/' }).then(
        () => undefined,
        (failure: unknown) => failure,
      );
      expect((error as GpioBackendUnavailableError).causes).to.deep.equal(['not-installed']);
      expect((error as Error).message).to.contain('sudo apt install gpiod');
    });

    it('passes gpiomon’s own error and exit code to the subscriber and leaves no process behind', async () => {
      const version = installedVersion();
      const backend = createGpiodBackend(version, { chip: 'gpiochip0' });
      const error = await new Promise<unknown>((resolve) => {
        fromGpioButton(17, { backend }).subscribe({ next: () => resolve('an event'), error: resolve });
      });
      expect(String(error)).to.match(
        /gpiod backend: gpiomon exited with code 1 while watching GPIO 17 \(.*gpiochip0 17\): gpiomon: .*(No such file or directory|No such device)/,
      );
      await waitFor(() => backend.runningProcesses === 0, 'gpiomon to be gone');
    });

    it('passes gpioget’s error when the initial state cannot be read', () => {
      const backend = createGpiodBackend(installedVersion(), { chip: 'gpiochip0' });
      const errors: unknown[] = [];
      fromGpioButton(17, { backend, emitInitial: true }).subscribe({ error: (error: unknown) => errors.push(error) });
      expect(String(errors[0])).to.match(
        /gpiod backend: gpioget could not read GPIO 17: gpioget: .*(No such file or directory|No such device)/,
      );
      expect(backend.runningProcesses).to.equal(0);
    });

    it('with libgpiod v1 and no chip given, says gpiofind found no line and to pass the chip', () => {
      const version = installedVersion();
      expect(version, 'Debian 12 ships libgpiod v1').to.match(/^1\./);
      const backend = createGpiodBackend(version);
      const errors: unknown[] = [];
      fromGpioButton(17, { backend }).subscribe({ error: (error: unknown) => errors.push(error) });
      expect(String(errors[0])).to.contain(
        "gpiod backend: gpiofind found no GPIO line named GPIO17 (pass the chip option, e.g. { chip: 'gpiochip0' }): exit code 1",
      );
    });

    it('reports a failed gpioset on the next write, then holds no process', async () => {
      const backend = createGpiodBackend(installedVersion(), { chip: 'gpiochip0' });
      const led = backend.openOutput(4);
      await waitFor(() => backend.runningProcesses === 0, 'gpioset to fail');
      expect(() => led.write(1)).to.throw(
        /gpiod backend: gpioset exited with code 1 while holding GPIO 4 at 0: gpioset: .*(No such file or directory|No such device)/,
      );
      led.release();
      await waitFor(() => backend.runningProcesses === 0, 'no gpioset left');
    });
  });

  // Process lifecycle only: a stand-in `gpiomon` (a shell script printing recorded v1
  // lines, then waiting) checks that output is streamed line by line and that
  // unsubscribing ends the process. It proves nothing about a real chip.
  describe('process lifecycle with a stand-in gpiomon (not hardware behaviour)', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'gpiod-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    /** A gpiod backend (libgpiod 1.6.3 tools) whose gpiomon is a shell script running `lines`. */
    function standInGpiomon(lines: readonly string[]) {
      writeFileSync(join(dir, 'gpiomon'), ['#!/bin/sh', ...lines, ''].join('\n'));
      chmodSync(join(dir, 'gpiomon'), 0o755);
      return createGpiodBackend('1.6.3', { chip: 'gpiochip0', toolPrefix: `${dir}/` });
    }

    it('delivers every line gpiomon printed before passing on its exit', async () => {
      const backend = standInGpiomon([
        "printf 'event: FALLING EDGE offset: 17 timestamp: [     164.000012345]\\n'",
        "echo 'gpiomon: error waiting for events: Input/output error' >&2",
        'exit 1',
      ]);
      const seen: string[] = [];
      await new Promise<void>((resolve) => {
        fromGpioButton(17, { backend }).subscribe({
          next: (event) => seen.push(`pressed ${event.pressed}`),
          error: (error: unknown) => {
            seen.push(String(error));
            resolve();
          },
        });
      });
      expect(seen).to.deep.equal([
        'pressed true',
        'Error: gpiod backend: gpiomon exited with code 1 while watching GPIO 17 (--line-buffered --bias=pull-up gpiochip0 17): gpiomon: error waiting for events: Input/output error',
      ]);
      await waitFor(() => backend.runningProcesses === 0, 'gpiomon to be gone');
    });

    it('streams events as they are printed and ends gpiomon on unsubscribe', async () => {
      const pidFile = join(dir, 'pid');
      const backend = standInGpiomon([
        `echo $$ > ${pidFile}`,
        "printf 'event: FALLING EDGE offset: 17 timestamp: [     164.000012345]\\nevent:  RISING'",
        'sleep 0.1',
        "printf ' EDGE offset: 17 timestamp: [     164.200000000]\\nnot an event\\n'",
        'exec sleep 60',
      ]);
      const events: GpioButtonEvent[] = [];
      const rejected: unknown[] = [];
      const errors: unknown[] = [];
      const subscription = fromGpioButton(17, {
        backend,
        debounce: 300,
        onReject: (rejection) => rejected.push(rejection.input),
      }).subscribe({ next: (event) => events.push(event), error: (error: unknown) => errors.push(error) });
      let pid: number;
      try {
        await waitFor(() => rejected.length === 1 || errors.length > 0, 'the stand-in’s output');
        expect(errors).to.deep.equal([]);
        expect(events.map((event) => [event.pressed, event.tick])).to.deep.equal([[true, 164_000_012]]); // release 200 ms later: debounced
        expect(rejected).to.deep.equal(['not an event']);
        expect(backend.runningProcesses).to.equal(1);
        pid = Number(execFileSync('cat', [pidFile], { encoding: 'utf8' }));
      } finally {
        subscription.unsubscribe();
      }
      await waitFor(() => backend.runningProcesses === 0, 'gpiomon to end');
      expect(() => process.kill(pid, 0)).to.throw(/ESRCH/);
    });
  });
});
