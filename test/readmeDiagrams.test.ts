// The README's diagrams are read in a monospaced block (GitHub, npm, the API site, a
// terminal): a box edge one column off shows as a broken box. Checked in display
// columns, so a wide character in a label counts as the two columns it takes.
import { expect } from 'chai';
import { readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { BOX_DRAWING, diagramProblems, displayCells, displayWidth } from './support/boxDrawing.js';
import { fencedBlocks } from './support/markdown.js';

const projectRoot = resolve(import.meta.dirname, '..');

/** README.md and the guides shipped beside it. */
const documents = [
  'README.md',
  ...readdirSync(join(projectRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

/** Each problem as "file line N, column C: what", from a block's lines. */
function problemsIn(file: string): string[] {
  const markdown = readFileSync(join(projectRoot, file), 'utf8');
  return fencedBlocks(markdown)
    .filter((block) => block.lines.some((line) => BOX_DRAWING.test(line)))
    .flatMap((block) =>
      diagramProblems(block.lines, block.firstLine).map(
        (problem) => `${file} line ${block.firstLine + problem.line}, ${problem.message}`,
      ),
    );
}

const box = (lines: string) => lines.split('\n').slice(1);

describe('box-drawing diagrams', () => {
  describe('the column check', () => {
    it('measures display columns: box-drawing characters and arrows one, CJK and emoji two, combining marks none', () => {
      for (const narrow of ['─', '│', '┌', '┼', '▼', '▶', '◀', '→', '·', 'é', 'a'])
        expect(displayWidth(narrow), narrow).to.equal(1);
      for (const wide of ['中', 'Ａ', '한', '🙂']) expect(displayWidth(wide), wide).to.equal(2);
      for (const none of ['\u0301', '\u200b', '\ufe0f']) expect(displayWidth(none)).to.equal(0);
      expect(displayCells('a中b')).to.deep.equal(['a', '中', '', 'b']);
      expect(displayCells('e\u0301x')).to.deep.equal(['e', 'x']);
    });

    it('passes boxes, tees and arrows that line up, a wide character and a labelled arrow included', () => {
      const good = box(`
 ┌──────────┐     ┌────┐
 │ 中文 two │     │ a  ├──┐
 │ plain    ├────▶│ b  │  │
 └────┬─────┘     └────┘  │
      │ label             │
      ▼            ◀── to ┘`);
      // The last line's "┘" has nothing on its left: a connector must be joined.
      expect(diagramProblems(good)).to.deep.equal([
        { line: 5, column: 26, message: 'column 27: "┘" goes left, but a space precedes it' },
      ]);
      expect(diagramProblems(good.slice(0, 5))).to.deep.equal([
        { line: 4, column: 6, message: 'column 7: "│" goes down, but the next line has a space below it' },
        { line: 4, column: 26, message: 'column 27: "│" goes down, but the next line has a space below it' },
      ]);
      expect(diagramProblems([' ┌──┐', ' │  │ ◀── a labelled arrow', ' └──┘'])).to.deep.equal([]);
    });

    it("finds a line whose right edge is 3 columns past its box (the README's makeIotPayload line before the fix)", () => {
      const before = box(`
 ┌────────────────────────────┐
 │   → nextLine('access.log') │
 │   → makeIotPayload(line)      │
 └────────────────────────────┘`);
      const problems = diagramProblems(before).map((problem) => problem.message);
      expect(problems).to.include(
        'column 31: the box drawn from line 1 (columns 2–31) has its right edge in column 31, where this line has a space; ' +
          "this line's edge is in column 34, 3 column(s) off",
      );
      expect(problems).to.include('column 34: "│" goes up, but the line before has a space above it');
    });

    it('finds a connector that shifts a column', () => {
      const shifted = box(`
 ┌────┐
 │ a1 ├──┐
 └────┘  │
          │
   ┌──────┘
   ▼`);
      expect(diagramProblems(shifted).map((problem) => `${problem.line}:${problem.message}`)).to.deep.equal([
        '2:column 10: "│" goes down, but the next line has a space below it',
        '3:column 11: "│" goes up, but the line before has a space above it',
      ]);
    });

    it('counts a wide character as two columns: a box even in characters is crooked on screen', () => {
      const crooked = [' ┌────┐', ' │ 中 x│', ' └────┘'];
      expect([...crooked[1]!].length).to.equal([...crooked[0]!].length);
      expect(diagramProblems(crooked).map((problem) => problem.message)).to.include(
        'column 7: the box drawn from line 1 (columns 2–7) has its right edge in column 7, where this line has "x"; ' +
          "this line's edge is in column 8, 1 column(s) off",
      );
      expect(diagramProblems([' ┌────┐', ' │ 中 │', ' └────┘'])).to.deep.equal([]);
    });
  });

  it('draws every diagram in README.md and the shipped guides with straight edges', () => {
    const problems = documents.flatMap(problemsIn);
    expect(problems, `misdrawn:\n${problems.join('\n')}`).to.deep.equal([]);
    // The check ran on something: the pipeline and the scale-out diagrams.
    const diagrams = fencedBlocks(readFileSync(join(projectRoot, 'README.md'), 'utf8')).filter((block) =>
      block.lines.some((line) => BOX_DRAWING.test(line)),
    );
    expect(diagrams.length).to.be.at.least(2);
  });
});
