// Every command line in the README, run as a reader would run it, against real
// services: a Mosquitto, and a Cassandra node started by the README's own
// `eval "$(scripts/cassandra up)"`. Which lines count as command lines, and how a line
// is read, is written at the top of test/support/readmeCommands.ts; what is done with
// each is its classify():
//
// - installs (npm ci, npm install …, scripts/install-test-deps) change the machine, so
//   they are checked, not run: the lock file matches package.json, every package named
//   is one this package depends on or is, every flag is one `npm install --help` lists,
//   the script exists, is executable and parses;
// - `npx mqtt-iot-stream …` runs the command installed from the packed tarball (the
//   script package.json's bin names, read from the installed package): `--help` lines
//   must exit 0; publish, aggregate and demo run for a few seconds and must exit 0 on
//   SIGTERM (or by themselves with --count/--duration), as must the systemd unit's
//   ExecStart= within its TimeoutStopSec;
// - `npm run demo` runs in a clean copy of the repository, in a terminal, where `q`
//   must end it with status 0;
// - the single-node scripts/cassandra lines run; the cluster's and cqlsh run in
//   test/cluster/readmeCommands.cluster.ts; the quick start's in test/readmeQuickStart.test.ts.
//
// A command line no rule knows fails the first test. After the run, a list says what
// was run, checked or left to another test, and why.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CASSANDRA_START_TIMEOUT_MS } from './support/cassandra.js';
import { shellEnvironment, start } from './support/childProcess.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import {
  installedBin,
  packedPackage,
  projectRoot,
  projectWithPackage,
  temporaryDirectory,
} from './support/packedPackage.js';
import { classify, commandLines, type CommandLine, type Verdict } from './support/readmeCommands.js';
import { RUN_MS, freshHome, runCommand, scriptsEnvironment, shell, type Services } from './support/readmeRun.js';
import { waitFor } from './support/waitFor.js';

const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
const commands = commandLines(readme).map((command) => ({ command, verdict: classify(command) }));
const manifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};

/** How long a stopped command may take to exit: the README's systemd unit gives it TimeoutStopSec. */
const stopLimitMs = Number(/^TimeoutStopSec=(\d+)$/m.exec(readme)?.[1] ?? 30) * 1_000;

/** What happened to each command line, for the list printed at the end. */
const outcomes = new Map<CommandLine, string>();
const record = (command: CommandLine, outcome: string) => {
  const before = outcomes.get(command);
  outcomes.set(command, before === undefined ? outcome : `${before}; ${outcome}`);
};
const where = (command: CommandLine) => `README line ${command.line}: ${command.text}`;

/** Each command line with its verdict of kind `how`. */
function ofKind<How extends Verdict['how']>(how: How) {
  return commands.flatMap(({ command, verdict }) =>
    verdict?.how === how ? [{ command, verdict: verdict as Extract<Verdict, { how: How }> }] : [],
  );
}

