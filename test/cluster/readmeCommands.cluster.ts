// The README's cluster command lines, which test/readmeCommands.test.ts leaves to the
// cluster suite (npm run test:cluster): the "On one machine" block run in order on a
// three-node ring of its own, and, while the ring is up, the "Scale-out" block: its
// keyspace statement (cqlsh -e …; through cassandra-driver when cqlsh is not installed,
// as scripts/install-test-deps does not install it) and its aggregator at LOCAL_QUORUM.
// Each must exit with status 0 and do what the README's comment says.
import { expect } from 'chai';
import { Client } from 'cassandra-driver';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { installedBin, packedPackage, projectRoot, projectWithPackage } from '../support/packedPackage.js';
import { CLUSTER_TEST, classify, commandLines, type CommandLine } from '../support/readmeCommands.js';
import { runCommand, scriptsEnvironment, shell } from '../support/readmeRun.js';
import { CLUSTER_START_TIMEOUT_MS, NODE_START_TIMEOUT_MS } from './cassandraCluster.js';

const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
const all = commandLines(readme).map((command) => ({ command, verdict: classify(command) }));
const mine = all.filter(({ verdict }) => verdict?.how === 'elsewhere' && verdict.test === CLUSTER_TEST);
const ringBlock = mine.filter(({ command }) => command.words[0] !== 'cqlsh').map(({ command }) => command);
const keyspaceStatements = mine.filter(({ command }) => command.words[0] === 'cqlsh').map(({ command }) => command);
const scaleOutAggregators = all.flatMap(({ command, verdict }) =>
  verdict?.how === 'command' && command.section === 'Scale-out' ? [{ command, verdict }] : [],
);
const stopLimitMs = Number(/^TimeoutStopSec=(\d+)$/m.exec(readme)?.[1] ?? 30) * 1_000;

/** What `scripts/cassandra status --json` says of each node (the test's own look, not a README line). */
interface NodeView {
  readonly index: number;
  readonly running: boolean;
  readonly cql: boolean;
}

