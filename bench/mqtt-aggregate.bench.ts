/**
 * The aggregator pipeline over a real Mosquitto, QoS 0 and QoS 1:
 * fromMqtt → decodeIotPayload → parseAccessLog → windowedCount (update mode, so each
 * message yields one row we can count; see pipeline.ts), against a raw MQTT.js
 * subscriber doing the same work by hand in its 'message' handler with the same pure
 * cores (decodeIotPayloadBytes, parseAccessLogLine, WindowedCountState). The ratio is therefore the
 * cost of our operator layer (subscription handling, RxJS plumbing), not of the
 * parser or the codec, which have their own benchmarks.
 *
 * Each round, a publisher child process (mqtt-publisher.ts) sends N real-corpus
 * payloads into a persistent session's queue at the broker; the subscriber under
 * test then resumes that session and drains it, alone on the machine but for the
 * broker. The rate is messages handled per second, first to last.
 */
import { connect } from 'mqtt';
import {
  DrainClock,
  compare,
  interleave,
  sleep,
  waitForDrain,
  type BenchContext,
  type BenchResult,
  type Benchmark,
} from './harness.js';
import { PublisherControl } from './mqtt-publisher.js';
import { aggregatorPipeline, handWrittenPipeline } from './pipeline.js';
import { endSession, makeSession } from './sessions.js';

/** A subscriber under test; `onProgress` counts messages fully handled (a row out, or a rejection). */
interface RunningSubscriber {
  stop(): Promise<void>;
}
type StartSubscriber = (
  connection: SessionOptions,
  topic: string,
  qos: 0 | 1,
  onProgress: () => void,
) => RunningSubscriber;

/** Connection options of a persistent MQTT 5 session that holds the burst for us. */
interface SessionOptions {
  readonly url: string;
  readonly clientId: string;
  readonly clean: false;
  readonly protocolVersion: 5;
  readonly properties: { readonly sessionExpiryInterval: number };
}

const rawSubscriber: StartSubscriber = (connection, topic, qos, onProgress) => {
  const { url, ...options } = connection;
  const client = connect(url, { ...options, reconnectPeriod: 1_000, connectTimeout: 10_000 });
  handWrittenPipeline(client, onProgress, onProgress);
  client.on('error', (error) => process.stderr.write(`raw subscriber: ${error.message}\n`));
  client.subscribe(topic, { qos });
  return { stop: () => client.endAsync() };
};

const oursSubscriber: StartSubscriber = (connection, topic, qos, onProgress) => {
  const subscription = aggregatorPipeline({ ...connection }, topic, qos, onProgress).subscribe({
    next: onProgress,
    error: (error: unknown) => process.stderr.write(`aggregator pipeline failed: ${(error as Error).message}\n`),
  });
  return {
    stop: async () => {
      subscription.unsubscribe();
      await sleep(50); // the owned client's UNSUBSCRIBE and DISCONNECT go out asynchronously
    },
  };
};

export const mqttAggregateBench: Benchmark = {
  name: 'mqtt-aggregate',
  async run(context): Promise<BenchResult[]> {
    const full = context.mode === 'full';
    const count = full ? 50_000 : 20_000;
    const broker = await context.mosquitto();
    const publisher = await PublisherControl.start(broker.url);
    const results: BenchResult[] = [];
    try {
      for (const qos of [0, 1] as const) {
        let topicSerial = 0;
        let shortfall = 0;
        const round = (start: StartSubscriber) => async (): Promise<number> => {
          const outcome = await subscriberRound(
            context,
            broker.url,
            publisher,
            start,
            `${qos}/${process.pid}-${topicSerial++}`,
            qos,
            count,
          );
          shortfall += count - outcome.handled;
          return outcome.rate;
        };
        const measured = await interleave(
          { raw: round(rawSubscriber), ours: round(oursSubscriber) },
          { rounds: full ? 7 : 3, warmup: 1 },
        );
        results.push(
          compare(
            `aggregator pipeline, QoS ${qos}`,
            measured.ours,
            measured.raw,
            'msg/s',
            0.9,
            'raw MQTT.js',
            shortfall > 0 ? `${shortfall} messages not seen in all rounds (QoS ${qos} drops)` : undefined,
          ),
        );
      }
    } finally {
      await publisher.stop();
    }
    return results;
  },
};

/**
 * One round. A persistent session (fresh client id and topic) is made with the
 * subscription and left; the publisher child sends the burst, which the broker
 * queues for that session; then the subscriber under test resumes the session and
 * drains the queue while nothing else runs. The rate is first to last message handled.
 */
async function subscriberRound(
  context: BenchContext,
  url: string,
  publisher: PublisherControl,
  start: StartSubscriber,
  name: string,
  qos: 0 | 1,
  count: number,
): Promise<{ rate: number; handled: number }> {
  const topic = `bench/aggregate/${name}`;
  const session: SessionOptions = {
    url,
    clientId: `bench-${name.replaceAll('/', '-')}`,
    clean: false,
    protocolVersion: 5,
    properties: { sessionExpiryInterval: 600 },
  };
  await makeSession(url, session.clientId, topic, qos);
  const published = await publisher.run({ kind: 'burst', topic, qos, count, window: qos === 0 ? 500 : 100 });

  const clock = new DrainClock();
  const subscriber = start(session, topic, qos, clock.tick);
  try {
    await waitForDrain(context, topic, count, () => clock.handled);
  } finally {
    await subscriber.stop();
    await endSession(url, session.clientId);
  }
  const rate = clock.rate();
  context.log(
    `${topic}: publisher ${(published.sent / published.seconds / 1000).toFixed(1)} k msg/s into the queue, subscriber ${(rate / 1000).toFixed(1)} k msg/s out of it`,
  );
  return { rate, handled: clock.handled };
}
