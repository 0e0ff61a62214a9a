/**
 * `serveStatus`: an aggregator's HTTP endpoint — Prometheus metrics, liveness,
 * readiness, and a live dashboard page whose files ship in the package.
 * @module
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { thisFile } from '../internal/packageRequire.js';
import type { LiveStatistics } from './LiveStatistics.js';
import {
  statusDocument,
  windowsJson,
  type DashboardWindow,
  type WindowsJson,
  type WindowsView,
} from './statusDocument.js';

export type { DashboardWindow, WindowsView };

/** Options of {@link serveStatus}. */
export interface ServeStatusOptions {
  /**
   * The address to listen on. Default `'127.0.0.1'`: only this machine can see the
   * page. Give `'0.0.0.0'` (or `'::'`) to show it to the network, behind a firewall
   * you trust: the endpoint has no authentication.
   */
  host?: string;
  /** The port; `0` takes any free one (read it from {@link StatusServer.url}). */
  port: number;
  /** The pipeline's statistics: `/readyz`, `/api/status` and the page read them. */
  statistics: LiveStatistics;
  /**
   * A prom-client `Registry` (duck-typed: `metrics()` and `contentType`), served at
   * `/metrics`; bind the statistics to it with {@link registerStatistics}. Without
   * it, `/metrics` answers 404 with a sentence saying so.
   */
  metrics?: { metrics(): Promise<string>; readonly contentType: string };
  /** This aggregator's recent windows, open and final, oldest first: the page's first chart. */
  windows?: () => WindowsView;
  /**
   * Every aggregator's merged windows (read from Cassandra by you): the page's second
   * chart. Called at most once at a time and at most every 2 s, whatever the number
   * of pages open; a rejection is shown on the page, in place of the chart.
   */
  totals?: () => Promise<WindowsView>;
  /** The page's title, e.g. `'aggregator a1'`. Default `'mqtt-iot-stream'`. */
  title?: string;
  /**
   * A few facts for the page's header, e.g. `{ broker: 'mqtt://127.0.0.1:1883',
   * topic: 'rupesh/gpiotopic' }`. Shown as given: leave credentials out (see
   * {@link redactCredentials}).
   */
  watched?: Readonly<Record<string, string>>;
}

/** A running {@link serveStatus} endpoint. */
export interface StatusServer {
  /** Where it listens, e.g. `http://127.0.0.1:9464`. */
  readonly url: string;
  /** Stops listening and ends every connection, keep-alive ones included; resolves when closed. */
  close(): Promise<void>;
}

/** How long `/api/status` waits for `totals` before answering without them. */
const TOTALS_WAIT_MS = 2_000;
/** How long a `totals` answer is reused: the page polls every second, Cassandra need not be read as often. */
const TOTALS_MAX_AGE_MS = 2_000;

const ROUTES = 'try /, /metrics, /healthz, /readyz or /api/status';

/**
 * Serves a pipeline's statistics over HTTP (with `node:http` only):
 *
 * | route | answer |
 * |---|---|
 * | `GET /metrics` | the Prometheus registry's text (`metrics`), 404 without one |
 * | `GET /healthz` | 200 `{"status":"ok"}` while the process answers (liveness) |
 * | `GET /readyz` | 200 when every stage is ready, else 503; JSON `{ ready, reason, stages }` |
 * | `GET /api/status` | JSON: readiness, every stage's statistics, a summary, the windows |
 * | `GET /` | the live dashboard page, polling `/api/status` every second |
 *
 * The page shows the readiness, the broker's, writer's and intake's state, the
 * counters (messages, rejected, late, duplicates, pending and written rows, the
 * watermark and its lag), and a chart and a table of the recent windows per status,
 * open windows hatched. Its files come from the package (`dist/dashboard`), never
 * from the network: a Pi may have none.
 *
 * Listens on `127.0.0.1` unless `host` says otherwise. Nothing is shown that the
 * options do not give: no environment, no connection settings. Other paths answer
 * 404 and other methods 405, as JSON.
 *
 * The promise rejects with a one-line Error naming the address and the cause when it
 * cannot listen (`serveStatus: cannot listen on 127.0.0.1:9464: the port is already
 * in use (EADDRINUSE)`, the system error as `cause`), and with a TypeError naming the
 * option when an option is wrong.
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { LiveStatistics, registerStatistics, serveStatus } from 'mqtt-iot-stream';
 *
 * const statistics = new LiveStatistics(); // give it to fromMqtt, durableWindowedCount and cassandraSink
 * const registry = new Registry();
 * registerStatistics(registry, statistics);
 * const server = await serveStatus({
 *   port: 9464,
 *   statistics,
 *   metrics: registry,
 *   title: 'aggregator a1',
 *   watched: { broker: 'mqtt://127.0.0.1:1883', topic: 'rupesh/gpiotopic' },
 * });
 * console.error(`dashboard on ${server.url}/`);
 * process.once('SIGTERM', () => void server.close());
 * ```
 *
 * @see {@link LiveStatistics}
 * @see {@link registerStatistics}
 * @param options - the address, the statistics, and what else the page shows.
 * @returns the running server, once it listens.
 */
