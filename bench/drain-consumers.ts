/**
 * The consumers of the drain and soak benchmarks, each in its own process, and what
 * the parent reads of them from /proc: CPU time (utime + stime) and memory (VmRSS,
 * VmHWM). Also the publishing of the real-corpus payloads they drain.
 *
 * - `raw`: an MQTT.js client that only counts (bench/drain-child.mjs), the ceiling;
 * - `aggregate`: the CLI as a user runs it, `node dist/esm/cli/cli.js aggregate` with
 *   its defaults (durability `process`, rows as JSON lines on stdout, read here to know
 *   when the drain is over and what was counted);
 * - `library`: `durableWindowedCount` in a plain pipeline (bench/drain-child.mjs);
 * - `worker`: MQTT.js on the main thread, decode/parse/count/journal on a worker thread
 *   (bench/drain-worker.mjs), a prototype.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type MqttClient } from 'mqtt';
import { encodeIotPayload, makeIotPayload, parseAccessLogLine } from '../src/index.js';
import { allCorpusLines } from './corpus.js';
import { endChild } from './endChild.js';
import { eventTime } from './events.js';
import { sleep } from './harness.js';

export type ConsumerKind = 'raw' | 'aggregate' | 'library' | 'worker';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The package as the consumers run it: built by {@link buildPackage}. */
let built: string | undefined;
const builtPath = (path: string): string => {
  if (built === undefined) throw new Error('buildPackage() first');
  return join(built, path);
};

/**
 * Builds the package for the consumers into .bench-tmp/drain-<pid>/ (package.json and
 * dist/esm, emitted file by file with esbuild as `build.mjs --if-changed` does, no type
 * check), and copies bench/drain-child.mjs beside it. Not the checkout's dist/: others
 * rebuild (and empty) that one while a benchmark runs. Node finds the dependencies in
 * the checkout's node_modules, a folder above. Returns the function that removes it.
 */
export async function buildPackage(): Promise<() => void> {
  const esbuild = await import('esbuild');
  const into = join(root, '.bench-tmp', `drain-${process.pid}`);
  rmSync(into, { recursive: true, force: true });
  mkdirSync(join(into, 'bench'), { recursive: true });
  const sources = (readdirSync(join(root, 'src'), { recursive: true }) as string[])
    .filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.startsWith(join('observe', 'dashboard')))
    .map((name) => join(root, 'src', name));
  await esbuild.build({
    entryPoints: sources,
    outbase: join(root, 'src'),
    outdir: join(into, 'dist', 'esm'),
    format: 'esm',
    platform: 'node',
    target: 'es2022',
    logLevel: 'error',
  });
  copyFileSync(join(root, 'package.json'), join(into, 'package.json'));
  for (const script of ['drain-child.mjs', 'drain-worker.mjs'])
    copyFileSync(join(root, 'bench', script), join(into, 'bench', script));
  built = into;
  return () => rmSync(into, { recursive: true, force: true });
}

/** Where the consumers' package is, relative to the checkout (for the log). */
export function builtPackage(): string {
  return relative(root, builtPath('.'));
}

/** Clock ticks a second of /proc/<pid>/stat's times (USER_HZ: 100 on Linux). */
const TICKS = 100;

/** CPU seconds (user + system) that process `pid` has used so far. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After "pid (comm) ": state is field 3, utime 14 and stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

/** Resident memory of `pid` now and at its peak (VmHWM), in MiB. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, peak: kib('VmHWM') / 1024 };
}

/** What a consumer is told: its session, topic, and how many messages make the end. */
export interface ConsumerOptions {
  readonly url: string;
  readonly clientId: string;
  readonly topic: string;
  /** Messages that make the end (raw, library); the aggregate CLI ends at `expectedCount` counted. */
  readonly expected: number;
  /** The sum of the counts of the rows the CLI prints once the drain is over (0: no end expected). */
  readonly expectedCount: number;
  /** A fresh state directory (aggregate, library). */
  readonly stateDirectory: string;
  /** Extra node options (e.g. heap flags) for the consumer's process. */
  readonly nodeOptions?: readonly string[];
  /** Lines the CLI prints on stdout that are not rows go to stderr (else they are dropped). */
  readonly echoOtherLines?: boolean;
  /** Extra CLI flags (aggregate only). */
  readonly cliFlags?: readonly string[];
}

