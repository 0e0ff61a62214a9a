// The aggregator's and the demo's connection to Cassandra, opened when the command
// starts. cassandra-driver is an optional dependency of the package (a Pi that only
// publishes installs without it), so it is loaded here, when --cassandra asks for it.
import type { Client } from 'cassandra-driver';

type CassandraDriver = typeof import('cassandra-driver');

async function loadDriver(): Promise<CassandraDriver> {
  try {
    const module = (await import('cassandra-driver')) as unknown as { default?: CassandraDriver };
    return module.default ?? (module as CassandraDriver);
  } catch (error) {
    throw new Error(
      '--cassandra needs cassandra-driver, which this install left out (npm install --omit=optional): ' +
        'run `npm install cassandra-driver` beside mqtt-iot-stream',
      { cause: error },
    );
  }
}

/** The driver's value of a --consistency name (its check has already passed): LOCAL_QUORUM → `localQuorum`. */
function consistencyValue(driver: CassandraDriver, name: string): number {
  const key = name.toLowerCase().replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
  const value = (driver.types.consistencies as unknown as Record<string, number | undefined>)[key];
  if (value === undefined) throw new Error(`cassandra-driver has no consistency level ${name}`);
  return value;
}

/**
 * Connects to Cassandra and creates the counts table if missing. A node that cannot be
 * reached and one that refuses the statements are different lines, each naming the cause.
 */
export async function prepareCassandra(
  contactPoints: string,
  localDataCenter: string,
  create: (client: Client) => Promise<void>,
  credentials?: { username: string; password: string },
  options: { consistency?: string } = {},
): Promise<Client> {
  const driver = await loadDriver();
  const { auth, Client, policies } = driver;
  const authProvider =
    credentials === undefined ? undefined : new auth.PlainTextAuthProvider(credentials.username, credentials.password);
  // The driver reaches the nodes it discovers (system.peers) on protocolOptions.port,
  // 9042 unless told, not on the contact points' port: a ring on another port needs it.
  const ports = new Set(contactPoints.split(',').map((point) => /:(\d+)$/.exec(point)?.[1]));
  const port = ports.size === 1 ? [...ports][0] : undefined;
  const consistency = options.consistency === undefined ? undefined : consistencyValue(driver, options.consistency);
  const client = new Client({
    contactPoints: contactPoints.split(','),
    localDataCenter,
    ...(authProvider === undefined ? {} : { authProvider }),
    ...(port === undefined ? {} : { protocolOptions: { port: Number(port) } }),
    // The sink writes at the client's consistency (and the schema check reads at it).
    ...(consistency === undefined ? {} : { queryOptions: { consistency } }),
    // The driver's default waits up to 10 minutes between attempts to reach a node that
    // was down; a long-running aggregator should notice within seconds that it is back.
    policies: { reconnection: new policies.reconnection.ExponentialReconnectionPolicy(1_000, 10_000) },
  });
  try {
    await create(client);
    return client;
  } catch (error) {
    await client.shutdown().catch(() => {});
    const reason = (error as Error).message.split('\n')[0];
    const unreachable = (error as Error).name === 'NoHostAvailableError';
    throw new Error(
      unreachable
        ? `cannot reach Cassandra at ${contactPoints} (is it running? --cassandra sets the address): ${reason}`
        : `cannot set up the counts table in Cassandra at ${contactPoints}: ${reason}`,
      { cause: error },
    );
  }
}
