// The README's quick start, done as a newcomer does it: in an empty folder, the
// commands the README gives (the package itself from the packed tarball), each snippet
// saved in the file the README names, type-checked and run the way the README says,
// against a real Mosquitto and the test Cassandra node. Everything is read from
// README.md's "Quick start" section: nothing of it is copied here, so the test follows
// the README as it changes. The only edit: the snippets' broker and Cassandra addresses
// are pointed at the test's.
import { expect } from 'chai';
import cassandra from 'cassandra-driver';
import { copyFileSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIotPayload, makeIotPayload } from '../src/index.js';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode, type CassandraNode } from './support/cassandra.js';
import { shellEnvironment, start, type Running } from './support/childProcess.js';
import { fencedBlocks, section } from './support/markdown.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { closeClients, countLog, testClient } from './support/mqttHelpers.js';
import { packedPackage, projectRoot, temporaryDirectory } from './support/packedPackage.js';
import { QUICK_START_TEST, classify, commandLines, type CommandLine } from './support/readmeCommands.js';
import { waitFor } from './support/waitFor.js';

const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
const quickStart = section(readme, 'Quick start');
/** The section's line numbers are the README's. */
const readmeLine = (sectionLine: number) => quickStart.line - 1 + sectionLine;

/** A snippet and the file the README saves it in. */
interface Snippet {
  readonly file: string;
  readonly code: string;
  readonly line: number;
}

/**
 * Each `ts` block of the section, with the file named by the paragraph right above it
 * (its first code span ending in .ts or .mts). A snippet without a file name fails here.
 */
function snippets(): Snippet[] {
  const lines = quickStart.text.split('\n');
  return fencedBlocks(quickStart.text)
    .filter((block) => block.language === 'ts')
    .map((block) => {
      let start = block.fenceIndex - 1;
      while (start > 0 && lines[start]!.trim() === '') start--;
      let first = start;
      while (first > 0 && lines[first - 1]!.trim() !== '') first--;
      const paragraph = lines.slice(first, start + 1).join(' ');
      const file = /`([\w.-]+\.m?ts)`/.exec(paragraph)?.[1];
      if (file === undefined)
        throw new Error(`README.md line ${readmeLine(block.firstLine)}: no file name (\`name.ts\`) above this snippet`);
      return { file, code: block.lines.join('\n'), line: readmeLine(block.firstLine) };
    });
}

/** The section's command lines for a newcomer: the quick start's own and its installs, in README order. */
function setupCommands(): CommandLine[] {
  const all = commandLines(readme).filter(
    (command) => command.line > quickStart.line && command.line < quickStart.line + quickStart.text.split('\n').length,
  );
  return all.filter((command) => {
    const verdict = classify(command);
    return (verdict?.how === 'elsewhere' && verdict.test === QUICK_START_TEST) || verdict?.how === 'install';
  });
}

/** Replaces `from` (which must occur exactly once) by `to`, naming the snippet when it is missing. */
function pointAt(code: string, file: string, from: string, to: string): string {
  const count = code.split(from).length - 1;
  if (count !== 1)
    throw new Error(`${file} in the README has ${count} × ${from}; the test points exactly one at ${to}`);
  return code.replace(from, to);
}

