/**
 * The benchmark data: the four real corpora's lines (never generated ones), repeated
 * to the size a mode needs, each line tagged with its log format.
 */
import { corpora, corpusLines, type CorpusName } from '../test/support/corpora.js';

/** Lines in corpus order, and whether each is Common (no referer/agent) or Combined. */
export interface CorpusSample {
  readonly lines: readonly string[];
  readonly combined: readonly boolean[];
}

let cached: CorpusSample | undefined;

/** All corpus lines once (50,368 lines): elastic, hackers, nginx (combined), nasa (common). */
export function allCorpusLines(): CorpusSample {
  if (cached !== undefined) return cached;
  const lines: string[] = [];
  const combined: boolean[] = [];
  for (const name of Object.keys(corpora) as CorpusName[]) {
    for (const line of corpusLines(name)) {
      lines.push(line);
      combined.push(name !== 'nasa');
    }
  }
  cached = { lines, combined };
  return cached;
}

/** The corpus lines repeated until there are at least `minimum` of them. */
export function repeatedCorpus(minimum: number): CorpusSample {
  const once = allCorpusLines();
  const copies = Math.max(1, Math.ceil(minimum / once.lines.length));
  const lines: string[] = [];
  const combined: boolean[] = [];
  for (let copy = 0; copy < copies; copy += 1) {
    for (let i = 0; i < once.lines.length; i += 1) {
      lines.push(once.lines[i]!);
      combined.push(once.combined[i]!);
    }
  }
  return { lines, combined };
}
