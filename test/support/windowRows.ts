// Window rows from a real access log, through the real windowedCount, for the sink tests.
import { from, lastValueFrom, toArray } from 'rxjs';
import type { AccessLogRecord } from '../../src/accesslog/accessLogRecord.js';
import { parseAccessLogLine } from '../../src/accesslog/parseAccessLogLine.js';
import { windowedCount } from '../../src/window/windowedCount.js';
import type { OutputMode } from '../../src/window/options.js';
import type { WindowRow } from '../../src/window/windowRow.js';
import type { WindowTotal } from '../../src/cassandra/windowCountTable.js';
import { corpusLines, type CorpusName } from './corpora.js';

/** The parsed records of a corpus (lines that are not access-log lines are left out). */
export function corpusRecords(name: CorpusName): AccessLogRecord[] {
  const records: AccessLogRecord[] = [];
  for (const line of corpusLines(name)) {
    const parsed = parseAccessLogLine(line);
    if (parsed._tag === 'Right') records.push(parsed.right);
  }
  return records;
}

/** Per-status counts in 1-minute windows with a 2-minute watermark, as the reference job. */
export async function windowRows(
  records: readonly AccessLogRecord[],
  outputMode: OutputMode,
): Promise<{ rows: WindowRow<number>[]; late: number }> {
  let late = 0;
  const rows = await lastValueFrom(
    from(records).pipe(
      windowedCount<AccessLogRecord, number>({
        eventTime: (r) => r.time,
        key: (r) => r.status,
        windowDuration: '1 minute',
        watermarkDelay: '2 minutes',
        outputMode,
        onReject: () => {
          late++;
        },
      }),
      toArray(),
    ),
  );
  return { rows, late };
}

/** The table a sequence of upserts leaves: the last count of each (window, status) and whether it is final, sorted as readWindowTotals sorts. */
export function finalTable(rows: readonly WindowRow<number>[]): WindowTotal[] {
  const last = new Map<string, WindowTotal>();
  for (const row of rows) {
    const id = `${row.windowStart.getTime()}/${row.key}`;
    const before = last.get(id);
    // A final row and a partial one of the same count leave the cell final (Cassandra keeps the larger value).
    const final = row.final === true || (before !== undefined && before.count === row.count && before.final);
    last.set(id, { windowStart: row.windowStart, windowEnd: row.windowEnd, status: row.key, count: row.count, final });
  }
  return [...last.values()].sort(
    (a, b) =>
      a.windowStart.getTime() - b.windowStart.getTime() ||
      a.windowEnd.getTime() - b.windowEnd.getTime() ||
      a.status - b.status,
  );
}

/** Comparable plain form (Dates as ISO strings) for deep equality with readable diffs. */
export function plain(totals: readonly WindowTotal[]): string[] {
  return totals.map((t) => `${t.windowStart.toISOString()} ${t.windowEnd.toISOString()} ${t.status} ${t.count}`);
}
