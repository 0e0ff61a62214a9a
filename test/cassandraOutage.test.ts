// The node goes down in the middle of a stream and comes back on the same data:
// nothing lost, nothing doubled, and the pipeline holds a bounded number of rows.
import { expect } from 'chai';
import cassandra from 'cassandra-driver';
import type { Client } from 'cassandra-driver';
import { Subject, tap, toArray, type Subscription } from 'rxjs';
import { cassandraSink, ensureWindowCountTable, readWindowTotals, type CassandraWriteResult, type WindowRow } from '../src/index.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode, type CassandraNode } from './support/cassandra.js';
import { corpusRecords, finalTable, plain, windowRows } from './support/windowRows.js';

function openSockets(): number {
  return process.getActiveResourcesInfo().filter((kind) => kind === 'TCPSocketWrap').length;
}

async function waitFor(condition: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('cassandraSink through a Cassandra outage (node stopped mid-stream, restarted on the same data)', function () {
  let node: CassandraNode;

  // Our own clients connect only while the node is up: a user-owned cassandra-driver
  // client that lives through an outage leaks its replaced Host on shutdown (see
  // src/cassandra/client.ts); the sink works around it for the clients it owns.
  async function withClient<R>(use: (client: Client) => Promise<R>): Promise<R> {
    const client = new cassandra.Client(node.clientOptions());
    try {
      return await use(client);
    } finally {
      await client.shutdown();
    }
  }

  before(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    node = await cassandraNode();
    await withClient((client) => ensureWindowCountTable(client, { keyspace: 'sink_outage' }));
  });

  after(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    // Leave the shared node running for whatever test comes next, even if this one failed midway.
    if (node && !node.running) await node.start();
  });

  it('ends with exactly the expected counts; at most `concurrency` rows held while the node is down', async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS + 120_000);
    const records = corpusRecords('elastic');
    const expected = plain(finalTable((await windowRows(records, 'append')).rows));
    // Update mode: each (window, status) is written again and again with a growing
    // count, so a lost write or a stale retry landing last would show in the table.
    const { rows } = await windowRows(records, 'update');
    const concurrency = 16;
    const socketsBefore = openSockets();

    // A source paced on the results, as fromMqtt with manual ack is: it keeps
    // `concurrency` rows outstanding and emits the next one when a write is acknowledged.
    const source = new Subject<WindowRow<number>>();
    let emitted = 0;
    let written = 0;
    // While the node is being stopped (a graceful stop takes seconds), the source slows
    // down so that rows are still outstanding when the node is really gone.
    let stopping = false;
    const slowTimers = new Set<ReturnType<typeof setTimeout>>();
    let maxHeld = 0;
    const emitNext = () => {
      if (emitted < rows.length) {
        source.next(rows[emitted++] as WindowRow<number>);
        maxHeld = Math.max(maxHeld, emitted - written);
        if (emitted === rows.length) source.complete();
      }
    };
    let retries = 0;
    const retryErrors = new Set<string>();
    let maxInFlight = 0;
    let maxQueued = 0;
    let subscription: Subscription | undefined;
    const done = new Promise<Array<CassandraWriteResult<WindowRow<number>>>>((resolve, reject) => {
      subscription = source.pipe(
        cassandraSink(node.clientOptions(), {
          keyspace: 'sink_outage',
          concurrency,
          retries: 200,
          retryBaseDelayMs: 50,
          retryMaxDelayMs: 1_000,
          onRetry: ({ error }) => {
            retries++;
            retryErrors.add((error as Error).constructor.name);
          },
          onBacklog: ({ inFlight, queued }) => {
            maxInFlight = Math.max(maxInFlight, inFlight);
            maxQueued = Math.max(maxQueued, queued);
          },
        }),
        tap(() => {
          written++;
          if (!stopping) {
            emitNext();
            return;
          }
          const timer = setTimeout(() => {
            slowTimers.delete(timer);
            emitNext();
          }, 50);
          slowTimers.add(timer);
        }),
        toArray(),
      ).subscribe({ next: resolve, error: reject });
    });
    try {
      for (let i = 0; i < concurrency; i++) emitNext();

      await waitFor(() => written >= 1_000, 'the first 1,000 rows to be written', 120_000);
      stopping = true;
      await node.stop();
      stopping = false;
      expect(emitted, 'rows left to write when the node went down').to.be.lessThan(rows.length);
      const retriesAtStop = retries;
      const writtenAtStop = written;
      // Proof the outage was seen: every slot failed at least once more since the node stopped.
      await waitFor(() => retries >= retriesAtStop + concurrency, 'writes to fail while the node is down', 60_000);
      expect(written, 'no write can succeed while the node is down').to.equal(writtenAtStop);
      expect(emitted - written, 'rows held by the pipeline during the outage').to.be.at.most(concurrency);
      await node.start();

      const results = await done;
      expect(slowTimers.size).to.equal(0);
      expect(results).to.have.length(rows.length);
      expect(new Set(results.map((r) => r.row)).size, 'every row acknowledged exactly once').to.equal(rows.length);
      expect(results.some((r) => r.attempts > 1)).to.equal(true);
      expect(retryErrors.has('NoHostAvailableError'), `retried errors: ${[...retryErrors].join(', ')}`).to.equal(true);
      expect(maxInFlight).to.be.at.most(concurrency);
      expect(maxQueued).to.equal(0);
      expect(maxHeld).to.be.at.most(concurrency);

      // The owned client is shut down, including the Host the driver replaced after the outage.
      await waitFor(() => openSockets() <= socketsBefore, 'the sink\'s client to close every socket', 20_000);
      await new Promise((resolve) => setTimeout(resolve, 2_000)); // a leaked pool would reconnect by now
      expect(openSockets(), 'sockets left after the stream ended').to.be.at.most(socketsBefore);

      expect(plain(await withClient((client) => readWindowTotals(client, { keyspace: 'sink_outage' })))).to.deep.equal(expected);
    } finally {
      // A failed assertion must not leave the sink retrying: the run would not exit.
      subscription?.unsubscribe();
      for (const timer of slowTimers) clearTimeout(timer);
    }
  });
});
