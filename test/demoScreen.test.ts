// The demo as a person sees it: the built CLI in a real terminal (tmux, 100 × 30),
// Enter pressed several times, the screen captured. Enter must not disturb the table,
// the columns must line up under their header, nothing may be wider than 100 columns,
// windows come in time order and the status line counts presses by source.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { cliPath as cli, projectRoot } from './support/cli.js';
import { waitFor } from './support/waitFor.js';

const tmuxPath = ['/usr/bin/tmux', '/usr/local/bin/tmux'].find((path) => existsSync(path));
// A server of our own, so the test neither sees nor disturbs anyone's tmux sessions.
const socket = `mqtt-iot-stream-test-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync(tmuxPath!, ['-L', socket, ...args], { encoding: 'utf8' });
const screen = (): string[] => tmux('capture-pane', '-p', '-t', 'demo').split('\n');

/** The screen once `predicate` holds for it; fails showing the last screen. */
async function screenShowing(
  predicate: (lines: string[]) => boolean,
  timeoutMs: number,
  what: string,
): Promise<string[]> {
  let lines: string[] = [];
  await waitFor(
    () => predicate((lines = screen())),
    () => `${what}; the screen:\n${lines.join('\n')}`,
    timeoutMs,
    200,
  );
  return lines;
}

const WINDOW_ROW = /^(\d\d:\d\d:\d\d)–\d\d:\d\d:\d\d {2}(open |final)/;

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
    // The final table stays on the normal screen, every window final, once.
    expect(
      after.filter((line) => line.startsWith('window (UTC)')),
      afterText,
    ).to.have.length(1);
    const finalRows = after.filter((line) => WINDOW_ROW.test(line));
    expect(finalRows.length, afterText).to.be.at.least(1);
    for (const row of finalRows) expect(row, afterText).to.match(/ final/);
  });
});
