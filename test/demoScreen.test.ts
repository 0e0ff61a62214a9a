// The demo as a person sees it: the built CLI in real terminals (tmux), the screen
// captured. At 100 × 30, with Enter pressed several times: Enter must not disturb the
// table, the columns must line up under their header, nothing may be wider than 100
// columns, windows come in time order and the status line counts presses by source. At
// 80 × 24, 40 × 10 and 120 × 30 at once: each screen fits, 80 × 24 shows everything
// that matters, 40 × 10 keeps the status lines and says what it hides, and after q a
// window is final only if the watermark closed it (partial otherwise).
// test/liveView.test.ts checks the same screen at every size from 20 × 6 to 100 × 30.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAccessLogLine } from '../src/index.js';
import { dashboardLine, demoIntro } from '../src/cli/demo.js';
import { cliPath as cli, projectRoot } from './support/cli.js';
import { introFate, words } from './support/demoScreen.js';
import { waitFor } from './support/waitFor.js';

const tmuxPath = ['/usr/bin/tmux', '/usr/local/bin/tmux'].find((path) => existsSync(path));
// A server of our own, so the test neither sees nor disturbs anyone's tmux sessions.
const socket = `mqtt-iot-stream-test-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync(tmuxPath!, ['-L', socket, ...args], { encoding: 'utf8' });
/** The screen of `session`; with `history`, the lines scrolled off it too (the normal screen's). */
const screen = (session = 'demo', history = false): string[] =>
  tmux('capture-pane', '-p', ...(history ? ['-S', '-'] : []), '-t', session)
    .replace(/\n+$/, '')
    .split('\n');

/** The screen once `predicate` holds for it; fails showing the last screen. */
async function screenShowing(
  predicate: (lines: string[]) => boolean,
  timeoutMs: number,
  what: string,
  session = 'demo',
  history = false,
): Promise<string[]> {
  let lines: string[] = [];
  await waitFor(
    () => predicate((lines = screen(session, history))),
    () => `${what}; the screen of ${session}:\n${lines.join('\n')}`,
    timeoutMs,
    200,
  );
  return lines;
}

/** Starts `mqtt-iot-stream demo <flags>` in a terminal of its own, `width` × `height`. */
function startDemo(session: string, width: number, height: number, flags: string): void {
  tmux(
    'new-session',
    '-d',
    '-s',
    session,
    '-x',
    String(width),
    '-y',
    String(height),
    '-c',
    projectRoot,
    `${process.execPath} ${cli} demo ${flags}; echo "demo exited with $?"; sleep 60`,
  );
}

const WINDOW_ROW = /^(\d\d:\d\d:\d\d)–\d\d:\d\d:\d\d {2}(open |final|partial)/;
/** A window's row, whole (`07:06:40–07:06:50`) or by its start on a narrow terminal. */
const ANY_WINDOW_ROW = /^(\d\d:\d\d:\d\d)(?:–\d\d:\d\d:\d\d)? +(open|final|partial)\b/;

interface ShownWindow {
  readonly start: string;
  readonly state: string;
}

const windowsOn = (lines: string[]): ShownWindow[] =>
  lines.flatMap((line) => {
    const match = ANY_WINDOW_ROW.exec(line);
    return match ? [{ start: match[1]!, state: match[2]! }] : [];
  });

/** The watermark the status line shows (the last one on the screen), in seconds since midnight UTC. */
function watermarkOn(lines: string[]): number {
  const shown = [...lines.join('\n').matchAll(/watermark (\d\d:\d\d:\d\d)/g)].at(-1);
  expect(shown, lines.join('\n')).to.not.equal(undefined);
  return seconds(shown![1]!);
}

const seconds = (clock: string): number => {
  const [hours, minutes, secs] = clock.split(':').map(Number) as [number, number, number];
  return hours * 3600 + minutes * 60 + secs;
};

/**
 * Checks each window's state against the watermark shown: final when the watermark has
 * passed its end, otherwise open while the demo runs and partial once it has ended.
 * (The watermark is shown to the second and windows end on whole seconds, so the
 * comparison is exact.)
 */
function expectStatesAgree(lines: string[], windowSeconds: number, ended: boolean): ShownWindow[] {
  const watermark = watermarkOn(lines);
  const windows = windowsOn(lines);
  for (const { start, state } of windows) {
    const closed = seconds(start) + windowSeconds <= watermark;
    expect(state, `${start} with the watermark at ${watermark}:\n${lines.join('\n')}`).to.equal(
      closed ? 'final' : ended ? 'partial' : 'open',
    );
  }
  return windows;
}

describe('the demo in a terminal', function () {
  this.timeout(90_000);

  before(function () {
    if (tmuxPath === undefined) this.skip(); // Debian package tmux
  });

  afterEach(() => {
    try {
      tmux('kill-server');
    } catch {
      // already gone
    }
  });

  it('keeps one table, aligned, at most 100 columns wide, in time order, through Enter presses; q leaves the final table', async () => {
    tmux(
      'new-session',
      '-d',
      '-s',
      'demo',
      '-x',
      '100',
      '-y',
      '30',
      '-c',
      projectRoot,
      `${process.execPath} ${cli} demo --rate 2; echo "demo exited with $?"; sleep 30`,
    );
    await screenShowing((lines) => lines.some((line) => WINDOW_ROW.test(line)), 30_000, 'a window row');

    const enterPresses = 6;
    for (let i = 0; i < enterPresses; i++) {
      tmux('send-keys', '-t', 'demo', 'Enter');
      await sleep(450);
    }
    await sleep(600); // a redraw after the last press
    const lines = screen();
    const text = lines.join('\n');

    // One table: an echoed Enter would have pushed copies of the header down the screen.
    const headers = lines.filter((line) => line.startsWith('window (UTC)'));
    expect(headers, text).to.have.length(1);
    for (const line of lines) expect(line.length, line).to.be.at.most(100);

    // The header lines up with its columns: state over the state, each status over its counts.
    const header = headers[0]!;
    const rows = lines.filter((line) => WINDOW_ROW.test(line));
    expect(rows.length, text).to.be.at.least(1);
    for (const row of rows) {
      expect(row.indexOf(WINDOW_ROW.exec(row)![2]!), row).to.equal(header.indexOf('state'));
      expect(row.length, `${header}\n${row}`).to.equal(header.length); // counts right-aligned under their status
    }
    for (const match of header.matchAll(/\d{3}|other/g)) {
      const end = match.index + match[0].length;
      for (const row of rows) expect(row.slice(end - 1, end), `${header}\n${row}`).to.match(/[\d-]/);
    }
    const starts = rows.map((row) => WINDOW_ROW.exec(row)![1]!);
    expect(starts).to.deep.equal([...starts].sort());

    // Presses by source, and what the bounce time swallowed, add up with what was sent.
    const presses = /presses: (\d+) automatic · (\d+) keyboard · (\d+) swallowed by the 300 ms bounce time/.exec(text);
    expect(presses, text).to.not.equal(null);
    const [automatic, keyboard, swallowed] = presses!.slice(1).map(Number) as [number, number, number];
    expect(keyboard).to.equal(enterPresses);
    const sent = Number(/sent (\d+) · received/.exec(text)![1]);
    // A press whose acknowledgement is still on its way is not counted as sent yet.
    expect(sent).to.be.within(automatic + keyboard - swallowed - 2, automatic + keyboard - swallowed);

    tmux('send-keys', '-t', 'demo', 'q');
    const after = await screenShowing(
      (current) => current.some((line) => line.startsWith('demo exited with')),
      20_000,
      'the exit',
    );
    const afterText = after.join('\n');
    expect(afterText).to.match(/demo exited with 0/);
    // The final table stays on the normal screen, once; a window is final only if the watermark closed it.
    expect(
      after.filter((line) => line.startsWith('window (UTC)')),
      afterText,
    ).to.have.length(1);
    const finalRows = after.filter((line) => WINDOW_ROW.test(line));
    expect(finalRows.length, afterText).to.be.at.least(1);
    expectStatesAgree(after, 10, true);
  });

  it('fits 80×24, 40×10 and 120×30, shows all that matters at 80×24, says what 40×10 hides; after q a window the watermark had not closed is partial', async () => {
    // A log with one line of each status of the bundled log, so every status shows within seconds.
    const bundled = readFileSync(join(projectRoot, 'examples', 'data', 'access.log'), 'utf8').split('\n');
    const firstOfStatus = new Map<number, string>();
    for (const line of bundled) {
      const parsed = parseAccessLogLine(line);
      if (parsed._tag === 'Right' && !firstOfStatus.has(parsed.right.status))
        firstOfStatus.set(parsed.right.status, line);
    }
    const statuses = [...firstOfStatus.keys()].sort((a, b) => a - b);
    expect(statuses, 'the statuses of examples/data/access.log').to.have.length.of.at.least(8);
    const directory = mkdtempSync(join(tmpdir(), 'demo-screen-'));
    const log = join(directory, 'every-status.log');
    writeFileSync(log, `${[...firstOfStatus.values()].join('\n')}\n`);

    // 5-second windows closed 2 s after: final and open windows on screen within seconds.
    const sizes = [
      { session: 'w80', width: 80, height: 24 },
      { session: 'w40', width: 40, height: 10 },
      { session: 'w120', width: 120, height: 30 },
    ];
    try {
      for (const { session, width, height } of sizes)
        startDemo(session, width, height, `--rate 3 --window '5 s' --watermark '2 s' --log ${log}`);
      const everyStatusShown = (lines: string[]): boolean => {
        const states = windowsOn(lines).map((window) => window.state);
        const text = lines.join('\n');
        return states.includes('final') && states.includes('open') && /(\+\d+ more|503)\n/.test(text);
      };
      for (const { session } of sizes)
        await screenShowing(everyStatusShown, 40_000, 'a final and an open window, every status', session);
      const [at80, at40, at120] = sizes.map(({ session }) => screen(session));
      const shown = (lines: string[]): string => lines.join('\n');

      // Nothing wider than the terminal (or than 100 columns), and each window's state true to the watermark.
      for (const [lines, width] of [
        [at80!, 80],
        [at40!, 40],
        [at120!, 100],
      ] as const) {
        for (const line of lines) expect(line.length, `${line}\n---\n${shown(lines)}`).to.be.at.most(width);
        expectStatesAgree(lines, 5, false);
      }

      // The intro as the demo writes it, shown whole by the widest terminal, one row a line.
      const { intro, keys } = demoIntro(
        { rate: 3, window: 5_000, watermark: 2_000, cassandra: undefined, keyspace: '', table: '' },
        { brokerUrl: 'mqtt://127.0.0.1:0', keyboard: true, endpoint: [dashboardLine('http://127.0.0.1:0', true)] },
      );
      expect(at120!.slice(0, intro.length).map(words), shown(at120!)).to.deep.equal(
        intro.map((line) => words(line.text)),
      );

      // 80×24: every intro line whole (wrapped between items), every status in a column, both status lines whole.
      expect(introFate(at80!, intro, keys), shown(at80!)).to.deep.equal(intro.map(() => 'whole'));
      expect(
        at80!.filter((line) => line.endsWith('…')),
        shown(at80!),
      ).to.deep.equal([]);
      expect(shown(at80!)).to.match(/^dashboard http:\/\/127\.0\.0\.1:\d+\/ · metrics /m);
      const header80 = at80!.find((line) => line.startsWith('window (UTC)'));
      expect(header80, shown(at80!)).to.not.equal(undefined);
      expect(header80!.split(/\s+/).slice(3).map(Number), header80).to.deep.equal(statuses);
      expect(shown(at80!)).to.match(
        /^presses: \d+ automatic · \d+ keyboard · \d+ swallowed by the 300 ms bounce time$/m,
      );
      expect(shown(at80!)).to.match(/^sent \d+ · received \d+ · rejected \d+ · late \d+ · watermark \d\d:\d\d:\d\d$/m);

      // 40×10: each intro line on a row of its own (how to stop first), cut after a word
      // and marked, or counted by the keys line; the statuses left out counted in the
      // header; every status line item there.
      const fates = introFate(at40!, intro, keys);
      for (const fate of fates) expect(fate, shown(at40!)).to.be.oneOf(['whole', 'short', 'cut', 'hidden']);
      expect(shown(at40!)).to.match(/^q stops · Enter presses\b/m);
      for (const line of at40!.filter((line) => line.endsWith('…'))) {
        const kept = words(line.slice(0, -1));
        // After a whole word: every word kept is one of the intro's.
        const introWords = new Set([...intro.flatMap((line) => [line.text, line.short ?? '']), keys].flatMap(words));
        for (const word of kept) expect(introWords, `"${word}" in ${line}`).to.include(word.replace(/[,;:]$/, ''));
      }
      const header40 = at40!.find((line) => line.startsWith('start (UTC)'));
      expect(header40, shown(at40!)).to.not.equal(undefined);
      const more = /\+(\d+) more$/.exec(header40!);
      expect(more, header40).to.not.equal(null);
      expect(header40!.split(/\s+/).slice(3, -2).length + Number(more![1]), header40).to.equal(statuses.length);
      const words40 = words(shown(at40!));
      for (const item of ['presses', 'auto', 'Enter', 'swallowed', 'sent', 'received', 'rejected', 'late', 'watermark'])
        expect(words40, shown(at40!)).to.include(item);
      expect(shown(at40!)).to.match(/watermark \d\d:\d\d:\d\d/);

      // q: each leaves its final table on the normal screen; every window is final or
      // partial as the watermark says, and some of each (the watermark trails by 2 s).
      for (const { session } of sizes) tmux('send-keys', '-t', session, 'q');
      for (const { session, width } of sizes) {
        const after = await screenShowing(
          (lines) => lines.some((line) => line.startsWith('demo exited with')),
          20_000,
          'the exit',
          session,
          true,
        );
        expect(shown(after)).to.match(/demo exited with 0/);
        for (const line of after)
          expect(line.length, `${line}\n---\n${shown(after)}`).to.be.at.most(Math.min(width, 100));
        const states = expectStatesAgree(after, 5, true).map((window) => window.state);
        expect(states, shown(after)).to.include('final').and.to.include('partial');
        // The statuses a `+N more` column sums are named under the table left on the screen.
        const header = after.find((line) => /^(window|start) \(UTC\)/.test(line))!;
        const hidden = statuses.filter((status) => !header.split(/\s+/).includes(String(status)));
        if (hidden.length > 0) expect(after, shown(after)).to.include(`+${hidden.length} more: ${hidden.join(', ')}`);
        else expect(header, shown(after)).to.not.match(/more/);
      }
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});