export async function serveStatus(options: ServeStatusOptions): Promise<StatusServer> {
  checkOptions(options);
  const host = options.host ?? '127.0.0.1';
  const totals = options.totals === undefined ? undefined : sharedTotals(options.totals);

  const server = createServer((request, response) => {
    handle(request, response, options, totals).catch((error: unknown) => {
      // Reached only when answering itself failed (the client went away mid-answer).
      if (!response.headersSent) send(response, 500, 'application/json', JSON.stringify({ error: messageOf(error) }));
      else response.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException) => {
      server.off('listening', listening);
      reject(
        new Error(`serveStatus: cannot listen on ${hostPort(host, options.port)}: ${listenCause(error)}`, {
          cause: error,
        }),
      );
    };
    const listening = () => {
      server.off('error', failed);
      resolve();
    };
    server.once('error', failed);
    server.once('listening', listening);
    server.listen(options.port, host);
  });

  const address = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${hostPort(address.address, address.port)}`,
    close() {
      closing ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error === undefined ? resolve() : reject(error)));
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  options: ServeStatusOptions,
  totals: (() => Promise<WindowsJson>) | undefined,
): Promise<void> {
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('Referrer-Policy', 'no-referrer');
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    sendJson(response, 405, { error: `${request.method} is not allowed here: only GET and HEAD` });
    return;
  }
  const path = pathOf(request.url);
  switch (path) {
    case '/healthz':
      sendJson(response, 200, { status: 'ok' });
      return;
    case '/readyz': {
      const readiness = options.statistics.readiness();
      sendJson(response, readiness.ready ? 200 : 503, readiness);
      return;
    }
    case '/metrics':
      if (options.metrics === undefined) {
        send(
          response,
          404,
          'text/plain; charset=utf-8',
          'no metrics here: serveStatus was given no `metrics` registry\n',
        );
        return;
      }
      try {
        const text = await options.metrics.metrics();
        send(response, 200, options.metrics.contentType, text);
      } catch (error) {
        send(response, 500, 'text/plain; charset=utf-8', `the metrics registry failed: ${messageOf(error)}\n`);
      }
      return;
    case '/api/status': {
      let windows: WindowsJson | null = null;
      if (options.windows !== undefined) {
        try {
          windows = windowsJson(options.windows());
        } catch (error) {
          windows = { label: 'recent windows', error: messageOf(error) };
        }
      }
      const document = statusDocument({
        title: options.title ?? 'mqtt-iot-stream',
        watched: options.watched ?? {},
        statistics: options.statistics,
        now: new Date(),
        windows,
        totals: totals === undefined ? null : await totals(),
      });
      response.setHeader('Cache-Control', 'no-store');
      sendJson(response, 200, document);
      return;
    }
    case '/':
    case '/index.html':
    case '/dashboard.js':
    case '/dashboard.css': {
      let assets: DashboardAssets;
      try {
        assets = await dashboardAssets();
      } catch (error) {
        send(response, 500, 'text/html; charset=utf-8', missingAssetsPage(messageOf(error)));
        return;
      }
      const asset = path === '/dashboard.js' ? assets.script : path === '/dashboard.css' ? assets.style : assets.page;
      response.setHeader('Cache-Control', 'no-cache');
      if (asset === assets.page)
        response.setHeader(
          'Content-Security-Policy',
          "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        );
      send(response, 200, asset.contentType, asset.body);
      return;
    }
    default:
      sendJson(response, 404, { error: `no such page: ${path}; ${ROUTES}` });
  }
}

function send(response: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  response.statusCode = status;
  response.setHeader('Content-Type', contentType);
  response.setHeader('Content-Length', Buffer.byteLength(body));
  response.end(body); // a HEAD request gets the headers only: node:http leaves the body out
}

function sendJson(response: ServerResponse, status: number, value: unknown): void {
  send(response, status, 'application/json; charset=utf-8', JSON.stringify(value) + '\n');
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? '/', 'http://status.invalid').pathname;
  } catch {
    return url ?? '/';
  }
}

/**
 * `totals` called at most once at a time and at most every {@link TOTALS_MAX_AGE_MS},
 * and waited for at most {@link TOTALS_WAIT_MS}: a slow database answers on a later poll.
 */
function sharedTotals(read: () => Promise<WindowsView>): () => Promise<WindowsJson> {
  let last: { readonly value: WindowsJson; readonly at: number } | undefined;
  let reading: Promise<WindowsJson> | undefined;
  let label = 'every aggregator';
  const start = () =>
    (reading ??= Promise.resolve()
      .then(read)
      .then(
        (view) => {
          const value = windowsJson(view);
          label = value.label;
          return value;
        },
        (error: unknown): WindowsJson => ({ label, error: messageOf(error) }),
      )
      .then((value) => {
        last = { value, at: Date.now() };
        reading = undefined;
        return value;
      }));
  return async () => {
    if (last !== undefined && Date.now() - last.at < TOTALS_MAX_AGE_MS) return last.value;
    const answer = start();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<WindowsJson>((resolve) => {
      timer = setTimeout(
        () => resolve(last?.value ?? { label, error: `still reading (no answer in ${TOTALS_WAIT_MS / 1000} s)` }),
        TOTALS_WAIT_MS,
      );
    });
    try {
      return await Promise.race([answer, waited]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** A file of the dashboard, read once. */
interface Asset {
  readonly contentType: string;
  readonly body: Buffer;
}

/** The dashboard's three files. @internal */
export interface DashboardAssets {
  readonly page: Asset;
  readonly script: Asset;
  readonly style: Asset;
}

let cachedAssets: Promise<DashboardAssets> | undefined;

function dashboardAssets(): Promise<DashboardAssets> {
  cachedAssets ??= readDashboardAssets(assetDirectories()).catch((error: unknown) => {
    cachedAssets = undefined; // built later (npm run build while the server runs): found on the next request
    throw error;
  });
  return cachedAssets;
}

/**
 * Reads the dashboard's files from the first of `directories` that has them; rejects
 * with a sentence naming the places looked in and what to run when none has.
 * @internal
 */
export async function readDashboardAssets(directories: readonly string[]): Promise<DashboardAssets> {
  for (const directory of directories) {
    try {
      const [page, script, style] = await Promise.all(
        ['index.html', 'dashboard.js', 'dashboard.css'].map((name) => readFile(join(directory, name))),
      );
      return {
        page: { contentType: 'text/html; charset=utf-8', body: page! },
        script: { contentType: 'text/javascript; charset=utf-8', body: script! },
        style: { contentType: 'text/css; charset=utf-8', body: style! },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  throw new Error(
    `the dashboard's files (index.html, dashboard.js, dashboard.css) are not in ${directories.join(' or ')}: ` +
      'they are made by the build; in a clone of mqtt-iot-stream run `npm run build`',
  );
}