describe('the README quick start, in a project made by npm init -y', function () {
  this.timeout(CASSANDRA_START_TIMEOUT_MS + 240_000);
  let broker: Mosquitto;
  let node: CassandraNode;
  let project: string;
  let tarball: string;
  const environment = shellEnvironment({
    npm_config_prefer_offline: 'true',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
  });
  const ran: string[] = [];

  /** Runs one README command line in the project, as a shell would; resolves with its status and output. */
  async function shell(text: string, timeoutMs = 180_000) {
    const running = start('sh', ['-c', text], { cwd: project, env: environment });
    const ended = await running.exit(timeoutMs);
    return { ...ended, output: running.stdout() + running.stderr() };
  }

  before(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS + 120_000);
    tarball = packedPackage().tarball;
    [broker, node] = await Promise.all([startMosquitto(), cassandraNode()]);
    // Not named mqtt-iot-stream: npm refuses to install a package into its namesake.
    project = temporaryDirectory('quick-start-');
  });

  after(async () => {
    await closeClients();
    await broker?.dispose();
    if (ran.length > 0) console.log(`      quick start, as run:\n${ran.map((line) => `        ${line}`).join('\n')}`);
  });

  it('sets the project up with the commands the README gives; npm init -y writes "type": "commonjs", as it says', async () => {
    const commands = setupCommands().filter((command) => command.line < snippets()[0]!.line);
    expect(commands.map((command) => command.words[0])).to.include('npm');
    for (const command of commands) {
      const { words } = command;
      // The package from the tarball: the one name changed, the rest as written.
      const text =
        words[0] === 'npm' && words[1] === 'install'
          ? command.text.replace(/(^|\s)mqtt-iot-stream(?=\s|$)/, `$1${tarball}`)
          : command.text;
      const result = await shell(text);
      ran.push(`$ ${command.text}  (README line ${command.line}): status ${result.code}`);
      expect(result.code, `${command.text} (README line ${command.line}):\n${result.output}`).to.equal(0);
      if (command.text === 'npm init -y') {
        const made = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as { type?: string };
        expect(made.type, 'what npm init -y writes').to.equal('commonjs');
      }
    }
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as {
      type?: string;
      dependencies: Record<string, string>;
    };
    expect(manifest.type).to.equal('module');
    expect(Object.keys(manifest.dependencies)).to.include('mqtt-iot-stream');
  });

  it("saves each snippet in the file the README names and type-checks them with the README's command (tsc --init's strict settings)", async () => {
    const all = snippets();
    expect(all.map((snippet) => snippet.file)).to.include.members(['publisher.ts', 'aggregator.ts']);
    for (const { file, code } of all) {
      let pointed = code;
      if (file === 'publisher.ts') pointed = pointAt(code, file, "'mqtt://broker.local:1883'", `'${broker.url}'`);
      if (file === 'aggregator.ts') {
        pointed = pointAt(code, file, "'mqtt://localhost:1883'", `'${broker.url}'`);
        pointed = pointAt(pointed, file, "'127.0.0.1:9042'", `'${node.contactPoint}'`);
      }
      writeFileSync(join(project, file), pointed);
    }
    const tsconfig = readFileSync(join(project, 'tsconfig.json'), 'utf8');
    expect(tsconfig, 'tsc --init wrote the tsconfig.json').to.match(/"strict": true/);
    const checks = setupCommands().filter((command) => command.words[1] === 'tsc' && command.text !== 'npx tsc --init');
    expect(checks.map((command) => command.text)).to.deep.equal(['npx tsc --noEmit']);
    for (const command of checks) {
      const result = await shell(command.text);
      ran.push(`$ ${command.text}  (README line ${command.line}): status ${result.code}`);
      expect(result.code, `${command.text} (README line ${command.line}):\n${result.output}`).to.equal(0);
    }
  });

  it('needs what it says: as CommonJS the .ts files are refused (TS1309, top-level await), as .mts files they compile', async () => {
    // The same project, but CommonJS as npm init -y left it, its installed packages shared.
    const commonjs = temporaryDirectory('quick-start-commonjs-');
    symlinkSync(join(project, 'node_modules'), join(commonjs, 'node_modules'));
    copyFileSync(join(project, 'tsconfig.json'), join(commonjs, 'tsconfig.json'));
    const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(commonjs, 'package.json'), JSON.stringify({ ...manifest, type: 'commonjs' }));
    for (const { file } of snippets()) copyFileSync(join(project, file), join(commonjs, file));
    const tsc = async () => {
      const running = start('npx', ['tsc', '--noEmit'], { cwd: commonjs, env: environment });
      const ended = await running.exit(120_000);
      return { ...ended, output: running.stdout() + running.stderr() };
    };
    const asTs = await tsc();
    expect(asTs.code).to.not.equal(0);
    expect(asTs.output).to.match(/aggregator\.ts\(\d+,\d+\): error TS1309/);
    for (const { file } of snippets()) {
      writeFileSync(join(commonjs, file.replace(/\.ts$/, '.mts')), readFileSync(join(commonjs, file)));
      writeFileSync(join(commonjs, file), 'export {};\n');
    }
    const asMts = await tsc();
    expect(asMts.code, asMts.output).to.equal(0);
  });

  it('runs the aggregator as the README says against a real Mosquitto and Cassandra: each final row printed and in hyper.mqtt', async () => {
    const runLine = setupCommands().find((command) => /^npx tsx aggregator\.ts$/.test(command.text));
    expect(runLine, 'the README runs aggregator.ts with npx tsx').to.not.equal(undefined);
    const subscriptions = () => countLog(broker.log(), /Received SUBSCRIBE from/);
    const before = subscriptions();
    const [command, ...args] = runLine!.words as [string, ...string[]];
    const aggregator: Running = start(command, args, { cwd: project, env: environment });
    const client = await testClient(broker.url);
    const reader = new cassandra.Client(node.clientOptions());
    const windowStarts = [new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:05:00Z')];
    try {
      const running = () => {
        const ended = aggregator.ended();
        if (ended !== undefined)
          throw new Error(
            `the aggregator ended (${JSON.stringify(ended)}):\n${aggregator.stdout()}${aggregator.stderr()}`,
          );
        return true;
      };
      await waitFor(() => running() && subscriptions() > before, 'the aggregator to subscribe', 90_000);
      // Three requests in the window 00:00 of 2001, then one five minutes later: the
      // watermark (2 minutes behind the largest event time) passes the first window's
      // end, and its rows are final. The second window stays open (idle advance moves
      // the watermark by the time that passes, minutes here).
      const events: [string, number][] = [
        ['2001-01-01T00:00:10Z', 200],
        ['2001-01-01T00:00:20Z', 404],
        ['2001-01-01T00:00:30Z', 200],
        ['2001-01-01T00:05:00Z', 200],
      ];
      for (const [time, status] of events) {
        const line = `10.0.0.1 - - [01/Jan/2001:00:00:00 +0000] "GET /index.html HTTP/1.1" ${status} 512`;
        await client.publishAsync('rupesh/gpiotopic', encodeIotPayload(makeIotPayload(line, new Date(time))), {
          qos: 1,
        });
      }
      const printed = ['2001-01-01T00:00:00.000Z 200 2', '2001-01-01T00:00:00.000Z 404 1'];
      await waitFor(
        () => running() && printed.every((row) => aggregator.stdout().split('\n').includes(row)),
        () => `the rows ${printed.join(', ')}; it printed:\n${aggregator.stdout()}${aggregator.stderr()}`,
        60_000,
      );
      const stored = await reader.execute(
        'SELECT window_start, status, count FROM hyper.mqtt WHERE window_start IN ?',
        [windowStarts],
        { prepare: true },
      );
      expect(
        stored.rows
          .map((row) => `${(row['window_start'] as Date).toISOString()} ${row['status']} ${row['count']}`)
          .sort(),
      ).to.deep.equal(printed);
      expect(aggregator.stderr(), 'nothing on stderr').to.equal('');
      // fromMqtt never completes: it runs until stopped.
      expect(aggregator.ended()).to.equal(undefined);
      ran.push(
        `$ ${runLine!.text}  (README line ${runLine!.line}): printed ${printed.join(' · ')}; running until stopped`,
      );
    } finally {
      await aggregator.stop('SIGTERM', 30_000);
      await reader
        .execute('DELETE FROM hyper.mqtt WHERE window_start IN ?', [windowStarts], { prepare: true })
        .catch(() => undefined);
      await reader.shutdown();
    }
  });

  it('runs the Pi side up to the GPIO: without a Raspberry Pi it ends with status 1 and a GpioBackendUnavailableError', async () => {
    const publisher = start('npx', ['tsx', 'publisher.ts'], { cwd: project, env: environment });
    const ended = await publisher.exit(60_000);
    ran.push(`$ npx tsx publisher.ts  (the Pi side, on this machine without a Pi): status ${ended.code}`);
    expect(ended.code, publisher.stdout() + publisher.stderr()).to.equal(1);
    expect(publisher.stderr()).to.match(/GpioBackendUnavailableError: The pigpio GPIO backend cannot be used/);
  });
});
