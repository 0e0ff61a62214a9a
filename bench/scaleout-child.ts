/**
 * One aggregator process for the scale-out benchmark: the durable aggregator pipeline
 * (durable-pipeline.ts: fromMqtt with manual acknowledgement → durableWindowedCount,
 * durability 'process', a journal line per message before its PUBACK) on a shared
 * subscription, resuming a persistent session whose queue the broker filled.
 *
 * Driven over IPC by {@link ScaleOutChild}: `go` starts the pipeline on a session; the
 * child sends its progress (messages handled, wall-clock times of the first and last,
 * its own CPU time) every 100 ms and once more when the parent says `stop`, which ends
 * the pipeline but not the process: the next round reuses it, already compiled by the JIT.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Subscription } from 'rxjs';
import { durableAggregator, persistentSessionOptions } from './durable-pipeline.js';
import { endChild } from './endChild.js';

/** What the child tells the parent, every 100 ms and at the end. */
export interface ScaleOutProgress {
  readonly handled: number;
  /** Wall clock (ms, comparable across processes on one host) of the first and last message handled; 0 before the first. */
  readonly firstAt: number;
  readonly lastAt: number;
  /** This process's CPU time (user + system) since `go`, ms. */
  readonly cpuMs: number;
}

/** The parent's command to start. */
export interface ScaleOutGo {
  readonly url: string;
  readonly clientId: string;
  readonly topic: string;
  readonly stateDirectory: string;
}

type ChildMessage =
  | { readonly ready: true }
  | { readonly progress: ScaleOutProgress; readonly final: boolean }
  | { readonly error: string };

/** The parent's handle on one aggregator child. */
export class ScaleOutChild {
  private latest: ScaleOutProgress = { handled: 0, firstAt: 0, lastAt: 0, cpuMs: 0 };
  private error: string | undefined;
  private finalReport: ((progress: ScaleOutProgress) => void) | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: ChildMessage) => {
      if ('error' in message) this.error = message.error;
      else if ('progress' in message) {
        this.latest = message.progress;
        if (message.final) this.finalReport?.(message.progress);
      }
    });
  }

  /** Forks the child and waits until its modules are loaded (their loading is not timed). */
  static async start(): Promise<ScaleOutChild> {
    const child = fork(fileURLToPath(import.meta.url), [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code, signal) =>
        reject(new Error(`scale-out child exited before it was ready (${code ?? signal})`)),
      );
    });
    return new ScaleOutChild(child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  /** The last progress the child sent; throws the child's error if it failed. */
  progress(): ScaleOutProgress {
    if (this.error !== undefined) throw new Error(`scale-out child: ${this.error}`);
    return this.latest;
  }

  go(command: ScaleOutGo): void {
    this.child.send(command);
  }

  /** Stops the pipeline (its MQTT connection closes) and resolves with the final progress. */
  async stop(): Promise<ScaleOutProgress> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.progress();
    const final = new Promise<ScaleOutProgress>((resolve) => {
      this.finalReport = resolve;
    });
    this.child.send('stop');
    const report = await final;
    this.latest = { handled: 0, firstAt: 0, lastAt: 0, cpuMs: 0 };
    return report;
  }

  /** Ends the process (SIGKILL if it does not leave within 5 s). */
  end(): Promise<void> {
    return endChild(this.child);
  }
}

const wallClock = (): number => performance.timeOrigin + performance.now();

function run(): void {
  let subscription: Subscription | undefined;
  let handled = 0;
  let firstAt = 0;
  let lastAt = 0;
  let cpuAtGo = process.cpuUsage();
  const progress = (): ScaleOutProgress => {
    const cpu = process.cpuUsage(cpuAtGo);
    return { handled, firstAt, lastAt, cpuMs: (cpu.user + cpu.system) / 1000 };
  };
  let timer: ReturnType<typeof setInterval> | undefined;
  process.on('message', (message: ScaleOutGo | 'stop') => {
    if (message === 'stop') {
      if (timer !== undefined) clearInterval(timer);
      subscription?.unsubscribe();
      process.send!({ progress: progress(), final: true });
      return;
    }
    handled = 0;
    firstAt = 0;
    lastAt = 0;
    cpuAtGo = process.cpuUsage();
    timer = setInterval(() => process.send!({ progress: progress(), final: false }), 100);
    subscription = durableAggregator(persistentSessionOptions(message.url, message.clientId), message.topic, {
      stateDirectory: message.stateDirectory,
      durability: 'process',
      onReject: () => undefined,
      onHandled: () => {
        lastAt = wallClock();
        if (handled === 0) firstAt = lastAt;
        handled += 1;
      },
    }).subscribe({ error: (error: unknown) => process.send!({ error: (error as Error).message ?? String(error) }) });
  });
  // The parent ends us by disconnecting (and if it dies first, so do we).
  process.once('disconnect', () => {
    subscription?.unsubscribe();
    setTimeout(() => process.exit(0), 50);
  });
  process.send!({ ready: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) run();
