/**
 * Scale-out: messages a second through 1, 2 and 3 aggregator processes on one MQTT 5
 * shared subscription (`$share/<group>/<topic>`), on the bench's Mosquitto, QoS 1, in
 * interleaved rounds; 2 and 3 reported as ratios to 1 measured in the same run.
 *
 * Each aggregator is its own process (scaleout-child.ts) running the durable aggregator
 * pipeline, as `mqtt-iot-stream aggregate` does, with a writer that acknowledges rows at
 * once: the figure is the MQTT and durable-state path, which every message takes;
 * Cassandra sees one row per window and status in append mode (docs/benchmarks.md has
 * the sink's own figure). Each round: N persistent sessions subscribe to a fresh shared
 * topic and leave; the publisher child sends the burst, which Mosquitto deals to the N
 * sessions' queues round robin; then the N processes resume their sessions together and
 * drain them. The rate is all messages over first-to-last handled, across processes.
 *
 * The three processes live for the whole run (the warm-up round compiles each), so a
 * round measures steady state, not N cold starts.
 *
 * The machine has two cores, shared by the broker, the aggregators and whatever else
 * runs. Each line notes the CPU used during the drain, in cores: the broker's own (from
 * /proc/<pid>/stat), the aggregators' together, and the whole machine's (/proc/stat);
 * and the CPU time each message costs the broker and the aggregators, which contention
 * does not hide: a core's worth of it is each side's ceiling (Mosquitto is
 * single-threaded, so its ceiling does not grow with aggregators; theirs does).
 */
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  formatNumber,
  median,
  waitForDrain,
  type BenchContext,
  type BenchResult,
  type Benchmark,
  type Interleaved,
  interleave,
  pairedRatio,
  spreadNote,
} from './harness.js';
import { PublisherControl } from './mqtt-publisher.js';
import { ScaleOutChild } from './scaleout-child.js';
import { endSession, makeSession } from './sessions.js';

const COUNTS = [1, 2, 3] as const;
type Count = (typeof COUNTS)[number];

/** One round's outcome. */
interface RoundOutcome {
  readonly rate: number;
  readonly handled: number;
  /** Cores the broker used during the drain. */
  readonly brokerCores: number;
  /** Cores the aggregators used together during the drain. */
  readonly aggregatorCores: number;
  /** Cores busy on the whole machine during the drain (everyone's work, from /proc/stat). */
  readonly machineCores: number;
  /** Each aggregator's share of the messages. */
  readonly shares: readonly number[];
  /** CPU time per message, µs: the broker's, and the aggregators' (summed over them). */
  readonly brokerMicros: number;
  readonly aggregatorMicros: number;
}

export const scaleOutBench: Benchmark = {
  name: 'scaleout',
  async run(context): Promise<BenchResult[]> {
    const full = context.mode === 'full';
    const count = full ? 60_000 : 15_000;
    const broker = await context.mosquitto();
    const brokerPid = pidListeningOn(broker.port);
    if (brokerPid === undefined)
      context.log(`scaleout: no process found listening on port ${broker.port}; the broker's CPU is not reported`);
    const publisher = await PublisherControl.start(broker.url);
    // Three aggregator processes for the whole run, each used by every round that needs
    // it: the warm-up round compiles every one of them (rounds rotate 1 2 3, 2 3 1, …).
    const pool: ScaleOutChild[] = [];
    const outcomes: Record<Count, RoundOutcome[]> = { 1: [], 2: [], 3: [] };
    let serial = 0;
    try {
      for (const _ of COUNTS) pool.push(await ScaleOutChild.start());
      const round = (aggregators: Count) => async (): Promise<number> => {
        const outcome = await drainRound(
          context,
          broker.url,
          brokerPid,
          publisher,
          pool.slice(0, aggregators),
          `${process.pid}-${serial++}`,
          count,
        );
        outcomes[aggregators].push(outcome);
        return outcome.rate;
      };
      const byName = await interleave(
        { one: round(1), two: round(2), three: round(3) },
        { rounds: full ? 5 : 3, warmup: 1 },
      );
      const measured: Record<Count, Interleaved> = { 1: byName.one, 2: byName.two, 3: byName.three };
      // The warm-up rounds are not in `measured`: keep the measured ones' outcomes only.
      for (const aggregators of COUNTS)
        outcomes[aggregators].splice(0, outcomes[aggregators].length - measured[aggregators].rounds.length);
      return COUNTS.map((aggregators) => resultFor(aggregators, measured, outcomes, count));
    } finally {
      await Promise.all(pool.map((child) => child.end()));
      await publisher.stop();
    }
  },
};

