// Seeing `mqtt-iot-stream aggregate` work, as an operator does: the built CLI against a
// real Mosquitto, messages published with mosquitto_pub at QoS 1. Through a pipe: a
// status line every --status-every, a line when the broker is lost and back, rows
// with a header and final/partial markers. In a terminal (tmux): one live status line,
// updated in place. Over --http: health, readiness, Prometheus metrics with the exact
// message count and the process metrics, and never a credential anywhere.
import { expect } from 'chai';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliPath as cli, projectRoot } from './support/cli.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';
import { waitFor } from './support/waitFor.js';

const TOPIC = 'status/gpiotopic';
const USER = 'counter';
const PASSWORD = 's3cret';
const tmuxPath = ['/usr/bin/tmux', '/usr/local/bin/tmux'].find((path) => existsSync(path));

/** An access-log line with this status. */
const logLine = (status: number) =>
  `127.0.0.1 - - [01/Jul/2020:12:00:00 +0000] "GET / HTTP/1.1" ${status} 5 "-" "curl"`;
/** The reference payload: an event at 2020-07-01 `clock` (UTC) with a line of this status. */
const payload = (clock: string, status: number) =>
  JSON.stringify({ iottimestamp: `2020-07-01 ${clock}`, accesslogs: logLine(status) });

/** A status line as the command prints it off a terminal: time, then the fields. */
const STATUS_LINE =
  /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ broker (\S+) · messages (\d+) \([\d.]+ msg\/s\) · rejected (\d+) · late (\d+) · pending rows (\d+|-) · watermark /;

interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Each stderr line with the time it arrived. */
  readonly stderrLines: { readonly at: number; readonly text: string }[];
  readonly exited: Promise<number | null>;
}

function startCli(args: readonly string[]): CliProcess {
  const child = spawn(process.execPath, [cli, ...args], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let partial = '';
  const stderrLines: { at: number; text: string }[] = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    for (const text of lines) stderrLines.push({ at: Date.now(), text });
  });
  const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, stderrLines, exited };
}

