// serveStatus: the HTTP routes against real sockets and a real prom-client registry, then
// the dashboard page in a real headless Chromium (playwright-core, Debian's browser):
// what it charts and tabulates for known windows, that it follows changes, that it fits
// a laptop and a phone screen, and what it says when polls fail. The screenshots land in
// test/artifacts/ and docs/images/dashboard.png (the README shows that one).
import { expect } from 'chai';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { Registry } from 'prom-client';
import {
  LiveStatistics,
  registerStatistics,
  serveStatus,
  type DashboardWindow,
  type Readiness,
  type Statistic,
  type StatisticsSource,
  type StatusServer,
  type WindowsView,
} from '../src/index.js';
import { WriterStatistics } from '../src/cassandra/writerStatistics.js';
import { countKind } from '../src/durable/durableWindowsKind.js';
import { DurableWindowsState } from '../src/durable/DurableWindowsState.js';
import { BrokerStatistics } from '../src/mqtt/brokerStatistics.js';
import { readDashboardAssets } from '../src/observe/serveStatus.js';
import { resolveWindowSettings } from '../src/window/options.js';
import type { WindowRow } from '../src/window/windowRow.js';
import { differentPixels, launchChromium, openPage, type WatchedPage } from './support/chromium.js';
import { waitFor } from './support/waitFor.js';