function resultFor(
  aggregators: Count,
  measured: Record<Count, Interleaved>,
  outcomes: Record<Count, RoundOutcome[]>,
  count: number,
): BenchResult {
  const rounds = outcomes[aggregators];
  const missing = rounds.reduce((sum, outcome) => sum + count - outcome.handled, 0);
  const cores = (pick: (outcome: RoundOutcome) => number) => median(rounds.map(pick)).toFixed(2);
  const cpu =
    `CPU in cores: broker ${cores((o) => o.brokerCores)}, aggregators ${cores((o) => o.aggregatorCores)}, ` +
    `whole machine ${cores((o) => o.machineCores)} of ${cpus().length}`;
  const shares =
    aggregators === 1
      ? ''
      : `; shares ${rounds
          .at(-1)!
          .shares.map((share) => `${(share * 100).toFixed(0)}%`)
          .join('/')}`;
  const brokerMicros = median(rounds.map((o) => o.brokerMicros));
  const aggregatorMicros = median(rounds.map((o) => o.aggregatorMicros));
  // Per-message CPU is what the contended machine cannot hide: a core's worth of it is a ceiling.
  const cost =
    `CPU per message: broker ${brokerMicros.toFixed(1)} µs (one core: ≤ ${formatNumber(1e6 / brokerMicros)} msg/s), ` +
    `aggregator ${aggregatorMicros.toFixed(0)} µs (≤ ${formatNumber(1e6 / aggregatorMicros)} msg/s a core)`;
  const note = `${count} messages a round; ${cpu}; ${cost}${shares}${missing > 0 ? `; NOT HANDLED: ${missing}` : ''}`;
  const name = `scale-out, ${aggregators} aggregator${aggregators === 1 ? '' : 's'}, shared subscription`;
  const ours = { value: measured[aggregators].median, unit: 'msg/s' };
  if (aggregators === 1) return { name, ours, target: 'reported (baseline of the next two)', note };
  return {
    name,
    ours,
    baseline: { value: measured[1].median, unit: 'msg/s' },
    ratio: pairedRatio(measured[aggregators], measured[1]),
    target: 'reported, × 1 aggregator',
    note: `${spreadNote(measured[aggregators], measured[1])}; ${note}`,
  };
}

/** One round with `aggregators` processes on a fresh shared topic. */
async function drainRound(
  context: BenchContext,
  url: string,
  brokerPid: number | undefined,
  publisher: PublisherControl,
  children: readonly ScaleOutChild[],
  name: string,
  count: number,
): Promise<RoundOutcome> {
  const aggregators = children.length;
  const topic = `bench/scaleout/${name}`;
  const shared = `$share/g${name.replaceAll('-', '')}/${topic}`;
  const clientIds = Array.from({ length: aggregators }, (_, i) => `bench-scaleout-${name}-${i + 1}`);
  const stateRoot = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-bench-scaleout-'));
  let running = false;
  try {
    // The sessions exist, subscribed, before the burst: the broker deals it to their queues.
    for (const clientId of clientIds) await makeSession(url, clientId, shared);
    await publisher.run({ kind: 'burst', topic, qos: 1, count, window: 100 });

    const brokerBefore = brokerPid === undefined ? 0 : cpuTicks(brokerPid);
    const machineBefore = machineTicks();
    const wallBefore = Date.now();
    running = true;
    children.forEach((child, i) =>
      child.go({ url, clientId: clientIds[i]!, topic: shared, stateDirectory: join(stateRoot, String(i)) }),
    );
    await waitForDrain(
      context,
      topic,
      count,
      () => children.reduce((sum, child) => sum + child.progress().handled, 0),
      {
        pollMs: 20,
      },
    );
    const wallSeconds = (Date.now() - wallBefore) / 1000;
    const brokerSeconds = brokerPid === undefined ? Number.NaN : (cpuTicks(brokerPid) - brokerBefore) / CLOCK_TICKS;
    const brokerCores = brokerSeconds / wallSeconds;
    const machineAfter = machineTicks();
    const machineCores =
      ((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total)) * cpus().length;
    const finals = await Promise.all(children.map((child) => child.stop()));
    running = false;
    const handled = finals.reduce((sum, progress) => sum + progress.handled, 0);
    const started = Math.min(...finals.filter((p) => p.handled > 0).map((p) => p.firstAt));
    const ended = Math.max(...finals.map((p) => p.lastAt));
    const rate = (handled - 1) / ((ended - started) / 1000);
    const aggregatorCores = finals.reduce((sum, progress) => sum + progress.cpuMs, 0) / 1000 / wallSeconds;
    context.log(
      `${aggregators} aggregator(s): ${(rate / 1000).toFixed(1)} k msg/s; broker ${brokerCores.toFixed(2)} core, aggregators ${aggregatorCores.toFixed(2)}, ` +
        `machine ${machineCores.toFixed(2)}; ` +
        `per aggregator ${finals.map((p) => p.handled).join('/')}`,
    );
    return {
      rate,
      handled,
      brokerCores,
      aggregatorCores,
      machineCores,
      shares: finals.map((p) => p.handled / Math.max(1, handled)),
      brokerMicros: (brokerSeconds * 1e6) / handled,
      aggregatorMicros: (finals.reduce((sum, p) => sum + p.cpuMs, 0) * 1000) / handled,
    };
  } finally {
    if (running) await Promise.all(children.map((child) => child.stop()));
    // End the sessions so the broker forgets them.
    for (const clientId of clientIds) await endSession(url, clientId);
    rmSync(stateRoot, { recursive: true, force: true });
  }
}

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in these. */
const CLOCK_TICKS = 100;

/** User + system CPU time of a process so far, in clock ticks (fields 14 and 15 of /proc/<pid>/stat). */
function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy and total CPU time of the whole machine so far, from the first line of /proc/stat (idle and iowait are not busy). */
function machineTicks(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - fields[3]! - fields[4]!, total };
}

/**
 * The pid of the process listening on a loopback TCP port: its socket's inode from
 * /proc/net/tcp, then the process holding that inode among its file descriptors.
 */
function pidListeningOn(port: number): number | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const listening = readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .find((fields) => fields[1]?.endsWith(`:${hexPort}`) && fields[3] === '0A');
  const inode = listening?.[9];
  if (inode === undefined) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      for (const fd of readdirSync(`/proc/${entry}/fd`)) {
        if (readlinkSync(`/proc/${entry}/fd/${fd}`) === `socket:[${inode}]`) return Number(entry);
      }
    } catch {
      // A process that ended meanwhile, or one we may not read.
    }
  }
  return undefined;
}
