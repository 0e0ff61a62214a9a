// Issue 18: a real Prometheus server scrapes our metrics and PromQL over its HTTP API
// reads back exactly what was counted. Part one: registerStatistics on a prom-client
// registry, served by this test, so a parse error in the exposition shows up as the
// target's lastError. Part two: the `aggregate` command's own --http endpoint, fed by
// a client we did not write (mosquitto_pub).
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { Histogram } from '../src/observe/Histogram.js';
import { LiveStatistics } from '../src/observe/LiveStatistics.js';
import { registerStatistics } from '../src/observe/registerStatistics.js';
import type { Statistic, StatisticsSource } from '../src/observe/statistic.js';
import { aggregatorRunner, type AggregatorRunner } from './faults/aggregatorHarness.js';
import { freePort, startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { startPrometheus, type Prometheus, type PrometheusSample } from './support/prometheus.js';

/** The one value of a query that must select exactly one series. */
function onlyValue(samples: readonly PrometheusSample[], promql: string): number {
  expect(samples, `${promql} should select exactly one series`).to.have.length(1);
  return samples[0]!.value;
}

/** A stage whose numbers the test sets, named like the pipeline's own statistics. */
class ProbeStage implements StatisticsSource {
  readonly stage = 'probe';
  messages = 0;
  readonly rejections = { payload: 0, line: 0, late: 0 };
  readonly handling = new Histogram([0.01, 0.1, 1]);

  statistics(): Statistic[] {
    return [
      { name: 'messages_total', help: 'Messages received.', type: 'counter', value: this.messages },
      ...Object.entries(this.rejections).map(([kind, value]): Statistic => ({
        name: 'rejections_total',
        help: 'Messages refused, by kind.',
        type: 'counter',
        value,
        labels: { kind },
      })),
      {
        name: 'handling_seconds',
        help: 'Time to handle a message.',
        type: 'histogram',
        value: this.handling.value(),
      },
    ];
  }
}

/** Serves `registry` on /metrics at a free loopback port, as an application would. */
async function serveMetrics(registry: Registry): Promise<{ target: string; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.statusCode = 404;
      response.end();
      return;
    }
    registry.metrics().then(
      (text) => {
        response.setHeader('Content-Type', registry.contentType);
        response.end(text);
      },
      (error: Error) => {
        response.statusCode = 500;
        response.end(error.message);
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the metrics server has no address');
  return {
    target: `127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        // Prometheus keeps its scrape connection alive; close() alone would wait for it.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('registerStatistics scraped by a real Prometheus', function () {
  this.timeout(60_000);
  const probe = new ProbeStage();
  const statistics = new LiveStatistics();
  let metrics: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  let prometheus: Prometheus | undefined;

  /** Sets values through `change`, then waits for a scrape that began after it. */
  async function scrapedAfter(change: () => void): Promise<Prometheus> {
    change();
    const changedAt = Date.now();
    await prometheus!.scrapedSince(changedAt);
    return prometheus!;
  }

  before(async function () {
    statistics.add(probe);
    const registry = new Registry();
    registerStatistics(registry, statistics);
    metrics = await serveMetrics(registry);
    prometheus = await startPrometheus({ targets: [metrics.target] });
    // The first scrape comes ~5 s after start (Prometheus's discovery throttle).
    await prometheus.targetsUp(30_000);
  });
  after(async function () {
    await prometheus?.stop();
    await metrics?.close();
  });

  it('is accepted by Prometheus: the target is up, with no scrape error, and every sample is stored', async () => {
    const [target] = await prometheus!.targets();
    expect(target?.health, target?.lastError).to.equal('up');
    expect(target?.lastError).to.equal('');
    // 1 counter + 3 labelled counters + a histogram of 3 bounds (4 buckets, _sum, _count).
    const samples = await prometheus!.query('scrape_samples_scraped{job="aggregate"}');
    expect(onlyValue(samples, 'scrape_samples_scraped')).to.equal(10);
  });

  it('reads a counter back exactly, and again after it changed, up to 2^53 - 1', async () => {
    const query = 'mqtt_iot_stream_messages_total';
    for (const value of [207, 1_000_003, Number.MAX_SAFE_INTEGER]) {
      await scrapedAfter(() => (probe.messages = value));
      expect(onlyValue(await prometheus!.query(query), query)).to.equal(value);
    }
  });

  it('sums a labelled counter over every kind but late, and reads one kind alone', async () => {
    await scrapedAfter(() => Object.assign(probe.rejections, { payload: 4, line: 3, late: 5 }));
    const withoutLate = 'sum(mqtt_iot_stream_rejections_total{kind!="late"})';
    expect(onlyValue(await prometheus!.query(withoutLate), withoutLate)).to.equal(7);
    const late = 'mqtt_iot_stream_rejections_total{kind="late"}';
    expect(onlyValue(await prometheus!.query(late), late)).to.equal(5);
    const kinds = await prometheus!.query('mqtt_iot_stream_rejections_total');
    expect(kinds.map((sample) => sample.metric.kind).sort()).to.deep.equal(['late', 'line', 'payload']);
  });

  it("reads a histogram's _count, _sum and histogram_quantile back", async () => {
    // 2 in (0, 0.01], 6 in (0.01, 0.1], 2 in (0.1, 1].
    await scrapedAfter(() => {
      for (const seconds of [0.005, 0.005, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.5, 0.5])
        probe.handling.observe(seconds);
    });
    const count = 'mqtt_iot_stream_handling_seconds_count';
    expect(onlyValue(await prometheus!.query(count), count)).to.equal(10);
    const sum = 'mqtt_iot_stream_handling_seconds_sum';
    // The same float64 on both sides: the text exposition round-trips it exactly.
    expect(onlyValue(await prometheus!.query(sum), sum)).to.equal(probe.handling.value().sum);
    // Linear interpolation inside the bucket: rank 5 is the 3rd of 6 in (0.01, 0.1].
    const median = 'histogram_quantile(0.5, mqtt_iot_stream_handling_seconds_bucket)';
    expect(onlyValue(await prometheus!.query(median), median)).to.be.closeTo(0.055, 1e-12);
    // Rank 9 is the 1st of 2 in (0.1, 1].
    const p90 = 'histogram_quantile(0.9, mqtt_iot_stream_handling_seconds_bucket)';
    expect(onlyValue(await prometheus!.query(p90), p90)).to.be.closeTo(0.55, 1e-12);
  });

  it('scrapes a stage added after registration, and drops its series once the stage is gone', async () => {
    const queue: StatisticsSource = {
      stage: 'write_queue',
      statistics: () => [{ name: 'write_queue_rows', help: 'Rows waiting.', type: 'gauge', value: 12 }],
    };
    let remove: () => void = () => undefined;
    await scrapedAfter(() => (remove = statistics.add(queue)));
    const rows = 'mqtt_iot_stream_write_queue_rows';
    expect(onlyValue(await prometheus!.query(rows), rows)).to.equal(12);
    // The name stays registered with no sample: Prometheus marks the series stale at once.
    await scrapedAfter(remove);
    expect(await prometheus!.query(rows)).to.deep.equal([]);
    const [target] = await prometheus!.targets();
    expect(target?.lastError).to.equal('');
  });
});

describe('aggregate --http scraped by Prometheus', function () {
  this.timeout(120_000);
  const TOPIC = 'prometheus/gpiotopic';
  const AGGREGATOR_ID = 'prometheus';
  // Apache combined lines as the reference publisher sends them (from examples/data/access.log).
  const ACCESS_LINES = [
    '192.0.2.51 - - [01/Jul/2020:12:00:03 +0000] "GET /blog/2020/06/sensor-network HTTP/1.1" 304 - "https://example.org/robots.txt" "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/84.0.4147.105 Safari/537.36"',
    '192.0.2.197 - - [01/Jul/2020:12:00:05 +0000] "GET /blog/2020/06/sensor-network HTTP/1.1" 200 8471 "https://example.org/blog/2020/07/mqtt-at-home" "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:78.0) Gecko/20100101 Firefox/78.0"',
    '192.0.2.225 - - [01/Jul/2020:12:00:06 +0000] "POST /api/readings?since=3600 HTTP/1.1" 304 - "https://example.org/about" "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/84.0.4147.105 Safari/537.36"',
    '127.0.0.1 - - [01/Jul/2020:12:00:07 +0000] "GET /missing HTTP/1.1" 404 153 "-" "curl/7.68.0"',
  ];
  const VALID = 200;
  /** One of each way a message is refused before it is counted; none of them is late. */
  const INVALID = [
    'this is not JSON',
    '{"iottimestamp": "2024-01-01 00:00:01.000000"',
    '{"temperature": 21.5}',
    '{"iottimestamp":"2024-01-01 00:00:01.000000","accesslogs":42}',
    `{"iottimestamp":"yesterday","accesslogs":${JSON.stringify(ACCESS_LINES[0])}}`,
    '{"iottimestamp":"2024-01-01 00:00:02.000000","accesslogs":"not an access log line"}',
    `{"iottimestamp":"2024-01-01 00:00:03.000000","accesslogs":${JSON.stringify('127.0.0.1 - - [01/Jul/2020:12:00:00 +0000] "GET / HTTP/1.1" 2OO 5')}}`,
  ];

  let broker: Mosquitto | undefined;
  let prometheus: Prometheus | undefined;
  let aggregator: AggregatorRunner | undefined;
  let stateDir: string | undefined;
  let httpPort: number;

  before(async function () {
    broker = await startMosquitto();
    stateDir = mkdtempSync(join(tmpdir(), 'aggregate-prometheus-'));
    httpPort = await freePort();
    prometheus = await startPrometheus({ targets: [`127.0.0.1:${httpPort}`] });
  });
  after(async function () {
    const running = aggregator?.processes.filter((started) => started.child.exitCode === null) ?? [];
    for (const started of running) started.child.kill('SIGKILL');
    await Promise.all(running.map((started) => started.exited));
    await prometheus?.stop();
    await broker?.dispose();
    if (stateDir !== undefined) rmSync(stateDir, { recursive: true, force: true });
  });

  /** Publishes each line as one QoS 1 message with mosquitto_pub, which exits once the broker acknowledged them all. */
  function mosquittoPub(lines: readonly string[]): Promise<void> {
    return new Promise((resolve, reject) => {
      const publisher = spawn(
        'mosquitto_pub',
        [
          '-h',
          '127.0.0.1',
          '-p',
          String(broker!.port),
          '-i',
          'prometheus-test-publisher',
          '-q',
          '1',
          '-t',
          TOPIC,
          '-l',
        ],
        { stdio: ['pipe', 'ignore', 'pipe'] },
      );
      let stderr = '';
      publisher.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => publisher.kill('SIGKILL'), 30_000);
      publisher.once('error', reject);
      publisher.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve();
        else reject(new Error(`mosquitto_pub exited ${signal ?? code}: ${stderr}`));
      });
      publisher.stdin.end(lines.map((line) => `${line}\n`).join(''));
    });
  }

  it('counts every message sent and every one refused, exactly, in PromQL; SIGTERM still exits 0', async () => {
    aggregator = aggregatorRunner(
      broker!,
      [
        '--broker',
        broker!.url,
        '--topic',
        TOPIC,
        '--aggregator-id',
        AGGREGATOR_ID,
        '--state-dir',
        stateDir!,
        '--http',
        `127.0.0.1:${httpPort}`,
        // One window holds every event (seconds 0-9), and none can be late.
        '--window',
        '10 s',
        '--watermark',
        '10 s',
        '--idle-advance',
        '0',
        '--format',
        'json',
      ],
      `mqtt-iot-stream-aggregator-${AGGREGATOR_ID}`,
      TOPIC,
    );
    const aggregate = await aggregator.start();
    await prometheus!.targetsUp(30_000);

    const valid = Array.from({ length: VALID }, (_, index) =>
      JSON.stringify({
        iottimestamp: `2024-01-01 00:00:0${index % 10}.000000`,
        accesslogs: ACCESS_LINES[index % ACCESS_LINES.length],
      }),
    );
    await mosquittoPub([...valid, ...INVALID]);

    const messages = 'mqtt_iot_stream_messages_total';
    const refused = 'sum(mqtt_iot_stream_rejections_total{kind!="late"})';
    const connected = 'mqtt_iot_stream_broker_connected';
    const expected = VALID + INVALID.length;
    await prometheus!.waitFor(messages, (samples) => samples.some((sample) => sample.value >= expected), 30_000);
    await prometheus!.waitFor(refused, (samples) => samples.some((sample) => sample.value >= INVALID.length), 30_000);
    // One more scrape after both arrived: a count that went past what was sent shows here.
    await prometheus!.scrapedSince(Date.now());
    expect(onlyValue(await prometheus!.query(messages), messages), aggregate.output()).to.equal(expected);
    expect(onlyValue(await prometheus!.query(refused), refused), aggregate.output()).to.equal(INVALID.length);
    expect(onlyValue(await prometheus!.query(connected), connected), aggregate.output()).to.equal(1);

    expect(await aggregator.kill('SIGTERM'), aggregate.output()).to.equal(0);
  });
});
