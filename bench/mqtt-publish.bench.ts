/**
 * toMqtt publish rate at QoS 0 and 1 against raw MQTT.js `publishAsync` keeping the
 * same number of messages in flight (toMqtt's default, 16). Both publish the same
 * pre-encoded reference payloads (real corpus lines) on a client that is already
 * connected, so the figures are the publish path alone: a round ends when the last
 * message is acknowledged (QoS 1: PUBACK) or written to the socket (QoS 0).
 */
import { connectAsync, type MqttClient } from 'mqtt';
import { from, lastValueFrom } from 'rxjs';
import { encodeIotPayload, makeIotPayload, toMqtt } from '../src/index.js';
import { compare, interleave, now, secondsSince, type BenchResult, type Benchmark } from './harness.js';
import { allCorpusLines } from './corpus.js';
import { eventTime } from './events.js';

const IN_FLIGHT = 16;

/** Publishes every payload keeping at most `window` unacknowledged, and resolves when all are. */
function rawPublish(
  client: MqttClient,
  topic: string,
  qos: 0 | 1,
  payloads: readonly Buffer[],
  window: number,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let sent = 0;
    let done = 0;
    const onDone = (): void => {
      done += 1;
      if (done === payloads.length) resolve();
      else publishMore();
    };
    const publishMore = (): void => {
      while (sent < payloads.length && sent - done < window)
        client.publishAsync(topic, payloads[sent++]!, { qos }).then(onDone, reject);
    };
    publishMore();
  });
}

export const mqttPublishBench: Benchmark = {
  name: 'mqtt-publish',
  async run(context): Promise<BenchResult[]> {
    const full = context.mode === 'full';
    const count = full ? 100_000 : 20_000;
    const { lines } = allCorpusLines();
    const payloads = Array.from({ length: count }, (_, i) =>
      Buffer.from(encodeIotPayload(makeIotPayload(lines[i % lines.length]!, new Date(eventTime(i, 6))))),
    );
    const broker = await context.mosquitto();
    const results: BenchResult[] = [];
    for (const qos of [0, 1] as const) {
      let serial = 0;
      const round = (publish: (client: MqttClient, topic: string) => Promise<void>) => async (): Promise<number> => {
        const client = await connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
        try {
          const started = now();
          await publish(client, `bench/publish/${qos}/${serial++}`);
          return count / secondsSince(started);
        } finally {
          await client.endAsync();
        }
      };
      const measured = await interleave(
        {
          raw: round((client, topic) => rawPublish(client, topic, qos, payloads, IN_FLIGHT)),
          // The array is a synchronous source: all values queue at once, hence maxQueued.
          ours: round((client, topic) =>
            lastValueFrom(
              from(payloads).pipe(toMqtt(client, { topic, qos, concurrency: IN_FLIGHT, maxQueued: Infinity })),
            ).then(() => undefined),
          ),
        },
        { rounds: full ? 7 : 3, warmup: 1 },
      );
      results.push(
        compare(
          `toMqtt publish, QoS ${qos}, ${IN_FLIGHT} in flight`,
          measured.ours,
          measured.raw,
          'msg/s',
          0.9,
          'raw publishAsync',
        ),
      );
    }
    return results;
  },
};
