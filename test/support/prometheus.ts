// Starts a real Prometheus server (the Debian package's /usr/bin/prometheus) that scrapes
// the given targets, for tests that check what a scraper really reads from our /metrics:
// its own config and TSDB in a temp dir, its web API on a free loopback port, nothing
// that reaches the network (no remote write, no alerting). Every server started is
// stopped by pid on stop(), and, as a last resort, when the process exits.
//
//   prometheus = await startPrometheus({ targets: [`127.0.0.1:${port}`] });
//   await prometheus.targetsUp();
//   const [sample] = await prometheus.query('mqtt_iot_stream_messages_total');
//
// Prometheus 2.42 applies a new scrape config after a 5 s throttle (its discovery
// manager's update interval, not a flag): the first scrape comes about 5 s after
// start, so give the first wait 20 s or more.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './mosquitto.js';
import { waitFor } from './waitFor.js';

/** The job name of the one scrape job; `job="aggregate"` on every series scraped. */
export const SCRAPE_JOB = 'aggregate';

/** Options of {@link startPrometheus}. */
export interface PrometheusOptions {
  /** What to scrape, each `host:port`; the path is `/metrics`. */
  readonly targets: readonly string[];
  /** How often to scrape each target (and the scrape timeout), in whole seconds. Default `'1s'`. */
  readonly scrapeInterval?: `${number}s`;
}

/** One element of a PromQL instant vector, its value read as a number. */
export interface PrometheusSample {
  /** The series' labels, `__name__` included when the expression keeps it. */
  readonly metric: Readonly<Record<string, string>>;
  readonly value: number;
  /** The evaluation time, in Unix seconds. */
  readonly time: number;
}

/** A scrape target as `/api/v1/targets` reports it. */
export interface ScrapeTarget {
  readonly scrapeUrl: string;
  readonly labels: Readonly<Record<string, string>>;
  /** `up` once the last scrape worked, `down` when it failed, `unknown` before the first. */
  readonly health: 'up' | 'down' | 'unknown';
  /** Why the last scrape failed (connection refused, an exposition parse error…); empty when it worked. */
  readonly lastError: string;
  /** When the last scrape began, RFC 3339. */
  readonly lastScrape: string;
}

/** A running Prometheus server. */
export interface Prometheus {
  /** Its web API, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly dir: string;
  readonly pid: number | undefined;
  /** Runs an instant query now; a scalar result comes back as one sample with no labels. */
  query(promql: string): Promise<PrometheusSample[]>;
  /**
   * Runs `promql` until `predicate` holds for its result, and returns that result.
   * After `timeoutMs`, fails with the last result and every target's health and last
   * scrape error (a target that is down says why in the message).
   */
  waitFor(
    promql: string,
    predicate: (samples: readonly PrometheusSample[]) => boolean,
    timeoutMs?: number,
  ): Promise<PrometheusSample[]>;
  /**
   * Waits until each target has been scraped successfully (`health: "up"` in
   * `/api/v1/targets`); fails after `timeoutMs` naming each target's health and last error.
   */
  targetsUp(timeoutMs?: number): Promise<ScrapeTarget[]>;
  /**
   * Waits until a scrape of every target that began after `time` (ms since the epoch)
   * worked and is queryable: then every query sees the values the targets served at
   * `time` or later. Use it after changing a value, before asserting it exactly.
   */
  scrapedSince(time: number, timeoutMs?: number): Promise<void>;
  /** The active targets now. */
  targets(): Promise<ScrapeTarget[]>;
  /** What Prometheus logged (stderr), the last 200 lines. */
  log(): string;
  /** SIGTERM, SIGKILL after 5 s if it has not exited, then removes the temp dir. */
  stop(): Promise<void>;
}

/** Lines of Prometheus's log kept for error messages. */
const LOG_LINES_KEPT = 200;
/** Lines of that log quoted in a start-up failure. */
const LOG_LINES_QUOTED = 20;
/**
 * Prometheus stamps a scrape with its scheduled time when it began within 2 ms of it
 * (`ScrapeTimestampTolerance`): a stamp may be up to that much earlier than the scrape.
 */
const SCRAPE_TIMESTAMP_TOLERANCE_MS = 2;
/** A single API request longer than this means the server is stuck: fail rather than hang the test. */
const REQUEST_TIMEOUT_MS = 5_000;

