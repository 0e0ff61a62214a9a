/**
 * The aggregator against the MQTT client's ceiling (issue 24): cost per message and
 * memory, each consumer in its own process on the bench's Mosquitto, QoS 1.
 *
 * Drain: each round makes three persistent sessions on one topic (raw, aggregate,
 * library), publishes N real-corpus payloads once (queued for all three), then lets
 * each consumer resume its session and drain it, in a rotating order: a raw MQTT.js
 * counter (the ceiling, the baseline of the ratios), `mqtt-iot-stream aggregate` with
 * its defaults (durability `process`, rows to stdout, read by the bench), and
 * durableWindowedCount in a plain pipeline. msgs/s from go to the last message
 * handled; CPU µs per message from the process's own CPU time (/proc/<pid>/stat);
 * peak RSS (VmHWM).
 *
 * Memory: `aggregate` drains a backlog of 1 M (quick: 100 k), RSS sampled every second.
 *
 * Second core: the same drain by durableWindowedCount in one process, by a prototype
 * with decode/parse/count/journal on a worker thread fed a batch per event-loop turn,
 * and by two durableWindowedCount processes on one shared subscription ($share), one
 * after the other on the same backlog; the rate is all messages over first go to last
 * handled, the CPU is all processes' together.
 *
 * Steady: the publisher child sends 2,000 msg/s for a minute (quick: 10 s) to a topic
 * that the raw counter and `aggregate` both subscribe to, side by side; CPU µs per
 * message of each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { median, sleep, waitForDrain, type BenchContext, type BenchResult, type Benchmark } from './harness.js';
import { buildPackage, builtPackage, Consumer, countedOf, publishDrain, type ConsumerKind } from './drain-consumers.js';
import { PublisherControl } from './mqtt-publisher.js';
import { endSession, makeSession } from './sessions.js';

/**
 * Issue 24 asks for 10 µs of CPU a message when the raw client took 6.7 µs. The same
 * client takes 8.4–11.9 µs on this machine in other runs (the machine is shared), so
 * the target is judged as the ratio it was set at, against the raw client of the same run.
 */
const ISSUE_CPU_RATIO = 10 / 6.7;

interface DrainFigures {
  readonly rate: number;
  readonly cpuMicros: number;
  readonly peak: number;
}

export const drainBench: Benchmark = {
  name: 'drain',
  async run(context): Promise<BenchResult[]> {
    const removeBuild = await buildPackage();
    context.log(`the consumers run the package built in ${builtPackage()}`);
    try {
      const broker = await context.mosquitto();
      return [
        ...(await drains(context, broker.url)),
        ...(await memoryCase(context, broker.url)),
        ...(await secondCore(context, broker.url)),
        ...(await steadyCase(context, broker.url)),
      ];
    } finally {
      removeBuild();
    }
  },
};

/**
 * The heap flags docs/benchmarks.md suggests for a Raspberry Pi (NODE_OPTIONS): a 2 MiB
 * semi-space (young generation 6 MiB instead of up to 48) and a 64 MiB old generation.
 */
export const PI_HEAP_FLAGS = ['--max-semi-space-size=2', '--max-old-space-size=64'] as const;

/**
 * The young generation that examples/systemd's unit and examples/docker's Dockerfile give
 * a service: 8 MiB semi-spaces, so V8 never doubles it from 16 to its default 32 MiB
 * (docs/benchmarks.md, "Soak": that doubling is the one step of RSS in an hour's soak).
 */
export const SERVICE_HEAP_FLAGS = ['--max-semi-space-size=8'] as const;

/** The drain's consumers: the raw counter is the baseline of every ratio. */
type Variant = 'raw' | 'aggregate' | 'aggregate-service' | 'aggregate-pi' | 'library';
const VARIANTS: Record<
  Variant,
  { readonly kind: ConsumerKind; readonly nodeOptions: readonly string[]; readonly label: string }