describe('every command line in the README', function () {
  this.timeout(120_000);

  after(() => {
    const width = Math.max(...commands.map(({ command }) => command.text.length));
    const lines = commands.map(
      ({ command }) =>
        `  line ${String(command.line).padStart(4)}  ${command.text.replace(/\n/g, ' ').padEnd(Math.min(width, 60))}  ` +
        (outcomes.get(command) ?? 'NOT DONE: the test that would run it failed or did not get to it'),
    );
    console.log(`\n  README command lines (${commands.length}), and what was done with each:\n${lines.join('\n')}\n`);
  });

  it('knows every command line in the README (rules: test/support/readmeCommands.ts)', () => {
    expect(commands.length, 'command lines found').to.be.at.least(20);
    const unknown = commands.filter(({ verdict }) => verdict === undefined).map(({ command }) => where(command));
    for (const { command } of commands.filter(({ verdict }) => verdict === undefined))
      record(command, 'UNKNOWN: no rule in classify() says how to run or check it');
    expect(
      unknown,
      `command lines the README test does not know; add a rule to classify() in test/support/readmeCommands.ts:\n${unknown.join('\n')}`,
    ).to.deep.equal([]);
    for (const { command, verdict } of ofKind('elsewhere'))
      record(command, `run by ${verdict.test}: ${verdict.reason}`);
    for (const { command, verdict } of ofKind('not run')) record(command, `not run: ${verdict.reason}`);
  });

  it('reads command lines by the rules written in test/support/readmeCommands.ts, and knows none it has no rule for', () => {
    const sample = [
      '# Title',
      '```sh',
      '# a comment line',
      'npm ci && npm run demo   # two commands',
      'npx mqtt-iot-stream aggregate --broker mqtt://b:1883 \\',
      "  --cassandra 'h:9042'",
      'cqlsh -e "CREATE KEYSPACE k WITH replication =',
      "  {'class': 'SimpleStrategy'}\"",
      'tail -F access.log | npx mqtt-iot-stream publish --log -',
      'curl https://example.com',
      '```',
      '```console',
      '$ npx mqtt-iot-stream --help',
      'Usage: output, not a command',
      '```',
      '```ini',
      'ExecStart=/usr/bin/npx mqtt-iot-stream demo --duration 5',
      '```',
      '`npm test` in prose is not a command line',
    ].join('\n');
    const read = commandLines(sample);
    expect(read.map((command) => command.words)).to.deep.equal([
      ['npm', 'ci'],
      ['npm', 'run', 'demo'],
      ['npx', 'mqtt-iot-stream', 'aggregate', '--broker', 'mqtt://b:1883', '--cassandra', 'h:9042'],
      ['cqlsh', '-e', "CREATE KEYSPACE k WITH replication =\n  {'class': 'SimpleStrategy'}"],
      ['tail', '-F', 'access.log', '|', 'npx', 'mqtt-iot-stream', 'publish', '--log', '-'],
      ['curl', 'https://example.com'],
      ['npx', 'mqtt-iot-stream', '--help'],
      ['/usr/bin/npx', 'mqtt-iot-stream', 'demo', '--duration', '5'],
    ]);
    expect(read.map((command) => command.line)).to.deep.equal([4, 4, 5, 7, 9, 10, 13, 17]);
    expect(read[2]!.text).to.equal("npx mqtt-iot-stream aggregate --broker mqtt://b:1883 --cassandra 'h:9042'");
    expect(read.map((command) => classify(command)?.how)).to.deep.equal([
      'install',
      'npm script',
      'command',
      'elsewhere',
      undefined, // a pipe: no rule says how to run it
      undefined, // no rule for curl
      'help',
      'command',
    ]);
    expect(classify(read[7]!)).to.include({ bounded: true, systemd: true });
  });

  it('checks the install commands without running them', () => {
    const known = new Set([
      manifest.name,
      ...Object.keys({
        ...manifest.dependencies,
        ...manifest.optionalDependencies,
        ...manifest.peerDependencies,
        ...manifest.devDependencies,
      }),
    ]);
    const installHelp = execFileSync('npm', ['install', '--help'], { encoding: 'utf8', env: shellEnvironment() });
    const installs = ofKind('install');
    expect(installs.length).to.be.at.least(3);
    for (const { command, verdict } of installs) {
      if (verdict.what === 'npm ci') {
        // npm ci refuses a lock file that does not match package.json.
        const lock = JSON.parse(readFileSync(join(projectRoot, 'package-lock.json'), 'utf8')) as {
          packages: Record<string, Record<string, unknown>>;
        };
        const root = lock.packages['']!;
        for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const)
          expect(root[field] ?? {}, `${where(command)}: package-lock.json's ${field}`).to.deep.equal(
            manifest[field] ?? {},
          );
        record(command, "checked, not run (an install): package-lock.json matches package.json's dependencies");
      } else if (verdict.what === 'npm install') {
        const args = command.words.slice(2);
        for (const flag of args.filter((arg) => arg.startsWith('-'))) {
          const [name, value] = flag.split('=') as [string, string | undefined];
          expect(installHelp, `${where(command)}: npm install --help lists ${name}`).to.match(
            new RegExp(`[[|\\s]${name}[\\]|\\s]`),
          );
          if (value !== undefined)
            expect(installHelp, `${where(command)}: ${name} takes ${value}`).to.match(
              new RegExp(`${name} <[^>]*\\b${value}\\b[^>]*>`),
            );
        }
        const packages = args.filter((arg) => !arg.startsWith('-'));
        expect(packages.length, where(command)).to.be.at.least(1);
        for (const name of packages)
          expect(known, `${where(command)}: ${name} is not this package nor one it depends on`).to.include(name);
        record(
          command,
          `checked, not run (an install): ${packages.join(', ')} ${packages.length === 1 ? 'is' : 'are'} this package or in its package.json; ` +
            `flags as npm install --help lists them` +
            (command.section === 'Quick start' ? '; test/readmeQuickStart.test.ts runs it in its fresh project' : ''),
        );
      } else {
        const script = join(projectRoot, command.words[0]!);
        expect(existsSync(script), `${where(command)}: the script exists`).to.equal(true);
        expect(statSync(script).mode & 0o111, `${where(command)}: the script is executable`).to.not.equal(0);
        const shell = /^#!\s*\S*\benv\s+(\w+)|^#!\s*\S*\/(\w+)/.exec(readFileSync(script, 'utf8'));
        execFileSync(shell?.[1] ?? shell?.[2] ?? 'sh', ['-n', script]);
        record(command, 'checked, not run (installs system packages as root): exists, executable, parses');
      }
    }
  });

  describe('run against a real Mosquitto and the Cassandra node the README starts', function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS + 120_000);
    let broker: Mosquitto;
    let project: string;
    let bin: string;
    let clone: string;
    /** scripts/cassandra's own settings: a private "last node" record, the shared jar cache. */
    let cassandraEnvironment: NodeJS.ProcessEnv;
    let cassandra: { host: string; port: string; dir: string } | undefined;
    const startedDirs = new Set<string>();
    const [evalUp] = ofKind('cassandra node').filter(({ verdict }) => verdict.action === 'eval up');
    const [jsonUp] = ofKind('cassandra node').filter(({ verdict }) => verdict.action === 'up --json');
    const downs = ofKind('cassandra node').filter(({ verdict }) => verdict.action === 'down');

    /** Runs a README line with sh in the clean copy, as a reader in a checkout would. */
    const sh = (text: string, timeoutMs: number) => shell(text, clone, cassandraEnvironment, timeoutMs);
    const services = (): Services => ({ broker, cassandra: `${cassandra!.host}:${cassandra!.port}`, project });

    before(async function () {
      this.timeout(CASSANDRA_START_TIMEOUT_MS + 240_000);
      clone = packedPackage().clone;
      project = projectWithPackage(['rxjs']);
      bin = installedBin(project);
      broker = await startMosquitto();
      cassandraEnvironment = scriptsEnvironment();
      expect(evalUp, 'the README starts a node with eval "$(scripts/cassandra up)"').to.not.equal(undefined);
      // The README's line, then the variables it says it sets.
      const started = await sh(
        `${evalUp!.command.text}\nprintf '%s\\n' "$CASSANDRA_HOST" "$CASSANDRA_PORT" "$CASSANDRA_PID" "$CASSANDRA_DIR"`,
        CASSANDRA_START_TIMEOUT_MS,
      );
      expect(started.code, `${where(evalUp!.command)}:\n${started.output}`).to.equal(0);
      const [host, port, pid, dir] = started.stdout.trim().split('\n').slice(-4) as [string, string, string, string];
      startedDirs.add(dir);
      expect(host).to.match(/^127\.0\.0\.1$/);
      expect(port).to.match(/^\d+$/);
      expect(() => process.kill(Number(pid), 0), 'the node runs').to.not.throw();
      cassandra = { host, port, dir };
      record(
        evalUp!.command,
        `ran: status 0, set CASSANDRA_HOST=${host}, CASSANDRA_PORT=${port}, CASSANDRA_PID, CASSANDRA_DIR`,
      );
    });

    after(async function () {
      this.timeout(120_000);
      await broker?.dispose();
      // Whatever a failed test left running.
      for (const dir of startedDirs) await sh(`scripts/cassandra down --dir '${dir}'`, 60_000).catch(() => undefined);
    });

    for (const { command, verdict } of ofKind('help')) {
      it(`runs ${command.text} (README line ${command.line}): status 0`, async () => {
        const running = start(process.execPath, [bin, ...verdict.args], { cwd: project, env: freshHome() });
        const ended = await running.exit(20_000);
        expect(ended, running.stdout() + running.stderr()).to.deep.equal({ code: 0, signal: null });
        expect(running.stdout()).to.not.equal('');
        record(command, 'ran: status 0');
      });
    }

    for (const { command, verdict } of ofKind('command')) {
      const how = verdict.bounded ? 'ends by itself' : `runs until SIGTERM, then exits within ${stopLimitMs / 1000} s`;
      it(`runs ${command.text} (README line ${command.line}): ${how}, status 0`, async () => {
        record(command, await runCommand(verdict, bin, services(), stopLimitMs));
      });
    }

    it(`stops the node as the README says: ${downs[0]?.command.text} (README line ${downs[0]?.command.line})`, async function () {
      this.timeout(90_000);
      expect(downs.length, 'scripts/cassandra down lines').to.equal(1);
      const stopped = await sh(downs[0]!.command.text, 60_000);
      expect(stopped.code, stopped.output).to.equal(0);
      expect(existsSync(cassandra!.dir), 'its folder is deleted').to.equal(false);
      startedDirs.delete(cassandra!.dir);
      record(
        downs[0]!.command,
        'ran after eval "$(scripts/cassandra up)": status 0, the node stopped and its folder deleted',
      );
    });

    it(`starts a node with ${jsonUp?.command.text} (README line ${jsonUp?.command.line}), one JSON line, and stops it with scripts/cassandra down`, async function () {
      this.timeout(CASSANDRA_START_TIMEOUT_MS + 90_000);
      expect(jsonUp, 'the README starts a node with scripts/cassandra up --json').to.not.equal(undefined);
      const started = await sh(jsonUp!.command.text, CASSANDRA_START_TIMEOUT_MS);
      expect(started.code, started.output).to.equal(0);
      const lines = started.stdout.trim().split('\n');
      expect(lines, 'one line on stdout').to.have.length(1);
      const node = JSON.parse(lines[0]!) as { host: string; port: number; pid: number; dir: string };
      startedDirs.add(node.dir);
      expect(node).to.include.keys('host', 'port', 'pid', 'dir');
      expect(() => process.kill(node.pid, 0), 'the node runs').to.not.throw();
      record(jsonUp!.command, `ran: status 0, one JSON line (host ${node.host}, port ${node.port}, pid, dir, …)`);
      const stopped = await sh(downs[0]!.command.text, 60_000);
      expect(stopped.code, stopped.output).to.equal(0);
      expect(existsSync(node.dir)).to.equal(false);
      startedDirs.delete(node.dir);
      record(downs[0]!.command, 'ran after scripts/cassandra up --json: status 0, that node stopped');
    });
  });

  for (const { command, verdict } of ofKind('npm script')) {
    it(`runs ${command.text} (README line ${command.line}) in a clean copy of the repository, in a terminal; q ends it with status 0`, async function () {
      this.timeout(300_000);
      expect(verdict.script, 'the scripts this test knows how to end').to.equal('demo');
      const clone = packedPackage().clone;
      const home = temporaryDirectory('readme-home-');
      // script(1) gives it a terminal, as a reader's shell would: the demo reads keys only from one.
      const running = start('script', ['-q', '-e', '-c', command.text, '/dev/null'], {
        cwd: clone,
        env: shellEnvironment({
          HOME: home,
          XDG_STATE_HOME: join(home, '.local', 'state'),
          COLUMNS: '100',
          LINES: '40',
        }),
      });
      const started = Date.now();
      try {
        await waitFor(
          () => {
            if (running.ended() !== undefined) throw new Error(`it ended by itself:\n${running.stdout()}`);
            return /window \(UTC\)/.test(running.stdout());
          },
          () => `the demo's table; it printed:\n${running.stdout()}${running.stderr()}`,
          120_000,
        );
        await new Promise((resolve) => setTimeout(resolve, RUN_MS));
        running.child.stdin!.write('q');
        const pressed = Date.now();
        const ended = await running.exit(stopLimitMs);
        expect(ended, running.stdout()).to.deep.equal({ code: 0, signal: null });
        record(
          command,
          `ran in a clean copy in a terminal: the table after ${((pressed - started) / 1000 - RUN_MS / 1000).toFixed(1)} s, ` +
            `q, status 0 ${((Date.now() - pressed) / 1000).toFixed(1)} s later`,
        );
      } finally {
        await running.stop('SIGKILL', 10_000).catch(() => undefined);
      }
    });
  }
});