/**
 * Where the built page can be: this file is dist/esm/observe/serveStatus.js or
 * dist/cjs/observe/serveStatus.js in the package (the page is in dist/dashboard),
 * or src/observe/serveStatus.ts run by tsx in a clone (then it is the build's
 * dist/dashboard).
 */
function assetDirectories(): string[] {
  // src/internal or dist/<build>/internal: the same depth as this folder.
  const internal = dirname(thisFile());
  return [join(internal, '..', '..', 'dashboard'), join(internal, '..', '..', 'dist', 'dashboard')];
}

function missingAssetsPage(reason: string): string {
  const escaped = reason.replace(/[&<>"]/g, (character) => `&#${character.charCodeAt(0)};`);
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><title>dashboard not built</title></head>',
    `<body><h1>The dashboard page is missing</h1><p>${escaped}.</p>`,
    '<p>/metrics, /healthz, /readyz and /api/status work without it.</p></body></html>',
    '',
  ].join('\n');
}

function checkOptions(options: ServeStatusOptions): void {
  const refuse = (option: string, expected: string, value: unknown) => {
    throw new TypeError(
      `serveStatus: ${option} must be ${expected}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`,
    );
  };
  if (typeof options !== 'object' || options === null) refuse('options', 'an object', options);
  const { port, host, statistics, metrics, windows, totals, title, watched } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) refuse('port', 'a whole number from 0 to 65535', port);
  if (host !== undefined && (typeof host !== 'string' || host === '')) refuse('host', 'a host name or address', host);
  if (typeof statistics?.readiness !== 'function' || typeof statistics.statistics !== 'function')
    refuse('statistics', 'a LiveStatistics', statistics);
  if (metrics !== undefined && typeof metrics?.metrics !== 'function')
    refuse('metrics', 'a prom-client Registry (with metrics() and contentType)', metrics);
  if (windows !== undefined && typeof windows !== 'function') refuse('windows', 'a function', windows);
  if (totals !== undefined && typeof totals !== 'function') refuse('totals', 'a function', totals);
  if (title !== undefined && typeof title !== 'string') refuse('title', 'a string', title);
  if (watched !== undefined) {
    if (typeof watched !== 'object' || watched === null) refuse('watched', 'an object of strings', watched);
    for (const [name, value] of Object.entries(watched))
      if (typeof value !== 'string') refuse(`watched.${name}`, 'a string', value);
  }
}

function listenCause(error: NodeJS.ErrnoException): string {
  const code = error.code ?? error.name;
  const cause =
    {
      EADDRINUSE: 'the port is already in use',
      EACCES: 'permission denied (a port below 1024 needs root, or CAP_NET_BIND_SERVICE)',
      EADDRNOTAVAIL: 'that address is not one of this machine’s',
      ENOTFOUND: 'the host name does not resolve',
      EAI_AGAIN: 'the host name cannot be resolved now (DNS)',
      EAFNOSUPPORT: 'this machine does not support that address family',
    }[code] ?? error.message.split('\n')[0];
  return `${cause} (${code})`;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? '';
}