> = {
  raw: { kind: 'raw', nodeOptions: [], label: 'raw MQTT.js counter' },
  aggregate: { kind: 'aggregate', nodeOptions: [], label: 'aggregate CLI (defaults)' },
  'aggregate-service': {
    kind: 'aggregate',
    nodeOptions: SERVICE_HEAP_FLAGS,
    label: `aggregate CLI, ${SERVICE_HEAP_FLAGS.join(' ')}`,
  },
  'aggregate-pi': { kind: 'aggregate', nodeOptions: PI_HEAP_FLAGS, label: `aggregate CLI, ${PI_HEAP_FLAGS.join(' ')}` },
  library: { kind: 'library', nodeOptions: [], label: 'durableWindowedCount pipeline' },
};
const ORDER = Object.keys(VARIANTS) as Variant[];

async function drains(context: BenchContext, url: string): Promise<BenchResult[]> {
  const full = context.mode === 'full';
  const count = full ? 200_000 : 20_000;
  const rounds = full ? 3 : 2;
  const expectedCount = countedOf(count);
  const figures = Object.fromEntries(ORDER.map((variant) => [variant, []])) as unknown as Record<
    Variant,
    DrainFigures[]
  >;
  const counted: number[] = [];
  for (let round = 0; round < rounds; round += 1) {
    const topic = `bench/drain/${process.pid}-${round}`;
    const ids = Object.fromEntries(
      ORDER.map((variant) => [variant, `bench-drain-${variant}-${process.pid}-${round}`]),
    ) as Record<Variant, string>;
    for (const variant of ORDER) await makeSession(url, ids[variant], topic);
    const published = Date.now();
    await publishDrain(url, topic, count);
    context.log(
      `round ${round + 1}: ${count + 1} messages queued for ${ORDER.length} sessions in ${Date.now() - published} ms`,
    );
    const order = ORDER.map((_, i) => ORDER[(i + round) % ORDER.length]!);
    for (const variant of order) {
      const { kind, nodeOptions } = VARIANTS[variant];
      const stateDirectory = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-bench-drain-'));
      try {
        const consumer = await Consumer.start(kind, {
          url,
          clientId: ids[variant],
          topic,
          expected: count + 1,
          expectedCount,
          stateDirectory,
          nodeOptions,
        });
        try {
          consumer.go();
          await consumer.done();
          const cpu = consumer.cpuSinceGo();
          const figure = {
            rate: consumer.rate(count + 1),
            cpuMicros: (cpu / (count + 1)) * 1e6,
            peak: consumer.memory().peak,
          };
          figures[variant].push(figure);
          if (kind === 'aggregate') counted.push(consumer.counted);
          context.log(
            `${variant}: ${(figure.rate / 1000).toFixed(1)} k msg/s, ${figure.cpuMicros.toFixed(1)} µs CPU/msg, peak RSS ${figure.peak.toFixed(0)} MiB; load ${loadavg()[0]!.toFixed(1)}`,
          );
        } finally {
          await consumer.stop();
        }
      } finally {
        rmSync(stateDirectory, { recursive: true, force: true });
        await endSession(url, ids[variant]);
      }
    }
  }
  const med = (variant: Variant, field: keyof DrainFigures): number => median(figures[variant].map((f) => f[field]));
  const rawRate = med('raw', 'rate');
  const rawCpu = med('raw', 'cpuMicros');
  const rawPeak = med('raw', 'peak');
  const exact = counted.every((c) => c === expectedCount)
    ? 'counts exact'
    : `COUNTS ${counted.join('/')} ≠ ${expectedCount}`;
  const note = `${count} queued messages, median of ${rounds} rounds, ${exact}; load ${loadavg()[0]!.toFixed(1)}`;
  const results: BenchResult[] = [];
  for (const variant of ['aggregate', 'aggregate-service', 'aggregate-pi', 'library'] as const) {
    const { label } = VARIANTS[variant];
    // The issue's targets are the CLI's with its defaults; the others are reported beside it.
    const judged = variant === 'aggregate';
    const rate = med(variant, 'rate');
    const cpu = med(variant, 'cpuMicros');
    const peak = med(variant, 'peak');
    results.push(
      {
        name: `drain: ${label}, rate`,
        ours: { value: rate, unit: 'msg/s' },
        baseline: { value: rawRate, unit: 'msg/s' },
        ratio: rate / rawRate,
        target: judged ? '≥ 0.6× raw MQTT.js' : 'reported',
        ...(judged ? { ok: rate / rawRate >= 0.6 } : {}),
        ...(variant === 'aggregate' ? { note } : {}),
      },
      {
        name: `drain: ${label}, CPU per message`,
        ours: { value: cpu, unit: 'µs' },
        baseline: { value: rawCpu, unit: 'µs' },
        ratio: cpu / rawCpu,
        target: judged ? `≤ ${ISSUE_CPU_RATIO.toFixed(2)}× raw (10 µs at 6.7)` : 'reported',
        ...(judged ? { ok: cpu / rawCpu <= ISSUE_CPU_RATIO } : {}),
      },
      {
        name: `drain: ${label}, peak RSS`,
        ours: { value: peak, unit: 'MiB' },
        baseline: { value: rawPeak, unit: 'MiB' },
        ratio: peak / rawPeak,
        target: judged ? '≤ 128 MiB' : 'reported',
        ...(judged ? { ok: peak <= 128 } : {}),
      },
    );
  }
  return results;
}