const running = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort, so that an aborted run leaves no Prometheus (it would keep scraping and
  // writing its TSDB) and no temp dir behind.
  const cleanUp = (): void => {
    for (const child of running) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
    for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
    liveDirs.clear();
  };
  process.on('exit', cleanUp);
  // `timeout` and CI cancel with SIGTERM, which skips 'exit' handlers. Clean up, then let
  // the signal do what it would have done had we not listened (as mosquitto.ts does).
  const onSigterm = (): void => {
    cleanUp();
    process.off('SIGTERM', onSigterm);
    if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
  };
  process.on('SIGTERM', onSigterm);
}

/**
 * Starts Prometheus scraping `targets` every `scrapeInterval` (job `aggregate`, path
 * `/metrics`) and resolves once its `/-/ready` answers 200. Fails, never skips: when
 * the binary is missing (`prometheus not found: run scripts/install-test-deps`), or
 * with Prometheus's last log lines when it exits or is not ready within 30 s. A port
 * taken between our probe and Prometheus's bind is retried on fresh ports, twice.
 */
export async function startPrometheus(options: PrometheusOptions): Promise<Prometheus> {
  if (options.targets.length === 0) throw new Error('startPrometheus: give at least one target (host:port)');
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      if (attempt >= 3 || !/address already in use/i.test((error as Error).message)) throw error;
    }
  }
}

