/**
 * cassandra-driver is an optional dependency: a Pi that only publishes installs
 * without it (`npm install --omit=optional`), so nothing on the main entry's import
 * path may load it. The Cassandra operators load it when they first need it.
 * @module
 */
import type * as CassandraDriverModule from 'cassandra-driver';

/** The cassandra-driver module. @internal */
export type CassandraDriver = typeof CassandraDriverModule;

/**
 * Thrown (as the stream's error) when a Cassandra operator needs cassandra-driver and
 * it is not installed.
 */
export class CassandraDriverMissingError extends Error {
  override readonly name = 'CassandraDriverMissingError';
  /**
   * @param operator - the operator that needed the driver.
   * @param cause - the error of `import('cassandra-driver')`.
   */
  constructor(
    readonly operator: string,
    override readonly cause: unknown,
  ) {
    super(
      `${operator}: cassandra-driver is not installed (an optional dependency of mqtt-iot-stream, ` +
        `left out by --omit=optional); install it with \`npm install cassandra-driver\``,
    );
  }
}

let loading: Promise<CassandraDriver> | undefined;

/**
 * The driver, imported once per process. A failed import is not kept, so installing
 * the driver and subscribing again works without a restart.
 * @internal
 */
export function loadCassandraDriver(operator: string): Promise<CassandraDriver> {
  loading ??= import('cassandra-driver').then(
    // import() of a CommonJS package gives its exports as `default`.
    (module) => (module as unknown as { default?: CassandraDriver }).default ?? module,
    (error: unknown) => {
      loading = undefined;
      throw new CassandraDriverMissingError(operator, error);
    },
  );
  return loading;
}
