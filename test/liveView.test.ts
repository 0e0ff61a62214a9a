// The demo's screen at any terminal size, drawn from the demo's own intro and status
// lines at their longest (Cassandra on, prom-client missing, five-digit counts): what a
// line that does not fit becomes (wrapped, or cut after a whole word and marked '…'),
// which status columns a narrow table keeps and how it says so, and what a window is
// called while the demo runs and once it has ended. test/demoScreen.test.ts runs the
// built command in real terminals of the sizes that matter.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAccessLogLine, type WindowRow, type WindowStats } from '../src/index.js';
import type { SimulatedGpio } from '../src/testing.js';
import { dashboardLine, demoIntro } from '../src/cli/demo.js';
import { DemoButton } from '../src/cli/demoButton.js';
import { CUT_MARK, cutToWidth, wrapLine, wrapToWidth } from '../src/cli/fitToWidth.js';
import { LiveView, type LiveViewSource } from '../src/cli/liveView.js';
import { Tally } from '../src/cli/tally.js';
import { projectRoot } from './support/cli.js';
import { introFate, runOf, words } from './support/demoScreen.js';

/** Every status the bundled log's lines carry, in numeric order. */
const LOG_STATUSES = [
  ...new Set(
    readFileSync(join(projectRoot, 'examples', 'data', 'access.log'), 'utf8')
      .split('\n')
      .map(parseAccessLogLine)
      .flatMap((parsed) => (parsed._tag === 'Right' ? [parsed.right.status] : [])),
  ),
].sort((a, b) => a - b);

const T0 = Date.UTC(2020, 6, 1, 7, 6, 0);
const WINDOW_MS = 10_000;
const clock = (time: number): string => new Date(time).toISOString().slice(11, 19);

/** The demo's intro and status lines, each as long as it gets; the watermark is read from `watermark`. */
function demoSource(watermark: { at: number | undefined }): LiveViewSource {
  const button = new DemoButton({} as SimulatedGpio, 17, 300);
  Object.assign(button, { automatic: 12_345, keyboard: 12, swallowed: 123 });
  const tally = new Tally();
  Object.assign(tally, { sent: 12_345, received: 12_345, rowsWritten: 12_345 });
  tally.rejected.set('payload', 12);
  tally.rejected.set('late', 3);
  return {
    ...demoIntro(
      { rate: 20, window: WINDOW_MS, watermark: 10_000, cassandra: '127.0.0.1:9042', keyspace: 'hyper', table: 'mqtt' },
      {
        brokerUrl: 'mqtt://127.0.0.1:40123',
        keyboard: true,
        endpoint: [dashboardLine('http://127.0.0.1:9464', false)],
      },
    ),
    status: () => {
      tally.windows = { watermark: watermark.at } as WindowStats;
      return [{ text: button.summary(), short: button.shortSummary() }, { text: tally.summary() }];
    },
    watermark: () => watermark.at,
  };
}

/** A row of window `index` (from T0), as windowedCount emits it. */
function row(index: number, status: number, count: number, final?: boolean): WindowRow<number> {
  const windowStart = new Date(T0 + index * WINDOW_MS);
  return {
    windowStart,
    windowEnd: new Date(windowStart.getTime() + WINDOW_MS),
    key: status,
    count,
    ...(final === undefined ? {} : { final }),
  };
}

/** A view holding `windows` windows with a count for every status of the bundled log (200 the most frequent). */
function filledView(source: LiveViewSource, windows = 8): LiveView {
  const view = new LiveView(source);
  for (let index = 0; index < windows; index++)
    for (const [rank, status] of LOG_STATUSES.entries()) view.add(row(index, status, status === 200 ? 150 : rank + 1));
  return view;
}

const introFateOf = (screen: string[], source: LiveViewSource): string[] =>
  introFate(screen, source.intro, source.keys);

/** The states of the window rows on `screen`, by window start. */
function windowStates(screen: string[]): Map<string, string> {
  const states = new Map<string, string>();
  for (const line of screen) {
    const match = /^(\d\d:\d\d:\d\d)(?:–\d\d:\d\d:\d\d)? +(open|final|partial)\b/.exec(line);
    if (match) states.set(match[1]!, match[2]!);
  }
  return states;
}