const root = join(import.meta.dirname, '..');

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One request on a connection of its own (no pooled socket outlives the test). */
function get(url: string, options: { method?: string; agent?: Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { method: options.method ?? 'GET', agent: options.agent ?? false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({
          status: response.statusCode ?? 0,
          headers: response.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

/** A stage as the pipeline's operators make them: statistics read when asked, maybe a readiness. */
function stage(name: string, statistics: () => Statistic[], readiness?: () => Readiness): StatisticsSource {
  return readiness === undefined ? { stage: name, statistics } : { stage: name, statistics, readiness };
}

const counter = (name: string, value: number, labels?: Record<string, string>): Statistic =>
  labels === undefined
    ? { name, help: `${name} help`, type: 'counter', value }
    : { name, help: `${name} help`, type: 'counter', value, labels };
const gauge = (name: string, value: number, labels?: Record<string, string>): Statistic =>
  labels === undefined
    ? { name, help: `${name} help`, type: 'gauge', value }
    : { name, help: `${name} help`, type: 'gauge', value, labels };

/** The stages of a running aggregator, with the names the broker, durable and writer stages report. */
function aggregatorStages(statistics: LiveStatistics, watermark: Date): void {
  statistics.add(
    stage(
      'broker',
      () => [
        gauge('broker_connected', 1),
        gauge('broker_state', 1, { state: 'connected' }),
        gauge('broker_state', 0, { state: 'reconnecting' }),
        counter('broker_messages_total', 1250),
      ],
      () => ({ ready: true, reason: 'connected and subscribed' }),
    ),
  );
  statistics.add(
    stage('durable', () => [
      counter('messages_total', 1234),
      counter('duplicate_messages_total', 2),
      counter('late_events_total', 3),
      counter('rejections_total', 4, { kind: 'payload' }),
      counter('rejections_total', 1, { kind: 'timestamp' }),
      counter('rejections_total', 3, { kind: 'late' }),
      gauge('pending_rows', 6),
      counter('rows_written_total', 118),
      gauge('intake_paused', 0),
      gauge('watermark_timestamp_seconds', watermark.getTime() / 1000),
      gauge('watermark_lag_seconds', 2.5),
    ]),
  );
  statistics.add(
    stage(
      'writer',
      () => [
        gauge('writer_up', 1),
        counter('writer_rows_written_total', 118),
        {
          name: 'write_seconds',
          help: 'write time',
          type: 'histogram',
          value: { bounds: [0.01, 0.1], cumulativeCounts: [5, 9, 10], sum: 0.42, count: 10 },
        },
      ],
      () => ({ ready: true, reason: 'writing' }),
    ),
  );
}

const at = (time: string) => new Date(`2024-05-01T${time}Z`);
const tenSeconds = (start: string, counts: Record<string, number>, final = true): DashboardWindow => ({
  start: at(start),
  end: new Date(at(start).getTime() + 10_000),
  final,
  counts,
});

describe('serveStatus', () => {
  const servers: StatusServer[] = [];
  const serve = async (options: Omit<Parameters<typeof serveStatus>[0], 'port'> & { port?: number }) => {
    const server = await serveStatus({ port: 0, ...options });
    servers.push(server);
    return server;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
  });

  it('answers /healthz with 200 {"status":"ok"}', async () => {
    const server = await serve({ statistics: new LiveStatistics() });
    const answer = await get(`${server.url}/healthz`);
    expect(answer.status).to.equal(200);
    expect(answer.headers['content-type']).to.match(/^application\/json/);
    expect(JSON.parse(answer.body)).to.deep.equal({ status: 'ok' });
  });

  it('answers /readyz 503 with the reason until a stage starts, 200 when every stage is ready, 503 naming the one that is not', async () => {
    const statistics = new LiveStatistics();
    const server = await serve({ statistics });

    const before = await get(`${server.url}/readyz`);
    expect(before.status).to.equal(503);
    expect(JSON.parse(before.body)).to.deep.equal({ ready: false, reason: 'no stage has started yet', stages: {} });

    let connected = true;
    statistics.add(
      stage(
        'broker',
        () => [gauge('broker_connected', connected ? 1 : 0)],
        () =>
          connected ? { ready: true, reason: 'connected and subscribed' } : { ready: false, reason: 'reconnecting' },
      ),
    );
    const ready = await get(`${server.url}/readyz`);
    expect(ready.status).to.equal(200);
    expect(JSON.parse(ready.body)).to.deep.equal({
      ready: true,
      reason: 'ready',
      stages: { broker: { ready: true, reason: 'connected and subscribed' } },
    });

    connected = false;
    const lost = await get(`${server.url}/readyz`);
    expect(lost.status).to.equal(503);
    expect(JSON.parse(lost.body).reason).to.equal('broker: reconnecting');
  });

  it("serves a prom-client registry's text at /metrics, with the statistics registerStatistics bound to it", async () => {
    const statistics = new LiveStatistics();
    aggregatorStages(statistics, at('12:01:50'));
    const registry = new Registry();
    registerStatistics(registry, statistics);
    const server = await serve({ statistics, metrics: registry });

    const answer = await get(`${server.url}/metrics`);
    expect(answer.status).to.equal(200);
    expect(answer.headers['content-type']).to.equal(registry.contentType);
    const lines = answer.body.split('\n');
    expect(lines).to.include('# TYPE mqtt_iot_stream_writer_rows_written_total counter');
    expect(lines).to.include('mqtt_iot_stream_writer_rows_written_total 118');
    expect(lines).to.include('# TYPE mqtt_iot_stream_pending_rows gauge');
    expect(lines).to.include('mqtt_iot_stream_rejections_total{kind="payload"} 4');
    expect(lines).to.include('# TYPE mqtt_iot_stream_write_seconds histogram');
    expect(lines).to.include('mqtt_iot_stream_write_seconds_bucket{le="0.1"} 9');
    expect(lines).to.include('mqtt_iot_stream_write_seconds_bucket{le="+Inf"} 10');
    expect(lines).to.include('mqtt_iot_stream_write_seconds_sum 0.42');
    expect(lines).to.include('mqtt_iot_stream_write_seconds_count 10');
  });

  it('answers /metrics 404 with a sentence when it was given no registry', async () => {
    const server = await serve({ statistics: new LiveStatistics() });
    const answer = await get(`${server.url}/metrics`);
    expect(answer.status).to.equal(404);
    expect(answer.body).to.equal('no metrics here: serveStatus was given no `metrics` registry\n');
  });

  it('answers 404 JSON for an unknown path, 405 with Allow for POST, and headers only for HEAD', async () => {
    const server = await serve({ statistics: new LiveStatistics() });

    const missing = await get(`${server.url}/nothing-here?x=1`);
    expect(missing.status).to.equal(404);
    expect(JSON.parse(missing.body).error).to.equal(
      'no such page: /nothing-here; try /, /metrics, /healthz, /readyz or /api/status',
    );

    const posted = await get(`${server.url}/healthz`, { method: 'POST' });
    expect(posted.status).to.equal(405);
    expect(posted.headers['allow']).to.equal('GET, HEAD');
    expect(JSON.parse(posted.body).error).to.equal('POST is not allowed here: only GET and HEAD');

    const head = await get(`${server.url}/healthz`, { method: 'HEAD' });
    expect(head.status).to.equal(200);
    expect(head.headers['content-length']).to.equal(String('{"status":"ok"}\n'.length));
    expect(head.body).to.equal('');
  });

  it('listens on 127.0.0.1 unless told otherwise', async () => {
    const server = await serve({ statistics: new LiveStatistics() });
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(Number(new URL(server.url).port)).to.be.greaterThan(0);
  });

  it('rejects with one line naming the address and the cause when the port is taken, the system error as cause', async () => {
    const taken: TcpServer = createTcpServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    try {
      const port = (taken.address() as { port: number }).port;
      const error = await serveStatus({ port, statistics: new LiveStatistics() }).then(
        () => expect.fail('serveStatus listened on a port in use'),
        (failure: Error) => failure,
      );
      expect(error.message).to.equal(
        `serveStatus: cannot listen on 127.0.0.1:${port}: the port is already in use (EADDRINUSE)`,
      );
      expect((error.cause as NodeJS.ErrnoException).code).to.equal('EADDRINUSE');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("rejects with one line when the host is not one of this machine's addresses", async () => {
    // 192.0.2.0/24 is TEST-NET-1: documentation only, never a local address.
    const error = await serveStatus({ host: '192.0.2.1', port: 0, statistics: new LiveStatistics() }).then(
      () => expect.fail('serveStatus listened on a foreign address'),
      (failure: Error) => failure,
    );
    expect(error.message).to.equal(
      'serveStatus: cannot listen on 192.0.2.1:0: that address is not one of this machine’s (EADDRNOTAVAIL)',
    );
    expect(error.message).not.to.include('\n');
  });

  it('refuses an option that is wrong with a sentence naming it', async () => {
    const refused = (options: unknown) =>
      serveStatus(options as Parameters<typeof serveStatus>[0]).then(
        () => expect.fail('accepted'),
        (error: Error) => `${error.name}: ${error.message}`,
      );
    expect(await refused({ port: 70000, statistics: new LiveStatistics() })).to.equal(
      'TypeError: serveStatus: port must be a whole number from 0 to 65535, got 70000',
    );
    expect(await refused({ port: 0 })).to.equal(
      'TypeError: serveStatus: statistics must be a LiveStatistics, got undefined',
    );
    expect(await refused({ port: 0, statistics: new LiveStatistics(), watched: { broker: 5 } })).to.equal(
      'TypeError: serveStatus: watched.broker must be a string, got 5',
    );
  });

  it('answers /api/status with the stages, a summary (rejected leaves late out), the windows, and no more than it was given', async () => {
    const statistics = new LiveStatistics();
    aggregatorStages(statistics, at('12:01:50'));
    const server = await serve({
      statistics,
      title: 'aggregator a1',
      watched: { broker: 'mqtt://127.0.0.1:1883', topic: 'rupesh/gpiotopic' },
      windows: () => ({ label: "this aggregator's share", windows: [tenSeconds('12:00:00', { '200': 3 }, false)] }),
    });
    const answer = await get(`${server.url}/api/status`);
    expect(answer.status).to.equal(200);
    expect(answer.headers['cache-control']).to.equal('no-store');
    const status = JSON.parse(answer.body);
    expect(Object.keys(status)).to.have.members([
      'title',
      'watched',
      'now',
      'ready',
      'summary',
      'stages',
      'windows',
      'totals',
    ]);
    expect(status.title).to.equal('aggregator a1');
    expect(status.watched).to.deep.equal({ broker: 'mqtt://127.0.0.1:1883', topic: 'rupesh/gpiotopic' });
    expect(status.ready).to.deep.equal({
      ready: true,
      reason: 'ready',
      stages: {
        broker: { ready: true, reason: 'connected and subscribed' },
        writer: { ready: true, reason: 'writing' },
      },
    });
    expect(status.summary).to.deep.equal({
      messages: 1234, // the durable stage's, not the broker's 1250 added on top
      rejected: 5, // payload 4 + timestamp 1; the 3 late ones are counted as late
      late: 3,
      duplicates: 2,
      pendingRows: 6,
      rowsWritten: 118,
      watermark: '2024-05-01T12:01:50.000Z',
      watermarkLagSeconds: 2.5,
      broker: 'connected',
      writer: 'up',
      intake: 'taking',
    });
    expect(status.stages.durable['rejections_total{kind=late}']).to.equal(3);
    expect(status.stages.writer['write_seconds']).to.deep.equal({ count: 10, sum: 0.42 });
    expect(status.windows).to.deep.equal({
      label: "this aggregator's share",
      windows: [
        { start: '2024-05-01T12:00:00.000Z', end: '2024-05-01T12:00:10.000Z', final: false, counts: { '200': 3 } },
      ],
    });
    expect(status.totals).to.equal(null);
  });

  it('reads its summary from the statistics the real broker, durable and writer stages report', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'status-durable-'));
    interface Event {
      readonly t: number;
      readonly k: number;
    }
    const durable = DurableWindowsState.open<Event, number, WindowRow<number>>({
      kind: countKind(),
      stateDirectory: directory,
      durability: 'process',
      settings: resolveWindowSettings<Event, number>({
        eventTime: (event) => event.t,
        key: (event) => event.k,
        windowDuration: 10_000,
        watermarkDelay: 5_000,
      }),
      maxRowsInFlight: 32,
      checkpointEvery: 1_000,
      now: () => Date.now(),
      sendRow: () => undefined,
    });
    try {
      const writer = new WriterStatistics('cassandra at 127.0.0.1:9042', () => undefined);
      const broker = new BrokerStatistics(() => undefined);
      const withoutDurable = new LiveStatistics();
      withoutDurable.add(broker);
      withoutDurable.add(writer);
      const statistics = new LiveStatistics();
      statistics.add(broker);
      statistics.add(durable);
      statistics.add(writer);
      const [alone, whole] = [await serve({ statistics: withoutDurable }), await serve({ statistics })];
      const summary = async (server: StatusServer) => JSON.parse((await get(`${server.url}/api/status`)).body).summary;

      const before = await summary(whole);
      expect(before.watermark, 'a watermark before the first event').to.equal(null);
      expect(before.watermarkLagSeconds).to.equal(null);

      durable.enter('running');
      const eventTime = Date.UTC(2024, 4, 1, 12, 0, 30);
      expect(durable.accept(1, 11)).to.equal(true);
      durable.record(1, 11, [{ t: eventTime, k: 200 }]);
      durable.countRejection('payload');
      durable.countRejection('late');
      writer.written();
      writer.written();

      expect(await summary(whole)).to.deep.include({
        messages: 1, // the durable counter's; the broker's own count is not added
        rejected: 1, // payload; the late one is under late
        late: 1,
        duplicates: 0,
        pendingRows: 0,
        rowsWritten: 0, // rows the writer acknowledged to the durable counter
        watermark: new Date(eventTime - 5_000).toISOString(),
        broker: 'closed',
        writer: 'up',
        intake: 'taking',
      });
      expect((await summary(whole)).watermarkLagSeconds)
        .to.be.a('number')
        .greaterThan(0);
      expect(await summary(alone)).to.deep.include({
        messages: 0, // broker_messages_total
        rowsWritten: 2, // writer_rows_written_total
        late: null,
        intake: null,
        broker: 'closed',
        writer: 'up',
      });
    } finally {
      durable.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('gives null for what no stage reports, and answers with no stage at all', async () => {
    const statistics = new LiveStatistics();
    const server = await serve({ statistics });
    const empty = JSON.parse((await get(`${server.url}/api/status`)).body);
    expect(empty.stages).to.deep.equal({});
    expect(Object.values(empty.summary).every((value) => value === null)).to.equal(true);
    expect(empty.windows).to.equal(null);

    statistics.add(stage('broker', () => [gauge('broker_connected', 0)]));
    const brokerOnly = JSON.parse((await get(`${server.url}/api/status`)).body);
    expect(brokerOnly.summary.broker).to.equal('disconnected');
    expect(brokerOnly.summary.writer).to.equal(null);
    expect(brokerOnly.summary.messages).to.equal(null);
  });

  it('shows a totals or windows failure as its reason in /api/status, and keeps serving', async () => {
    let fail = false;
    const server = await serve({
      statistics: new LiveStatistics(),
      windows: () => {
        throw new Error('window state unreadable');
      },
      totals: async () => {
        if (fail) throw new Error('Cassandra: all hosts tried for query failed\n(more lines)');
        return { label: 'every aggregator', windows: [tenSeconds('12:00:00', { '200': 9 })] };
      },
    });
    const first = JSON.parse((await get(`${server.url}/api/status`)).body);
    expect(first.windows).to.deep.equal({ label: 'recent windows', error: 'window state unreadable' });
    expect(first.totals.windows[0].counts).to.deep.equal({ '200': 9 });

    fail = true;
    // totals are read at most every 2 s, whatever the number of polls
    await waitFor(
      async () => 'error' in JSON.parse((await get(`${server.url}/api/status`)).body).totals,
      'the totals to fail',
      6_000,
      200,
    );
    const failed = JSON.parse((await get(`${server.url}/api/status`)).body);
    expect(failed.totals).to.deep.equal({
      label: 'every aggregator',
      error: 'Cassandra: all hosts tried for query failed',
    });
    expect((await get(`${server.url}/healthz`)).status).to.equal(200);
  });

  it('close() ends keep-alive connections too and resolves', async () => {
    const server = await serveStatus({ port: 0, statistics: new LiveStatistics() });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect((await get(`${server.url}/healthz`, { agent })).status).to.equal(200);
      const sockets = Object.values(agent.freeSockets).flat();
      expect(sockets, 'an idle kept-alive socket').to.have.length(1);
      const closedAt = Date.now();
      await server.close();
      expect(Date.now() - closedAt, 'close() waited for the keep-alive timeout').to.be.below(1_000);
      await waitFor(() => sockets[0]!.destroyed, 'the kept-alive socket to be ended by the server', 2_000);
      await server.close(); // a second close is the same close
    } finally {
      agent.destroy();
    }
  });

  it('serves the page, its script (chart.js bundled, licence kept) and its style from the package', async () => {
    const server = await serve({ statistics: new LiveStatistics() });
    const page = await get(`${server.url}/`);
    expect(page.status, page.body).to.equal(200);
    expect(page.headers['content-type']).to.equal('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).to.include("script-src 'self'");
    expect(page.body).to.include('<script src="dashboard.js" defer></script>');
    expect(page.body).not.to.match(/(src|href)="(https?:)?\/\//); // nothing from a CDN

    const script = await get(`${server.url}/dashboard.js`);
    expect(script.status).to.equal(200);
    expect(script.headers['content-type']).to.equal('text/javascript; charset=utf-8');
    expect(script.body).to.match(/Chart\.js v4\.\d+\.\d+/);
    expect(script.body).to.include('Released under the MIT License');

    const style = await get(`${server.url}/dashboard.css`);
    expect(style.status).to.equal(200);
    expect(style.headers['content-type']).to.equal('text/css; charset=utf-8');
  });

  it('names where it looked and what to run when the page was never built', async () => {
    const error = await readDashboardAssets(['/nonexistent/a', '/nonexistent/b']).then(
      () => expect.fail('found assets in a missing folder'),
      (failure: Error) => failure,
    );
    expect(error.message).to.equal(
      "the dashboard's files (index.html, dashboard.js, dashboard.css) are not in /nonexistent/a or /nonexistent/b: " +
        'they are made by the build; in a clone of mqtt-iot-stream run `npm run build`',
    );
  });
});

/** What the page exposes on `window.__dashboard`, as far as these tests read it. */
interface PageDashboard {
  status: { now: string; windows: { windows: unknown[] } | null; totals: unknown } | null;
  charts: (
    | { data: { labels: unknown[]; datasets: { label: string; data: number[]; backgroundColor: unknown[] }[] } }
    | undefined
  )[];
}

interface ChartRead {
  labels: unknown[];
  datasets: { label: string; data: number[]; fills: string[] }[];
}

/** The chart's data as plain values: a hatched (open) bar is a CanvasPattern, a final one a colour string. */
async function readChart(watched: WatchedPage, index: number): Promise<ChartRead> {
  return watched.page.evaluate((chartIndex) => {
    const dashboard = (globalThis as unknown as { __dashboard: PageDashboard }).__dashboard;
    const chart = dashboard.charts[chartIndex]!;
    return {
      labels: chart.data.labels,
      datasets: chart.data.datasets.map((dataset) => ({
        label: dataset.label,
        data: dataset.data,
        fills: dataset.backgroundColor.map((fill) => (typeof fill === 'string' ? 'solid' : 'hatched')),
      })),
    };
  }, index);
}

/** The table under a chart, newest window first as the page lists them: per row its start, state, and value per status. */
async function readTable(watched: WatchedPage, section: string) {
  const rows = await watched.page.locator(`${section} tbody tr[data-state]`).all();
  return Promise.all(
    rows.map(async (row) => {
      const cells = await row.locator('td[data-status]').all();
      const counts: Record<string, number> = {};
      for (const cell of cells)
        counts[(await cell.getAttribute('data-status'))!] = Number(await cell.getAttribute('data-value'));
      return {
        start: (await row.locator('th').textContent())!,
        state: (await row.getAttribute('data-state'))!,
        counts,
        total: Number(await row.locator('td[data-total]').getAttribute('data-total')),
      };
    }),
  );
}

async function horizontalOverflow(watched: WatchedPage): Promise<{ scrollWidth: number; innerWidth: number }> {
  return watched.page.evaluate(() => {
    const page = globalThis as unknown as {
      document: { documentElement: { scrollWidth: number } };
      innerWidth: number;
    };
    return { scrollWidth: page.document.documentElement.scrollWidth, innerWidth: page.innerWidth };
  });
}

/** Waits until the page has drawn a status whose windows satisfy `count`. */
async function waitForWindows(watched: WatchedPage, count: number): Promise<void> {
  await watched.page.waitForFunction(
    (expected) => {
      const dashboard = (globalThis as unknown as { __dashboard?: PageDashboard }).__dashboard;
      return dashboard?.status?.windows?.windows.length === expected && dashboard.charts[0] !== undefined;
    },
    count,
    { timeout: 10_000 },
  );
}

describe('the dashboard page, in headless Chromium', function () {
  this.timeout(60_000);
  const artifacts = join(root, 'test', 'artifacts');
  let browser: Browser | undefined;
  let server: StatusServer | undefined;
  let windows: WindowsView;
  let totals: () => Promise<WindowsView>;
  const pages: WatchedPage[] = [];

  const firstWindows: WindowsView = {
    label: "this aggregator's share",
    windows: [
      tenSeconds('12:00:00', { '200': 5, '404': 1 }),
      tenSeconds('12:00:10', { '200': 7, '500': 2 }),
      tenSeconds('12:00:20', { '200': 2, '404': 3, '500': 1 }, false),
    ],
  };

  /** Twelve windows of a busier minute, the newest open: what the README's picture shows. */
  const laterWindows = (label: string, scale: number): WindowsView => ({
    label,
    windows: Array.from({ length: 12 }, (_, index) => {
      const seconds = index * 10;
      const start = `12:0${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
      const wave = Math.round(scale * (30 + 18 * Math.sin(index / 1.7)));
      const counts: Record<string, number> = { '200': wave, '304': Math.round(wave / 5), '404': 2 + (index % 4) };
      if (index % 3 === 1) counts['500'] = 1 + (index % 2);
      if (index === 0) Object.assign(counts, { '200': 5, '404': 1, '304': 0 });
      return tenSeconds(start, counts, index < 11);
    }),
  });

  before(async function () {
    if (!existsSync(join(root, 'dist', 'dashboard', 'dashboard.js')))
      throw new Error('dist/dashboard/ is missing: run `node scripts/build.mjs` first (npm test does)');
    browser = await launchChromium();
    mkdirSync(artifacts, { recursive: true });
    mkdirSync(join(root, 'docs', 'images'), { recursive: true });
    const statistics = new LiveStatistics();
    aggregatorStages(statistics, at('12:01:50'));
    windows = firstWindows;
    totals = async () => laterWindows('every aggregator, merged from Cassandra', 2.6);
    server = await serveStatus({
      port: 0,
      statistics,
      title: 'aggregator a1',
      watched: { broker: 'mqtt://127.0.0.1:1883', topic: 'rupesh/gpiotopic', table: 'logs.window_counts' },
      windows: () => windows,
      totals: () => totals(),
    });
  });

  afterEach(async () => {
    await Promise.all(pages.splice(0).map((watched) => watched.context.close()));
  });

  after(async () => {
    await browser?.close();
    await server?.close();
  });

  async function open(width: number, height: number): Promise<WatchedPage> {
    const watched = await openPage(browser!, { width, height });
    pages.push(watched);
    await watched.page.goto(`${server!.url}/`);
    return watched;
  }

  it("charts and tabulates each window's count per status, hatches the open one, and follows changes (1280×800)", async () => {
    windows = firstWindows;
    const watched = await open(1280, 800);
    await waitForWindows(watched, 3);

    const chart = await readChart(watched, 0);
    expect(chart.labels).to.deep.equal(['12:00:00', '12:00:10', ['12:00:20', 'open']]);
    expect(chart.datasets.map(({ label, data }) => [label, data])).to.deep.equal([
      ['200', [5, 7, 2]],
      ['404', [1, 0, 3]],
      ['500', [0, 2, 1]],
    ]);
    for (const dataset of chart.datasets)
      expect(dataset.fills, dataset.label).to.deep.equal(['solid', 'solid', 'hatched']);
    expect(await readTable(watched, '#windows')).to.deep.equal([
      { start: '12:00:20', state: 'open', counts: { '200': 2, '404': 3, '500': 1 }, total: 6 },
      { start: '12:00:10', state: 'final', counts: { '200': 7, '404': 0, '500': 2 }, total: 9 },
      { start: '12:00:00', state: 'final', counts: { '200': 5, '404': 1, '500': 0 }, total: 6 },
    ]);
    expect(await watched.page.locator('#windows .label').textContent()).to.equal("this aggregator's share");
    expect(await watched.page.locator('#windows .legend-note').textContent()).to.match(
      /Open windows .* hatched and lighter/,
    );

    // The header and the counters.
    expect(await watched.page.locator('#title').textContent()).to.equal('aggregator a1');
    expect(await watched.page.locator('#watched').textContent()).to.equal(
      'brokermqtt://127.0.0.1:1883topicrupesh/gpiotopictablelogs.window_counts',
    );
    expect(await watched.page.locator('#readiness .readiness-word').textContent()).to.equal('Ready');
    expect(await watched.page.locator('#states li').allTextContents()).to.deep.equal([
      'Broker connected',
      'Writer up',
      'Intake taking',
    ]);
    const counterText = (name: string) => watched.page.locator(`[data-counter="${name}"] .value`).textContent();
    expect(await counterText('messages')).to.equal('1,234');
    expect(await counterText('rejected')).to.equal('5');
    expect(await counterText('late')).to.equal('3');
    expect(await counterText('duplicates')).to.equal('2');
    expect(await counterText('pendingRows')).to.equal('6');
    expect(await counterText('rowsWritten')).to.equal('118');
    expect(await counterText('watermark')).to.equal('12:01:50');
    expect(await counterText('watermarkLag')).to.equal('2.5 s');

    // The open window closes, nine more come: the page follows on its next poll.
    windows = laterWindows("this aggregator's share", 1);
    await waitForWindows(watched, 12);
    const later = await readChart(watched, 0);
    expect(later.labels[2]).to.equal('12:00:20');
    expect(later.labels[11]).to.deep.equal(['12:01:50', 'open']);
    const table = (await readTable(watched, '#windows')).reverse(); // oldest first, as the chart
    expect(table).to.have.length(12);
    expect(table.map((row) => row.state)).to.deep.equal([...Array<string>(11).fill('final'), 'open']);
    expect(table.map((row) => row.start)).to.deep.equal(later.labels.map((label) => [label].flat()[0]));
    for (const [index, window] of windows.windows.entries()) {
      for (const dataset of later.datasets) {
        expect(dataset.data[index], `${dataset.label} in window ${index}`).to.equal(window.counts[dataset.label] ?? 0);
        expect(dataset.fills[index]).to.equal(window.final ? 'solid' : 'hatched');
      }
      expect(table[index]!.counts).to.deep.equal(
        Object.fromEntries(later.datasets.map(({ label }) => [label, window.counts[label] ?? 0])),
      );
      expect(table[index]!.total).to.equal(Object.values(window.counts).reduce((sum, count) => sum + count, 0));
    }

    // The totals, beside it.
    await watched.page.waitForFunction(() => {
      const dashboard = (globalThis as unknown as { __dashboard: PageDashboard }).__dashboard;
      return dashboard.charts[1] !== undefined;
    });
    expect(await watched.page.locator('#totals .label').textContent()).to.equal(
      'every aggregator, merged from Cassandra',
    );
    expect(await readTable(watched, '#totals')).to.have.length(12);

    expect(await horizontalOverflow(watched)).to.satisfy(
      ({ scrollWidth, innerWidth }: { scrollWidth: number; innerWidth: number }) => scrollWidth <= innerWidth,
    );
    const screenshot = await watched.page.screenshot({ path: join(artifacts, 'dashboard-1280.png') });
    // The README's picture is rewritten when the page looks different, not for the few
    // anti-aliased pixels that vary between runs (it is committed).
    const pictured = join(root, 'docs', 'images', 'dashboard.png');
    if (!existsSync(pictured) || (await differentPixels(browser!, readFileSync(pictured), screenshot)) !== 0)
      writeFileSync(pictured, screenshot);
    expect(watched.errors).to.deep.equal([]);
  });

  it('fits a phone screen (390×844) with no horizontal scrolling', async () => {
    windows = laterWindows("this aggregator's share", 1);
    const watched = await open(390, 844);
    await waitForWindows(watched, 12);
    await watched.page.waitForFunction(() => {
      const dashboard = (globalThis as unknown as { __dashboard: PageDashboard }).__dashboard;
      return dashboard.charts[1] !== undefined;
    });
    const { scrollWidth, innerWidth } = await horizontalOverflow(watched);
    expect(innerWidth).to.equal(390);
    expect(scrollWidth, 'the page is wider than the phone').to.be.at.most(innerWidth);
    await watched.page.screenshot({ path: join(artifacts, 'dashboard-phone.png'), fullPage: true });
    expect(watched.errors).to.deep.equal([]);
  });

  it("shows the totals' failure as its reason in place of the chart", async () => {
    windows = firstWindows;
    totals = async () => {
      throw new Error('Cassandra: no host was available');
    };
    const watched = await open(1280, 800);
    const error = watched.page.locator('#totals .error');
    await error.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await error.textContent()).to.equal('Could not read these windows: Cassandra: no host was available');
    expect(await watched.page.locator('#totals .chart-box').isVisible()).to.equal(false);
    expect(await watched.page.locator('#windows .chart-box').isVisible()).to.equal(true);
    expect(watched.errors).to.deep.equal([]);
  });

  it('says "connection lost" while its polls fail, and carries on when they answer again', async () => {
    windows = firstWindows;
    const watched = await open(1280, 800);
    await waitForWindows(watched, 3);
    const banner = watched.page.locator('#connection');
    expect(await banner.isVisible()).to.equal(false);

    await watched.page.route('**/api/status', (route) => route.abort('connectionrefused'));
    await banner.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await banner.textContent()).to.match(/^Connection lost since \d\d:\d\d:\d\d UTC .*retrying every second/);

    windows = laterWindows("this aggregator's share", 1);
    await watched.page.unroute('**/api/status');
    await banner.waitFor({ state: 'hidden', timeout: 10_000 });
    await waitForWindows(watched, 12);
    // Chromium reports each refused request on the console; nothing else may be there.
    expect(
      watched.errors.filter((error) => !/Failed to load resource: net::ERR_CONNECTION_REFUSED/.test(error)),
    ).to.deep.equal([]);
  });
});