/**
 * `aggregate` draining a deep backlog, with its defaults, the service's and the Pi's
 * heap flags (three sessions, one publish), RSS every second: flat means the second
 * half's highest sample within 10% of the first half's.
 */
async function memoryCase(context: BenchContext, url: string): Promise<BenchResult[]> {
  const count = context.mode === 'full' ? 1_000_000 - 1 : 100_000; // the broker queues at most 1 M
  const topic = `bench/drain/memory-${process.pid}`;
  const variants = ['aggregate', 'aggregate-service', 'aggregate-pi'] as const;
  const clientIdOf = (variant: Variant) => `bench-drain-memory-${variant}-${process.pid}`;
  for (const variant of variants) await makeSession(url, clientIdOf(variant), topic);
  const published = Date.now();
  await publishDrain(url, topic, count);
  context.log(`memory: ${count + 1} messages queued in ${Date.now() - published} ms`);
  const expectedCount = countedOf(count);
  const results: BenchResult[] = [];
  for (const variant of variants) {
    const stateDirectory = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-bench-drain-'));
    const samples: number[] = [];
    try {
      const consumer = await Consumer.start('aggregate', {
        url,
        clientId: clientIdOf(variant),
        topic,
        expected: count + 1,
        expectedCount,
        stateDirectory,
        nodeOptions: VARIANTS[variant].nodeOptions,
      });
      try {
        samples.push(...(await consumer.doneSamplingRss()));
        const peak = consumer.memory().peak;
        const half = Math.ceil(samples.length / 2);
        const firstHalf = Math.max(...samples.slice(0, half));
        const secondHalf = Math.max(...samples.slice(half));
        const shown = samples.map((sample) => sample.toFixed(0)).join(' ');
        context.log(`memory, ${variant}: RSS every second (MiB): ${shown}`);
        const judged = variant === 'aggregate';
        results.push({
          name: `drain: ${VARIANTS[variant].label} over a ${count + 1}-message backlog, peak RSS`,
          ours: { value: peak, unit: 'MiB' },
          target: judged ? '≤ 128 MiB, flat (2nd half ≤ 1.1× 1st)' : 'reported',
          ...(judged ? { ok: peak <= 128 && secondHalf <= firstHalf * 1.1 } : {}),
          note: `RSS each second ${shown} MiB; ${(consumer.rate(count + 1) / 1000).toFixed(1)} k msg/s, ${((consumer.cpuSinceGo() / (count + 1)) * 1e6).toFixed(1)} µs CPU/msg, counted ${consumer.counted === expectedCount ? 'exactly' : `${consumer.counted} ≠ ${expectedCount}`}; load ${loadavg()[0]!.toFixed(1)}`,
        });
      } finally {
        await consumer.stop();
      }
    } finally {
      rmSync(stateDirectory, { recursive: true, force: true });
      await endSession(url, clientIdOf(variant));
    }
  }
  return results;
}

