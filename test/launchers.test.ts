// Signals reach the aggregator however it is launched (issue 20, item 3): the package as
// npm publishes it, installed in a project made by `npm init -y`, run against a real
// Mosquitto the ways the README and examples/ give, each stopped as its supervisor would
// stop it, by signalling the launcher's pid. What "stopped gracefully" means here: the
// aggregator printed its stop line and its summary (which it prints only once the
// pipeline completed and the windows were written), released its state directory's lock,
// sent the broker a DISCONNECT, and no process of it is left.
//
// - node_modules/.bin/mqtt-iot-stream: SIGTERM to its pid, and Ctrl-C (SIGINT to the
//   process group), end it with status 0.
// - npx: npm → sh -c 'mqtt-iot-stream' … → node. npm passes the signal to its shell
//   only, which dies of it, and npm then kills itself with it: npx ends at once by
//   SIGTERM (143) or SIGINT (130), which the test checks as the documented behaviour.
//   The aggregator, re-parented, notices npm gone and stops gracefully by itself.
// - npx --script-shell=bash: bash replaces itself with the command, so npx's signal
//   reaches the aggregator and npx ends with its status, 0.
// - examples/systemd/mqtt-iot-stream-aggregate.service: its ExecStart, Environment and
//   KillSignal, as systemd's default KillMode (control-group) applies them, within its
//   TimeoutStopSec. systemd itself cannot run here (no system bus): emulated.
// - examples/docker/Dockerfile: its ENTRYPOINT and CMD as PID 1 of a new PID namespace
//   (unshare), as in a container, and SIGTERM to it as `docker stop` sends it, within
//   docker's 10 s. No Docker daemon here: emulated.
import { expect } from 'chai';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellEnvironment, start, type Ended, type Running } from './support/childProcess.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { projectRoot, projectWithPackage, temporaryDirectory } from './support/packedPackage.js';
import { waitFor } from './support/waitFor.js';

const TOPIC = 'launchers/gpiotopic';

/** Whether process `pid` runs (a zombie, ended and waiting for its parent, does not). */
function runs(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** The pids of process group `group` whose command line matches `pattern`, zombies left out. */
function groupMembers(group: number, pattern: RegExp): number[] {
  return execFileSync('ps', ['-e', '-o', 'pid=,pgid=,args='], { encoding: 'utf8' })
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(\d+)\s+(.*)$/.exec(line))
    .filter((match) => match !== null && Number(match[2]) === group && pattern.test(match[3]!))
    .map((match) => Number(match![1]))
    .filter(runs);
}

/** How the launcher itself ended ('exit', not 'close': its output pipes stay open while the aggregator has them). */
function launcherEnd(child: ChildProcess): Promise<Ended & { at: number }> {
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })));
}

