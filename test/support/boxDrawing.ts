// Box-drawing diagrams checked in display columns, the columns a terminal or a
// monospaced code block shows: every stroke continues into its neighbour, a labelled
// arrow excepted, and every line of a box has its right edge in the box's column.

/** The characters that make a block a diagram. */
export const BOX_DRAWING = /[┌┐└┘│─├┤┬┴┼]/;

type Side = 'up' | 'down' | 'left' | 'right';

/** Which sides of its cell each character's strokes reach. An arrowhead reaches back along its tail only. */
const STROKES: Readonly<Record<string, readonly Side[]>> = {
  '─': ['left', 'right'],
  '│': ['up', 'down'],
  '┌': ['down', 'right'],
  '┐': ['down', 'left'],
  '└': ['up', 'right'],
  '┘': ['up', 'left'],
  '├': ['up', 'down', 'right'],
  '┤': ['up', 'down', 'left'],
  '┬': ['down', 'left', 'right'],
  '┴': ['up', 'left', 'right'],
  '┼': ['up', 'down', 'left', 'right'],
  '▼': ['up'],
  '▲': ['down'],
  '▶': ['left'],
  '◀': ['right'],
};

const reaches = (cell: string | undefined, side: Side): boolean => STROKES[cell ?? ' ']?.includes(side) ?? false;

/** Whether `cell` is one of `characters` (a wide character's second cell, `''`, is none of them). */
const isOneOf = (cell: string, characters: string): boolean => cell !== '' && characters.includes(cell);

/**
 * The columns a character takes: 0 for combining marks, zero-width characters and
 * variation selectors; 2 for East Asian wide and fullwidth characters and emoji shown
 * as emoji (Unicode's East_Asian_Width W/F ranges, the ones a README meets); 1 for
 * the rest, box-drawing characters and arrows included.
 */
export function displayWidth(character: string): 0 | 1 | 2 {
  const code = character.codePointAt(0)!;
  if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return 0;
  const zeroWidth = (code >= 0x200b && code <= 0x200f) || code === 0x2060 || (code >= 0xfe00 && code <= 0xfe0f);
  if (zeroWidth || /^[\p{Mn}\p{Me}]$/u.test(character)) return 0;
  if (/^\p{Emoji_Presentation}$/u.test(character)) return 2;
  const wide =
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0x303e) ||
    (code >= 0x3041 && code <= 0x33ff) ||
    (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x4e00 && code <= 0x9fff) ||
    (code >= 0xa000 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x20000 && code <= 0x3fffd);
  return wide ? 2 : 1;
}

/**
 * The line as display cells: `cells[c]` is the character shown in column `c` (0-based).
 * A wide character fills its second column with `''`; a zero-width one adds no column.
 */
export function displayCells(line: string): string[] {
  const cells: string[] = [];
  for (const character of line) {
    const width = displayWidth(character);
    if (width === 0) continue;
    cells.push(character);
    if (width === 2) cells.push('');
  }
  return cells;
}

/** A misdrawn spot: the block's line (0-based) and display column (0-based), and what is wrong there. */
export interface DiagramProblem {
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

/**
 * Everything misdrawn in a diagram (a fenced block's lines), in display columns:
 *
 * - a stroke that leaves its cell upwards or downwards (`│ ┌ ┐ └ ┘ ├ ┤ ┬ ┴ ┼`, the tail
 *   of `▼ ▲`) meets one coming back in the same column on the neighbouring line;
 * - a corner or tee's stroke sideways meets one in the next column; a run of `─` is
 *   joined at both ends, unless one end is an arrowhead (`◀── label`, `──▶ label`);
 * - a box (`┌` … `┐` on one line, down to `└` … `┘`) has its right edge (`│ ┤ ├ ┼`) in
 *   the `┐`'s column on every line and its corner `┘` there at the bottom.
 *
 * Columns in messages are 1-based, as an editor shows them; a line named in a message
 * is numbered from `firstLine` (the file's line number of `lines[0]`).
 */
export function diagramProblems(lines: readonly string[], firstLine = 1): DiagramProblem[] {
  const grid = lines.map(displayCells);
  const at = (line: number, column: number): string => grid[line]?.[column] ?? ' ';
  const problems: DiagramProblem[] = [];
  const report = (line: number, column: number, message: string) =>
    problems.push({ line, column, message: `column ${column + 1}: ${message}` });
  const shown = (cell: string) => (cell === ' ' ? 'a space' : cell === '' ? 'a wide character' : `"${cell}"`);

  grid.forEach((cells, line) => {
    cells.forEach((cell, column) => {
      if (reaches(cell, 'down') && !reaches(at(line + 1, column), 'up'))
        report(line, column, `"${cell}" goes down, but the next line has ${shown(at(line + 1, column))} below it`);
      if (reaches(cell, 'up') && !reaches(at(line - 1, column), 'down'))
        report(line, column, `"${cell}" goes up, but the line before has ${shown(at(line - 1, column))} above it`);
      if (cell === '─') return; // runs are judged whole, below
      if (reaches(cell, 'right') && !reaches(at(line, column + 1), 'left'))
        report(line, column, `"${cell}" goes right, but ${shown(at(line, column + 1))} follows it`);
      if (reaches(cell, 'left') && !reaches(at(line, column - 1), 'right'))
        report(line, column, `"${cell}" goes left, but ${shown(at(line, column - 1))} precedes it`);
    });
    for (let start = 0; start < cells.length; start++) {
      if (cells[start] !== '─' || at(line, start - 1) === '─') continue;
      let end = start;
      while (at(line, end + 1) === '─') end++;
      const before = at(line, start - 1);
      const after = at(line, end + 1);
      const labelled = before === '◀' || after === '▶';
      if (!labelled && !reaches(before, 'right'))
        report(line, start, `a line "─" starts with nothing to join (${shown(before)} before it)`);
      if (!labelled && !reaches(after, 'left'))
        report(line, end, `a line "─" ends with nothing to join (${shown(after)} after it)`);
    }
  });

  grid.forEach((cells, top) => {
    cells.forEach((cell, left) => {
      if (cell !== '┌') return;
      let right = left + 1;
      while (isOneOf(at(top, right), '─┬┴┼')) right++;
      if (at(top, right) !== '┐') return; // a connector's bend, not a box
      let bottom = top + 1;
      while (bottom < grid.length && at(bottom, left) !== '└' && reaches(at(bottom, left), 'down')) bottom++;
      if (at(bottom, left) !== '└') return; // the left edge is broken: reported above
      for (let line = top + 1; line <= bottom; line++) {
        const edge = at(line, right);
        if (isOneOf(edge, line === bottom ? '┘┤┴┼' : '│┤├┼')) continue;
        const actual = grid[line]!.findIndex((other, column) => column > left && isOneOf(other, '│┤┘'));
        report(
          line,
          right,
          `the box drawn from line ${firstLine + top} (columns ${left + 1}–${right + 1}) has its right edge in column ${right + 1}, ` +
            `where this line has ${shown(edge)}` +
            (actual === -1 ? '' : `; this line's edge is in column ${actual + 1}, ${actual - right} column(s) off`),
        );
      }
    });
  });
  return problems.sort((a, b) => a.line - b.line || a.column - b.column);
}
