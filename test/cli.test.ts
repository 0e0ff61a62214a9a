// The mqtt-iot-stream command as a user runs it (the built bin): every way it can fail
// ends the process with its status within 2 s of one clear line, whatever it had open;
// and the commands that work, work (the demo on its embedded defaults, publish through
// a broker).
import { Aedes, type AuthenticateError } from 'aedes';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { connectAsync } from 'mqtt';
import { cliPath as cli, projectRoot } from './support/cli.js';

/** How long a failing command may live after printing its message. */
const EXIT_DEADLINE_MS = 2_000;

interface Run {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Milliseconds from the first output to the exit (negative: the exit was seen first). */
  readonly exitAfterOutputMs: number;
}

/** Runs the CLI with stdin closed (or fed `input`), killing it if it outlives `timeoutMs`. */
function runCli(
  args: readonly string[],
  options: {
    env?: Record<string, string>;
    /** Feeds stdin; gets stdout to wait for the command to be ready. */
    input?: (stdin: NodeJS.WritableStream, stdout: NodeJS.ReadableStream) => void;
    timeoutMs?: number;
  } = {},
): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: projectRoot,
      env: { ...process.env, ...options.env },
      stdio: [options.input ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let firstOutputAt: number | undefined;
    const seen = (): void => {
      firstOutputAt ??= performance.now();
    };
    child.stdout!.on('data', (chunk: Buffer) => {
      seen();
      stdout += chunk;
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      seen();
      stderr += chunk;
    });
    if (options.input && child.stdin) options.input(child.stdin, child.stdout!);
    const killer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', reject);
    child.on('exit', (status, signal) => {
      const exitAt = performance.now();
      clearTimeout(killer);
      // The pipes may still hold the last output: read them to their end.
      child.on('close', () =>
        resolvePromise({ status, signal, stdout, stderr, exitAfterOutputMs: exitAt - (firstOutputAt ?? exitAt) }),
      );
    });
  });
}

interface LocalServer {
  readonly url: string;
  close(): Promise<void>;
}

/** A loopback TCP server whose close() also ends the connections it accepted. */
async function listen(handle: (socket: Socket) => void): Promise<LocalServer> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    handle(socket);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}

type LocalBroker = LocalServer;

/** An in-process Aedes broker on a loopback port. */
async function startBroker(options: Parameters<typeof Aedes.createBroker>[0] = {}): Promise<LocalBroker> {
  const broker = await Aedes.createBroker(options);
  const server = await listen((socket) => broker.handle(socket));
  return {
    url: server.url,
    close: async () => {
      await new Promise<void>((done) => broker.close(() => done()));
      await server.close();
    },
  };
}

const hasGpioChip = existsSync('/dev') && readdirSync('/dev').some((name) => name.startsWith('gpiochip'));

