// Running the README's command lines: the `mqtt-iot-stream` command against a test's
// services, and the repository's scripts/cassandra with a record of its own.
import { existsSync, mkdirSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { shellEnvironment, start, type Ended } from './childProcess.js';
import type { Mosquitto } from './mosquitto.js';
import { countLog } from './mqttHelpers.js';
import { temporaryDirectory } from './packedPackage.js';
import type { Verdict } from './readmeCommands.js';
import { waitFor } from './waitFor.js';

/** How long a command runs once it is ready, before it is stopped: "a few seconds" of work. */
export const RUN_MS = 3_000;

/**
 * The environment for scripts/cassandra: a cache folder of its own, so its record of
 * "the last node up" (what `down` without --dir stops) is this test's and never another
 * test's node, with the downloaded jars linked from the shared cache.
 */
export function scriptsEnvironment(): NodeJS.ProcessEnv {
  const cache = temporaryDirectory('readme-cassandra-cache-');
  mkdirSync(join(cache, 'mqtt-iot-stream'));
  const shared = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'mqtt-iot-stream');
  for (const entry of existsSync(shared) ? readdirSync(shared) : [])
    if (entry.startsWith('cassandra-') && statSync(join(shared, entry)).isDirectory())
      symlinkSync(join(shared, entry), join(cache, 'mqtt-iot-stream', entry));
  return shellEnvironment({ XDG_CACHE_HOME: cache });
}

/** Runs `text` with sh in `cwd`; resolves with its status and output. */
export async function shell(text: string, cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number) {
  const running = start('sh', ['-c', text], { cwd, env });
  const ended = await running.exit(timeoutMs);
  return { ...ended, stdout: running.stdout(), output: running.stdout() + running.stderr() };
}

/**
 * A fresh home for one run, as on a new machine: the aggregator's state directory and
 * the publisher's position file start empty. No Pi here: the button is simulated
 * (publish presses it at each Enter on its input).
 */
export function freshHome(): NodeJS.ProcessEnv {
  const home = temporaryDirectory('readme-home-');
  return shellEnvironment({
    HOME: home,
    XDG_STATE_HOME: join(home, '.local', 'state'),
    XDG_CONFIG_HOME: join(home, '.config'),
    GPIO_BACKEND: 'simulated',
  });
}

/** Where a test's services are. */
export interface Services {
  readonly broker: Mosquitto;
  /** Comma-separated host:port, as --cassandra takes them. */
  readonly cassandra: string;
  /** A project with the packed package installed. */
  readonly project: string;
}

/** The README's words with its example addresses pointed at `services`, and the changes made, for the report. */
export function pointAtServices(args: readonly string[], services: Services): { args: string[]; changes: string[] } {
  const result = [...args];
  const changes: string[] = [];
  const replace = (index: number, value: string, why: string) => {
    changes.push(`${result[index - 1]} ${result[index]} → ${why}`);
    result[index] = value;
  };
  for (let index = 1; index < result.length; index++) {
    const flag = result[index - 1];
    const value = result[index]!;
    if (flag === '--broker') replace(index, services.broker.url, 'the test Mosquitto');
    else if (flag === '--cassandra') replace(index, services.cassandra, `the test's Cassandra (${services.cassandra})`);
    else if ((flag === '--file' || flag === '--log') && value !== '-' && !existsSync(value))
      replace(
        index,
        join(services.project, 'node_modules/mqtt-iot-stream/examples/data/access.log'),
        "the package's demo log",
      );
    else if (flag === '--http') replace(index, '127.0.0.1:0', 'a free port');
  }
  return { args: result, changes };
}

/**
 * Runs one `mqtt-iot-stream publish|aggregate|demo` command line with the installed
 * command `bin`: until it is ready (publish: two messages at the broker; aggregate: its
 * subscription; demo: its first lines), then {@link RUN_MS} more, then SIGTERM, which it
 * must answer by exiting with status 0 within `stopLimitMs`; a bounded one (--count,
 * --duration) must end with 0 by itself. Resolves with what happened, for the report;
 * rejects saying what it printed.
 */
export async function runCommand(
  verdict: Extract<Verdict, { how: 'command' }>,
  bin: string,
  services: Services,
  stopLimitMs: number,
): Promise<string> {
  const { args, changes } = pointAtServices(verdict.args, services);
  const log = () => services.broker.log();
  const publishes = countLog(log(), /Received PUBLISH from/);
  const subscribes = countLog(log(), /Received SUBSCRIBE from/);
  const started = Date.now();
  const running = start(process.execPath, [bin, ...args], { cwd: services.project, env: freshHome() });
  const printed = () => `it printed:\n${running.stdout()}${running.stderr()}`;
  const alive = () => {
    if (running.ended() !== undefined)
      throw new Error(`it ended by itself with ${JSON.stringify(running.ended())}; ${printed()}`);
    return true;
  };
  let presses: NodeJS.Timeout | undefined;
  let ended: Ended;
  let stopped = '';
  try {
    if (verdict.subcommand === 'publish') {
      presses = setInterval(() => running.child.stdin!.write('\n'), 300);
      if (!verdict.bounded)
        await waitFor(
          () => alive() && countLog(log(), /Received PUBLISH from/) >= publishes + 2,
          () => `two messages published; ${printed()}`,
          30_000,
        );
    } else if (verdict.subcommand === 'aggregate' && !verdict.bounded) {
      await waitFor(
        () => alive() && countLog(log(), /Received SUBSCRIBE from/) > subscribes,
        () => `the subscription; ${printed()}`,
        90_000,
      );
    } else if (!verdict.bounded) {
      await waitFor(
        () => alive() && running.stdout() !== '',
        () => `the first lines; ${printed()}`,
        30_000,
      );
    }
    if (verdict.bounded) {
      ended = await running.exit(60_000);
    } else {
      await new Promise((resolve) => setTimeout(resolve, RUN_MS));
      alive();
      const signalled = Date.now();
      ended = await running.stop('SIGTERM', stopLimitMs);
      stopped =
        `, SIGTERM after ${((signalled - started) / 1000).toFixed(1)} s, ` +
        `ended ${((Date.now() - signalled) / 1000).toFixed(1)} s later`;
    }
  } finally {
    clearInterval(presses);
    await running.stop('SIGKILL', 10_000).catch(() => undefined);
  }
  if (ended.code !== 0 || ended.signal !== null)
    throw new Error(`mqtt-iot-stream ${args.join(' ')} ended with ${JSON.stringify(ended)}; ${printed()}`);
  return (
    `ran${verdict.systemd ? " (the systemd unit's ExecStart=)" : ''}: status 0${stopped}` +
    (changes.length > 0 ? `; ${changes.join(', ')}` : '')
  );
}
