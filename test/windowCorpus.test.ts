// windowedCount on a real access log: elastic-apache.log is out of order by up to 59 s
// (minutes in order, seconds shuffled within each minute; see corpora SOURCES.md).
import { expect } from 'chai';
import { from, lastValueFrom, toArray } from 'rxjs';
import { parseAccessLog } from '../src/accesslog/parseAccessLog.js';
import { windowedCount, type Rejection, type WindowStats } from '../src/index.js';
import { corpora, corpusLines } from './support/corpora.js';

interface Request {
  readonly time: number;
  readonly status: number;
}

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
// Just the two fields this test needs: "[17/May/2015:10:05:03 +0000] "<request, escapes allowed>" 200 "
const LINE = /\[(\d{2})\/(\w{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\] "(?:[^"\\]|\\.)*" (\d{3}) /;

function requests(): Request[] {
  return corpusLines('elastic').map((line, index) => {
    const m = LINE.exec(line);
    if (m === null) throw new Error(`line ${index + 1} has no timestamp and status: ${line}`);
    const [, day, month, year, hh, mm, ss, sign, zh, zm, status] = m as unknown as string[];
    const offset = (sign === '-' ? -1 : 1) * (Number(zh) * 60 + Number(zm)) * 60_000;
    const time = Date.UTC(Number(year), MONTHS[month!]!, Number(day), Number(hh), Number(mm), Number(ss)) - offset;
    return { time, status: Number(status) };
  });
}

function groupBy(events: readonly Request[], windowMs: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { time, status } of events) {
    const key = `${Math.floor(time / windowMs) * windowMs}|${status}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

const sorted = (map: Map<string, number>) => [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

async function countWindows(events: readonly Request[], windowDuration: string, watermarkDelay: string) {
  const late: Rejection<Request>[] = [];
  let stats: WindowStats | undefined;
  const rows = await lastValueFrom(
    from(events).pipe(
      windowedCount({
        eventTime: (r: Request) => r.time,
        key: (r) => r.status,
        windowDuration,
        watermarkDelay,
        onReject: (r) => late.push(r),
        onSubscribe: (s) => {
          stats = s;
        },
      }),
      toArray(),
    ),
  );
  const counts = new Map(rows.map((row) => [`${row.windowStart.getTime()}|${row.key}`, row.count]));
  expect(counts.size, 'each (window, status) appears once in append mode').to.equal(rows.length);
  return { rows, counts, late, stats: stats! };
}

describe('windowedCount on the elastic access log (out of order by up to 59 s)', () => {
  const events = requests();

  it('reads the timestamp and status of every line (status totals equal SOURCES.md)', () => {
    const totals: Record<number, number> = {};
    for (const { status } of events) totals[status] = (totals[status] ?? 0) + 1;
    expect(events).to.have.length(corpora.elastic.lines);
    expect(totals).to.deep.equal(corpora.elastic.statusCounts);
  });

  it('1-minute windows with a 2-minute watermark: no event is late, counts equal a batch group-by', async () => {
    const { counts, late, stats } = await countWindows(events, '1 minute', '2 minutes');
    expect(late).to.deep.equal([]);
    expect(stats.latePairs).to.equal(0);
    expect(sorted(counts)).to.deep.equal(sorted(groupBy(events, 60_000)));
    expect(stats.eventsCounted).to.equal(10_000);
    // State held stays a few minutes' worth, not the 3.5 days of the log.
    expect(stats.openWindows).to.equal(0); // flushed on completion
  });

  it('10-second windows with a 20-second watermark: many events are late, exactly as a replay of the rule says', async () => {
    // The rule, replayed on its own: an event is late when its window's end is at or
    // before (largest time seen before it − 20 s).
    let maxTime = Number.NEGATIVE_INFINITY;
    const onTime: Request[] = [];
    let replayLate = 0;
    for (const event of events) {
      const windowEnd = Math.floor(event.time / 10_000) * 10_000 + 10_000;
      if (windowEnd <= maxTime - 20_000) replayLate++;
      else onTime.push(event);
      maxTime = Math.max(maxTime, event.time);
    }
    // "many": the shuffle within each minute reaches back up to 59 s (4,833 of the 10,000 lines)
    expect(replayLate).to.be.greaterThan(1_000);

    const { counts, late, stats } = await countWindows(events, '10 seconds', '20 seconds');
    expect(late).to.have.length(replayLate);
    expect(stats.lateEvents).to.equal(replayLate);
    expect(stats.latePairs).to.equal(replayLate); // tumbling: one window per event
    expect(late.every((r) => r.kind === 'late' && /late for 1 of its 1 window/.test(r.reason))).to.equal(true);
    // what was not late is counted exactly once, in its window
    expect(sorted(counts)).to.deep.equal(sorted(groupBy(onTime, 10_000)));
    expect([...counts.values()].reduce((a, b) => a + b, 0) + replayLate).to.equal(10_000);
  });

  it('gives the same per-minute status counts through parseAccessLog, the pipeline of the reference scenario', async () => {
    const rejected: Rejection[] = [];
    const rows = await lastValueFrom(
      from(corpusLines('elastic')).pipe(
        parseAccessLog({ onReject: (r) => rejected.push(r) }),
        windowedCount({
          eventTime: (r) => r.time,
          key: (r) => r.status,
          windowDuration: '1 minute',
          watermarkDelay: '2 minutes',
          onReject: (r) => rejected.push(r),
        }),
        toArray(),
      ),
    );
    expect(rejected.map((r) => r.reason)).to.deep.equal([]);
    const counts = new Map(rows.map((row) => [`${row.windowStart.getTime()}|${row.key}`, row.count]));
    expect(sorted(counts)).to.deep.equal(sorted(groupBy(events, 60_000)));
  });
});
