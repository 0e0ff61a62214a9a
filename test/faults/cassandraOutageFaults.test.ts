// The aggregator through a long Cassandra outage, on the real parts: the `aggregate`
// command as a child process, a real Mosquitto with persistence, the real Cassandra node
// stopped for three minutes and then frozen. Its own file, so that `npm test` can run it
// in a process of its own beside the others (scripts/test.mjs): it mostly waits, and it
// stops the node it uses, which no other case may share meanwhile.
import { expect } from 'chai';
import { Client } from 'cassandra-driver';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode, type CassandraNode } from '../support/cassandra.js';
import {
  aggregatorSuite,
  describeDifferences,
  publishEvents,
  quickReconnection,
  scriptedEvents,
  sleep,
} from './aggregatorHarness.js';

const START = Date.UTC(2026, 10, 30, 10, 0, 0);

describe('aggregator through a Cassandra outage (real Mosquitto, real Cassandra, the aggregate command)', function () {
  let node: CassandraNode;
  const suite = aggregatorSuite('outage', CASSANDRA_START_TIMEOUT_MS, async () => {
    node = await cassandraNode();
    return { client: new Client(node.clientOptions(quickReconnection)), args: ['--cassandra', node.contactPoint] };
  });

  it('rides out Cassandra stopped for 3 minutes and then frozen (SIGSTOP), with bounded memory, losing nothing', async function () {
    this.timeout(900_000);
    // Few rows may wait, so the outage also stops intake: the broker's session queues
    // the messages meanwhile, and the aggregator reconnects for them once Cassandra is back.
    const aggregator = await suite.caseAggregator('cassandra', 'append', ['--max-pending-rows', '40']);
    const process = await aggregator.start();
    const events = scriptedEvents(suite.lines, 4_400, START, 240);
    const rss: number[] = [];
    const sampler = setInterval(() => {
      try {
        rss.push(process.rssMb());
      } catch {
        /* exited: the checks below say so */
      }
    }, 1_000);
    try {
      await publishEvents(suite.publisher, events.slice(0, 200), 200);
      // The test's own client sits the outage out: cassandra-driver 4 leaks the timers
      // of a host it replaces after an outage, which would keep this process alive.
      await suite.cassandra.shutdown();
      await node.stop();
      const outageStart = Date.now();
      // 3 minutes at 20 messages a second, event time running: windows close, rows wait.
      await publishEvents(suite.publisher, events.slice(200, 3_800), 20);
      while (Date.now() - outageStart < 185_000) await sleep(1_000);
      expect(process.child.exitCode, `the aggregator survived the outage:\n${process.output()}`).to.equal(null);
      await node.start();
      await publishEvents(suite.publisher, events.slice(3_800, 4_100), 100);
      // Frozen rather than gone: writes time out instead of being refused.
      globalThis.process.kill(node.pid, 'SIGSTOP');
      try {
        await publishEvents(suite.publisher, events.slice(4_100), 10);
        await sleep(10_000);
      } finally {
        globalThis.process.kill(node.pid, 'SIGCONT');
      }
      suite.cassandra = new Client(node.clientOptions(quickReconnection));
      const comparison = await suite.closeAndCompare(
        aggregator.table,
        events,
        'Cassandra stopped 185 s, then SIGSTOP 40 s',
        {
          extra: `; RSS ${Math.min(...rss).toFixed(0)}–${Math.max(...rss).toFixed(0)} MB`,
        },
      );
      expect(
        comparison,
        describeDifferences(comparison, `aggregator output:\n${process.output().slice(-3000)}`),
      ).to.include({ lost: 0, doubled: 0 });
      expect(process.output(), 'the outage is reported').to.match(/cassandraSink|Cassandra/);
      expect(process.output(), 'intake stopped and resumed')
        .to.match(/not taking messages until they are written/)
        .and.match(/taking messages\n/);
      const early = Math.max(...rss.slice(0, 10));
      expect(Math.max(...rss) - early, `RSS ${rss.map((mb) => mb.toFixed(0)).join(' ')}`).to.be.lessThan(80);
    } finally {
      clearInterval(sampler);
    }
    expect(await aggregator.kill('SIGTERM')).to.equal(0);
  });
});
