/**
 * parseAccessLog lines/s on the real corpora, producing full typed records, against
 * npm `alpine`, npm `clf-parser` and a bare one-regex capture with no typing.
 *
 * Every variant parses the same lines (the four corpora, repeated to ≥ 1 M lines in
 * full mode) in interleaved rounds. Each touches a field of each result so that no
 * work can be optimised away: the status (what the aggregator reads) or, for
 * "every field read", all of them, since our records build text fields lazily. `alpine` is told each line's format (it cannot detect
 * it and throws on a mismatch); ours and the regex detect it themselves.
 */
import { createRequire } from 'node:module';
import { from } from 'rxjs';
import { parseAccessLogLine, parseAccessLog, type AccessLogRecord } from '../src/index.js';
import { compare, interleave, rateOf, type BenchResult, type Benchmark } from './harness.js';
import { repeatedCorpus } from './corpus.js';

const require = createRequire(import.meta.url);

interface AlpineParser {
  parseLine(line: string): { status?: string };
}
const Alpine = require('alpine') as {
  new (format?: string): AlpineParser;
  LOGFORMATS: { COMBINED: string; CLF: string };
};
const clfParser = require('clf-parser') as (line: string) => { status?: number | string | null };

// The escape-aware Combined regex of the corpora's SOURCES.md, with referer and agent
// optional so Common lines match too: capture groups only, no conversion.
const BARE_REGEX =
  /^(\S+) (\S+) (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?$/;

export const parseBench: Benchmark = {
  name: 'parse',
  async run(context): Promise<BenchResult[]> {
    const full = context.mode === 'full';
    const corpus = repeatedCorpus(full ? 1_000_000 : 50_000);
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

    const measured = await interleave(
      {
        ...variants,
        ours: () =>
          rateOf(count, () => {
            for (let i = 0; i < count; i += 1) {
              const parsed = parseAccessLogLine(lines[i]!);
              checksum += parsed._tag === 'Right' ? parsed.right.status : -1;
            }
          }),
        // Records may build their text fields on first read (lazy getters): this variant
        // reads every field, so the record is as complete as alpine's and the regex's.
        oursAllFields: () =>
          rateOf(count, () => {
            for (let i = 0; i < count; i += 1) {
              const parsed = parseAccessLogLine(lines[i]!);
              checksum += parsed._tag === 'Right' ? readEveryField(parsed.right) : -1;
            }
          }),
        operator: () =>
          rateOf(count, () => {
            from(lines)
              .pipe(parseAccessLog({ onReject: () => void (checksum -= 1) }))
              .subscribe((record) => void (checksum += record.status));
          }),
      },
      { rounds: full ? 5 : 3, warmup: 1 },
    );
    context.log(`parse checksum ${checksum}`);
    const unit = 'lines/s';
    return [
      compare('parseAccessLog operator, status, vs alpine', measured.operator, measured.alpine, unit, 10, 'alpine'),
      compare(
        'parseAccessLog operator, status, vs clf-parser',
        measured.operator,
        measured.clfParser,
        unit,
        1,
        'clf-parser',
      ),
      compare(
        'parseAccessLog operator, status, vs bare regex',
        measured.operator,
        measured.bareRegex,
        unit,
        1,
        'bare regex',
      ),
      compare('parseAccessLogLine, status, vs alpine', measured.ours, measured.alpine, unit, 10, 'alpine'),
      compare('parseAccessLogLine, status, vs bare regex', measured.ours, measured.bareRegex, unit, 1, 'bare regex'),
      compare('parseAccessLogLine, all fields, vs alpine', measured.oursAllFields, measured.alpine, unit, 10, 'alpine'),
      compare(
        'parseAccessLogLine, all fields, vs bare regex',
        measured.oursAllFields,
        measured.bareRegex,
        unit,
        1,
        'bare regex',
      ),
    ];
  },
};

/** Reads every field of a record (so lazy fields are built), returning a checksum. */
function readEveryField(record: AccessLogRecord): number {
  return (
    record.client.length +
    record.ident.length +
    record.user.length +
    record.time.getTime() +
    record.request.length +
    (record.method?.length ?? 0) +
    (record.path?.length ?? 0) +
    (record.protocol?.length ?? 0) +
    record.status +
    record.bytes +
    (record.referer?.length ?? 0) +
    (record.userAgent?.length ?? 0)
  );
}