async function startOnce(options: PrometheusOptions): Promise<Prometheus> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-prometheus-'));
  liveDirs.add(dir);
  const removeDir = () => {
    rmSync(dir, { recursive: true, force: true });
    liveDirs.delete(dir);
  };
  let child: ChildProcess | undefined;
  const logLines: string[] = [];
  const lastLogLines = (count: number) => logLines.slice(-count).join('\n');

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (proc !== undefined && proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    removeDir();
  };

  try {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const configPath = join(dir, 'prometheus.yml');
    writeFileSync(configPath, scrapeConfig(options));
    const proc = spawn(
      'prometheus',
      [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        // The console pages are not used; without these it would read /etc/prometheus.
        `--web.console.templates=${dir}`,
        `--web.console.libraries=${dir}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child = proc;
    running.add(proc);
    proc.once('exit', () => running.delete(proc));
    let partialLine = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      const lines = (partialLine + chunk.toString()).split('\n');
      partialLine = lines.pop() ?? '';
      logLines.push(...lines);
      if (logLines.length > LOG_LINES_KEPT) logLines.splice(0, logLines.length - LOG_LINES_KEPT);
    });
    let spawnError: Error | undefined;
    proc.once('error', (error: NodeJS.ErrnoException) => {
      spawnError =
        error.code === 'ENOENT'
          ? new Error('prometheus not found: run scripts/install-test-deps')
          : new Error(`cannot run prometheus: ${error.message}`);
    });

    await waitFor(
      async () => {
        if (spawnError !== undefined) throw spawnError;
        if (proc.exitCode !== null || proc.signalCode !== null)
          throw new Error(
            `prometheus exited (${proc.exitCode ?? proc.signalCode}) while starting. Its last log lines:\n${lastLogLines(LOG_LINES_QUOTED)}`,
          );
        try {
          const response = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
          await response.arrayBuffer();
          return response.status === 200;
        } catch {
          return false; // not listening yet
        }
      },
      () => `prometheus to answer 200 on ${url}/-/ready. Its last log lines:\n${lastLogLines(LOG_LINES_QUOTED)}`,
      30_000,
      100,
    );
    return prometheusAt(url, dir, options, {
      pid: () => child?.pid,
      log: () => lastLogLines(LOG_LINES_KEPT),
      stop,
    });
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The config file: one job scraping `targets`, and nothing else (no rules, no alerting, no remote write). */
function scrapeConfig(options: PrometheusOptions): string {
  const interval = options.scrapeInterval ?? '1s';
  // JSON strings are YAML strings: this quotes the targets whatever they hold.
  return [
    'global:',
    `  scrape_interval: ${interval}`,
    // The default timeout (10 s) may not exceed the interval: Prometheus would refuse the config.
    `  scrape_timeout: ${interval}`,
    'scrape_configs:',
    `  - job_name: ${JSON.stringify(SCRAPE_JOB)}`,
    '    metrics_path: "/metrics"',
    '    static_configs:',
    `      - targets: [${options.targets.map((target) => JSON.stringify(target)).join(', ')}]`,
    '',
  ].join('\n');
}

/** The API client around a started server. */
function prometheusAt(
  url: string,
  dir: string,
  options: PrometheusOptions,
  server: { pid(): number | undefined; log(): string; stop(): Promise<void> },
): Prometheus {
  const api = async <T>(path: string): Promise<T> => {
    const response = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    const body = (await response.json()) as { status: string; data: T; errorType?: string; error?: string };
    if (body.status !== 'success')
      throw new Error(`prometheus ${path} failed (${response.status} ${body.errorType ?? ''}): ${body.error ?? ''}`);
    return body.data;
  };

  const query = async (promql: string): Promise<PrometheusSample[]> => {
    const data = await api<{ resultType: string; result: unknown }>(
      `/api/v1/query?${new URLSearchParams({ query: promql })}`,
    );
    if (data.resultType === 'scalar') {
      const [time, value] = data.result as [number, string];
      return [{ metric: {}, value: promValue(value), time }];
    }
    if (data.resultType !== 'vector')
      throw new Error(`query ${promql} gave a ${data.resultType}, not an instant vector`);
    return (data.result as { metric: Record<string, string>; value: [number, string] }[]).map(
      ({ metric, value: [time, value] }) => ({ metric, value: promValue(value), time }),
    );
  };

  const targets = async (): Promise<ScrapeTarget[]> =>
    (await api<{ activeTargets: ScrapeTarget[] }>('/api/v1/targets?state=active')).activeTargets;

  const describeTargets = async (): Promise<string> => {
    try {
      const active = await targets();
      if (active.length === 0) return 'no active target yet';
      return active.map((t) => `${t.scrapeUrl} ${t.health}${t.lastError === '' ? '' : ` (${t.lastError})`}`).join('; ');
    } catch (error) {
      return `the targets could not be read: ${(error as Error).message}`;
    }
  };

  // A timeout says what Prometheus saw of the targets: "connection refused" or a parse
  // error in the exposition is usually the whole story.
  const withTargets = async <T>(wait: () => Promise<T>): Promise<T> => {
    try {
      return await wait();
    } catch (error) {
      if (!/^timed out after/.test((error as Error).message)) throw error;
      throw new Error(`${(error as Error).message}; targets: ${await describeTargets()}`, { cause: error });
    }
  };

  return {
    url,
    dir,
    get pid() {
      return server.pid();
    },
    query,
    async waitFor(promql, predicate, timeoutMs = 30_000) {
      let last: PrometheusSample[] = [];
      await withTargets(() =>
        waitFor(
          async () => predicate((last = await query(promql))),
          () => `${promql} to hold; last result: ${describeSamples(last)}`,
          timeoutMs,
          250,
        ),
      );
      return last;
    },
    async targetsUp(timeoutMs = 30_000) {
      let active: ScrapeTarget[] = [];
      await withTargets(() =>
        waitFor(
          async () => {
            active = await targets();
            return active.length === options.targets.length && active.every((target) => target.health === 'up');
          },
          `all ${options.targets.length} targets to be up`,
          timeoutMs,
          250,
        ),
      );
      return active;
    },
    async scrapedSince(time, timeoutMs = 30_000) {
      // The scrape's report (`up`) is committed together with its samples, stamped with
      // the time the scrape began: so a visible `up` sample later than `time` means the
      // samples served after `time` are visible too. timestamp() must take the selector
      // itself: of `up == 1` it gives the evaluation time (Prometheus 2.42), so the
      // success filter goes on the other side of `and`.
      let last: PrometheusSample[] = [];
      await withTargets(() =>
        waitFor(
          async () => {
            last = await query(`timestamp(up{job="${SCRAPE_JOB}"}) and up{job="${SCRAPE_JOB}"} == 1`);
            return (
              last.length === options.targets.length &&
              last.every((sample) => Math.round(sample.value * 1000) > time + SCRAPE_TIMESTAMP_TOLERANCE_MS)
            );
          },
          () =>
            `a successful scrape of each target after ${new Date(time).toISOString()}; last: ${describeSamples(last)}`,
          timeoutMs,
          100,
        ),
      );
    },
    targets,
    log: server.log,
    stop: server.stop,
  };
}

/** A sample value as the API writes it: a decimal, or `NaN`, `+Inf`, `-Inf`. */
function promValue(text: string): number {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  return Number(text);
}

function describeSamples(samples: readonly PrometheusSample[]): string {
  if (samples.length === 0) return 'empty';
  return samples
    .map(({ metric, value }) => {
      const labels = Object.entries(metric)
        .map(([name, labelValue]) => `${name}="${labelValue}"`)
        .join(',');
      return `{${labels}} ${value}`;
    })
    .join(', ');
}
