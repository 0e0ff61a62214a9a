/**
 * Latency from publish to the updated row leaving windowedCount (update mode), with
 * a publisher child sending real-corpus payloads at 10 k msg/s: p50 and p99.
 *
 * The child stamps each message's send time (wall clock, comparable across
 * processes on one host) just before `publish`; the aggregator pipeline here
 * (pipeline.ts: fromMqtt → decodeIotPayload → parseAccessLog → windowedCount) stamps
 * each row as it leaves. One message makes exactly one row in update mode and one
 * connection keeps order, so the i-th row belongs to the i-th message (checked:
 * the counts must match, or the round is reported as such). The first second is
 * left out as warm-up (JIT, connection buffers).
 */
import { performance } from 'node:perf_hooks';
import { connectAsync } from 'mqtt';
import { encodePayload, makePayload } from '../src/index.js';
import { quantile, sleep, threshold, type BenchResult, type Benchmark } from './harness.js';
import { allCorpusLines } from './corpus.js';
import { PublisherControl } from './mqtt-publisher.js';
import { aggregatorPipeline } from './pipeline.js';

const RATE = 10_000;
const WARM_UP_SECONDS = 1;

export const latencyBench: Benchmark = {
  name: 'latency',
  async run(context): Promise<BenchResult[]> {
    const seconds = context.mode === 'full' ? 15 : 4;
    const broker = await context.mosquitto();
    const publisher = await PublisherControl.start(broker.url);
    const control = await connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    const results: BenchResult[] = [];
    try {
      for (const qos of [0, 1] as const) {
        const topic = `bench/latency/${qos}/${process.pid}`;
        // A retained probe (event time well in the past, so it cannot be late or move
        // the watermark past anything) tells us when the pipeline is subscribed.
        const probe = encodePayload(makePayload(allCorpusLines().lines[0]!, new Date(Date.now() - 60_000)));
        await control.publishAsync(topic, probe, { qos: 1, retain: true });
        const arrivals: number[] = [];
        let rejected = 0;
        let failure: unknown;
        const subscription = aggregatorPipeline(broker.url, topic, qos, () => void (rejected += 1)).subscribe({
          next: () => void arrivals.push(performance.timeOrigin + performance.now()),
          error: (error: unknown) => void (failure = error),
        });
        try {
          const deadline = Date.now() + 10_000;
          while (arrivals.length === 0 && failure === undefined) {
            if (Date.now() > deadline) throw new Error(`the probe on ${topic} did not come through the pipeline within 10 s`);
            await sleep(10);
          }
          await control.publishAsync(topic, '', { qos: 1, retain: true }); // clear the probe: its empty message is rejected, not counted
          await sleep(100);
          arrivals.length = 0;
          const report = await publisher.run({ kind: 'paced', topic, qos, perSecond: RATE, seconds, window: 1_000 });
          const sendTimes = report.sendTimes ?? [];
          const deadline2 = Date.now() + 10_000;
          while (arrivals.length < sendTimes.length && failure === undefined && Date.now() < deadline2) await sleep(10);
          if (failure !== undefined) throw failure;
          if (arrivals.length !== sendTimes.length) {
            throw new Error(`QoS ${qos}: ${sendTimes.length} messages sent, ${arrivals.length} rows out (${rejected} rejected): cannot pair them`);
          }
          const skip = Math.min(sendTimes.length - 1, WARM_UP_SECONDS * RATE);
          const latencies = sendTimes.slice(skip).map((sent, i) => arrivals[skip + i]! - sent);
          const p50 = quantile(latencies, 0.5);
          const p99 = quantile(latencies, 0.99);
          const achieved = sendTimes.length / report.seconds;
          const perSecond = Array.from({ length: Math.ceil(latencies.length / RATE) }, (_, k) => quantile(latencies.slice(k * RATE, (k + 1) * RATE), 0.99).toFixed(1));
          context.log(`latency QoS ${qos}: p99 per second of the run: ${perSecond.join(' ')} ms`);
          context.log(`latency QoS ${qos}: ${sendTimes.length} messages at ${(achieved / 1000).toFixed(1)} k msg/s; p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
          const note = `${latencies.length} messages after ${WARM_UP_SECONDS} s warm-up, sent at ${(achieved / 1000).toFixed(1)} k msg/s`;
          results.push(
            { name: `publish → row latency p50, QoS ${qos}`, ours: { value: p50, unit: 'ms' }, target: 'reported' },
            threshold(`publish → row latency p99, QoS ${qos}`, { value: p99, unit: 'ms' }, 10, { atMost: true, note }),
          );
        } finally {
          subscription.unsubscribe();
          await control.publishAsync(topic, '', { qos: 1, retain: true });
        }
      }
    } finally {
      await control.endAsync();
      await publisher.stop();
    }
    return results;
  },
};