describe('the mqtt-iot-stream command', function () {
  this.timeout(60_000);

  describe('fails with one line, a status and an exit within 2 s, with stdin closed', () => {
    // A TCP server that accepts connections and never answers: MQTT.js waits for a
    // CONNACK that never comes (and its end() before one leaves the socket open).
    let silent: LocalServer;
    // A broker that refuses every user name and password.
    let refusing: LocalBroker;

    before(async () => {
      silent = await listen(() => {});
      refusing = await startBroker({
        authenticate: (_client, _username, _password, done) =>
          done(Object.assign(new Error('no'), { returnCode: 4 }) as AuthenticateError, false),
      });
    });

    after(async () => {
      await silent.close();
      await refusing.close();
    });

    const urls = (args: readonly string[]): string[] =>
      args.map((arg) => arg.replace('SILENT_BROKER', () => silent.url).replace('REFUSING_BROKER', () => refusing.url));

    // status 2: the command line is wrong; 1: something it needs is not there.
    const cases: Array<{
      args: string[];
      env?: Record<string, string>;
      status: number;
      message: RegExp;
      skip?: boolean;
    }> = [
      { args: ['frobnicate'], status: 2, message: /^mqtt-iot-stream: unknown command "frobnicate"/ },
      { args: [], status: 2, message: /^mqtt-iot-stream: a Raspberry Pi button/ },
      // demo
      {
        args: ['demo', '--cassandra', '127.0.0.1:9'],
        status: 1,
        message: /^mqtt-iot-stream: cannot reach Cassandra at 127\.0\.0\.1:9 \(is it running\?/,
      },
      {
        args: ['demo', '--window', 'soon'],
        status: 2,
        message: /^mqtt-iot-stream: --window must be a length of time such as '1 minute'.*got "soon"/,
      },
      { args: ['demo', '--watermark', '-5 s'], status: 2, message: /--watermark must be a length of time/ },
      { args: ['demo', '--rate', 'abc'], status: 2, message: /--rate must be a number from 0 to 20, got "abc"/ },
      { args: ['demo', '--rate', '-1'], status: 2, message: /--rate must be a number from 0 to 20, got "-1"/ },
      { args: ['demo', '--duration', '1.5'], status: 2, message: /--duration must be a whole number/ },
      {
        args: ['demo', '--file', '/nonexistent.log'],
        status: 2,
        message: /^mqtt-iot-stream: --file cannot be read: "\/nonexistent\.log": no such file/,
      },
      { args: ['demo', '--file', '/'], status: 2, message: /--file must be a file/ },
      {
        args: ['demo', '--colour', 'blue'],
        status: 2,
        message: /^mqtt-iot-stream: unknown flag --colour \(mqtt-iot-stream demo --help lists the flags\)/,
      },
      { args: ['demo', 'now'], status: 2, message: /unexpected argument now/ },
      // Checked before Cassandra is tried: the bad name is the message, not "cannot reach".
      {
        args: ['demo', '--cassandra', '127.0.0.1:9', '--keyspace', 'bad-name'],
        status: 2,
        message: /--keyspace must be a plain CQL name.*got "bad-name"/,
      },
      { args: ['demo', '--cassandra', 'localhost:99999'], status: 2, message: /--cassandra must be contact points/ },
      {
        args: ['demo'],
        env: { DEMO_RATE: 'fast' },
        status: 2,
        message: /--rate \(from \$DEMO_RATE\) must be a number/,
      },
      // publish: flags
      { args: ['publish', '--qos', '3'], status: 2, message: /^mqtt-iot-stream: --qos must be 0, 1 or 2, got "3"/ },
      { args: ['publish', '--qos'], status: 2, message: /--qos needs a value/ },
      {
        args: ['publish', '--button-pin', 'abc'],
        status: 2,
        message: /--button-pin must be a BCM GPIO number from 0 to 53, got "abc"/,
      },
      {
        args: ['publish', '--led-pin', '99'],
        status: 2,
        message: /--led-pin must be a BCM GPIO number from 0 to 53, got "99"/,
      },
      {
        args: ['publish', '--button-pin', '4'],
        status: 2,
        message: /--button-pin and --led-pin must be different pins/,
      },
      {
        args: ['publish', '--file', '/nonexistent/access.log'],
        status: 2,
        message: /--file cannot be read: "\/nonexistent\/access\.log": no such file/,
      },
      {
        args: ['publish', '--backend', 'banana'],
        status: 2,
        message: /--backend must be pigpio, gpiod or simulated, got "banana"/,
      },
      {
        args: ['publish', '--broker', 'notaurl'],
        status: 2,
        message:
          /--broker must be a broker URL such as mqtt:\/\/localhost:1883 \(mqtt:\/\/, mqtts:\/\/, ws:\/\/ or wss:\/\/\), got "notaurl"/,
      },
      {
        args: ['publish', '--broker', 'http://localhost:1883'],
        status: 2,
        message: /--broker must be a broker URL.*got "http:\/\/localhost:1883"/,
      },
      {
        args: ['publish', '--topic', 'sensors/+/log'],
        status: 2,
        message: /--topic must be a topic to publish to, without the wildcards/,
      },
      { args: ['publish', '--topic', ''], status: 2, message: /--topic must not be empty/ },
      {
        args: ['publish'],
        env: { MQTT_QOS: '5' },
        status: 2,
        message: /--qos \(from \$MQTT_QOS\) must be 0, 1 or 2, got "5"/,
      },
      // Two bad flags: both named, still one line.
      {
        args: ['publish', '--qos', '9', '--led-pin', 'x'],
        status: 2,
        message: /--qos must be 0, 1 or 2, got "9"; --led-pin must be/,
      },
      // publish: what it needs
      { args: ['publish'], status: 1, message: /^mqtt-iot-stream: The pigpio GPIO backend cannot be used/ },
      {
        args: ['publish', '--backend', 'gpiod'],
        status: 1,
        message: /^mqtt-iot-stream: The gpiod GPIO backend cannot be used/,
        skip: hasGpioChip,
      },
      {
        args: ['publish', '--backend', 'simulated', '--broker', 'mqtt://127.0.0.1:9'],
        status: 1,
        message: /^mqtt-iot-stream: nothing accepts connections at mqtt:\/\/127\.0\.0\.1:9 \(is the broker running\?/,
      },
      {
        args: ['publish', '--backend', 'simulated', '--broker', 'mqtt://no-such-host.invalid:1883'],
        status: 1,
        message: /cannot resolve the broker host in mqtt:\/\/no-such-host\.invalid:1883/,
      },
      {
        args: [
          'publish',
          '--backend',
          'simulated',
          '--broker',
          'REFUSING_BROKER',
          '--username',
          'pi',
          '--password',
          'wrong',
        ],
        status: 1,
        message:
          /the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ refused the connection: .*\(check --username and --password\)/,
      },
      {
        args: ['publish', '--backend', 'simulated', '--broker', 'SILENT_BROKER'],
        status: 1,
        message: /no answer from the MQTT broker at mqtt:\/\/127\.0\.0\.1:\d+ within 10 s/,
      },
      // aggregate: the same shared checks, before anything is opened
      { args: ['aggregate', '--qos', '3'], status: 2, message: /^mqtt-iot-stream: --qos must be 0, 1 or 2, got "3"/ },
      { args: ['aggregate', '--broker', 'notaurl'], status: 2, message: /--broker must be a broker URL/ },
      { args: ['aggregate', '--broker', 'http://localhost:1883'], status: 2, message: /--broker must be a broker URL/ },
      {
        args: ['aggregate', '--keyspace', 'bad-name', '--cassandra', '127.0.0.1:9'],
        status: 2,
        message: /--keyspace must be a plain CQL name/,
      },
      { args: ['aggregate', '--topic', 'a/#/b'], status: 2, message: /--topic must be a topic filter/ },
      { args: ['aggregate', '--window', 'soon'], status: 2, message: /--window must be a length of time/ },
    ];

    for (const testCase of cases) {
      const environment = Object.entries(testCase.env ?? {})
        .map(([name, value]) => `${name}=${value} `)
        .join('');
      const label = `${environment}mqtt-iot-stream ${testCase.args.map((arg) => (/^[\w:/.,-]+$/.test(arg) ? arg : JSON.stringify(arg))).join(' ')}`;
      (testCase.skip ? it.skip : it)(`${label} → status ${testCase.status}`, async function () {
        this.timeout(30_000);
        const run = await runCli(urls(testCase.args), { ...(testCase.env ? { env: testCase.env } : {}) });
        const output = testCase.args.length === 0 ? run.stdout : run.stderr;
        expect(run.signal, `killed: it hung\n${run.stderr}`).to.equal(null);
        expect(run.status, run.stderr).to.equal(testCase.status);
        expect(output).to.match(testCase.message);
        if (output === run.stderr && !/pigpio/.test(run.stderr)) {
          // pigpio's diagnosis lists its causes on their own lines; every other failure is one line.
          expect(run.stderr.trimEnd().split('\n'), run.stderr).to.have.length(1);
          expect(run.stderr).not.to.match(/\n\s+at /); // no stack
        }
        expect(run.exitAfterOutputMs, 'exit after the message').to.be.below(EXIT_DEADLINE_MS);
      });
    }
  });

  it('explains itself with --help, per command, with defaults and environment variables, and tells its version', async () => {
    const top = await runCli(['--help']);
    expect(top.stdout)
      .to.match(/demo \[flags\]/)
      .and.match(/publish \[flags\]/)
      .and.match(/aggregate \[flags\]/)
      .and.match(/--version/);
    const publish = await runCli(['publish', '--help']);
    expect(publish.status).to.equal(0);
    // A flag's text may go on under its column: read it as one line.
    const flat = (text: string) => text.replace(/\n {19}/g, ' ');
    expect(flat(publish.stdout)).to.match(/--topic\s+.*\(default: "rupesh\/gpiotopic"\)\s+\[\$MQTT_TOPIC\]/);
    const aggregate = await runCli(['aggregate', '--help']);
    expect(flat(aggregate.stdout))
      .to.match(/--window\s+.*"1 minute"/)
      .and.match(/--watermark\s+.*"2 minutes"/)
      .and.match(/--keyspace\s+.*"hyper"/)
      .and.match(/--session-expiry\s+seconds the broker keeps the session .*\[\$MQTT_SESSION_EXPIRY\]/);
    const demo = await runCli(['demo', '--help']);
    expect(demo.stdout).to.match(/--rate\s+/);
    for (const help of [top, publish, aggregate, demo]) {
      for (const line of help.stdout.split('\n')) expect([...line].length, line).to.be.at.most(100);
    }
    const version = await runCli(['--version']);
    expect(version.status).to.equal(0);
    expect(version.stdout).to.match(/^mqtt-iot-stream \d+\.\d+\.\d+/);
  });

  describe('publish through a broker', () => {
    let broker: LocalBroker;
    let url: string;

    before(async () => {
      broker = await startBroker();
      url = broker.url;
    });

    after(() => broker.close());

    it('publishes a line per Enter press with the simulated button, and ends with its input', async () => {
      const subscriber = await connectAsync(url, { protocolVersion: 4 });
      const received: string[] = [];
      subscriber.on('message', (_topic, payload) => received.push(payload.toString()));
      await subscriber.subscribeAsync('rupesh/gpiotopic', { qos: 1 });
      try {
        const run = await runCli(['publish', '--backend', 'simulated', '--broker', url], {
          // Once it is connected (keys typed before are one burst: one press), presses
          // 500 ms apart: beyond the 300 ms bounce time, each one counts.
          input: (stdin, stdout) => {
            stdout.once('data', () => {
              let presses = 0;
              const press = setInterval(() => {
                stdin.write('\n');
                if (++presses === 3) {
                  clearInterval(press);
                  setTimeout(() => stdin.end(), 300);
                }
              }, 500);
            });
          },
        });
        expect(run.status, run.stderr).to.equal(0);
        expect(run.stdout).to.match(
          /^connected to mqtt:\/\/127\.0\.0\.1:\d+; each press of GPIO 17 \(simulated: press Enter\)/,
        );
        expect(run.stdout).to.match(/sent #3 /);
        expect(received).to.have.length(3);
        expect(JSON.parse(received[0]!)).to.have.keys('iottimestamp', 'accesslogs');
      } finally {
        await subscriber.endAsync();
      }
    });

    it("warns that a $ topic is the broker's, and still connects", async () => {
      const run = await runCli(['publish', '--backend', 'simulated', '--broker', url, '--topic', '$SYS/x']);
      expect(run.status, run.stderr).to.equal(0); // stdin closed: the run ends with its input
      expect(run.stderr).to.match(
        /^warning: topics starting with \$ \(such as \$SYS\/… and \$share\/…\) are the broker's/,
      );
      expect(run.stdout).to.match(/^connected to /);
    });
  });

  it('runs the demo on its embedded defaults: every press sent is received and counted, then exits', async () => {
    const { status, stdout, stderr } = await runCli(['demo', '--duration', '6', '--rate', '2'], { timeoutMs: 40_000 });
    expect(status, stderr).to.equal(0);
    const summary = /sent (\d+) · received (\d+) · rejected (\d+) · late (\d+)/.exec(stdout);
    expect(summary, stdout).to.not.equal(null);
    const [, sent, received, rejected, late] = summary!.map(Number);
    expect(sent).to.be.at.least(5);
    expect(received).to.equal(sent);
    expect(late).to.equal(0);
    // Every received line is counted in a window or rejected: the flushed rows add up.
    const windows = [...stdout.matchAll(/^(\d\d:\d\d:\d\d)–\d\d:\d\d:\d\d {2}(.*)$/gm)];
    const counted = windows
      .flatMap((match) => [...match[2]!.matchAll(/\b\d{3}:(\d+)/g)])
      .reduce((sum, match) => sum + Number(match[1]), 0);
    expect(counted + rejected!).to.equal(received);
    // Final windows are printed in time order.
    const starts = windows.map((match) => match[1]!);
    expect(starts).to.deep.equal([...starts].sort());
    expect(stdout).to.match(/presses: \d+ automatic · 0 keyboard · \d+ swallowed by the 300 ms bounce time/);
    expect(stdout).to.match(/Next: examples\/pi-publisher\.ts/);
  });
});
