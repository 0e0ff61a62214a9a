// Text fitted to a terminal's width for the demo's screen: never wider than the
// terminal, and never cut without saying so.
//
// - A line that fits is left whole.
// - Otherwise it is wrapped (when there are rows to spare) or cut (when there are not).
// - A line is made of items separated by ' · ' (`broker … · simulated button …`): it
//   wraps between items first, so each row reads as a whole, and between words only
//   for an item wider than the terminal.
// - A cut ends with '…', after the last whole item or word: in the middle of a word
//   only when the first word alone is too wide (a long URL on a narrow terminal).
//
// Widths are counted in UTF-16 code units: the screen's text is in the Basic
// Multilingual Plane and has no wide (CJK) characters or emoji, so one unit is one column.

/** Ends every line that was cut. */
export const CUT_MARK = '…';
/** Between the items of a line. */
export const ITEM_SEPARATOR = ' · ';

/** A line of the screen, and a shorter way to say the same for a narrow terminal. */
export interface ScreenLine {
  readonly text: string;
  /** The same items in fewer words (`presses 12 auto` for `presses: 12 automatic`). */
  readonly short?: string;
}

// Punctuation left at the end of a cut that would dangle before the mark.
const DANGLING = /[\s·,;:]+$/u;

/**
 * `text` in at most `width` columns: whole when it fits, otherwise cut and ended with
 * {@link CUT_MARK}. The cut falls after the last whole item when that keeps at least
 * half the width, else after the last whole word.
 */
export function cutToWidth(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return width === 1 ? CUT_MARK : '';
  const room = width - CUT_MARK.length;
  // `head` is what fits; it ends on a boundary when the next character starts one.
  const head = text.slice(0, room);
  const atBoundary = (index: number): boolean => text[index] === ' ';
  const item = text.lastIndexOf(ITEM_SEPARATOR, room);
  const word = atBoundary(room) ? room : head.lastIndexOf(' ');
  const end = item >= width / 2 ? item : word > 0 ? word : room;
  const kept = text.slice(0, end).replace(DANGLING, '');
  return `${kept === '' ? head : kept}${CUT_MARK}`;
}

/** `text` wrapped at spaces into rows of at most `width`; a word wider than that is cut. */
export function wrapToWidth(text: string, width: number): string[] {
  const rows: string[] = [];
  let row = '';
  for (const word of text.split(' ')) {
    if (row !== '' && row.length + 1 + word.length <= width) {
      row = `${row} ${word}`;
      continue;
    }
    if (row !== '') rows.push(row);
    row = cutToWidth(word, width);
  }
  rows.push(row);
  return rows;
}

/**
 * `line` in as few rows of at most `width` columns as it takes: its text or its short
 * form on one row when either fits, else its items packed onto rows (short items when
 * that takes fewer rows).
 */
export function wrapLine(line: ScreenLine, width: number): string[] {
  if (line.text.length <= width) return [line.text];
  if (line.short !== undefined && line.short.length <= width) return [line.short];
  const long = packItems(line.text, width);
  if (line.short === undefined) return long;
  const short = packItems(line.short, width);
  return short.length < long.length ? short : long;
}

/** `line` on one row of at most `width` columns: its text or short form, cut if neither fits. */
export function cutLine(line: ScreenLine, width: number): string {
  if (line.text.length <= width) return line.text;
  return cutToWidth(line.short ?? line.text, width);
}

// The items of `text`, as many on a row as fit; an item wider than a row is word-wrapped.
function packItems(text: string, width: number): string[] {
  const rows: string[] = [];
  let row = '';
  for (const item of text.split(ITEM_SEPARATOR)) {
    const joined = row === '' ? item : `${row}${ITEM_SEPARATOR}${item}`;
    if (joined.length <= width) {
      row = joined;
      continue;
    }
    if (row !== '') rows.push(row);
    const wrapped = wrapToWidth(item, width);
    rows.push(...wrapped.slice(0, -1));
    row = wrapped.at(-1)!;
  }
  rows.push(row);
  return rows;
}
