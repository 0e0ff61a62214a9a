/**
 * Latency from publish to the updated row leaving windowedCount (update mode), with
 * a publisher child sending real-corpus payloads at 10 k msg/s: p50 and p99, for
 * our pipeline and, as a yardstick for the machine's weather, for a raw MQTT.js
 * subscriber doing the same work by hand (pipeline.ts).
 *
 * The child stamps each message's send time (wall clock, comparable across
 * processes on one host) just before `publish`; the subscriber stamps each row as
 * it leaves. One message makes exactly one row in update mode and one connection
 * keeps order, so the i-th row belongs to the i-th message (checked: the counts must
 * match). The run is cut into short segments alternating ours and raw; the first
 * half second of each is left out as warm-up.
 */
import { performance } from 'node:perf_hooks';
import { connect, connectAsync, type MqttClient } from 'mqtt';
import { encodeIotPayload, makeIotPayload } from '../src/index.js';
import { waitFor } from '../test/support/waitFor.js';
import { median, quantile, sleep, threshold, type BenchContext, type BenchResult, type Benchmark } from './harness.js';
import { allCorpusLines } from './corpus.js';
import { PublisherControl } from './mqtt-publisher.js';
import { aggregatorPipeline, handWrittenPipeline } from './pipeline.js';

const RATE = 10_000;
/** Left out at the start of each segment: connection buffers and the first rows. */
const WARM_UP_SECONDS = 0.5;

/** Starts a subscriber that calls `onRow` per row out; resolves to its stop function. */
type StartSubscriber = (url: string, topic: string, qos: 0 | 1, onRow: () => void) => Promise<() => Promise<void>>;

const variants: Readonly<Record<'raw' | 'ours', StartSubscriber>> = {
  raw: async (url, topic, qos, onRow) => {
    const client: MqttClient = connect(url, { protocolVersion: 5, reconnectPeriod: 1_000 });
    handWrittenPipeline(client, onRow, () => undefined);
    await client.subscribeAsync(topic, { qos });
    return () => client.endAsync();
  },
  ours: async (url, topic, qos, onRow) => {
    let failure: unknown;
    const subscription = aggregatorPipeline(url, topic, qos, () => undefined).subscribe({
      next: onRow,
      error: (error: unknown) => void (failure = error),
    });
    return async () => {
      subscription.unsubscribe();
      await sleep(50); // the owned client's UNSUBSCRIBE and DISCONNECT go out asynchronously
      if (failure !== undefined) throw failure;
    };
  },
};

interface Latencies {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly messages: number;
  readonly sentPerSecond: number;
}

