/**
 * The measuring kit every benchmark uses: high-resolution timing, warm-up, and
 * interleaved rounds so that ours and its baselines see the same machine weather.
 *
 * The machine is shared and noisy (2 cores), so absolute figures drift from minute to
 * minute. Each benchmark therefore measures its baseline(s) and our code in the same
 * run, alternating round by round (A B C, B C A, C A B, …), and keeps the median of
 * each side; the ratio of two medians taken side by side is what we compare to targets.
 */

/** A measured quantity with its unit, e.g. `{ value: 1.2e6, unit: 'lines/s' }`. */
export interface Figure {
  readonly value: number;
  readonly unit: string;
}

/** One line of the report. */
export interface BenchResult {
  /** What was measured, e.g. `parseAccessLog vs alpine`. */
  readonly name: string;
  /** Our figure (absent when our code is not available). */
  readonly ours?: Figure;
  /** The baseline's figure measured in the same run, if the result has one. */
  readonly baseline?: Figure;
  /** The target in words, e.g. `≥ 10× alpine`. */
  readonly target: string;
  /**
   * The ratio that the target is judged on (ours / baseline for rates; for
   * absolute targets, absent). `higherIsBetter` tells how to read it.
   */
  readonly ratio?: number;
  /** `true` met, `false` missed, `undefined` report only (no target). */
  readonly ok?: boolean;
  /** A short remark printed after the verdict, e.g. drops at QoS 0. */
  readonly note?: string;
}

/** What a benchmark gets from the runner. */
export interface BenchContext {
  /** `quick` keeps CI under a few minutes; `full` is for recording figures. */
  readonly mode: 'quick' | 'full';
  /** Progress to stderr (results go to stdout). */
  log(message: string): void;
  /** A running Mosquitto, started on first use and stopped by the runner at the end. */
  mosquitto(): Promise<{ readonly url: string; readonly port: number }>;
  /** A running Cassandra node, started on first use and stopped by the runner at the end. */
  cassandra(): Promise<{ readonly contactPoint: string; readonly port: number; readonly localDataCenter: string }>;
}

/** A registered benchmark: one concept, one file. */
export interface Benchmark {
  /** Name used to select it on the command line (`npm run bench -- window`). */
  readonly name: string;
  /** Runs the measurements and returns one result per report line. */
  run(context: BenchContext): Promise<BenchResult[]>;
}

/** Nanoseconds from an arbitrary origin, as a bigint (monotonic). */
export const now = (): bigint => process.hrtime.bigint();

/** Seconds elapsed since `start` (a value of {@link now}). */
export function secondsSince(start: bigint): number {
  return Number(now() - start) / 1e9;
}

/** Times one synchronous run over `items` items and returns items per second. */
export function rateOf(items: number, body: () => void): number {
  const start = now();
  body();
  return items / secondsSince(start);
}

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of no values');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The q-quantile (0..1) of a list, nearest-rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('quantile of no values');
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}

/** One round of one variant: does the work once and returns its rate (higher is better). */
export type Round = () => number | Promise<number>;

/** Options of {@link interleave}. */
export interface InterleaveOptions {
  /** Measured rounds per variant; the median is kept. */
  readonly rounds: number;
  /** Unmeasured rounds per variant first, so the JIT has settled for everyone. */
  readonly warmup?: number;
  /** Called after each measured round, e.g. for progress. */
  readonly onRound?: (variant: string, rate: number) => void;
}

/** Per-variant rounds and their median. */
export interface Interleaved {
  readonly median: number;
  readonly rounds: readonly number[];
}

/**
 * Runs each variant `rounds` times, interleaved and rotating the order every round
 * (A B C, B C A, C A B, …) so no variant always runs first (cold caches) or last
 * (after the others' garbage), and returns each variant's median rate.
 */
export async function interleave<K extends string>(
  variants: Readonly<Record<K, Round>>,
  options: InterleaveOptions,
): Promise<Record<K, Interleaved>> {
  const names = Object.keys(variants) as K[];
  const rates = Object.fromEntries(names.map((name) => [name, [] as number[]])) as unknown as Record<K, number[]>;
  const total = (options.warmup ?? 0) + options.rounds;
  for (let round = 0; round < total; round += 1) {
    for (let i = 0; i < names.length; i += 1) {
      const name = names[(round + i) % names.length]!;
      const rate = await variants[name]();
      if (round >= (options.warmup ?? 0)) {
        rates[name].push(rate);
        options.onRound?.(name, rate);
      }
    }
  }
  return Object.fromEntries(
    names.map((name) => [name, { median: median(rates[name]), rounds: rates[name] }]),
  ) as unknown as Record<K, Interleaved>;
}

/**
 * The median of the per-round ratios ours/baseline. Each round runs both back to
 * back, so a round's ratio cancels the load the machine had during that round; the
 * median of those ratios is steadier than the ratio of the two medians when the
 * load drifts during the run.
 */
