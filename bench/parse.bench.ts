/**
 * parseAccessLog lines/s on the real corpora, producing full typed records, against
 * npm `alpine`, npm `clf-parser` and a bare one-regex capture with no typing.
 *
 * Every variant parses the same lines (the four corpora, repeated to ≥ 1 M lines in
 * full mode) in interleaved rounds. Each touches one field of each result so that no
 * work can be optimised away. `alpine` is told each line's format (it cannot detect
 * it and throws on a mismatch); ours and the regex detect it themselves.
 */
import { createRequire } from 'node:module';
import { from } from 'rxjs';
import { compare, interleave, rateOf, unavailable, type BenchResult, type Benchmark } from './harness.js';
import { repeatedCorpus } from './corpus.js';
import { exported } from './ours.js';

const require = createRequire(import.meta.url);

interface AlpineParser {
  parseLine(line: string): { status?: string };
}
const Alpine = require('alpine') as { new (format?: string): AlpineParser; LOGFORMATS: { COMBINED: string; CLF: string } };
const clfParser = require('clf-parser') as (line: string) => { status?: number | string | null };

// The escape-aware Combined regex of the corpora's SOURCES.md, with referer and agent
// optional so Common lines match too: capture groups only, no conversion.
const BARE_REGEX = /^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?$/;

type ParseLine = (line: string) => unknown;

export const parseBench: Benchmark = {
  name: 'parse',
  async run(context): Promise<BenchResult[]> {
    const full = context.mode === 'full';
    const corpus = repeatedCorpus(full ? 1_000_000 : 100_000);
    const { lines, combined } = corpus;
    const count = lines.length;
    context.log(`parse: ${count} lines per round`);

    const alpineCombined = new Alpine(Alpine.LOGFORMATS.COMBINED);
    const alpineCommon = new Alpine(Alpine.LOGFORMATS.CLF);
    let checksum = 0;

    const variants = {
      alpine: () =>
        rateOf(count, () => {
          for (let i = 0; i < count; i += 1) {
            try {
              const record = (combined[i] ? alpineCombined : alpineCommon).parseLine(lines[i]!);
              checksum += record.status?.length ?? 0;
            } catch {
              checksum -= 1;
            }
          }
        }),
      clfParser: () =>
        rateOf(count, () => {
          for (let i = 0; i < count; i += 1) checksum += clfParser(lines[i]!).status === null ? 0 : 1;
        }),
      bareRegex: () =>
        rateOf(count, () => {
          for (let i = 0; i < count; i += 1) checksum += BARE_REGEX.exec(lines[i]!)?.[6]?.length ?? 0;
        }),
    };

    const rounds = full ? 7 : 5;
    const warmup = 1;
    const parseLine = oursParseLine();
    const operator = exported<(options?: object) => (source: unknown) => { subscribe(observer: object): { unsubscribe(): void } }>('parseAccessLog');

    if (parseLine === undefined || operator === undefined) {
      const measured = await interleave(variants, { rounds, warmup });
      context.log(`parse baselines: alpine ${measured.alpine.median.toFixed(0)}, clf-parser ${measured.clfParser.median.toFixed(0)}, regex ${measured.bareRegex.median.toFixed(0)} lines/s (checksum ${checksum})`);
      return [
        unavailable('parseAccessLog vs alpine', '≥ 10× alpine', 'parseAccessLog'),
        unavailable('parseAccessLog vs bare regex', '≥ 1× bare regex', 'parseAccessLog'),
      ];
    }

    const measured = await interleave(
      {
        ...variants,
        ours: () =>
          rateOf(count, () => {
            for (let i = 0; i < count; i += 1) checksum += statusOf(parseLine(lines[i]!));
          }),
        operator: () =>
          rateOf(count, () => {
            const subscription = operator({ onReject: () => void (checksum -= 1) })(from(lines)).subscribe({
              next: (record: unknown) => void (checksum += statusOf(record)),
            });
            subscription.unsubscribe();
          }),
      },
      { rounds, warmup },
    );
    context.log(`parse checksum ${checksum}`);
    const figure = (value: number) => ({ value, unit: 'lines/s' });
    return [
      compare('parseAccessLog (operator) vs alpine', figure(measured.operator.median), figure(measured.alpine.median), 10, 'alpine'),
      compare('parseAccessLog (operator) vs clf-parser', figure(measured.operator.median), figure(measured.clfParser.median), 1, 'clf-parser'),
      compare('parseAccessLog (operator) vs bare regex', figure(measured.operator.median), figure(measured.bareRegex.median), 1, 'bare regex'),
      compare('parseAccessLog (pure parser) vs bare regex', figure(measured.ours.median), figure(measured.bareRegex.median), 1, 'bare regex'),
    ];
  },
};

function statusOf(record: unknown): number {
  return typeof record === 'object' && record !== null && typeof (record as { status?: unknown }).status === 'number' ? (record as { status: number }).status : 0;
}

// The pure line parser behind the operator; its export name is settled by the
// accesslog module (see src/index.ts).
function oursParseLine(): ParseLine | undefined {
  return undefined;
}
