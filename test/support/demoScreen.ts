// Reading the demo's screen in tests: its words, and what became of each intro line
// (test/liveView.test.ts draws the screen, test/demoScreen.test.ts captures it from tmux).
import type { ScreenLine } from '../../src/cli/fitToWidth.js';

const CUT_MARK = '…';

/** The words of `text`, separators left out and the ports of local addresses made alike. */
export const words = (text: string): string[] =>
  text
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:PORT')
    .split(/[\s·]+/u)
    .filter((word) => word !== '');

/** Whether `part`'s words come, in order and together, in `whole`'s. */
export const runOf = (part: string[], whole: string[]): boolean =>
  whole.some((_, start) => part.every((word, i) => whole[start + i] === word));

/**
 * What each intro line became on `screen`: `whole` (wrapped or not), `short` (its short
 * form on a row), `cut` (a row ending with '…' whose text starts the line or its short
 * form; the word boundary is checked where the cut is made), `hidden` (the keys line
 * counts it, or is cut itself), or `dropped silently: <line>`.
 */
export function introFate(screen: readonly string[], intro: readonly ScreenLine[], keys: string): string[] {
  const normal = (text: string): string => words(text).join(' ');
  const uncut = screen.filter((line) => !line.endsWith(CUT_MARK));
  const shownWords = uncut.flatMap(words);
  const cuts = screen.filter((line) => line.endsWith(CUT_MARK)).map((line) => normal(line.slice(0, -1)));
  const keysLine = normal(`${keys} · ${intro.length} lines hidden`);
  return intro.map((line) => {
    if (runOf(words(line.text), shownWords)) return 'whole';
    if (line.short !== undefined && uncut.some((shown) => normal(shown) === normal(line.short!))) return 'short';
    const forms = [line.text, line.short ?? line.text].map(normal);
    if (cuts.some((cut) => forms.some((form) => form.startsWith(cut)))) return 'cut';
    if (uncut.some((shown) => normal(shown) === keysLine) || cuts.some((cut) => keysLine.startsWith(cut)))
      return 'hidden';
    return `dropped silently: ${line.text}`;
  });
}