/** What a second core buys: one process, a worker thread, two processes on a shared subscription. */
async function secondCore(context: BenchContext, url: string): Promise<BenchResult[]> {
  const count = context.mode === 'full' ? 200_000 : 20_000;
  const topic = `bench/drain/second-core-${process.pid}`;
  const group = `bench-drain-${process.pid}`;
  type Setup = 'one' | 'worker' | 'two';
  const members: Record<Setup, { kind: ConsumerKind; clientId: string; filter: string }[]> = {
    one: [{ kind: 'library', clientId: `bench-drain-one-${process.pid}`, filter: topic }],
    worker: [{ kind: 'worker', clientId: `bench-drain-worker-${process.pid}`, filter: topic }],
    two: [0, 1].map((member) => ({
      kind: 'library' as const,
      clientId: `bench-drain-share-${member}-${process.pid}`,
      filter: `$share/${group}/${topic}`,
    })),
  };
  const setups = Object.keys(members) as Setup[];
  for (const setup of setups)
    for (const member of members[setup]) await makeSession(url, member.clientId, member.filter);
  await publishDrain(url, topic, count);
  const figures = {} as Record<Setup, { rate: number; cpuMicros: number; peak: number; shares: number[] }>;
  for (const setup of setups) {
    const directories = members[setup].map(() => mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-bench-drain-')));
    const consumers: Consumer[] = [];
    try {
      for (const [i, member] of members[setup].entries())
        consumers.push(
          await Consumer.start(member.kind, {
            url,
            clientId: member.clientId,
            topic: member.filter,
            // A member's share is not known in advance: the children report as they go.
            expected: 0,
            expectedCount: 0,
            stateDirectory: directories[i]!,
          }),
        );
      const started = process.hrtime.bigint();
      for (const consumer of consumers) consumer.go();
      const handled = () => consumers.reduce((sum, consumer) => sum + consumer.handled, 0);
      await waitForDrain(context, `second core, ${setup}`, count + 1, handled, { pollMs: 5 });
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const cpu = consumers.reduce((sum, consumer) => sum + consumer.cpuSinceGo(), 0);
      figures[setup] = {
        rate: handled() / seconds,
        cpuMicros: (cpu / handled()) * 1e6,
        peak: consumers.reduce((sum, consumer) => sum + consumer.memory().peak, 0),
        shares: consumers.map((consumer) => consumer.handled),
      };
      context.log(
        `second core, ${setup}: ${(figures[setup].rate / 1000).toFixed(1)} k msg/s, ${figures[setup].cpuMicros.toFixed(1)} µs CPU/msg, peak RSS ${figures[setup].peak.toFixed(0)} MiB (shares ${figures[setup].shares.join('/')}); load ${loadavg()[0]!.toFixed(1)}`,
      );
    } finally {
      for (const consumer of consumers) await consumer.stop();
      for (const directory of directories) rmSync(directory, { recursive: true, force: true });
      for (const member of members[setup]) await endSession(url, member.clientId);
    }
  }
  const one = figures.one;
  const line = (setup: 'worker' | 'two', label: string): BenchResult => ({
    name: `second core: ${label}`,
    ours: { value: figures[setup].rate, unit: 'msg/s' },
    baseline: { value: one.rate, unit: 'msg/s' },
    ratio: figures[setup].rate / one.rate,
    target: 'reported (vs one process)',
    note: `${figures[setup].cpuMicros.toFixed(1)} µs CPU/msg in all (one process ${one.cpuMicros.toFixed(1)}), peak RSS ${figures[setup].peak.toFixed(0)} MiB in all (${one.peak.toFixed(0)}); ${count} queued; load ${loadavg()[0]!.toFixed(1)}`,
  });
  return [
    line('worker', 'decode/parse/count/journal on a worker thread (prototype)'),
    line('two', 'two durableWindowedCount processes on $share'),
  ];
}

/** The raw counter and `aggregate` side by side on one steady stream. */
async function steadyCase(context: BenchContext, url: string): Promise<BenchResult[]> {
  const perSecond = 2_000;
  const seconds = context.mode === 'full' ? 60 : 10;
  const total = perSecond * seconds;
  const figures = await steadyRun(context, url, { perSecond, seconds, label: 'steady' });
  const ratio = figures.aggregate.cpuMicros / figures.raw.cpuMicros;
  return [
    {
      name: `steady ${perSecond} msg/s: aggregate CLI, CPU per message`,
      ours: { value: figures.aggregate.cpuMicros, unit: 'µs' },
      baseline: { value: figures.raw.cpuMicros, unit: 'µs' },
      ratio,
      target: '≤ 1.5× raw MQTT.js',
      ok: ratio <= 1.5,
      note: `${total} messages over ${seconds} s, both subscribed side by side; RSS at the end ${figures.aggregate.rss.toFixed(0)} MiB (raw ${figures.raw.rss.toFixed(0)} MiB); load ${loadavg()[0]!.toFixed(1)}`,
    },
  ];
}

export interface SteadyFigures {
  readonly cpuMicros: number;
  readonly rss: number;
  readonly peak: number;
}

/**
 * `perSecond` messages a second for `seconds` (event time = send time, as the Pi
 * stamps it) to a raw counter and `aggregate`, both subscribed; `sample` is called
 * every `sampleEveryMs` with both consumers (the soak samples RSS with it).
 */
export async function steadyRun(
  context: BenchContext,
  url: string,
  options: {
    readonly perSecond: number;
    readonly seconds: number;
    readonly label: string;
    /** Node options of the aggregate process (e.g. {@link PI_HEAP_FLAGS}). */
    readonly aggregateNodeOptions?: readonly string[];
    /** Flags of the aggregate command beyond the drain's (e.g. `--http` for its /metrics). */
    readonly aggregateFlags?: readonly string[];
    readonly sampleEveryMs?: number;
    readonly sample?: (
      consumers: Record<'raw' | 'aggregate', Consumer>,
      elapsedSeconds: number,
      stateDirectory: string,
    ) => void;
  },
): Promise<Record<'raw' | 'aggregate', SteadyFigures>> {
  const { perSecond, seconds } = options;
  const total = Math.round(perSecond * seconds);
  const topic = `bench/drain/${options.label}-${process.pid}`;
  const ids = {
    raw: `bench-${options.label}-raw-${process.pid}`,
    aggregate: `bench-${options.label}-aggregate-${process.pid}`,
  };
  for (const id of Object.values(ids)) await makeSession(url, id, topic);
  const publisher = await PublisherControl.start(url);
  const stateDirectory = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-bench-drain-'));
  const consumers: Partial<Record<'raw' | 'aggregate', Consumer>> = {};
  try {
    const common = { url, topic, expectedCount: 0, stateDirectory };
    consumers.raw = await Consumer.start('raw', { ...common, clientId: ids.raw, expected: total });
    consumers.aggregate = await Consumer.start('aggregate', {
      ...common,
      clientId: ids.aggregate,
      expected: total,
      nodeOptions: options.aggregateNodeOptions ?? [],
      cliFlags: options.aggregateFlags ?? [],
    });
    consumers.raw.go();
    await sleep(2_000); // connected and settled: the CLI's start is not in the figure
    const both = consumers as Record<'raw' | 'aggregate', Consumer>;
    both.raw.markGo();
    both.aggregate.markGo();
    const started = Date.now();
    const sampler =
      options.sample === undefined
        ? undefined
        : setInterval(
            () => options.sample!(both, (Date.now() - started) / 1000, stateDirectory),
            options.sampleEveryMs ?? 10_000,
          );
    try {
      await publisher.run({ kind: 'paced', topic, qos: 1, perSecond, seconds, window: 100, sendTimes: false });
      await both.raw.done();
      await sleep(1_000); // the CLI's last messages and batch
    } finally {
      clearInterval(sampler);
    }
    const figure = (consumer: Consumer): SteadyFigures => ({
      cpuMicros: (consumer.cpuSinceGo() / total) * 1e6,
      ...consumer.memory(),
    });
    const figures = { raw: figure(both.raw), aggregate: figure(both.aggregate) };
    context.log(
      `${options.label}: raw ${figures.raw.cpuMicros.toFixed(1)} µs/msg (${figures.raw.rss.toFixed(0)} MiB), aggregate ${figures.aggregate.cpuMicros.toFixed(1)} µs/msg (${figures.aggregate.rss.toFixed(0)} MiB)`,
    );
    return figures;
  } finally {
    await consumers.raw?.stop();
    await consumers.aggregate?.stop();
    await publisher.stop();
    rmSync(stateDirectory, { recursive: true, force: true });
    for (const id of Object.values(ids)) await endSession(url, id);
  }
}
