/**
 * Who owns the Cassandra client: one passed in (the user's, left open) or one built
 * from options (the operator's, shut down on teardown).
 * @module
 */
import type { Client, ClientOptions, QueryOptions, types } from 'cassandra-driver';
import { loadCassandraDriver, type CassandraDriver } from './driver.js';

/** A cassandra-driver 4 `Client` you own, or the options to build one the operator owns. */
export type CassandraClientInput = Client | ClientOptions;

/** Query options whose write timestamp may also be a `bigint`. @internal */
export type HeldQueryOptions = Omit<QueryOptions, 'timestamp'> & { timestamp?: number | bigint | types.Long };

/** A client (the user's, or one built once the driver has loaded) and whether the caller must shut it down. @internal */
export interface HeldClient {
  readonly owned: boolean;
  /**
   * `client.execute` once the client is there. A `bigint` write timestamp becomes the
   * driver's `Long`, so that callers can make one without loading the driver.
   */
  execute(query: string, params: unknown[], options: HeldQueryOptions): Promise<unknown>;
  /** Call after each request settles: starts the owned-client host watch once connected. */
  watchHosts(): void;
  /** Shuts an owned client down, never throwing (teardown must not fail). */
  release(): Promise<void>;
}

/**
 * Works around a cassandra-driver 4 leak: when the only node comes back after an
 * outage, the control connection re-initialises and replaces the `Host` object in
 * `client.hosts` without shutting the old one down, whose pool then keeps a
 * reconnection timer and sockets alive after `client.shutdown()` (the process never
 * exits). The driver shuts down hosts it removes for topology reasons; we do the same
 * for replaced ones, on clients we own only.
 */
function shutDownReplacedHosts(client: Client): () => void {
  let watching = false;
  return () => {
    if (watching || client.hosts === undefined) return;
    watching = true;
    client.hosts.on('remove', (host: unknown) => {
      const removed = host as { shutdown?: (waitForPending: boolean) => Promise<void> };
      if (typeof removed.shutdown === 'function') void removed.shutdown(false).catch(() => undefined);
    });
  };
}

/**
 * Duck-typed, not `instanceof`: the user's client may come from another copy of
 * cassandra-driver (a different version, or the CJS and ESM graphs both loaded).
 */
function isClient(input: CassandraClientInput): input is Client {
  const candidate = input as Partial<Client>;
  return typeof candidate.execute === 'function' && typeof candidate.shutdown === 'function';
}

/**
 * The client to use. A built client gets, unless the options say otherwise, a
 * reconnection policy that retries a lost node every `reconnectMaxDelayMs` at most:
 * the driver's default waits up to 10 minutes between attempts, so after an outage
 * every write would fail with "no host available" long after the node came back.
 * @internal
 */
export function holdClient(operator: string, input: CassandraClientInput, reconnectMaxDelayMs: number): HeldClient {
  // Kept once loaded, so that a write's bigint timestamp is converted without a promise hop.
  let driver: CassandraDriver | undefined;
  const loading = loadCassandraDriver(operator).then((loaded) => (driver = loaded));
  // Errors surface through execute(); this keeps an unused rejection from being unhandled.
  loading.catch(() => undefined);
  // async: a driver that throws instead of rejecting still ends in a rejection.
  const send = async (
    client: Client,
    query: string,
    params: unknown[],
    options: HeldQueryOptions,
  ): Promise<unknown> => {
    const { timestamp } = options;
    if (typeof timestamp !== 'bigint') return client.execute(query, params, options as QueryOptions);
    if (driver === undefined) return loading.then(() => send(client, query, params, options));
    return client.execute(query, params, { ...options, timestamp: driver.types.Long.fromString(timestamp.toString()) });
  };
  if (isClient(input)) {
    return {
      owned: false,
      execute: (query, params, options) => send(input, query, params, options),
      watchHosts: () => undefined,
      release: () => Promise.resolve(),
    };
  }
  let released = false;
  let built: Client | undefined;
  let watchHosts = () => {};
  const client = loading.then((cassandra) => {
    if (released) throw new Error(`${operator}: released before the driver had loaded`);
    const reconnection =
      input.policies?.reconnection ??
      new cassandra.policies.reconnection.ExponentialReconnectionPolicy(
        Math.min(500, reconnectMaxDelayMs),
        reconnectMaxDelayMs,
        false,
      );
    built = new cassandra.Client({ ...input, policies: { ...input.policies, reconnection } });
    watchHosts = shutDownReplacedHosts(built);
    return built;
  });
  client.catch(() => undefined);
  return {
    owned: true,
    execute: (query, params, options) =>
      built !== undefined
        ? send(built, query, params, options)
        : client.then((ready) => send(ready, query, params, options)),
    watchHosts: () => watchHosts(),
    release: async () => {
      released = true;
      await (await client.catch(() => undefined))?.shutdown().catch(() => undefined);
    },
  };
}