describe("the README's cluster command lines, on a three-node ring of their own", function () {
  this.timeout(CLUSTER_START_TIMEOUT_MS + 60_000);
  const outcomes = new Map<CommandLine, string>();
  let environment: NodeJS.ProcessEnv;
  let clone: string;
  let broker: Mosquitto;
  let project: string;
  let bin: string;
  let ring: { contactPoints: string; dir: string } | undefined;
  const sh = (text: string, timeoutMs: number) => shell(text, clone, environment, timeoutMs);
  const nodes = async (): Promise<NodeView[]> => {
    const status = await sh('scripts/cassandra status --json', 60_000);
    return (JSON.parse(status.stdout) as { nodes: NodeView[] }).nodes;
  };

  before(async function () {
    this.timeout(300_000);
    expect(
      ringBlock.map((command) => command.words[0])[0],
      'the block starts with eval "$(scripts/cassandra up --nodes N)"',
    ).to.equal('eval');
    clone = packedPackage().clone;
    project = projectWithPackage(['rxjs']);
    bin = installedBin(project);
    broker = await startMosquitto();
    environment = scriptsEnvironment();
  });

  after(async function () {
    this.timeout(120_000);
    await broker?.dispose();
    if (ring !== undefined && existsSync(ring.dir))
      await sh(`scripts/cassandra down --dir '${ring.dir}'`, 90_000).catch(() => undefined);
    const lines = [...ringBlock, ...keyspaceStatements, ...scaleOutAggregators.map(({ command }) => command)]
      .sort((a, b) => a.line - b.line)
      .map(
        (command) =>
          `  line ${String(command.line).padStart(4)}  ${command.text}  ${outcomes.get(command) ?? 'NOT DONE'}`,
      );
    console.log(`\n  README cluster command lines:\n${lines.join('\n')}\n`);
  });

  for (const command of ringBlock) {
    const [first, action, ...rest] = command.words;
    const title = `runs ${command.text} (README line ${command.line}): status 0`;
    if (first === 'eval') {
      it(`${title}, three nodes up and CASSANDRA_CONTACT_POINTS set`, async () => {
        const started = await sh(
          `${command.text}\nprintf '%s\\n' "$CASSANDRA_CONTACT_POINTS" "$CASSANDRA_DIR"`,
          CLUSTER_START_TIMEOUT_MS,
        );
        expect(started.code, started.output).to.equal(0);
        const [contactPoints, dir] = started.stdout.trim().split('\n').slice(-2) as [string, string];
        ring = { contactPoints, dir };
        expect(contactPoints.split(',')).to.have.length(3);
        expect((await nodes()).every((node) => node.running && node.cql)).to.equal(true);
        outcomes.set(command, `ran: status 0, CASSANDRA_CONTACT_POINTS=${contactPoints}`);
      });
      // While the ring is up: the Scale-out block.
      for (const statement of keyspaceStatements) {
        it(`runs ${statement.text.slice(0, 60)}… (README line ${statement.line}): the keyspace has 3 replicas`, async () => {
          const cql = statement.words[statement.words.indexOf('-e') + 1]!;
          const [host, port] = ring!.contactPoints.split(',')[0]!.split(':') as [string, string];
          let how: string;
          if (spawnable('cqlsh')) {
            const ran = await sh(`cqlsh ${host} ${port} -e "${cql.replace(/"/g, '\\"')}"`, 60_000);
            expect(ran.code, ran.output).to.equal(0);
            how = `ran with cqlsh against ${host}:${port}: status 0`;
          } else {
            const client = new Client({ contactPoints: [`${host}:${port}`], localDataCenter: 'datacenter1' });
            try {
              await client.execute(cql);
            } finally {
              await client.shutdown();
            }
            how = 'cqlsh is not installed here: its statement ran through cassandra-driver';
          }
          const client = new Client({ contactPoints: [`${host}:${port}`], localDataCenter: 'datacenter1' });
          try {
            const keyspace = await client.execute(
              "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = 'hyper'",
            );
            expect(keyspace.rows[0]?.['replication']).to.deep.include({ datacenter1: '3' });
          } finally {
            await client.shutdown();
          }
          outcomes.set(statement, `${how}; hyper has 3 replicas in datacenter1`);
        });
      }
      for (const { command: aggregate, verdict } of scaleOutAggregators) {
        it(`runs ${aggregate.text} (README line ${aggregate.line}) on the ring: status 0 on SIGTERM`, async () => {
          const outcome = await runCommand(
            verdict,
            bin,
            { broker, cassandra: ring!.contactPoints, project },
            stopLimitMs,
          );
          outcomes.set(aggregate, outcome);
        });
      }
    } else if (first === 'scripts/cassandra' && action === 'status') {
      it(`${title}, every node listed`, async () => {
        const status = await sh(command.text, 60_000);
        expect(status.code, status.output).to.equal(0);
        expect(status.stdout.match(/^\s+node \d/gm)).to.have.length(3);
        outcomes.set(command, 'ran: status 0, three nodes listed');
      });
    } else if (first === 'scripts/cassandra' && action === 'stop-node') {
      it(`${title}, that node down`, async () => {
        const stopped = await sh(command.text, 120_000);
        expect(stopped.code, stopped.output).to.equal(0);
        const index = Number(rest[0]);
        expect((await nodes()).find((node) => node.index === index)?.running).to.equal(false);
        outcomes.set(command, `ran: status 0, node ${index} down`);
      });
    } else if (first === 'scripts/cassandra' && action === 'start-node') {
      it(`${title}, that node up again`, async function () {
        this.timeout(NODE_START_TIMEOUT_MS + 60_000);
        const started = await sh(command.text, NODE_START_TIMEOUT_MS);
        expect(started.code, started.output).to.equal(0);
        const index = Number(rest[0]);
        expect((await nodes()).find((node) => node.index === index)).to.include({ running: true, cql: true });
        outcomes.set(command, `ran: status 0, node ${index} up`);
      });
    } else if (first === 'scripts/cassandra' && action === 'down') {
      it(`${title}, every node stopped and the folder deleted`, async () => {
        const stopped = await sh(command.text, 120_000);
        expect(stopped.code, stopped.output).to.equal(0);
        expect(existsSync(ring!.dir)).to.equal(false);
        outcomes.set(command, 'ran: status 0, every node stopped, the folder deleted');
      });
    } else {
      it(`knows how to check ${command.text} (README line ${command.line})`, () => {
        expect.fail(`no check for ${command.text}: add one to test/cluster/readmeCommands.cluster.ts`);
      });
    }
  }
});

/** Whether `program` is on the PATH. */
function spawnable(program: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${program}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
