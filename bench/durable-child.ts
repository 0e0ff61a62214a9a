/**
 * Child process running the durable aggregator (durable-pipeline.ts) for the
 * restart benchmark, so that a crash is a real SIGKILL and a restart a fresh
 * process, as in production.
 *
 * - `fill`: drains a persistent session's queue into a state directory and says
 *   when `expected` messages are handled; the parent then SIGKILLs it.
 * - `restart`: on the parent's `go`, subscribes the durable pipeline on a state
 *   directory (restore: read the checkpoint, replay the journal, save a checkpoint;
 *   then connect and resume the session) and reports the time until the first
 *   message that is counted anew (not a replayed or redelivered one) was handled.
 *   Modules are loaded before `go`, so their loading is not in the figure.
 *
 * Driven over IPC by {@link DurableChild}.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DurableWindowStats } from '../src/index.js';
import { durableAggregator, persistentSessionOptions } from './durable-pipeline.js';

/** What `fill` reports once its messages are handled. */
export interface FillReport {
  readonly messages: number;
  readonly eventsCounted: number;
  readonly openWindows: number;
  readonly checkpoints: number;
}

/** What `restart` reports at the first message counted anew. */
export interface RestartReport {
  /** From subscribing to the first new message handled (journaled and acknowledged), ms. */
  readonly totalMs: number;
  /** From subscribing to the restored state (checkpoint read, journal replayed), ms. */
  readonly restoreMs: number;
  readonly replayedRecords: number;
  /** Open windows right after the restore. */
  readonly openWindows: number;
  /** Redeliveries recognised before the first new message. */
  readonly duplicates: number;
}

type Role = 'fill' | 'restart';
type ChildMessage =
  | { readonly ready: true }
  | { readonly fill: FillReport }
  | { readonly restart: RestartReport }
  | { readonly error: string };

/** The parent's handle on one child. */
export class DurableChild {
  /** Messages not yet asked for, and askers not yet answered: one IPC read can hold several messages. */
  private readonly inbox: ChildMessage[] = [];
  private readonly waiting: Array<{ resolve: (message: ChildMessage) => void; reject: (error: Error) => void }> = [];
  private exited: Error | undefined;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: ChildMessage) => {
      const waiter = this.waiting.shift();
      if (waiter === undefined) this.inbox.push(message);
      else if ('error' in message) waiter.reject(new Error(`durable child: ${message.error}`));
      else waiter.resolve(message);
    });
    child.once('exit', (code, signal) => {
      this.exited = new Error(`durable child exited (${code ?? signal})`);
      for (const waiter of this.waiting.splice(0)) waiter.reject(this.exited);
    });
  }

  /** Forks the child and waits until its modules are loaded. */
  static async start(
    role: Role,
    url: string,
    clientId: string,
    topic: string,
    stateDirectory: string,
    expected = 0,
  ): Promise<DurableChild> {
    const child = fork(fileURLToPath(import.meta.url), [role, url, clientId, topic, stateDirectory, String(expected)], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const control = new DurableChild(child);
    await control.next();
    return control;
  }

  /** Waits for `fill` to have handled its messages. */
  async filled(): Promise<FillReport> {
    const message = await this.next();
    if (!('fill' in message)) throw new Error(`durable child: expected a fill report, got ${JSON.stringify(message)}`);
    return message.fill;
  }

  /** Starts the timed restart and waits for its report. */
  async restart(): Promise<RestartReport> {
    const report = this.next();
    this.child.send('go');
    const message = await report;
    if (!('restart' in message))
      throw new Error(`durable child: expected a restart report, got ${JSON.stringify(message)}`);
    return message.restart;
  }

  /** SIGKILL, the crash under test (and the quickest end of a restart child), and waits for the exit. */
  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGKILL');
    await exited;
  }

  private next(): Promise<ChildMessage> {
    const message = this.inbox.shift();
    if (message !== undefined)
      return 'error' in message
        ? Promise.reject(new Error(`durable child: ${message.error}`))
        : Promise.resolve(message);
    if (this.exited !== undefined) return Promise.reject(this.exited);
    return new Promise<ChildMessage>((resolve, reject) => this.waiting.push({ resolve, reject }));
  }
}

const send = (message: ChildMessage): void => void process.send!(message);
const failed = (error: unknown): void => send({ error: (error as Error).message ?? String(error) });

function fill(url: string, clientId: string, topic: string, stateDirectory: string, expected: number): void {
  let stats: DurableWindowStats | undefined;
  let handled = 0;
  durableAggregator(persistentSessionOptions(url, clientId), topic, {
    stateDirectory,
    durability: 'process',
    onReject: () => undefined,
    onSubscribe: (live) => void (stats = live),
    onHandled: () => {
      handled += 1;
      if (handled === expected && stats !== undefined) {
        send({
          fill: {
            messages: stats.messages,
            eventsCounted: stats.eventsCounted,
            openWindows: stats.openWindows,
            checkpoints: stats.checkpoints,
          },
        });
      }
    },
  }).subscribe({ error: failed });
}

function restart(url: string, clientId: string, topic: string, stateDirectory: string): void {
  let stats: DurableWindowStats | undefined;
  let restoredAt = 0n;
  let countedAtRestore = 0;
  let openWindowsAtRestore = 0;
  let reported = false;
  const started = process.hrtime.bigint();
  durableAggregator(persistentSessionOptions(url, clientId), topic, {
    stateDirectory,
    durability: 'process',
    onReject: () => undefined,
    onSubscribe: (live) => {
      restoredAt = process.hrtime.bigint();
      stats = live;
      countedAtRestore = live.eventsCounted;
      openWindowsAtRestore = live.openWindows;
    },
    onHandled: () => {
      if (reported || stats === undefined || stats.eventsCounted <= countedAtRestore) return;
      const handledAt = process.hrtime.bigint();
      reported = true;
      send({
        restart: {
          totalMs: Number(handledAt - started) / 1e6,
          restoreMs: Number(restoredAt - started) / 1e6,
          replayedRecords: stats.replayedRecords,
          openWindows: openWindowsAtRestore,
          duplicates: stats.duplicates,
        },
      });
    },
  }).subscribe({ error: failed });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) {
  const [role, url, clientId, topic, stateDirectory, expected] = process.argv.slice(2) as [
    Role,
    string,
    string,
    string,
    string,
    string,
  ];
  // The parent ends us (SIGKILL); if it dies first, so do we.
  process.once('disconnect', () => process.exit(0));
  if (role === 'fill') {
    send({ ready: true });
    fill(url, clientId, topic, stateDirectory, Number(expected));
  } else {
    process.once('message', () => {
      try {
        restart(url, clientId, topic, stateDirectory);
      } catch (error) {
        failed(error);
      }
    });
    send({ ready: true });
  }
}
