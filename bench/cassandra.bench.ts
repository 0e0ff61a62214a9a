/**
 * cassandraSink rows/s to a real Cassandra 5 node, against the driver's own
 * `executeConcurrent` writing the same rows with the same INSERT (prepared) at the
 * same concurrency (the sink's default, 32), on one shared client.
 *
 * The rows are what the aggregator writes: windowedCount's update-mode rows over
 * real statuses, so the same (window, status) is re-written with a growing count.
 */
import cassandra from 'cassandra-driver';
import { count as countResults, from, lastValueFrom } from 'rxjs';
import { cassandraSink, ensureWindowCountTable, windowCountRows, type WindowRow } from '../src/index.js';
import { compare, interleave, now, secondsSince, type BenchResult, type Benchmark } from './harness.js';
import { statusEvents } from './events.js';
import { statusCounter } from './pipeline.js';

const CONCURRENCY = 32;
const KEYSPACE = 'bench';
const TABLE = 'window_counts';

/** `count` update-mode rows over the corpus statuses, 1-minute windows (the reference settings). */
function updateRows(count: number): WindowRow<number>[] {
  const rows: WindowRow<number>[] = [];
  const counter = statusCounter((row) => rows.push(row));
  for (const event of statusEvents(count, 6)) counter.push(event);
  return rows;
}

export const cassandraBench: Benchmark = {
  name: 'cassandra',
  async run(context): Promise<BenchResult[]> {
    const full = context.mode === 'full';
    const count = full ? 10_000 : 2_000;
    const node = await context.cassandra();
    const client = new cassandra.Client({ contactPoints: [node.contactPoint], localDataCenter: node.localDataCenter });
    try {
      await client.connect();
      await ensureWindowCountTable(client, { keyspace: KEYSPACE, table: TABLE });
      const rows = updateRows(count);
      const query = `INSERT INTO ${KEYSPACE}.${TABLE} (window_start, window_end, status, aggregator, count) VALUES (?, ?, ?, ?, ?)`;
      const parameters = rows.map((row) => [row.windowStart, row.windowEnd, row.key, '', row.count]);
      const measured = await interleave(
        {
          executeConcurrent: async () => {
            const started = now();
            const result = await cassandra.concurrent.executeConcurrent(client, query, parameters, {
              concurrencyLevel: CONCURRENCY,
              raiseOnFirstError: true,
            });
            if (result.totalExecuted !== count)
              throw new Error(`executeConcurrent wrote ${result.totalExecuted} of ${count} rows`);
            return count / secondsSince(started);
          },
          ours: async () => {
            const started = now();
            // The array is a synchronous source: every row queues at once, hence maxQueued.
            const written = await lastValueFrom(
              from(rows).pipe(
                cassandraSink(client, {
                  ...windowCountRows({ keyspace: KEYSPACE, table: TABLE }),
                  concurrency: CONCURRENCY,
                  maxQueued: count,
                }),
                countResults(),
              ),
            );
            if (written !== count) throw new Error(`cassandraSink wrote ${written} of ${count} rows`);
            return count / secondsSince(started);
          },
        },
        { rounds: full ? 7 : 3, warmup: 1 },
      );
      return [
        compare(
          `cassandraSink, ${CONCURRENCY} concurrent`,
          measured.ours,
          measured.executeConcurrent,
          'rows/s',
          0.9,
          'executeConcurrent',
        ),
      ];
    } finally {
      await client.shutdown();
    }
  },
};
