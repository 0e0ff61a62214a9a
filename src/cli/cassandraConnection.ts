// The aggregator's and the demo's connection to Cassandra, opened when the command
// starts. The driver is loaded, and the client built, as cassandraSink builds its own
// (loadCassandraDriver, ownedClientOptions, retireReplacedHosts: the same reconnection
// policy and the same care of replaced hosts), so a
// missing driver is the library's CassandraDriverMissingError (failureMessage.ts says
// which flag needs it) and a node that comes back is noticed within seconds.
import type { Client } from 'cassandra-driver';
import { CASSANDRA_SINK_DEFAULTS } from '../cassandra/cassandraSink.js';
import { ownedClientOptions, retireReplacedHosts } from '../cassandra/client.js';
import { loadCassandraDriver, type CassandraDriver } from '../cassandra/driver.js';

/** The driver's value of a --consistency name (its reader has already checked it): LOCAL_QUORUM → `localQuorum`. */
function consistencyValue(driver: CassandraDriver, name: string): number {
  const key = name.toLowerCase().replace(/_([a-z])/g, (_, letter: string) => letter.toUpperCase());
  const value = (driver.types.consistencies as unknown as Record<string, number | undefined>)[key];
  if (value === undefined) throw new Error(`cassandra-driver has no consistency level ${name}`);
  return value;
}

// The driver's words when --datacenter names no data centre of the cluster.
const UNKNOWN_DATA_CENTRE = /localDataCenter was configured as '(.*)', but only found hosts in data centers: \[(.*)\]/;

/**
 * Connects to Cassandra and runs `create` (the counts table, if missing). A node that
 * cannot be reached, a data centre that is not the cluster's and a node that refuses
 * the statements are different lines, each naming the cause and the flag to change.
 */
export async function prepareCassandra(
  contactPoints: string,
  localDataCenter: string,
  create: (client: Client) => Promise<void>,
  credentials?: { username: string; password: string },
  options: { consistency?: string } = {},
): Promise<Client> {
  const driver = await loadCassandraDriver('--cassandra');
  const { auth, Client } = driver;
  const authProvider =
    credentials === undefined ? undefined : new auth.PlainTextAuthProvider(credentials.username, credentials.password);
  // The driver reaches the nodes it discovers (system.peers) on protocolOptions.port,
  // 9042 unless told, not on the contact points' port: a ring on another port needs it.
  const ports = new Set(contactPoints.split(',').map((point) => /:(\d+)$/.exec(point)?.[1]));
  const port = ports.size === 1 ? [...ports][0] : undefined;
  const consistency = options.consistency === undefined ? undefined : consistencyValue(driver, options.consistency);
  const client = new Client(
    ownedClientOptions(
      driver,
      {
        contactPoints: contactPoints.split(','),
        localDataCenter,
        ...(authProvider === undefined ? {} : { authProvider }),
        ...(port === undefined ? {} : { protocolOptions: { port: Number(port) } }),
        // The sink writes at the client's consistency (and the schema check reads at it).
        ...(consistency === undefined ? {} : { queryOptions: { consistency } }),
      },
      CASSANDRA_SINK_DEFAULTS.retryMaxDelay,
    ),
  );
  // The driver's replaced hosts would keep the process alive after shutdown (the sink's clients do the same).
  retireReplacedHosts(client);
  try {
    await create(client);
    return client;
  } catch (error) {
    await client.shutdown().catch(() => {});
    const reason = (error as Error).message.split('\n')[0]!;
    const dataCentres = UNKNOWN_DATA_CENTRE.exec(reason);
    if (dataCentres !== null) {
      const known = dataCentres[2]!.split(', ').filter((name) => name !== '');
      throw new Error(
        `--datacenter ${dataCentres[1]!} is not a data centre of the Cassandra at ${contactPoints}: its nodes are in ` +
          `${known.join(', ')} (give --datacenter ${known[0] ?? '<name>'}; nodetool status names them)`,
        { cause: error },
      );
    }
    const unreachable = (error as Error).name === 'NoHostAvailableError';
    throw new Error(
      unreachable
        ? `cannot reach Cassandra at ${contactPoints} (is it running? --cassandra sets the address): ${reason}`
        : `cannot set up the counts table in Cassandra at ${contactPoints}: ${reason}`,
      { cause: error },
    );
  }
}
