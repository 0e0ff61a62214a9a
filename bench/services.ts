/**
 * The real servers the benchmarks need, started on first use and stopped by the
 * runner at the end (also on failure and on Ctrl-C). Cassandra comes from the test
 * suite's starter (test/support/cassandra.ts); Mosquitto is started here, quietly
 * (see startMosquitto).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cassandraNode, stopCassandraNode } from '../test/support/cassandra.js';
import { freePort } from '../test/support/mosquitto.js';

/** A running Mosquitto as the bench sees it. */
export interface MosquittoService {
  readonly url: string;
  readonly port: number;
}

/** A running Cassandra node as the bench sees it. */
export interface CassandraService {
  readonly contactPoint: string;
  readonly port: number;
  readonly localDataCenter: string;
}

type Stop = () => Promise<void> | void;

/** Starts each service at most once and remembers how to stop it. */
export class Services {
  private mosquittoStarting: Promise<MosquittoService> | undefined;
  private cassandraStarting: Promise<CassandraService> | undefined;
  private readonly stops: Stop[] = [];

  constructor(private readonly log: (message: string) => void) {}

  mosquitto(): Promise<MosquittoService> {
    this.mosquittoStarting ??= this.startMosquitto();
    return this.mosquittoStarting;
  }

  cassandra(): Promise<CassandraService> {
    this.cassandraStarting ??= this.startCassandra();
    return this.cassandraStarting;
  }

  /** Stops everything started, newest first; never throws. */
  async stopAll(): Promise<void> {
    while (this.stops.length > 0) {
      const stop = this.stops.pop()!;
      try {
        await stop();
      } catch (error) {
        this.log(`stopping a service failed: ${(error as Error).message}`);
      }
    }
  }

  // Not test/support/mosquitto.ts's startMosquitto: that one sets `log_type all` and
  // keeps the broker's output in a string, i.e. a debug line per PUBLISH in and out,
  // which would make the broker (and our memory) the bottleneck of every MQTT bench.
  // Same binary and loopback listener, but quiet, and with queues deep enough that a
  // burst at QoS 0/1 is not dropped by the broker (drops would blur the comparison),
  // and TCP_NODELAY as a latency-minded deployment sets it.
  private async startMosquitto(): Promise<MosquittoService> {
    const started = Date.now();
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-bench-mosquitto-'));
    const config = join(dir, 'mosquitto.conf');
    writeFileSync(config, [
      ...(process.getuid?.() === 0 ? ['user root'] : []),
      'per_listener_settings false',
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'max_queued_messages 1000000',
      'max_queued_bytes 0',
      'queue_qos0_messages true',
      // Without it, Nagle's algorithm meets the clients' delayed ACKs and holds small
      // packets up to 40 ms: latency p99 was 25 ms (QoS 0) and 42 ms (QoS 1) for the
      // raw subscriber and ours alike, and 5–11 ms with it.
      'set_tcp_nodelay true',
      `listener ${port} 127.0.0.1`,
      '',
    ].join('\n'));
    const broker = spawn('mosquitto', ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Last resort if the bench process dies before stopAll (a crash): never leave a broker behind.
    const killAtExit = (): void => {
      broker.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', killAtExit);
    let output = '';
    broker.stderr.on('data', (chunk: Buffer) => {
      if (output.length < 64 * 1024) output += chunk.toString();
    });
    const stop = async (): Promise<void> => {
      if (broker.exitCode === null && broker.signalCode === null) {
        const exited = new Promise<void>((resolve) => broker.once('exit', () => resolve()));
        broker.kill('SIGTERM');
        const timer = setTimeout(() => broker.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      process.off('exit', killAtExit);
      rmSync(dir, { recursive: true, force: true });
    };
    this.stops.push(stop);
    const spawnFailed = new Promise<never>((_, reject) => broker.once('error', (error) => reject(new Error(`cannot run mosquitto: ${error.message}`))));
    await Promise.race([waitForPort(port, () => (broker.exitCode ?? broker.signalCode) !== null, () => output), spawnFailed]);
    const url = `mqtt://127.0.0.1:${port}`;
    this.log(`mosquitto (pid ${broker.pid}) up on ${url} in ${Date.now() - started} ms`);
    return { url, port };
  }

  // The test suite's node (scripts/cassandra: Cassandra 5 from Maven Central jars on
  // free loopback ports), stopped and deleted when the bench ends.
  private async startCassandra(): Promise<CassandraService> {
    const started = Date.now();
    this.stops.push(() => stopCassandraNode());
    const node = await cassandraNode();
    this.log(`cassandra ${node.version} (pid ${node.pid}) up on ${node.contactPoint} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    return { contactPoint: node.contactPoint, port: node.port, localDataCenter: 'datacenter1' };
  }
}

async function waitForPort(port: number, exited: () => boolean, output: () => string, deadlineMs = 15_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (exited()) throw new Error(`mosquitto exited before listening on ${port}:\n${output()}`);
    const accepted = await new Promise<boolean>((resolve) => {
      const socket = connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => {
        socket.destroy();
        resolve(false);
      });
    });
    if (accepted) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within ${deadlineMs} ms:\n${output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