/** One consumer process, from start to stop. */
export class Consumer {
  /** CPU seconds at {@link Consumer.go} (the CLI: at its first line, once loaded). */
  private cpuAtGo = 0;
  private goAt = 0n;
  private doneAt: bigint | undefined;
  private readonly finished: Promise<void>;
  private failure: Error | undefined;
  /** Sum of the counts of the rows printed (aggregate). */
  counted = 0;
  /** Messages handled so far, as the child last said (raw, library, worker; every 50 ms when `expected` is 0). */
  handled = 0;

  private constructor(
    readonly kind: ConsumerKind,
    private readonly child: ChildProcess,
    options: ConsumerOptions,
  ) {
    this.finished = new Promise<void>((resolve, reject) => {
      child.once('exit', (code, signal) => {
        this.failure ??= new Error(`${kind} consumer exited (${code ?? signal}) before the end`);
        reject(this.failure);
      });
      if (kind === 'aggregate') {
        let buffered = '';
        child.stdout!.setEncoding('utf8');
        child.stdout!.on('data', (chunk: string) => {
          buffered += chunk;
          const lines = buffered.split('\n');
          buffered = lines.pop()!;
          for (const line of lines) {
            if (!line.startsWith('{')) {
              // What node options such as --trace-gc print (bench/drain-profile.ts).
              if (options.echoOtherLines === true) process.stderr.write(`${line}\n`);
              continue;
            }
            this.counted += (JSON.parse(line) as { count: number }).count;
            if (options.expectedCount > 0 && this.counted >= options.expectedCount && this.doneAt === undefined) {
              this.doneAt = process.hrtime.bigint();
              resolve();
            }
          }
        });
      } else {
        child.on('message', (message: { handled?: number }) => {
          if (message.handled === undefined) return;
          this.handled = message.handled;
          if (options.expected > 0 && message.handled >= options.expected && this.doneAt === undefined) {
            this.doneAt = process.hrtime.bigint();
            resolve();
          }
        });
      }
    });
    this.finished.catch(() => undefined);
  }

