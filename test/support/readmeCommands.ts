// The command lines of a Markdown file, as a reader copies them into a shell.
//
// Extraction rules:
//
// - Commands come from fenced blocks only: `sh`, `bash`, `shell` and `console`, and
//   the `ExecStart=` lines of `ini` blocks (systemd units run them as commands). Code
//   spans in prose (`npm run build`) are mentions, not command lines.
// - In `sh`/`bash`/`shell` blocks every line is a command, except blank lines and
//   comments (a line whose first word starts with `#`). In `console` blocks only lines
//   starting with `$ ` are commands; the others are their output.
// - A line ending in `\` continues on the next line; so does a line that leaves a quote
//   open (the newline then belongs to the quoted word), as in a shell.
// - `#` at the start of a word, outside quotes, starts a comment to the end of the line.
// - `a && b` is two command lines, `a` then `b`.
// - Quotes and backslashes are undone as a POSIX shell does (`'…'` literal, `"…"` with
//   `\"`, `\\`, `\$` and `` \` `` escapes); `$(…)` and `$VAR` are kept as written.
// - Any other shell operator (`|`, `;`, `||`, `&`, `<`, `>`) is kept as a word of its
//   own, so the classifier sees it and refuses what it was not written for.
import { fencedBlocks, headings } from './markdown.js';

/** One command line of the file. */
export interface CommandLine {
  /** As written, continuation lines joined with a space and the comment removed. */
  readonly text: string;
  /** Its words, quoting undone. */
  readonly words: readonly string[];
  /** The 1-based line of the file it starts on. */
  readonly line: number;
  /** The fenced block's language (`sh`, `console`, `ini`, …). */
  readonly language: string;
  /** The text of the nearest heading above it. */
  readonly section: string;
  /** Every command line of the same block, this one included, in order. */
  readonly block: readonly CommandLine[];
}

const SHELL_LANGUAGES = new Set(['sh', 'bash', 'shell', 'console']);
const OPERATORS = ['&&', '||', ';', '|', '&', '<', '>'];

/** The result of reading one logical command line: its words, and whether a quote is still open. */
interface Scan {
  readonly commands: string[][];
  readonly texts: string[];
  readonly open: boolean;
}

/**
 * Splits shell text into commands (at `&&`) and words, undoing quotes. `open` is true
 * when the text ends inside a quote or after a trailing backslash: the next line
 * continues it.
 */
export function scanShell(text: string): Scan {
  const commands: string[][] = [[]];
  const texts: string[] = [''];
  let word: string | undefined;
  let quote: "'" | '"' | undefined;
  let index = 0;
  const push = (chars: string) => {
    word = (word ?? '') + chars;
  };
  const endWord = () => {
    if (word !== undefined) commands[commands.length - 1]!.push(word);
    word = undefined;
  };
  let commandStart = 0;
  const endCommand = (at: number, next: number) => {
    texts[texts.length - 1] = text.slice(commandStart, at).trim();
    commands.push([]);
    texts.push('');
    commandStart = next;
  };
  for (; index < text.length; index++) {
    const char = text[index]!;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else push(char);
      continue;
    }
    if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === '\\' && '"\\$`'.includes(text[index + 1] ?? '')) push(text[++index]!);
      else if (char === '\\' && text[index + 1] === '\n') index++;
      else push(char);
      continue;
    }
    if (char === "'" || char === '"') {
      quote = char;
      push('');
    } else if (char === '\\') {
      if (index === text.length - 1) return { commands, texts, open: true };
      if (text[index + 1] !== '\n') push(text[index + 1]!);
      index++;
    } else if (char === '$' && text[index + 1] === '(') {
      // A command substitution is one word here, up to its closing parenthesis.
      let depth = 0;
      const start = index;
      for (; index < text.length; index++) {
        if (text[index] === '(') depth++;
        if (text[index] === ')' && --depth === 0) break;
      }
      push(text.slice(start, index + 1));
    } else if (/\s/.test(char)) {
      endWord();
    } else if (char === '#' && word === undefined) {
      const end = text.indexOf('\n', index);
      text = text.slice(0, index) + (end === -1 ? '' : text.slice(end));
      index--;
    } else {
      const operator = OPERATORS.find((candidate) => text.startsWith(candidate, index));
      if (operator === undefined) {
        push(char);
        continue;
      }
      endWord();
      if (operator === '&&') endCommand(index, index + 2);
      else commands[commands.length - 1]!.push(operator);
      index += operator.length - 1;
    }
  }
  if (quote !== undefined) return { commands, texts, open: true };
  endWord();
  texts[texts.length - 1] = text.slice(commandStart).trim();
  return { commands, texts, open: false };
}

/** The shell words of one command line (quotes undone); throws when it is more than one command. */
export function shellWords(text: string): string[] {
  const scan = scanShell(text);
  if (scan.open || scan.commands.length !== 1) throw new Error(`not one complete command: ${text}`);
  return scan.commands[0]!;
}