describe('watching the aggregate command', function () {
  this.timeout(90_000);
  let broker: Mosquitto;
  let stateRoot: string;
  const started: CliProcess[] = [];
  let runs = 0;

  before(async () => {
    broker = await startMosquitto({ persistence: true, users: [{ username: USER, password: PASSWORD }] });
    stateRoot = mkdtempSync(join(tmpdir(), 'aggregate-status-'));
  });
  afterEach(() => {
    for (const process of started.splice(0)) process.child.kill('SIGKILL');
  });
  after(async () => {
    await broker?.dispose();
    rmSync(stateRoot, { recursive: true, force: true });
  });

  /** The aggregate arguments of a fresh aggregator (its own id, state and session), then `extra`. */
  function aggregateArgs(extra: readonly string[]): { id: string; args: string[] } {
    const id = `status${++runs}`;
    return {
      id,
      args: [
        'aggregate',
        '--broker',
        broker.url,
        '--username',
        USER,
        '--password',
        PASSWORD,
        '--topic',
        TOPIC,
        '--aggregator-id',
        id,
        '--state-dir',
        join(stateRoot, id),
        '--idle-advance',
        '0',
        '--max-event-time-ahead',
        'off',
        ...extra,
      ],
    };
  }

  function aggregate(extra: readonly string[]): { id: string; process: CliProcess } {
    const { id, args } = aggregateArgs(extra);
    const process = startCli(args);
    started.push(process);
    return { id, process };
  }

  const subscribed = (id: string, process?: CliProcess) =>
    waitFor(
      () => broker.log().includes(`mqtt-iot-stream-aggregator-${id} 1 ${TOPIC}`),
      () => `${id}'s subscription; its output:\n${process?.stderr() ?? ''}`,
      30_000,
    );

  /** Publishes each payload as one QoS 1 message with mosquitto_pub, and resolves once the broker took them all. */
  async function publish(payloads: readonly string[]): Promise<void> {
    await new Promise<void>((done, fail) => {
      const child = execFile(
        'mosquitto_pub',
        ['-p', String(broker.port), '-u', USER, '-P', PASSWORD, '-t', TOPIC, '-q', '1', '-l'],
        (error) => (error ? fail(error) : done()),
      );
      child.stdin!.end(payloads.map((text) => `${text}\n`).join(''));
    });
  }

  it('through a pipe: a status line every --status-every, a line when the broker is lost and back, rows with a header and final/partial markers', async () => {
    const { id, process } = aggregate(['--status-every', '1 s', '--format', 'table']);
    await subscribed(id, process);
    // 12:00: three 200s and two 404s; then an event at 12:05 moves the watermark to 12:03,
    // which closes the 12:00 window; the 12:05 window is still open at the stop.
    await publish([
      payload('12:00:01', 200),
      payload('12:00:02', 404),
      payload('12:00:03', 200),
      payload('12:00:04', 404),
      payload('12:00:05', 200),
      payload('12:05:00', 200),
    ]);
    const statusLines = () => process.stderrLines.filter(({ text }) => STATUS_LINE.test(text));
    await waitFor(
      () => statusLines().some(({ text }) => STATUS_LINE.exec(text)![2] === '6'),
      () => `a status line counting 6 messages; stderr:\n${process.stderr()}`,
    );

    const before = statusLines().length;
    await waitFor(() => statusLines().length >= before + 3, 'three more status lines', 10_000);
    const times = statusLines()
      .slice(-4)
      .map(({ at }) => at);
    const gaps = times.slice(1).map((at, i) => at - times[i]!);
    for (const gap of gaps) expect(gap, `gaps between status lines: ${gaps.join(', ')} ms`).to.be.within(600, 1_600);

    await broker.stop();
    await waitFor(
      () => /Z lost the broker mqtt:\/\/127\.0\.0\.1:\d+: reconnecting$/m.test(process.stderr()),
      () => `the line saying the broker is lost; stderr:\n${process.stderr()}`,
    );
    await waitFor(
      () => statusLines().some(({ text }) => STATUS_LINE.exec(text)![1] === 'reconnecting'),
      'a status line saying the broker is reconnecting',
    );
    await broker.restart();
    await waitFor(
      () => /Z broker mqtt:\/\/127\.0\.0\.1:\d+ back after \d+ s$/m.test(process.stderr()),
      () => `the line saying the broker is back; stderr:\n${process.stderr()}`,
      30_000,
    );
    const back = statusLines().length;
    await waitFor(() => statusLines().length > back, 'a status line after the broker is back');

    process.child.kill('SIGTERM');
    expect(await process.exited, process.stderr()).to.equal(0);
    const [header, ...rows] = process.stdout().trimEnd().split('\n');
    expect(header).to.match(/^window start\s+window end\s+status\s+count\s+state\s+row$/);
    expect(rows.map((row) => row.split(/\s+/))).to.deep.equal([
      ['2020-07-01T12:00:00.000Z', '2020-07-01T12:01:00.000Z', '200', '3', 'final', 'new'],
      ['2020-07-01T12:00:00.000Z', '2020-07-01T12:01:00.000Z', '404', '2', 'final', 'new'],
      ['2020-07-01T12:05:00.000Z', '2020-07-01T12:06:00.000Z', '200', '1', 'partial', 'new'],
    ]);
    const last = STATUS_LINE.exec(statusLines().at(-1)!.text)!;
    expect(last.slice(1, 5), 'the last status line: broker, messages, rejected, late').to.deep.equal([
      'connected',
      '6',
      '0',
      '0',
    ]);
  });

  it('marks a (window, status) printed again in update mode as an update, in JSON lines', async () => {
    const { id, process } = aggregate(['--output-mode', 'update', '--format', 'json', '--status-every', 'off']);
    await subscribed(id, process);
    await publish([payload('12:00:01', 200), payload('12:00:02', 200)]);
    await waitFor(
      () => process.stdout().split('\n').length >= 3,
      () => `two rows; stdout:\n${process.stdout()}`,
    );
    process.child.kill('SIGTERM');
    expect(await process.exited, process.stderr()).to.equal(0);
    const rows = process
      .stdout()
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const window = { windowStart: '2020-07-01T12:00:00.000Z', windowEnd: '2020-07-01T12:01:00.000Z', status: 200 };
    // Update mode writes each change; the stop writes the open window's count once more.
    expect(rows).to.deep.equal([
      { ...window, count: 1, final: false, update: false },
      { ...window, count: 2, final: false, update: true },
      { ...window, count: 2, final: false, update: true },
    ]);
    expect(process.stderr(), '--status-every off: no status line').not.to.match(/ · messages \d+/);
  });

  describe('in a terminal', () => {
    // A server of our own, so the test neither sees nor disturbs anyone's tmux sessions.
    const socket = `mqtt-iot-stream-status-${globalThis.process.pid}`;
    const tmux = (...args: string[]): string => execFileSync(tmuxPath!, ['-L', socket, ...args], { encoding: 'utf8' });
    const screen = (): string[] => tmux('capture-pane', '-p', '-t', 'aggregate').split('\n');
    let pidFile: string;

    before(function () {
      if (tmuxPath === undefined) this.skip(); // Debian package tmux
      pidFile = join(stateRoot, 'tmux-aggregate.pid');
    });
    afterEach(() => {
      try {
        const pid = Number(readFileSync(pidFile, 'utf8'));
        if (pid > 0) globalThis.process.kill(pid, 'SIGKILL');
      } catch {
        // not started, or already gone
      }
      try {
        tmux('kill-server');
      } catch {
        // already gone
      }
    });

    it('keeps one live status line, rewritten in place within the width, and counts the messages as they come', async () => {
      const { id, args } = aggregateArgs([]);
      const quoted = args.map((arg) => `'${arg}'`).join(' ');
      // In the background of the pane's shell, so the test can SIGTERM node itself and read its status.
      tmux(
        'new-session',
        '-d',
        '-s',
        'aggregate',
        '-x',
        '120',
        '-y',
        '30',
        '-c',
        projectRoot,
        `${globalThis.process.execPath} ${cli} ${quoted} & echo $! > ${pidFile}; wait $!; echo "aggregate exited with $?"; sleep 60`,
      );
      await subscribed(id);
      let lines: string[] = [];
      const statusLines = () => lines.filter((line) => / · messages \d+ \([\d.]+ msg\/s\)/.test(line));
      const showing = (what: string, predicate: () => boolean, timeoutMs = 15_000) =>
        waitFor(
          () => {
            lines = screen();
            return predicate();
          },
          () => `${what}; the screen:\n${lines.join('\n')}`,
          timeoutMs,
          200,
        );
      await showing('the live status line, the broker connected', () =>
        statusLines().some((line) => /^broker connected · messages 0 /.test(line)),
      );
      await publish([payload('12:00:01', 200), payload('12:00:02', 404), payload('12:00:03', 200)]);
      await showing('the status line counting 3 messages', () =>
        statusLines().some((line) => /^broker connected · messages 3 /.test(line)),
      );
      // Redrawn a second later, still one line: a live line that printed a new line each
      // time would have stacked copies by now.
      await new Promise((done) => setTimeout(done, 2_500));
      lines = screen();
      expect(statusLines(), lines.join('\n')).to.have.length(1);
      expect(statusLines()[0]).to.match(/· rejected 0 · late 0 · pending rows 0 · watermark 11:58:03/);
      for (const line of lines) expect([...line].length, line).to.be.at.most(120);

      globalThis.process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGTERM');
      await showing('the exit status', () => lines.some((line) => /aggregate exited with \d+/.test(line)), 30_000);
      const text = lines.join('\n');
      expect(text).to.match(/aggregate exited with 0/);
      // The open window's rows, under the header, on the terminal's table; the live line gone.
      expect(text).to.match(/^window start {14}window end {16}status {2}count {2}state {4}row$/m);
      expect(text).to.match(/^2020-07-01T12:00:00\.000Z {2}2020-07-01T12:01:00\.000Z {2}200 {9}2 {2}partial {2}new$/m);
      expect(text).to.match(/^2020-07-01T12:00:00\.000Z {2}2020-07-01T12:01:00\.000Z {2}404 {9}1 {2}partial {2}new$/m);
      expect(text).to.match(/^received 3 · rejected 0 · late 0 · watermark 11:58:03$/m);
      expect(statusLines(), text).to.have.length(0);
    });
  });

  describe('--http', () => {
    let occupied: Server | undefined;
    afterEach(async () => {
      await new Promise<void>((done) => (occupied ? occupied.close(() => done()) : done()));
      occupied = undefined;
    });

    for (const value of ['nonsense', '127.0.0.1:99999', 'localhost:', '::1:9464']) {
      it(`refuses --http ${value} with one line and status 2, before opening anything`, async () => {
        const process = startCli(aggregateArgs(['--http', value]).args);
        started.push(process);
        expect(await process.exited).to.equal(2);
        expect(process.stderr().trimEnd().split('\n'), process.stderr()).to.have.length(1);
        expect(process.stderr()).to.match(
          new RegExp(
            `^mqtt-iot-stream: --http must be host:port .*got ${JSON.stringify(value).replace(/[.*]/g, '\\$&')}`,
          ),
        );
        expect(broker.log()).not.to.include(`mqtt-iot-stream-aggregator-status${runs} `);
      });
    }

    it('fails with one line and status 1 when the port is in use', async () => {
      occupied = createServer();
      await new Promise<void>((done) => occupied!.listen(0, '127.0.0.1', done));
      const port = (occupied.address() as AddressInfo).port;
      const process = startCli(aggregateArgs(['--http', `127.0.0.1:${port}`]).args);
      started.push(process);
      expect(await process.exited).to.equal(1);
      expect(process.stderr().trimEnd().split('\n'), process.stderr()).to.have.length(1);
      expect(process.stderr()).to.match(
        new RegExp(`^mqtt-iot-stream: --http: cannot listen on 127\\.0\\.0\\.1:${port}: .*in use`),
      );
    });

    it('serves health, readiness once subscribed, and the exact message count with the process metrics; never the password', async () => {
      const { id, process } = aggregate(['--http', '127.0.0.1:0', '--status-every', '1 s', '--verbose']);
      await waitFor(
        () => /dashboard on http:\/\/127\.0\.0\.1:\d+\//.test(process.stderr()),
        () => `the endpoint's address; stderr:\n${process.stderr()}`,
      );
      const url = /dashboard on (http:\/\/127\.0\.0\.1:\d+)\//.exec(process.stderr())![1]!;
      const get = async (path: string) => {
        const response = await fetch(`${url}${path}`);
        return { status: response.status, body: await response.text() };
      };
      expect(await get('/healthz')).to.deep.equal({ status: 200, body: '{"status":"ok"}\n' });
      await subscribed(id, process);
      let ready = await get('/readyz');
      await waitFor(
        async () => (ready = await get('/readyz')).status === 200,
        () => `/readyz 200; last answer ${ready.status} ${ready.body}`,
      );
      expect(JSON.parse(ready.body)).to.include({ ready: true });

      const published = 7;
      await publish([
        ...Array.from({ length: published - 1 }, (_, i) => payload(`12:00:0${i}`, 200)),
        JSON.stringify({ iottimestamp: '2020-07-01 12:00:09', accesslogs: 'not an access log line' }),
      ]);
      let metrics = '';
      await waitFor(
        async () => /^mqtt_iot_stream_messages_total 7$/m.test((metrics = (await get('/metrics')).body)),
        () =>
          `mqtt_iot_stream_messages_total 7 in /metrics:\n${metrics
            .split('\n')
            .filter((line) => line.includes('messages_total'))
            .join('\n')}`,
      );
      expect(metrics)
        .to.match(/^mqtt_iot_stream_rejections_total\{kind="line"\} 1$/m)
        .and.match(/^mqtt_iot_stream_broker_connected 1$/m)
        .and.match(/^process_cpu_seconds_total \d/m)
        .and.match(/^nodejs_eventloop_lag_seconds /m);
      const status = await get('/api/status');
      expect(status.status).to.equal(200);
      const document = JSON.parse(status.body) as {
        watched: Record<string, string>;
        windows: { label: string; windows: { counts: Record<string, number>; final: boolean }[] };
      };
      expect(document.watched).to.include({ broker: broker.url, topic: TOPIC });
      expect(document.windows.label).to.equal(`this aggregator (aggregator ${id})`);
      // The open window, counted before its row exists (append mode writes it when it closes).
      expect(document.windows.windows).to.deep.equal([
        { ...document.windows.windows[0], counts: { '200': 6 }, final: false },
      ]);
      const page = await get('/');
      expect(page.status).to.equal(200);

      await waitFor(() => / · messages 7 /.test(process.stderr()), 'a status line counting 7 messages');
      process.child.kill('SIGTERM');
      expect(await process.exited, process.stderr()).to.equal(0);
      expect(process.stderr(), 'the rejection, with --verbose').to.match(/rejected \(line\): /);
      for (const [where, text] of [
        ['stdout', process.stdout()],
        ['stderr', process.stderr()],
        ['/metrics', metrics],
        ['/api/status', status.body],
        ['/', page.body],
      ] as const)
        expect(text, `${where} shows the password`).not.to.include(PASSWORD);
    });
  });

  it('the demo prints its dashboard address, and serves it', async () => {
    const process = startCli(['demo', '--duration', '4 s', '--rate', '2', '--http', '127.0.0.1:0']);
    started.push(process);
    await waitFor(
      () =>
        /^dashboard http:\/\/127\.0\.0\.1:\d+\/ · metrics http:\/\/127\.0\.0\.1:\d+\/metrics$/m.test(process.stdout()),
      () => `the dashboard line; stdout:\n${process.stdout()}\nstderr:\n${process.stderr()}`,
    );
    const url = /^dashboard (http:\/\/127\.0\.0\.1:\d+)\//m.exec(process.stdout())![1]!;
    let messages = '';
    await waitFor(
      async () => {
        const document = (await (await fetch(`${url}/api/status`)).json()) as { summary: { messages: number | null } };
        messages = String(document.summary.messages);
        return (document.summary.messages ?? 0) > 0;
      },
      () => `the demo's dashboard counting messages (now ${messages})`,
    );
    expect(await process.exited, process.stderr()).to.equal(0);
  });
});