describe('signals reach the aggregator however it is launched', function () {
  this.timeout(120_000);
  let broker: Mosquitto;
  let project: string;
  let started = 0;

  before(async function () {
    this.timeout(600_000);
    broker = await startMosquitto();
    project = projectWithPackage();
  });
  after(async () => {
    await broker?.dispose();
  });

  /** A fresh aggregator id and state directory, and the arguments that give them. */
  function aggregatorArgs(): { id: string; stateDir: string; args: string[] } {
    const id = `launch${++started}`;
    const stateDir = join(temporaryDirectory('launcher-state-'), id);
    return {
      id,
      stateDir,
      args: [
        'aggregate',
        '--broker',
        broker.url,
        '--topic',
        TOPIC,
        '--aggregator-id',
        id,
        '--state-dir',
        stateDir,
        '--status-every',
        'off',
        '--format',
        'json',
      ],
    };
  }

  const subscribed = (id: string, running: Running) =>
    waitFor(
      () => {
        if (running.ended() !== undefined) throw new Error(`it ended:\n${running.stdout()}${running.stderr()}`);
        return broker.log().includes(`mqtt-iot-stream-aggregator-${id} 1 ${TOPIC}`);
      },
      () => `the subscription of ${id}; it printed:\n${running.stdout()}${running.stderr()}`,
      60_000,
    );

  /** Checks that the aggregator `id` stopped gracefully: stop line, summary, lock released, DISCONNECT sent. */
  function expectGracefulStop(id: string, stateDir: string, output: string, stopLine: RegExp): void {
    expect(output, 'the stop line').to.match(stopLine);
    expect(output, 'the summary it prints once the windows are written').to.match(/^received \d+ · rejected \d+ · /m);
    expect(existsSync(join(stateDir, 'lock')), 'the state directory is unlocked').to.equal(false);
    expect(broker.log(), 'a DISCONNECT to the broker').to.include(
      `Received DISCONNECT from mqtt-iot-stream-aggregator-${id}`,
    );
  }

  describe('node_modules/.bin/mqtt-iot-stream', () => {
    for (const [signal, how] of [
      ['SIGTERM', "SIGTERM to the command's pid"],
      ['SIGINT', 'Ctrl-C (SIGINT to its process group)'],
    ] as const) {
      it(`stops gracefully with status 0 on ${how}`, async () => {
        const { id, stateDir, args } = aggregatorArgs();
        const bin = join(project, 'node_modules', '.bin', 'mqtt-iot-stream');
        const running = start(bin, args, { cwd: project, env: shellEnvironment() });
        try {
          await subscribed(id, running);
          if (signal === 'SIGTERM') running.child.kill('SIGTERM');
          else process.kill(-running.child.pid!, 'SIGINT');
          const ended = await running.exit(30_000);
          expect(ended, running.stderr()).to.deep.equal({ code: 0, signal: null });
          expectGracefulStop(id, stateDir, running.stderr(), new RegExp(`^${signal}: writing the open windows`, 'm'));
        } finally {
          await running.stop('SIGKILL', 10_000).catch(() => undefined);
        }
      });
    }
  });

  describe('npx mqtt-iot-stream', () => {
    it('stops gracefully by itself, leaving no orphan, when npx is sent SIGTERM (npx ends at once by the signal: 143)', async () => {
      const { id, stateDir, args } = aggregatorArgs();
      const running = start('npx', ['mqtt-iot-stream', ...args], { cwd: project, env: shellEnvironment() });
      const npxEnded = launcherEnd(running.child);
      try {
        await subscribed(id, running);
        const [aggregator] = groupMembers(running.child.pid!, /^node .*mqtt-iot-stream aggregate/);
        expect(aggregator, 'the aggregator under npx').to.be.a('number');
        expect(groupMembers(running.child.pid!, /^sh -c/), "npm's shell between npx and the aggregator").to.have.length(
          1,
        );
        const signalled = Date.now();
        running.child.kill('SIGTERM');
        const npx = await npxEnded;
        expect({ code: npx.code, signal: npx.signal }, 'npx itself').to.deep.equal({ code: null, signal: 'SIGTERM' });
        // Re-parented, the aggregator is signalled by no one: it stops because npm has gone.
        await waitFor(
          () => !runs(aggregator!),
          () => `the aggregator (pid ${aggregator}) to stop; it printed:\n${running.stderr()}`,
          10_000,
        );
        const stoppedAfterMs = Date.now() - signalled;
        await running.exit(10_000);
        expectGracefulStop(id, stateDir, running.stderr(), /^npx \(or npm\), which started this aggregator, has gone/m);
        expect(running.stderr(), 'the note on how npx passes signals').to.match(
          /^started by npm, which passes SIGTERM and Ctrl-C to its shell, not on to this aggregator/m,
        );
        expect(groupMembers(running.child.pid!, /./), 'processes left').to.deep.equal([]);
        console.log(
          `      npx ended ${npx.at - signalled} ms after SIGTERM (by SIGTERM); the aggregator stopped by itself ${stoppedAfterMs} ms after`,
        );
      } finally {
        await running.stop('SIGKILL', 10_000).catch(() => undefined);
      }
    });

    it('stops gracefully on Ctrl-C (SIGINT to the process group), leaving no orphan (npx itself ends by SIGINT: 130)', async () => {
      const { id, stateDir, args } = aggregatorArgs();
      const running = start('npx', ['mqtt-iot-stream', ...args], { cwd: project, env: shellEnvironment() });
      const npxEnded = launcherEnd(running.child);
      try {
        await subscribed(id, running);
        process.kill(-running.child.pid!, 'SIGINT');
        const npx = await npxEnded;
        expect({ code: npx.code, signal: npx.signal }, 'npx itself').to.deep.equal({ code: null, signal: 'SIGINT' });
        await running.exit(30_000);
        expectGracefulStop(id, stateDir, running.stderr(), /^SIGINT: writing the open windows/m);
        expect(groupMembers(running.child.pid!, /./), 'processes left').to.deep.equal([]);
      } finally {
        await running.stop('SIGKILL', 10_000).catch(() => undefined);
      }
    });

    it('stops publish gracefully too, leaving no orphan, when npx is sent SIGTERM: every line it published acknowledged', async () => {
      const log = join(temporaryDirectory('launcher-log-'), 'access.log');
      writeFileSync(
        log,
        Array.from(
          { length: 5_000 },
          (_, i) => `10.0.0.${i % 250} - - [30/Nov/2026:08:00:00 +0000] "GET /${i} HTTP/1.1" 200 512 "-" "curl/8"\n`,
        ).join(''),
      );
      const args = [
        'publish',
        '--broker',
        broker.url,
        '--topic',
        TOPIC,
        '--log',
        log,
        '--rate',
        '20',
        '--backend',
        'simulated',
      ];
      const running = start('npx', ['mqtt-iot-stream', ...args], { cwd: project, env: shellEnvironment() });
      const npxEnded = launcherEnd(running.child);
      try {
        await waitFor(
          () => {
            if (running.ended() !== undefined) throw new Error(`it ended:\n${running.stdout()}${running.stderr()}`);
            return groupMembers(running.child.pid!, /^node .*mqtt-iot-stream publish/).length === 1;
          },
          () => `the publisher under npx; it printed:\n${running.stdout()}${running.stderr()}`,
          60_000,
        );
        const [publisher] = groupMembers(running.child.pid!, /^node .*mqtt-iot-stream publish/);
        await waitFor(() => /^sent #3 /m.test(running.stdout()), 'the third line sent', 30_000);
        running.child.kill('SIGTERM');
        const npx = await npxEnded;
        expect({ code: npx.code, signal: npx.signal }, 'npx itself').to.deep.equal({ code: null, signal: 'SIGTERM' });
        await waitFor(
          () => !runs(publisher!),
          () => `the publisher (pid ${publisher}) to stop; it printed:\n${running.stdout()}${running.stderr()}`,
          10_000,
        );
        await running.exit(10_000);
        expect(running.stdout(), 'its summary: every line published was acknowledged').to.match(
          /^published \d+ lines?; the broker acknowledged (it|all \d+)$/m,
        );
        expect(groupMembers(running.child.pid!, /./), 'processes left').to.deep.equal([]);
      } finally {
        await running.stop('SIGKILL', 10_000).catch(() => undefined);
      }
    });

    it('passes SIGTERM on with --script-shell=bash, and ends with the aggregator’s status 0', async () => {
      const { id, stateDir, args } = aggregatorArgs();
      const running = start('npx', ['--script-shell=bash', 'mqtt-iot-stream', ...args], {
        cwd: project,
        env: shellEnvironment(),
      });
      try {
        await subscribed(id, running);
        expect(groupMembers(running.child.pid!, /^(sh|bash) -c/), 'no shell left between npx and node').to.deep.equal(
          [],
        );
        running.child.kill('SIGTERM');
        const ended = await running.exit(30_000);
        expect(ended, running.stderr()).to.deep.equal({ code: 0, signal: null });
        expectGracefulStop(id, stateDir, running.stderr(), /^SIGTERM: writing the open windows/m);
      } finally {
        await running.stop('SIGKILL', 10_000).catch(() => undefined);
      }
    });
  });

  describe('examples/systemd/mqtt-iot-stream-aggregate.service', () => {
    const unit = readFileSync(join(projectRoot, 'examples', 'systemd', 'mqtt-iot-stream-aggregate.service'), 'utf8');
    const settings = (name: string) =>
      [...unit.matchAll(new RegExp(`^${name}=(.*)$`, 'gm'))].map((match) => match[1]!.trim());
    const one = (name: string) => {
      const values = settings(name);
      expect(values, `${name}=`).to.have.length(1);
      return values[0]!;
    };

    it('runs the installed command, not npx, and does not restart what a restart cannot fix', () => {
      expect(one('ExecStart')).to.match(/^\/opt\/mqtt-iot-stream\/node_modules\/\.bin\/mqtt-iot-stream aggregate /);
      expect(one('KillSignal')).to.equal('SIGTERM');
      expect(one('Restart')).to.equal('on-failure');
      expect(one('RestartPreventExitStatus').split(/\s+/)).to.include.members(['2', '3']);
      expect(settings('KillMode'), 'the default, control-group').to.deep.equal([]);
    });

    it('stops gracefully with status 0 within its TimeoutStopSec when systemd stops it (KillSignal to the control group)', async () => {
      const { id, stateDir } = aggregatorArgs();
      const environment: Record<string, string> = {};
      for (const assignment of settings('Environment')) {
        const [name, ...value] = assignment.split('=');
        environment[name!] = value.join('=');
      }
      expect(environment).to.have.keys('AGGREGATOR_STATE_DIR', 'MQTT_URL', 'CASSANDRA_CONTACT_POINTS', 'NODE_OPTIONS');
      // The young generation's cap (docs/benchmarks.md, "Soak"); node refuses to start on
      // an option it does not allow in NODE_OPTIONS, so the stop below also proves it taken.
      expect(environment['NODE_OPTIONS']).to.match(/^--max-semi-space-size=\d+$/);
      // The test's broker and state; no Cassandra here (rows go to stdout without it).
      Object.assign(environment, { AGGREGATOR_STATE_DIR: stateDir, MQTT_URL: broker.url, MQTT_TOPIC: TOPIC });
      delete environment['CASSANDRA_CONTACT_POINTS'];
      const words = one('ExecStart')
        .replaceAll('/opt/mqtt-iot-stream', project)
        .replace(/--aggregator-id \S+/, `--aggregator-id ${id}`)
        .replace(/--http \S+/, '--http 127.0.0.1:0')
        .split(/\s+/);
      const running = start(words[0]!, words.slice(1), {
        cwd: one('WorkingDirectory').replaceAll('/opt/mqtt-iot-stream', project),
        env: shellEnvironment(environment),
      });
      try {
        await subscribed(id, running);
        const ended = await running.stop('SIGTERM', Number(one('TimeoutStopSec')) * 1_000);
        expect(ended, running.stderr()).to.deep.equal({ code: 0, signal: null });
        expectGracefulStop(id, stateDir, running.stderr(), /^SIGTERM: writing the open windows/m);
      } finally {
        await running.stop('SIGKILL', 10_000).catch(() => undefined);
      }
    });
  });

  describe('examples/docker/Dockerfile', () => {
    const dockerfile = readFileSync(join(projectRoot, 'examples', 'docker', 'Dockerfile'), 'utf8');
    const instruction = (name: string) =>
      [...dockerfile.matchAll(new RegExp(`^${name} (.*)$`, 'gm'))].map((match) => match[1]!);

    it('has an exec-form ENTRYPOINT that runs the installed command itself (no shell, no npx)', () => {
      const [entrypoint] = instruction('ENTRYPOINT');
      const words = JSON.parse(entrypoint!) as string[];
      expect(words[0]).to.equal('/opt/mqtt-iot-stream/node_modules/.bin/mqtt-iot-stream');
      expect(words.slice(1)).to.deep.equal(['aggregate']);
      expect(dockerfile).to.match(/^STOPSIGNAL SIGTERM$/m);
      expect(dockerfile).to.match(/^VOLUME \/var\/lib\/mqtt-iot-stream$/m);
    });

    it('stops gracefully with status 0 as PID 1 of its own PID namespace on SIGTERM, as on docker stop', async function () {
      try {
        execFileSync('unshare', ['--pid', '--fork', '--kill-child', 'true'], { stdio: 'ignore' });
      } catch {
        this.skip(); // unshare needs root (or user namespaces) to make a PID namespace
      }
      const { id, stateDir } = aggregatorArgs();
      const nodeOptions = instruction('ENV')
        .map((assignment) => /^NODE_OPTIONS=(.*)$/.exec(assignment)?.[1])
        .find((value) => value !== undefined);
      expect(nodeOptions, 'ENV NODE_OPTIONS=…').to.match(/^--max-semi-space-size=\d+$/);
      const [entrypoint] = instruction('ENTRYPOINT');
      const [cmd] = instruction('CMD');
      const words = [...(JSON.parse(entrypoint!) as string[]), ...(JSON.parse(cmd!) as string[])].map((word) =>
        word.replaceAll('/opt/mqtt-iot-stream', project).replace('mqtt://broker:1883', broker.url),
      );
      expect(words).to.include(broker.url);
      const running = start(
        'unshare',
        [
          '--pid',
          '--fork',
          '--kill-child',
          '--',
          ...words,
          '--topic',
          TOPIC,
          '--aggregator-id',
          id,
          '--status-every',
          'off',
        ],
        { cwd: project, env: shellEnvironment({ AGGREGATOR_STATE_DIR: stateDir, NODE_OPTIONS: nodeOptions! }) },
      );
      try {
        await subscribed(id, running);
        // docker stop signals PID 1 of the container: here, the namespace's first process.
        const [pidOne] = groupMembers(running.child.pid!, /^node .*mqtt-iot-stream aggregate/);
        expect(pidOne, "the container's PID 1").to.be.a('number');
        expect(readFileSync(`/proc/${pidOne}/status`, 'utf8')).to.match(/^NSpid:\s+\d+\s+1$/m);
        process.kill(pidOne!, 'SIGTERM');
        const ended = await running.exit(10_000);
        expect(ended, running.stderr()).to.deep.equal({ code: 0, signal: null });
        expectGracefulStop(id, stateDir, running.stderr(), /^SIGTERM: writing the open windows/m);
      } finally {
        await running.stop('SIGKILL', 10_000).catch(() => undefined);
      }
    });
  });
});