/** One paced run through one subscriber. */
async function measure(
  context: BenchContext,
  url: string,
  control: MqttClient,
  publisher: PublisherControl,
  start: StartSubscriber,
  topic: string,
  qos: 0 | 1,
  seconds: number,
): Promise<Latencies> {
  // A retained probe (event time a minute back: it cannot be late nor move the
  // watermark past anything) tells us when the subscriber is subscribed.
  const probe = encodeIotPayload(makeIotPayload(allCorpusLines().lines[0]!, new Date(Date.now() - 60_000)));
  await control.publishAsync(topic, probe, { qos: 1, retain: true });
  const arrivals: number[] = [];
  const stop = await start(url, topic, qos, () => void arrivals.push(performance.timeOrigin + performance.now()));
  try {
    await waitFor(() => arrivals.length > 0, `the probe on ${topic} to come through`, 10_000);
    // Clearing the probe sends an empty message: rejected by the decoder, no row.
    await control.publishAsync(topic, '', { qos: 1, retain: true });
    await sleep(100);
    arrivals.length = 0;
    const report = await publisher.run({ kind: 'paced', topic, qos, perSecond: RATE, seconds, window: 1_000 });
    const sendTimes = report.sendTimes ?? [];
    await waitFor(
      () => arrivals.length >= sendTimes.length,
      () => `${topic}: a row for each of ${sendTimes.length} messages sent, ${arrivals.length} out so far`,
      10_000,
    );
    if (arrivals.length !== sendTimes.length)
      throw new Error(`${topic}: ${sendTimes.length} messages sent, ${arrivals.length} rows out: cannot pair them`);
    const skip = Math.min(sendTimes.length - 1, Math.round(WARM_UP_SECONDS * RATE));
    const latencies = sendTimes.slice(skip).map((sent, i) => arrivals[skip + i]! - sent);
    const result = {
      p50: quantile(latencies, 0.5),
      p99: quantile(latencies, 0.99),
      max: quantile(latencies, 1),
      messages: latencies.length,
      sentPerSecond: sendTimes.length / report.seconds,
    };
    const perSecond = Array.from({ length: Math.ceil(latencies.length / RATE) }, (_, k) =>
      quantile(latencies.slice(k * RATE, (k + 1) * RATE), 0.99).toFixed(1),
    );
    context.log(
      `${topic}: sent at ${(result.sentPerSecond / 1000).toFixed(1)} k msg/s; p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms (per second: ${perSecond.join(' ')}), max ${result.max.toFixed(1)} ms`,
    );
    return result;
  } finally {
    await stop();
    await control.publishAsync(topic, '', { qos: 1, retain: true });
  }
}

export const latencyBench: Benchmark = {
  name: 'latency',
  async run(context): Promise<BenchResult[]> {
    // Short segments, alternating ours and raw, so a burst of load from elsewhere on
    // the machine hits one segment of each rather than all of one variant; each
    // percentile reported is the median over that variant's segments.
    const segments = context.mode === 'full' ? 5 : 2;
    const seconds = context.mode === 'full' ? 3 : 2;
    const broker = await context.mosquitto();
    const publisher = await PublisherControl.start(broker.url);
    const control = await connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0 });
    const results: BenchResult[] = [];
    try {
      for (const qos of [0, 1] as const) {
        const measured: Record<'raw' | 'ours', Latencies[]> = { raw: [], ours: [] };
        for (let segment = 0; segment < segments; segment += 1) {
          const order = (segment + qos) % 2 === 0 ? (['raw', 'ours'] as const) : (['ours', 'raw'] as const);
          for (const name of order) {
            const topic = `bench/latency/${qos}/${name}/${process.pid}-${segment}`;
            measured[name].push(
              await measure(context, broker.url, control, publisher, variants[name], topic, qos, seconds),
            );
          }
        }
        const summary = (runs: readonly Latencies[]) => ({
          p50: median(runs.map((run) => run.p50)),
          p99: median(runs.map((run) => run.p99)),
          worstP99: Math.max(...runs.map((run) => run.p99)),
          messages: runs.reduce((sum, run) => sum + run.messages, 0),
          sentPerSecond: median(runs.map((run) => run.sentPerSecond)),
        });
        const ours = summary(measured.ours);
        const raw = summary(measured.raw);
        const note = `median of ${segments} segments of ${seconds} s (${ours.messages} messages) sent at ${(ours.sentPerSecond / 1000).toFixed(1)} k msg/s; worst segment p99 ${ours.worstP99.toFixed(1)} ms, raw ${raw.worstP99.toFixed(1)} ms`;
        results.push(
          {
            name: `publish → row latency p50, QoS ${qos}`,
            ours: { value: ours.p50, unit: 'ms' },
            baseline: { value: raw.p50, unit: 'ms' },
            ratio: ours.p50 / raw.p50,
            target: 'reported',
          },
          threshold(`publish → row latency p99, QoS ${qos}`, { value: ours.p99, unit: 'ms' }, 10, {
            atMost: true,
            baseline: { value: raw.p99, unit: 'ms' },
            note,
          }),
        );
      }
    } finally {
      await control.endAsync();
      await publisher.stop();
    }
    return results;
  },
};
