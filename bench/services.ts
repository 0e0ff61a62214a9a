/**
 * The real servers the benchmarks need, started on first use and stopped by the
 * runner at the end (also on failure and on Ctrl-C). They are the test suite's:
 * test/support holds the starters that tests and benchmarks share (Mosquitto,
 * Cassandra, the corpora, waitFor), and the bench imports only those from it.
 */
import { cassandraNode, stopCassandraNode } from '../test/support/cassandra.js';
import { startMosquitto } from '../test/support/mosquitto.js';

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

  // The test suite's broker, with the benchmarks' settings: the log quiet (a line per
  // PUBLISH would make logging the bottleneck), queues deep enough that a burst at QoS
  // 0/1 is not dropped by the broker (drops would blur the comparison), and
  // TCP_NODELAY as a latency-minded deployment sets it.
  private async startMosquitto(): Promise<MosquittoService> {
    const started = Date.now();
    const broker = await startMosquitto({
      log: 'quiet',
      extraConfig: [
        'max_queued_messages 1000000',
        'max_queued_bytes 0',
        'queue_qos0_messages true',
        // Without it, Nagle's algorithm meets the clients' delayed ACKs and holds small
        // packets up to 40 ms: latency p99 was 25 ms (QoS 0) and 42 ms (QoS 1) for the
        // raw subscriber and ours alike, and 5–11 ms with it.
        'set_tcp_nodelay true',
      ],
    });
    this.stops.push(() => broker.dispose());
    this.log(`mosquitto (pid ${broker.pid}) up on ${broker.url} in ${Date.now() - started} ms`);
    return { url: broker.url, port: broker.port };
  }

  // The test suite's node (scripts/cassandra: Cassandra 5 from Maven Central jars on
  // free loopback ports), stopped and deleted when the bench ends.
  private async startCassandra(): Promise<CassandraService> {
    const started = Date.now();
    // The tests' node runs C1 only (quicker to start, less CPU over a short life); the
    // benchmarks measure the steady state, with C2.
    process.env.CASSANDRA_JIT ??= 'full';
    this.stops.push(() => stopCassandraNode());
    const node = await cassandraNode();
    this.log(
      `cassandra ${node.version} (pid ${node.pid}) up on ${node.contactPoint} in ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
    return { contactPoint: node.contactPoint, port: node.port, localDataCenter: 'datacenter1' };
  }
}
