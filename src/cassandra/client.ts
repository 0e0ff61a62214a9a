/**
 * Who owns the Cassandra client: one passed in (the user's, left open) or one built
 * from options (the operator's, shut down on teardown).
 * @module
 */
import cassandra from 'cassandra-driver';
import type { Client, ClientOptions } from 'cassandra-driver';

/** A cassandra-driver 4 `Client` you own, or the options to build one the operator owns. */
export type CassandraClientInput = Client | ClientOptions;

/** A client and whether the caller must shut it down. @internal */
export interface HeldClient {
  readonly client: Client;
  readonly owned: boolean;
  /** Call after each request settles: starts the owned-client host watch once connected. */
  watchHosts(): void;
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
export function holdClient(input: CassandraClientInput, reconnectMaxDelayMs: number): HeldClient {
  if (isClient(input)) return { client: input, owned: false, watchHosts: () => undefined };
  const reconnection =
    input.policies?.reconnection ??
    new cassandra.policies.reconnection.ExponentialReconnectionPolicy(
      Math.min(500, reconnectMaxDelayMs),
      reconnectMaxDelayMs,
      false,
    );
  const client = new cassandra.Client({ ...input, policies: { ...input.policies, reconnection } });
  return { client, owned: true, watchHosts: shutDownReplacedHosts(client) };
}

/** Shuts an owned client down, never throwing (teardown must not fail). @internal */
export function releaseClient(held: HeldClient): Promise<void> {
  if (!held.owned) return Promise.resolve();
  return held.client.shutdown().catch(() => undefined);
}
