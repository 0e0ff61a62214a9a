/**
 * Child process that publishes reference payloads (real corpus lines) to Mosquitto
 * with raw MQTT.js, for the subscriber-side benchmarks: the subscriber under test
 * gets the process (and the core) to itself, as on the aggregator host.
 *
 * Driven over IPC by {@link PublisherControl}: each command publishes a burst as
 * fast as the in-flight window allows, or paces messages at a rate and reports each
 * one's send time (wall clock in ms, `performance.timeOrigin + performance.now()`,
 * comparable across processes on one host).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { connect, type MqttClient } from 'mqtt';
import { encodeIotPayload, formatEventTime, makeIotPayload } from '../src/index.js';
import { allCorpusLines } from './corpus.js';
import { eventTime } from './events.js';
import { endChild } from './endChild.js';

/** A command to the publisher child. */
export type PublisherCommand =
  | {
      readonly kind: 'burst';
      readonly topic: string;
      readonly qos: 0 | 1;
      readonly count: number;
      readonly window: number;
    }
  | {
      readonly kind: 'paced';
      readonly topic: string;
      readonly qos: 0 | 1;
      readonly perSecond: number;
      readonly seconds: number;
      readonly window: number;
      /** Whether to report each message's send time (default true; a long soak does without). */
      readonly sendTimes?: boolean;
    };

/** The child's answer to one command. */
export interface PublisherReport {
  readonly sent: number;
  readonly seconds: number;
  /** Paced only: wall-clock send time (ms) of each message, in order. */
  readonly sendTimes?: number[];
  readonly error?: string;
}

/** The parent's handle on a publisher child. */
export class PublisherControl {
  private constructor(private readonly child: ChildProcess) {}

  /** Forks the child and waits until it is connected to `url`. */
  static async start(url: string): Promise<PublisherControl> {
    const child = fork(fileURLToPath(import.meta.url), [url], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const control = new PublisherControl(child);
    await control.next<{ ready: true }>();
    return control;
  }

  /** Runs one command and returns the child's report (throws on the child's error). */
  async run(command: PublisherCommand): Promise<PublisherReport> {
    this.child.send(command);
    const report = await this.next<PublisherReport>();
    if (report.error !== undefined) throw new Error(`publisher child: ${report.error}`);
    return report;
  }

  /** Disconnects and ends the child (SIGKILL if it does not leave within 5 s). */
  stop(): Promise<void> {
    return endChild(this.child);
  }

  private next<T>(): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onMessage = (message: unknown): void => {
        cleanup();
        resolve(message as T);
      };
      const onExit = (code: number | null, signal: string | null): void => {
        cleanup();
        reject(new Error(`publisher child exited (${code ?? signal})`));
      };
      const cleanup = (): void => {
        this.child.off('message', onMessage);
        this.child.off('exit', onExit);
      };
      this.child.on('message', onMessage);
      this.child.on('exit', onExit);
    });
  }
}

/** The payloads the child publishes: corpus lines with event times 6 ms apart. */
function makePayloads(count: number): Buffer[] {
  const { lines } = allCorpusLines();
  const payloads = new Array<Buffer>(count);
  for (let i = 0; i < count; i += 1)
    payloads[i] = Buffer.from(encodeIotPayload(makeIotPayload(lines[i % lines.length]!, new Date(eventTime(i, 6)))));
  return payloads;
}

const wallClock = (): number => performance.timeOrigin + performance.now();

/** Publishes `count` messages keeping at most `window` unacknowledged (QoS 1) or unwritten (QoS 0). */
function burst(
  client: MqttClient,
  payloads: readonly Buffer[],
  command: Extract<PublisherCommand, { kind: 'burst' }>,
): Promise<PublisherReport> {
  return new Promise((resolve) => {
    const started = performance.now();
    let sent = 0;
    let done = 0;
    let failed: string | undefined;
    const publishMore = (): void => {
      while (sent < command.count && sent - done < command.window) {
        client.publish(command.topic, payloads[sent % payloads.length]!, { qos: command.qos }, onDone);
        sent += 1;
      }
    };
    const onDone = (error?: Error): void => {
      if (error && failed === undefined) failed = error.message;
      done += 1;
      if (done === command.count)
        resolve({
          sent,
          seconds: (performance.now() - started) / 1000,
          ...(failed === undefined ? {} : { error: failed }),
        });
      else publishMore();
    };
    publishMore();
  });
}

/** Publishes `perSecond` messages a second for `seconds`, catching up each millisecond tick. */
function paced(client: MqttClient, command: Extract<PublisherCommand, { kind: 'paced' }>): Promise<PublisherReport> {
  return new Promise((resolve) => {
    const total = Math.round(command.perSecond * command.seconds);
    // The JSON around each line is made once; only the timestamp is written per message,
    // so the child spends its time publishing, not encoding.
    const { lines } = allCorpusLines();
    const tails = lines.map((line) => `","accesslogs":${JSON.stringify(line)}}`);
    const sendTimes: number[] = [];
    const started = performance.now();
    let sent = 0;
    let done = 0;
    let failed: string | undefined;
    const onDone = (error?: Error): void => {
      if (error && failed === undefined) failed = error.message;
      done += 1;
      if (done === total)
        resolve({
          sent,
          seconds: (performance.now() - started) / 1000,
          sendTimes,
          ...(failed === undefined ? {} : { error: failed }),
        });
    };
    const tick = (): void => {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * command.perSecond));
      while (sent < due && sent - done < command.window) {
        // Event time = send time, as the Pi publisher stamps utcnow().
        const at = wallClock();
        const payload = Buffer.from(`{"iottimestamp":"${formatEventTime(at)}${tails[sent % tails.length]!}`);
        if (command.sendTimes !== false) sendTimes.push(at);
        client.publish(command.topic, payload, { qos: command.qos }, onDone);
        sent += 1;
      }
      if (sent < total) setTimeout(tick, 1);
    };
    tick();
  });
}

async function child(url: string): Promise<void> {
  const payloads = makePayloads(allCorpusLines().lines.length);
  const client = connect(url, { protocolVersion: 5, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  // MQTT.js leaves Nagle's algorithm on; small PUBLISHes then wait for ACKs the broker
  // delays when it has nothing to send back (QoS 0): up to 40 ms per message.
  (client.stream as unknown as { setNoDelay(on: boolean): void }).setNoDelay(true);
  process.on('message', (message: PublisherCommand) => {
    const run = message.kind === 'burst' ? burst(client, payloads, message) : paced(client, message);
    void run.then((report) => process.send!(report));
  });
  process.once('disconnect', () => {
    client.end(true, () => process.exit(0));
  });
  process.send!({ ready: true });
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.send !== undefined) {
  void child(process.argv[2]!).catch((error: unknown) => {
    process.stderr.write(`publisher child: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
