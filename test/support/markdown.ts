// Reading a Markdown file as the README tests need it: its fenced blocks (with the line
// each starts on, so a failure names the line to fix), its headings and their anchors
// as GitHub and npm make them, its links, and the text of one section.

/** A fenced code block. */
export interface FencedBlock {
  /** The first word of the info string (`sh`, `ts`, `text`), or `''`. */
  readonly language: string;
  /** Its lines, without the fence and without the fence's own indentation. */
  readonly lines: readonly string[];
  /** The 1-based line number of `lines[0]` in the file. */
  readonly firstLine: number;
  /** Index in the file's list of lines of the opening fence (0-based). */
  readonly fenceIndex: number;
}

/** A heading (`#` to `######`, outside code blocks). */
export interface Heading {
  readonly level: number;
  readonly text: string;
  /** 1-based line number. */
  readonly line: number;
  /** The anchor GitHub (and npm) give it: `#` + this. */
  readonly anchor: string;
}

/** A link or image outside code: `[text](target)`, `![alt](target)` or `[label]: target`. */
export interface Link {
  readonly target: string;
  /** 1-based line number. */
  readonly line: number;
}

const FENCE = /^(\s*)(`{3,}|~{3,})\s*([^`\s]*)/;

/**
 * Every fenced block, in order. A block opened in a list item may be indented; its
 * closing fence is the same character, at least as long. An unclosed block runs to
 * the end of the file, as CommonMark has it.
 */
export function fencedBlocks(markdown: string): FencedBlock[] {
  const lines = markdown.split('\n');
  const blocks: FencedBlock[] = [];
  for (let index = 0; index < lines.length; index++) {
    const open = FENCE.exec(lines[index]!);
    if (open === null) continue;
    const [, indent, fence, language] = open as unknown as [string, string, string, string];
    const body: string[] = [];
    let end = index + 1;
    for (; end < lines.length; end++) {
      const line = lines[end]!;
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(line);
      if (close !== null && close[1]![0] === fence[0] && close[1]!.length >= fence.length) break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line.trimStart());
    }
    blocks.push({ language: language.toLowerCase(), lines: body, firstLine: index + 2, fenceIndex: index });
    index = end;
  }
  return blocks;
}

/** The lines outside fenced blocks, with their 1-based line numbers. */
function proseLines(markdown: string): { text: string; line: number }[] {
  const inCode = new Set<number>();
  const all = markdown.split('\n');
  for (const block of fencedBlocks(markdown)) {
    for (let index = block.fenceIndex; index <= block.fenceIndex + block.lines.length + 1; index++) inCode.add(index);
  }
  return all.map((text, index) => ({ text, line: index + 1 })).filter((entry) => !inCode.has(entry.line - 1));
}

/**
 * GitHub's anchor for a heading (github-slugger's rule, which npm's renderer follows):
 * the rendered text lower-cased, every character that is not a letter, a digit, a
 * connector, a hyphen or a space dropped, spaces turned into hyphens; a repeated
 * anchor gets `-1`, `-2`, ….
 */
export function headingAnchor(text: string): string {
  const rendered = text
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link keeps its text
    .replace(/[`*~]/g, '') // code and emphasis marks are not text
    .replace(/<[^>]+>/g, '');
  return rendered
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every heading outside code, with its anchor (repeats numbered as GitHub numbers them). */
export function headings(markdown: string): Heading[] {
  const seen = new Map<string, number>();
  const found: Heading[] = [];
  for (const { text, line } of proseLines(markdown)) {
    const match = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(text);
    if (match === null) continue;
    const base = headingAnchor(match[2]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    found.push({ level: match[1]!.length, text: match[2]!, line, anchor: count === 0 ? base : `${base}-${count}` });
  }
  return found;
}

/** Every link and image target outside code blocks and code spans. */
export function links(markdown: string): Link[] {
  const found: Link[] = [];
  for (const { text, line } of proseLines(markdown)) {
    const prose = text.replace(/`[^`]*`/g, '');
    for (const match of prose.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
      found.push({ target: match[1]!, line });
    const reference = /^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/.exec(prose);
    if (reference !== null) found.push({ target: reference[1]!, line });
  }
  return found;
}

/** Plain-text mentions of a path matching `pattern` outside code (e.g. "(docs/durability.md)"). */
export function pathMentions(markdown: string, pattern: RegExp): Link[] {
  const found: Link[] = [];
  for (const { text, line } of proseLines(markdown)) {
    const prose = text.replace(/`[^`]*`/g, '').replace(/!?\[[^\]]*\]\([^)]*\)/g, '');
    for (const match of prose.matchAll(pattern)) found.push({ target: match[0], line });
  }
  return found;
}

/**
 * The section under the heading whose text is `title`: from the heading to the next
 * heading of the same or a higher level, as Markdown, with the line number of the
 * heading. Throws naming the title when there is no such heading.
 */
export function section(markdown: string, title: string): { text: string; line: number } {
  const all = headings(markdown);
  const start = all.findIndex((heading) => heading.text === title);
  if (start === -1) throw new Error(`no heading "${title}" in the Markdown`);
  const heading = all[start]!;
  const next = all.slice(start + 1).find((other) => other.level <= heading.level);
  const lines = markdown.split('\n');
  return {
    text: lines.slice(heading.line - 1, next === undefined ? lines.length : next.line - 1).join('\n'),
    line: heading.line,
  };
}
