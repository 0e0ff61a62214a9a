/**
 * Waiting for the nodes of a cluster to agree on the schema before reading or changing it.
 * @module
 */
import type { Client } from 'cassandra-driver';

/** How long the nodes that are up may take to agree before the caller goes on regardless. @internal */
export const SCHEMA_AGREEMENT_TIMEOUT_MS = 60_000;
const POLL_MS = 250;

/**
 * Resolves once the nodes that are up report one schema version, or after `timeoutMs`
 * (then the caller goes on and reports what it finds). The driver waits 10 s after a
 * change of its own and then carries on; a loaded cluster takes longer, and meanwhile a
 * node that has not heard of a keyspace takes `CREATE KEYSPACE IF NOT EXISTS` as a
 * creation (its newer definition, with other replication, then wins) and answers "does
 * not exist" for a table made a moment ago. Both were seen on a three-node ring on two
 * busy cores. A single node agrees at once.
 * @internal
 */
export async function schemaAgreement(client: Client, timeoutMs = SCHEMA_AGREEMENT_TIMEOUT_MS): Promise<void> {
  await client.connect();
  // Public in the driver's API documentation, missing from its type declarations.
  const metadata = client.metadata as typeof client.metadata & { checkSchemaAgreement(): Promise<boolean> };
  const deadline = Date.now() + timeoutMs;
  while (!(await metadata.checkSchemaAgreement()) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
