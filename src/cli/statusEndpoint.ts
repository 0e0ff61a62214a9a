// `--http`: the HTTP endpoint of `aggregate` and `demo`. Prometheus metrics (the
// pipeline's live statistics and prom-client's process metrics), liveness, readiness
// and the dashboard, served by the library's serveStatus.
//
// prom-client is an optional dependency of the package (a Pi that only publishes
// installs without it), so it is loaded when the endpoint starts.
import { registerStatistics, serveStatus, type LiveStatistics, type StatusServer, type WindowsView } from '../index.js';

/** Where the endpoint listens. */
export interface ListenAddress {
  readonly host: string;
  /** 0: any free port. */
  readonly port: number;
  /** When the port is taken, take any free one instead of failing (`auto`). */
  readonly orFreePort: boolean;
}

/** Loopback: what is served is for this machine unless the operator names another address. */
const LOOPBACK = '127.0.0.1';
/** `auto`: the port Prometheus exporters of this kind are usually scraped on (OpenTelemetry's Prometheus exporter too). */
const AUTO_PORT = 9464;

// A host name, an IPv4 address or a bracketed IPv6 address.
const HOST = /^(?:\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*)$/i;

/**
 * Reads an `--http` value: `off`; `auto` (127.0.0.1:9464, or any free port if that one
 * is taken); `port` (on 127.0.0.1); `host:port`; `[ipv6]:port`. Port 0: any free one.
 * Returns undefined for `off`, and a problem in words for anything else.
 */
export function readListenAddress(value: string): ListenAddress | undefined | { readonly problem: string } {
  if (value === 'off') return undefined;
  if (value === 'auto') return { host: LOOPBACK, port: AUTO_PORT, orFreePort: true };
  const match = /^(?:(.*):)?(\d{1,5})$/.exec(value);
  const host = match?.[1] === undefined || match[1] === '' ? LOOPBACK : match[1];
  const port = Number(match?.[2]);
  if (match === null || port > 65_535 || !HOST.test(host))
    return {
      problem:
        'must be host:port (e.g. 127.0.0.1:9464; 0.0.0.0:9464 for every interface), a port (on 127.0.0.1; 0: any ' +
        `free one), auto or off, got ${JSON.stringify(value)}`,
    };
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port, orFreePort: false };
}

/** A prom-client registry with the process metrics and the pipeline's statistics (`mqtt_iot_stream_*`). */
export async function metricsRegistry(statistics: LiveStatistics) {
  let promClient: typeof import('prom-client');
  try {
    const module = (await import('prom-client')) as typeof import('prom-client') & {
      default?: typeof import('prom-client');
    };
    promClient = module.default ?? module;
  } catch (error) {
    throw new Error(
      '--http needs prom-client for /metrics, which this install left out (npm install --omit=optional): ' +
        'run `npm install prom-client` beside mqtt-iot-stream',
      { cause: error },
    );
  }
  const registry = new promClient.Registry();
  promClient.collectDefaultMetrics({ register: registry });
  registerStatistics(registry, statistics);
  return registry;
}

export interface StatusEndpointOptions {
  readonly address: ListenAddress;
  readonly statistics: LiveStatistics;
  /** Served at /metrics; none: /metrics answers 404 saying why. */
  readonly metrics?: { metrics(): Promise<string>; readonly contentType: string };
  readonly title: string;
  /** Shown in the page's header: never a credential (see redactCredentials). */
  readonly watched: Readonly<Record<string, string>>;
  readonly windows?: () => WindowsView;
  readonly totals?: () => Promise<WindowsView>;
}

/**
 * Starts serving. Rejects with serveStatus's one-line error when the address cannot be
 * listened on (the port is taken, the host is not this machine's), unless the address
 * allows any free port instead.
 */
export async function startStatusEndpoint(options: StatusEndpointOptions): Promise<StatusServer> {
  const { address, ...served } = options;
  const serve = (port: number) => serveStatus({ ...served, host: address.host, port });
  try {
    return await serve(address.port);
  } catch (error) {
    const code = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code;
    if (!address.orFreePort || code !== 'EADDRINUSE') throw error;
    return serve(0);
  }
}