export function pairedRatio(ours: Interleaved, baseline: Interleaved): number {
  return median(roundRatios(ours, baseline));
}

/** The per-round ratios ours/baseline, in round order. */
export function roundRatios(ours: Interleaved, baseline: Interleaved): number[] {
  const count = Math.min(ours.rounds.length, baseline.rounds.length);
  return Array.from({ length: count }, (_, i) => ours.rounds[i]! / baseline.rounds[i]!);
}

/** `rounds 0.84–1.12×`: how far apart the rounds' ratios were (the noise of this run). */
export function spreadNote(ours: Interleaved, baseline: Interleaved): string {
  const ratios = roundRatios(ours, baseline);
  return `${ratios.length} rounds ${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`;
}

/** A measured rate as a figure: the median of its rounds. */
export function figureOf(measured: Interleaved, unit: string): Figure {
  return { value: measured.median, unit };
}

/**
 * The result line for "ours at least `factor` × baseline". The figures are each
 * side's median; the ratio judged is {@link pairedRatio}.
 */
export function compare(
  name: string,
  ours: Interleaved,
  baseline: Interleaved,
  unit: string,
  factor: number,
  baselineName: string,
  note?: string,
): BenchResult {
  const ratio = pairedRatio(ours, baseline);
  const spread = spreadNote(ours, baseline);
  return {
    name,
    ours: figureOf(ours, unit),
    baseline: figureOf(baseline, unit),
    ratio,
    target: `≥ ${factor}× ${baselineName}`,
    ok: ratio >= factor,
    note: note === undefined ? spread : `${spread}; ${note}`,
  };
}

/**
 * The result line for an absolute target on our figure ("≥ 5 M events/s", or with
 * `atMost` "≤ 50 MB"), with an optional baseline whose ratio is reported alongside.
 */
export function threshold(
  name: string,
  ours: Figure,
  limit: number,
  options: {
    readonly atMost?: boolean;
    readonly baseline?: Figure;
    readonly ratio?: number;
    readonly note?: string;
    readonly target?: string;
  } = {},
): BenchResult {
  const ok = options.atMost ? ours.value <= limit : ours.value >= limit;
  const target = options.target ?? `${options.atMost ? '≤' : '≥'} ${formatNumber(limit)} ${ours.unit}`;
  return {
    name,
    ours,
    target,
    ok,
    ...(options.baseline === undefined
      ? {}
      : { baseline: options.baseline, ratio: options.ratio ?? ours.value / options.baseline.value }),
    ...(options.note === undefined ? {} : { note: options.note }),
  };
}

/** Formats a number compactly: 1234567 → `1.23 M`, 0.0123 → `0.0123`. */
export function formatNumber(value: number): string {
  const abs = Math.abs(value);
  if (abs >= 1e9) return `${(value / 1e9).toFixed(2)} G`;
  if (abs >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (abs >= 1e4) return `${(value / 1e3).toFixed(1)} k`;
  if (abs >= 100) return value.toFixed(0);
  if (abs >= 1) return value.toFixed(2);
  return value.toPrecision(3);
}

/** `1.23 M lines/s` */
export function formatFigure(figure: Figure | undefined): string {
  return figure === undefined ? '—' : `${formatNumber(figure.value)} ${figure.unit}`;
}

/** Forces a full garbage collection when node runs with --expose-gc; a no-op otherwise. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Resolves after `ms` milliseconds (for pacing publishers, never for correctness). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Counts the messages a drain handled and times the first and the last: its rate, first to last. */
export class DrainClock {
  handled = 0;
  private firstAt = 0n;
  private lastAt = 0n;

  /** Call once per message handled. */
  readonly tick = (): void => {
    this.handled += 1;
    if (this.handled === 1) this.firstAt = now();
    this.lastAt = now();
  };

  /** Messages a second from the first to the last (the first starts the clock). */
  rate(): number {
    return (this.handled - 1) / (Number(this.lastAt - this.firstAt) / 1e9);
  }
}

/**
 * Waits, polling every `pollMs`, until `handled()` reaches `count` or `failed()` holds;
 * gives up once nothing more was handled for 3 s, saying so in the log under `label`.
 */
export async function waitForDrain(
  context: BenchContext,
  label: string,
  count: number,
  handled: () => number,
  options: { readonly pollMs?: number; readonly failed?: () => boolean } = {},
): Promise<void> {
  let seen = handled();
  let stalledSince = Date.now();
  while (handled() < count && !(options.failed?.() ?? false)) {
    await sleep(options.pollMs ?? 10);
    const current = handled();
    if (current !== seen) {
      seen = current;
      stalledSince = Date.now();
    } else if (Date.now() - stalledSince > 3_000) {
      context.log(`${label}: ${current} of ${count} handled, nothing more for 3 s`);
      break;
    }
  }
}