/** Every command line of `markdown`, by the rules at the top of this file. */
export function commandLines(markdown: string): CommandLine[] {
  const all: CommandLine[] = [];
  const sections = headings(markdown);
  const sectionAt = (line: number) => sections.filter((heading) => heading.line < line).pop()?.text ?? '';
  for (const block of fencedBlocks(markdown)) {
    const inBlock: CommandLine[] = [];
    const add = (text: string, words: string[], line: number) =>
      inBlock.push({ text, words, line, language: block.language, section: sectionAt(line), block: inBlock });
    if (block.language === 'ini') {
      block.lines.forEach((text, index) => {
        const exec = /^\s*ExecStart=(.*)$/.exec(text);
        if (exec !== null) add(exec[1]!.trim(), shellWords(exec[1]!), block.firstLine + index);
      });
    } else if (SHELL_LANGUAGES.has(block.language)) {
      const console = block.language === 'console';
      for (let index = 0; index < block.lines.length; index++) {
        let text = block.lines[index]!;
        const first = index;
        if (console) {
          if (!text.startsWith('$ ')) continue;
          text = text.slice(2);
        }
        if (text.trim() === '' || text.trim().startsWith('#')) continue;
        let scan = scanShell(text);
        while (scan.open && index + 1 < block.lines.length) {
          text = `${text}\n${block.lines[++index]!}`;
          scan = scanShell(text);
        }
        if (scan.open)
          throw new Error(`line ${block.firstLine + first}: the command is not finished when its block ends`);
        scan.commands.forEach((words, position) => {
          if (words.length > 0) add(scan.texts[position]!.replace(/\s*\\?\n\s*/g, ' '), words, block.firstLine + first);
        });
      }
    }
    all.push(...inBlock);
  }
  return all;
}

/** What the README test does with a command line. */
export type Verdict =
  /** An install: its shape is checked (what it names exists, its flags are npm's), it is not run. */
  | { readonly how: 'install'; readonly what: 'npm ci' | 'npm install' | 'test dependencies' }
  /** Run with the installed command, exit status 0. */
  | { readonly how: 'help'; readonly args: readonly string[] }
  /** Run with the installed command against the test's services; stopped by SIGTERM unless bounded. */
  | {
      readonly how: 'command';
      readonly args: readonly string[];
      readonly subcommand: 'publish' | 'aggregate' | 'demo';
      /** Ends by itself (--count, --duration). */
      readonly bounded: boolean;
      /** Run by systemd (an ExecStart= line). */
      readonly systemd: boolean;
    }
  /** `npm run <script>` in a clean copy of the repository, in a terminal. */
  | { readonly how: 'npm script'; readonly script: string }
  /** scripts/cassandra on one node: run. */
  | { readonly how: 'cassandra node'; readonly action: 'eval up' | 'up --json' | 'down' }
  /** Run by another test file, named in `test`. */
  | { readonly how: 'elsewhere'; readonly test: string; readonly reason: string }
  /** Not run anywhere, for `reason`. */
  | { readonly how: 'not run'; readonly reason: string };

export const QUICK_START_TEST = 'test/readmeQuickStart.test.ts';
export const CLUSTER_TEST = 'test/cluster/readmeCommands.cluster.ts';

/**
 * The arguments of an `mqtt-iot-stream` command line, run by npx or as the command npm
 * installed (`…/node_modules/.bin/mqtt-iot-stream`, as a systemd unit runs it); or
 * `undefined` for any other command line.
 */
const cliArgs = (words: readonly string[]): readonly string[] | undefined => {
  if ((words[0] === 'npx' || words[0] === '/usr/bin/npx') && words[1] === 'mqtt-iot-stream') return words.slice(2);
  if (/(^|\/)node_modules\/\.bin\/mqtt-iot-stream$/.test(words[0] ?? '')) return words.slice(1);
  return undefined;
};

/**
 * What to do with `command`, or `undefined` for a command line the rules do not know:
 * the test then fails, naming it, until a rule is added here.
 */
export function classify(command: CommandLine): Verdict | undefined {
  const { words } = command;
  const text = words.join(' ');
  if (words.some((word) => OPERATORS.includes(word))) return undefined;
  const clusterBlock = command.block.some((other) =>
    /^eval \$\(scripts\/cassandra up --nodes \d+\)$/.test(other.words.join(' ')),
  );
  if (clusterBlock && (words[0] === 'eval' || words[0] === 'scripts/cassandra'))
    return {
      how: 'elsewhere',
      test: CLUSTER_TEST,
      reason: 'a three-node ring (3 × 512 MB JVMs on 127.0.0.1–3, 35–66 s to start), run with npm run test:cluster',
    };
  if (words[0] === 'cqlsh')
    return {
      how: 'elsewhere',
      test: CLUSTER_TEST,
      reason: 'a keyspace with 3 replicas needs the three-node ring; run with npm run test:cluster',
    };
  if (text === 'npm ci') return { how: 'install', what: 'npm ci' };
  if (words[0] === 'npm' && words[1] === 'install') return { how: 'install', what: 'npm install' };
  if (text === 'scripts/install-test-deps') return { how: 'install', what: 'test dependencies' };
  if (text === 'npm test')
    return { how: 'not run', reason: 'the whole suite, which runs this test too; npm test is how it runs' };
  if (text === 'npm run demo') return { how: 'npm script', script: 'demo' };
  if (
    ['npm init -y', 'npm pkg set type=module', 'npx tsc --init', 'npx tsc --noEmit'].includes(text) ||
    /^npx tsx \S+\.m?ts$/.test(text)
  )
    return {
      how: 'elsewhere',
      test: QUICK_START_TEST,
      reason: 'the quick start, run in a project made by npm init -y',
    };
  const args = cliArgs(words);
  if (args !== undefined) {
    if (args.some((arg) => ['--help', '-h', '--version', '-V'].includes(arg)) || args.length === 0)
      return { how: 'help', args };
    const subcommand = args[0];
    if (subcommand === 'publish' || subcommand === 'aggregate' || subcommand === 'demo')
      return {
        how: 'command',
        args,
        subcommand,
        bounded: args.some((arg) => /^--(count|duration)(=|$)/.test(arg)),
        systemd: command.language === 'ini',
      };
    return undefined;
  }
  if (text === 'eval $(scripts/cassandra up)') return { how: 'cassandra node', action: 'eval up' };
  if (text === 'scripts/cassandra up --json') return { how: 'cassandra node', action: 'up --json' };
  if (text === 'scripts/cassandra down') return { how: 'cassandra node', action: 'down' };
  return undefined;
}