describe('the demo screen, fitted to the terminal', () => {
  describe('a line', () => {
    const prose = 'windows of 10 seconds, watermark 10 seconds · writing rows to Cassandra hyper.mqtt';

    it('is left whole when it fits, and is otherwise cut after a whole word and ended with …', () => {
      expect(cutToWidth(prose, prose.length)).to.equal(prose);
      // From the width where its first word fits with the mark.
      for (let width = 'windows'.length + 1; width < prose.length; width++) {
        const cut = cutToWidth(prose, width);
        expect(cut.length, cut).to.be.at.most(width);
        expect(cut, `width ${width}`).to.match(/…$/);
        const kept = cut.slice(0, -1);
        expect(prose.startsWith(kept), cut).to.equal(true);
        // After a whole word: what follows in the line starts with a space or a separator.
        expect(prose.slice(kept.length), `width ${width}: ${cut}`).to.match(/^[\s·,]/);
      }
    });

    it('is cut at the last item boundary when that keeps half the width', () => {
      expect(cutToWidth('q stops · Enter presses · 4 lines hidden', 39)).to.equal('q stops · Enter presses…');
    });

    it('is cut inside a word only when its first word alone is too wide', () => {
      expect(cutToWidth('http://127.0.0.1:9464/metrics is where', 12)).to.equal('http://127.…');
    });

    it('wraps between items first, then between words, every row within the width', () => {
      const line = 'broker mqtt://127.0.0.1:40123 (in-process) · simulated button on GPIO 17, LED on GPIO 4';
      expect(wrapLine({ text: line }, 80)).to.deep.equal([
        'broker mqtt://127.0.0.1:40123 (in-process)',
        'simulated button on GPIO 17, LED on GPIO 4',
      ]);
      expect(wrapLine({ text: line }, 30)).to.deep.equal([
        'broker mqtt://127.0.0.1:40123',
        '(in-process)',
        'simulated button on GPIO 17,',
        'LED on GPIO 4',
      ]);
      expect(wrapToWidth('the first press is on its way', 9)).to.deep.equal(['the first', 'press is', 'on its', 'way']);
    });

    it('takes its short form when only that fits on one row', () => {
      const line = { text: 'presses: 12 automatic · 0 keyboard · 1 swallowed', short: 'presses 12 auto · 0 Enter' };
      expect(wrapLine(line, 30)).to.deep.equal(['presses 12 auto · 0 Enter']);
      expect(wrapLine(line, 60)).to.deep.equal([line.text]);
    });
  });

  it('at 80×24 shows every intro line whole, the dashboard, all 8 windows with a column for every status of the bundled log, and both status lines whole', () => {
    const watermark = { at: T0 + 5 * WINDOW_MS };
    const source = demoSource(watermark);
    const screen = filledView(source).screen(80, 24, watermark.at, false);
    const text = screen.join('\n');

    expect(screen.length, text).to.be.at.most(24);
    for (const line of screen) expect(line.length, line).to.be.at.most(80);
    expect(LOG_STATUSES, 'the statuses of examples/data/access.log').to.have.length.of.at.least(8);
    expect(introFateOf(screen, source), text).to.deep.equal(source.intro.map(() => 'whole'));
    expect(text).to.include('dashboard http://127.0.0.1:9464/');
    expect(
      screen.filter((line) => line.endsWith(CUT_MARK)),
      text,
    ).to.deep.equal([]);

    const header = screen.find((line) => line.startsWith('window (UTC)'));
    expect(header, text).to.not.equal(undefined);
    expect(words(header!).slice(3).map(Number), header).to.deep.equal(LOG_STATUSES);
    expect(windowStates(screen).size, text).to.equal(8);

    const status = source.status();
    const screenWords = words(text);
    for (const line of status) {
      const shown = [line.text, line.short ?? line.text].some((form) => runOf(words(form), screenWords));
      expect(shown, `${line.text}\n---\n${text}`).to.equal(true);
    }
  });

  it('at 40×10 keeps both status lines, says how many intro lines, statuses and windows it hides, and sums the hidden statuses', () => {
    const watermark = { at: T0 + 5 * WINDOW_MS };
    const source = demoSource(watermark);
    const screen = filledView(source).screen(40, 10, watermark.at, false);
    const text = screen.join('\n');

    expect(screen.length, text).to.be.at.most(10);
    for (const line of screen) expect(line.length, line).to.be.at.most(40);
    expect(screen[0], text).to.equal(`q stops · Enter presses · ${source.intro.length} lines hidden`);
    expect(introFateOf(screen, source), text).to.deep.equal(source.intro.map(() => 'hidden'));

    // Status lines: every item of each, in its long or short form, whole.
    const screenWords = words(text);
    for (const line of source.status()) {
      const shown = [line.text, line.short ?? line.text].some((form) => runOf(words(form), screenWords));
      expect(shown, `${line.text}\n---\n${text}`).to.equal(true);
    }

    // Statuses: the ones shown and the `+N more` add up to all of them; the column sums the rest.
    const header = screen.find((line) => line.startsWith('start (UTC)'));
    expect(header, text).to.not.equal(undefined);
    const more = /\+(\d+) more$/.exec(header!);
    expect(more, header).to.not.equal(null);
    const shownStatuses = words(header!).slice(3, -2).map(Number);
    expect(shownStatuses.length + Number(more![1]), header).to.equal(LOG_STATUSES.length);
    expect(shownStatuses, header).to.include(200);
    const hidden = LOG_STATUSES.filter((status) => !shownStatuses.includes(status));
    const rank = (status: number): number => LOG_STATUSES.indexOf(status) + 1;
    const lastRow = screen.filter((line) => /^\d\d:\d\d:\d\d /.test(line)).at(-1)!;
    expect(Number(words(lastRow).at(-1)), `${header}\n${lastRow}`).to.equal(
      hidden.reduce((sum, status) => sum + (status === 200 ? 150 : rank(status)), 0),
    );

    // With a row to spare (a taller terminal, or the table left after the end), the hidden statuses are named.
    const tall = filledView(source).screen(40, 40, watermark.at, false);
    expect(tall, tall.join('\n')).to.include(`+${hidden.length} more: ${hidden.join(', ')}`);

    // Windows: the newest, the rest counted.
    const older = screen.find((line) => /^… \d+ older windows$/.test(line));
    expect(older, text).to.not.equal(undefined);
    const shownWindows = windowStates(screen);
    expect(Number(/\d+/.exec(older!)![0]) + shownWindows.size, text).to.equal(8);
    expect([...shownWindows.keys()].at(-1)).to.equal(clock(T0 + 7 * WINDOW_MS));
  });

  it('on a terminal too short to wrap the intro, gives each intro line one row, the instructions starting with how to stop', () => {
    const watermark = { at: T0 + WINDOW_MS };
    const source = demoSource(watermark);
    const screen = filledView(source, 2).screen(40, 12, watermark.at, false);
    const text = screen.join('\n');
    expect(screen.length, text).to.be.at.most(12);
    expect(introFateOf(screen, source), text).to.deep.equal(['cut', 'cut', 'short', 'cut']);
    expect(screen, text).to.include('q stops · Enter presses · 20 presses/s');
  });

  it('fits every size from 20×6 to 100×30: no line too wide or cut mid-word, every cut marked, no intro line dropped silently', () => {
    const watermark = { at: T0 + 5 * WINDOW_MS };
    const source = demoSource(watermark);
    const view = filledView(source);
    // A cut drops the punctuation it would leave dangling: "seconds," may end as "seconds…".
    const bare = (text: string): string[] => words(text).map((word) => word.replace(/[,;:]+$/, ''));
    const known = new Set(
      [
        ...source.intro.flatMap((line) => [line.text, line.short ?? '']),
        source.keys,
        '… lines hidden older windows more too small for the table: it needs rows',
        ...source.status().flatMap((line) => [line.text, line.short ?? '']),
        ...view.screen(100, 100, watermark.at, false),
        ...view.screen(40, 100, watermark.at, false),
      ].flatMap(bare),
    );
    const faults: string[] = [];
    for (let width = 20; width <= 100; width++) {
      for (let height = 6; height <= 30; height++) {
        const screen = view.screen(width, height, watermark.at, false);
        const fault = (what: string): number => faults.push(`${what} at ${width}×${height}:\n${screen.join('\n')}`);
        if (screen.length > height) fault(`${screen.length} lines`);
        for (const line of screen) {
          if (line.length > width) fault(`"${line}" too wide`);
          // A word cut without a mark would be a word the source never had...
          const cut = line.endsWith(CUT_MARK);
          const lineWords = bare(cut ? line.slice(0, -1) : line);
          // ...unless it is the row's only word, too wide for any row (a URL at 20 columns).
          if (cut && lineWords.length === 1 && line.length === width) {
            if (![...known].some((word) => word.startsWith(lineWords[0]!))) fault(`"${line}" cut from nothing`);
          } else {
            for (const word of lineWords) if (!/^\+?\d+$/.test(word) && !known.has(word)) fault(`"${word}" cut`);
          }
        }
        // Every word fits a row from 30 columns on (the longest is 29, the metrics URL).
        if (width >= 30 && height >= 10)
          for (const fate of introFateOf(screen, source)) if (fate.startsWith('dropped')) fault(fate);
      }
    }
    expect(faults.slice(0, 3).join('\n\n')).to.equal('');
  });

  describe('a window', () => {
    it('is open until the watermark passes its end, then final; one the watermark had not closed when the demo ended is partial', () => {
      const watermark = { at: (T0 + 2 * WINDOW_MS + 1_000) as number | undefined };
      const view = filledView(demoSource(watermark), 4);
      const at = (time: number): string => clock(T0 + time);

      const running = windowStates(view.screen(100, 30, watermark.at!, false));
      expect([...running]).to.deep.equal([
        [at(0), 'final'],
        [at(WINDOW_MS), 'final'],
        [at(2 * WINDOW_MS), 'open'],
        [at(3 * WINDOW_MS), 'open'],
      ]);
      const ended = windowStates(view.screen(100, 30, watermark.at!, true));
      expect([...ended]).to.deep.equal([
        [at(0), 'final'],
        [at(WINDOW_MS), 'final'],
        [at(2 * WINDOW_MS), 'partial'],
        [at(3 * WINDOW_MS), 'partial'],
      ]);
    });

    it('is final when its row says the watermark closed it (append mode), whatever watermark the view was given', () => {
      const view = new LiveView(demoSource({ at: undefined }));
      view.add(row(0, 200, 3, true));
      view.add(row(1, 200, 2, false));
      expect([...windowStates(view.screen(100, 30, -Infinity, true)).values()]).to.deep.equal(['final', 'partial']);
    });

    it('is left on the terminal after the end as final or partial, and printed to a pipe once, final or partial', () => {
      for (const isTTY of [true, false]) {
        const written: string[] = [];
        const out = { isTTY, columns: 80, rows: 24, write: (chunk: string) => written.push(chunk) };
        const watermark = { at: (T0 + WINDOW_MS) as number | undefined };
        const view = new LiveView(demoSource(watermark), out as unknown as NodeJS.WriteStream);
        view.start();
        view.add(row(0, 200, 3));
        view.add(row(1, 200, 2));
        view.render();
        view.close();
        // On a terminal, what stays: the table printed after leaving the alternate screen.
        const left = written.indexOf('\x1b[?25h\x1b[?1049l');
        expect(left > 0, 'left the alternate screen').to.equal(isTTY);
        const lines = written
          .slice(left + 1)
          .join('')
          .split('\n');
        expect(windowStates(lines), `${isTTY ? 'terminal' : 'pipe'}:\n${written.join('')}`).to.deep.equal(
          new Map([
            [clock(T0), 'final'],
            [clock(T0 + WINDOW_MS), 'partial'],
          ]),
        );
        expect(
          lines.filter((line) => line.startsWith(clock(T0))),
          written.join(''),
        ).to.have.length(1);
      }
    });
  });
});