  /** Starts a consumer and waits until it is loaded (the CLI: connecting). */
  static async start(kind: ConsumerKind, options: ConsumerOptions): Promise<Consumer> {
    const nodeOptions = [...(options.nodeOptions ?? [])];
    let child: ChildProcess;
    let ready: Promise<void>;
    if (kind === 'aggregate') {
      child = spawn(
        process.execPath,
        [
          ...nodeOptions,
          builtPath('dist/esm/cli/cli.js'),
          'aggregate',
          '--broker',
          options.url,
          '--topic',
          options.topic,
          '--client-id',
          options.clientId,
          '--state-dir',
          options.stateDirectory,
          ...(options.cliFlags ?? []),
        ],
        // Not started by npm: the CLI would watch for npm's exit.
        {
          cwd: root,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, npm_lifecycle_event: '', FORCE_COLOR: '0' },
        },
      );
      let stderr = '';
      ready = new Promise<void>((resolve, reject) => {
        child.stderr!.setEncoding('utf8');
        child.stderr!.on('data', (chunk: string) => {
          if (stderr.length < 10_000) stderr += chunk;
          if (/counting statuses|aggregating /.test(stderr)) resolve();
        });
        child.once('exit', (code) => reject(new Error(`aggregate exited (${code}): ${stderr.trim()}`)));
      });
    } else {
      child = fork(
        builtPath('bench/drain-child.mjs'),
        [kind, options.url, options.clientId, options.topic, String(options.expected), options.stateDirectory],
        { execArgv: nodeOptions, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
      );
      ready = new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', (code) => reject(new Error(`${kind} child exited (${code})`)));
      });
    }
    const consumer = new Consumer(kind, child, options);
    await ready;
    if (kind === 'aggregate') consumer.markGo();
    return consumer;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Lets it connect (raw, library; the CLI connects as it starts). */
  go(): void {
    if (this.kind === 'aggregate') return;
    this.markGo();
    this.child.send('go');
  }

  /** Waits until the expected messages are handled (rejects if the process died first). */
  done(): Promise<void> {
    return this.finished;
  }

  /** {@link Consumer.done}, reading the process's RSS (MiB) once a second meanwhile and once at the end. */
  async doneSamplingRss(): Promise<number[]> {
    const samples: number[] = [];
    let over = false;
    const sampler = (async () => {
      while (!over) {
        samples.push(this.memory().rss);
        await sleep(1_000);
      }
    })();
    try {
      await this.done();
    } finally {
      over = true;
      await sampler;
    }
    samples.push(this.memory().rss);
    return samples;
  }

  /** Messages a second from go to done. */
  rate(messages: number): number {
    if (this.doneAt === undefined) throw new Error(`${this.kind}: not done`);
    return messages / (Number(this.doneAt - this.goAt) / 1e9);
  }

  /** CPU seconds since go. */
  cpuSinceGo(): number {
    return cpuSecondsOf(this.pid) - this.cpuAtGo;
  }

  memory(): { rss: number; peak: number } {
    return memoryOf(this.pid);
  }

  /** Resets the CPU mark (the steady case measures from the first paced message). */
  markGo(): void {
    this.cpuAtGo = cpuSecondsOf(this.pid);
    this.goAt = process.hrtime.bigint();
  }

  /** Ends it: the CLI by SIGTERM (it saves its state), a child by disconnecting; SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (this.kind !== 'aggregate') return endChild(child);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Whether corpus line `i` decodes and parses, i.e. is counted (computed once). */
let countable: boolean[] | undefined;
function isCountable(i: number): boolean {
  if (countable === undefined)
    countable = allCorpusLines().lines.map((line) => parseAccessLogLine(line)._tag === 'Right');
  return countable[i % countable.length]!;
}

/** Payload `i` of a drain: corpus line `i` (round the corpora), event times 6 ms apart with up to 59 s of disorder. */
export function drainPayload(i: number): Buffer {
  const { lines } = allCorpusLines();
  return Buffer.from(encodeIotPayload(makeIotPayload(lines[i % lines.length]!, new Date(eventTime(i, 6)))));
}

/** What a drain of `count` payloads counts: the ones whose line parses (none is late). */
export function countedOf(count: number): number {
  let counted = 0;
  for (let i = 0; i < count; i += 1) if (isCountable(i)) counted += 1;
  return counted;
}

/**
 * Publishes `count` drain payloads at QoS 1 (1,000 in flight), then one more, the last,
 * whose event time is 10 minutes past the others: its watermark makes every window
 * before it final, so the CLI prints their rows, the end of its drain.
 */
export async function publishDrain(url: string, topic: string, count: number): Promise<void> {
  const client = await connected(url);
  try {
    await new Promise<void>((resolve, reject) => {
      let sent = 0;
      let done = 0;
      const total = count + 1;
      const onDone = (error?: Error): void => {
        if (error) return reject(error);
        done += 1;
        if (done === total) resolve();
        else more();
      };
      const more = (): void => {
        while (sent < total && sent - done < 1_000) {
          const payload =
            sent < count
              ? drainPayload(sent)
              : Buffer.from(
                  encodeIotPayload(makeIotPayload(allCorpusLines().lines[0]!, new Date(eventTime(count, 6) + 600_000))),
                );
          client.publish(topic, payload, { qos: 1 }, onDone);
          sent += 1;
        }
      };
      more();
    });
  } finally {
    await client.endAsync();
  }
}

async function connected(url: string): Promise<MqttClient> {
  const client = connect(url, { protocolVersion: 5, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  return client;
}
