// Child processes as the README tests run them: the environment of a fresh shell (no
// npm_* variables of the npm run that started mocha), output kept, and a stop that
// signals the whole process group, as Ctrl-C or systemd would, and says how it ended.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/**
 * `process.env` without the `npm_*` variables an enclosing `npm test` sets (a nested
 * npm would read `npm_config_*` as its own settings), plus `extra`.
 */
export function shellEnvironment(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const environment = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith('npm_')),
  );
  return { ...environment, ...extra };
}

/** How a process ended. */
export interface Ended {
  /** Its exit status, or null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** A started process. */
export interface Running {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** How it ended, or undefined while it runs. */
  ended(): Ended | undefined;
  /** Resolves when it ends; rejects after `timeoutMs`, saying what it printed. */
  exit(timeoutMs: number): Promise<Ended>;
  /** Sends `signal` to its process group, then waits up to `timeoutMs` for it to end. */
  stop(signal: NodeJS.Signals, timeoutMs: number): Promise<Ended>;
}

const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // The group is gone already.
  }
}

/** Starts `command` in its own process group, with its output kept. */
export function start(command: string, args: readonly string[], options: SpawnOptions): Running {
  const child = spawn(command, args, { ...options, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(child);
  let stdout = '';
  let stderr = '';
  let ended: Ended | undefined;
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdin!.on('error', () => undefined); // a write after the process ended
  const done = new Promise<Ended>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      running.delete(child);
      ended = { code, signal };
      resolve(ended);
    });
  });
  const exit = async (timeoutMs: number): Promise<Ended> => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        killGroup(child, 'SIGKILL');
        reject(
          new Error(
            `${command} ${args.join(' ')} had not ended ${timeoutMs} ms later (killed); it printed:\n${stdout}${stderr}`,
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    ended: () => ended,
    exit,
    stop: (signal, timeoutMs) => {
      if (ended === undefined) killGroup(child, signal);
      return exit(timeoutMs);
    },
  };
}
