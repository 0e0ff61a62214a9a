// windowedCount against the worked example of Spark's Structured Streaming Programming
// Guide, section "Handling Late Data and Watermarking"
// (https://spark.apache.org/docs/latest/structured-streaming-programming-guide.html#handling-late-data-and-watermarking).
// The guide counts words in 10-minute windows sliding every 5 minutes with a 10-minute
// watermark (`withWatermark("timestamp", "10 minutes")`, `window($"timestamp", "10 minutes",
// "5 minutes")`). The events and result tables are in its two figures,
// docs/img/structured-streaming-watermark-update-mode.png and
// docs/img/structured-streaming-watermark-append-mode.png (read from the apache/spark docs
// images); the text states the key facts: "(12:09, cat) is out of order and late, and it
// falls in windows 12:00 - 12:10 and 12:05 - 12:15 … still ahead of the watermark 12:04 …
// when the watermark is updated to 12:11 … (12:04, donkey) is considered 'too late' and
// therefore ignored", and in append mode "the final counts of window 12:00 - 12:10 is
// appended to the Result Table only after the watermark is updated to 12:11".
//
//
// One cell of the figures disagrees with Spark's own window contract: after (12:15, cat)
// they show "12:05 - 12:15 cat 2", but windows are [start, end) ("12:05 will be in the
// window [12:05,12:10) but not in [12:00,12:05)", pyspark.sql.functions.window docs), so a
// cat at 12:15:00 belongs to 12:10 - 12:20 and 12:15 - 12:25, not 12:05 - 12:15. The first
// two tests feed the data as labelled and assert Spark's rule there (cat 1); the third
// shows that every cell of both figures is reproduced when that cat is read as just before
// 12:15 (12:14:59), which is what the figure's tables imply.
//
// Spark processes micro-batches (5-minute triggers in the figures); we process one event
// at a time. The events are fed trigger by trigger and the rows we emit during a trigger
// are compared with the figure's result table for it.
import { expect } from 'chai';
import { WindowedCountState, type Rejection, type WindowedCountOptions, type WindowRow } from '../src/index.js';

interface Word {
  readonly at: number;
  readonly word: string;
}

const at = (hhmm: string): number => Date.parse(`2024-01-01T${hhmm.length === 5 ? `${hhmm}:00` : hhmm}Z`);
const w = (hhmm: string, word: string): Word => ({ at: at(hhmm), word });
const hhmm = (date: Date): string => date.toISOString().slice(11, 16);

/** A row as the figures print it: "12:00 - 12:10 owl 1". */
const show = (row: WindowRow<string>): string =>
  `${hhmm(row.windowStart)} - ${hhmm(row.windowEnd)} ${row.key} ${row.count}`;

/** Update mode writes each changed row once per trigger with its latest count, ordered by window, then word. */
function lastPerRow(rows: readonly WindowRow<string>[]): string[] {
  const latest = new Map<string, WindowRow<string>>();
  for (const row of rows) latest.set(`${row.windowStart.getTime()} ${row.key}`, row);
  return [...latest.values()].map(show).sort();
}

function guideCounter(outputMode: 'append' | 'update') {
  const rows: WindowRow<string>[] = [];
  const rejections: Rejection<Word>[] = [];
  const counter = new WindowedCountState<Word, string>(
    {
      eventTime: (e) => e.at,
      key: (e) => e.word,
      windowDuration: '10 minutes',
      slideDuration: '5 minutes',
      watermarkDelay: '10 minutes',
      outputMode,
      onReject: (r) => rejections.push(r),
    },
    (row) => rows.push(row),
  );
  /** Feeds one trigger's events, returns the rows written during it. */
  const trigger = (...events: Word[]): WindowRow<string>[] => {
    const before = rows.length;
    for (const event of events) counter.push(event);
    return rows.slice(before);
  };
  return { counter, trigger, rejections };
}

describe('windowedCount reproduces the Spark programming guide watermark example', () => {
  it('update mode: the purple rows of every trigger, and (12:04, donkey) ignored', () => {
    const { counter, trigger, rejections } = guideCounter('update');

    expect(lastPerRow(trigger(w('12:07', 'dog'), w('12:08', 'owl')))).to.deep.equal([
      '12:00 - 12:10 dog 1',
      '12:00 - 12:10 owl 1',
      '12:05 - 12:15 dog 1',
      '12:05 - 12:15 owl 1',
    ]);

    expect(lastPerRow(trigger(w('12:14', 'dog'), w('12:09', 'cat')))).to.deep.equal([
      '12:00 - 12:10 cat 1',
      '12:05 - 12:15 cat 1',
      '12:05 - 12:15 dog 2',
      '12:10 - 12:20 dog 1',
    ]);
    // "when the engine observes the data (12:14, dog), it sets the watermark for the next trigger as 12:04"
    expect(counter.watermark).to.equal(at('12:04'));

    // The figure lists rows of 12:00 - 12:20 and elides the rest ("..."): the windows
    // 12:15 - 12:25 and 12:20 - 12:30 that (12:15, cat) and (12:21, owl) open. Its
    // "12:05 - 12:15 cat 2" is absent: a cat at 12:15:00 is not in [12:05, 12:15) (see top).
    expect(
      lastPerRow(trigger(w('12:15', 'cat'), w('12:08', 'dog'), w('12:13', 'owl'), w('12:21', 'owl'))),
    ).to.deep.equal([
      '12:00 - 12:10 dog 2',
      '12:05 - 12:15 dog 3',
      '12:05 - 12:15 owl 2',
      '12:10 - 12:20 cat 1',
      '12:10 - 12:20 owl 1',
      '12:15 - 12:25 cat 1',
      '12:15 - 12:25 owl 1',
      '12:20 - 12:30 owl 1',
    ]);
    expect(counter.watermark).to.equal(at('12:11')); // wm = 12:21 - 10m = 12:11
    expect(rejections).to.deep.equal([]);

    // "table not updated with too late data (12:04, donkey)"; "table updated with late data (12:17, owl)"
    expect(lastPerRow(trigger(w('12:04', 'donkey'), w('12:17', 'owl')))).to.deep.equal([
      '12:10 - 12:20 owl 2',
      '12:15 - 12:25 owl 2',
    ]);
    expect(rejections.map((r) => [r.kind, r.input.word])).to.deep.equal([['late', 'donkey']]);
    expect(rejections[0]?.reason).to.contain('late for 2 of its 2 window(s)');
    expect(counter.lateEvents).to.equal(1);
    expect(counter.latePairs).to.equal(2); // donkey's windows 11:55 - 12:05 and 12:00 - 12:10
    expect(counter.eventsSeen).to.equal(10);
    expect(counter.eventsCounted).to.equal(9);
  });

  it('append mode: the final counts of 12:00 - 12:10 and 12:05 - 12:15, once each; (12:04, donkey) and the last (12:09, cat) ignored', () => {
    const { counter, trigger, rejections } = guideCounter('append');

    expect(trigger(w('12:07', 'dog'), w('12:08', 'owl'))).to.deep.equal([]);
    expect(trigger(w('12:14', 'dog'), w('12:09', 'cat'))).to.deep.equal([]);
    // "partial counts for window 12:00 - 12:10 maintained as internal state while waiting for late data"
    expect(counter.openWindows).to.equal(3);

    // The figure writes 12:00 - 12:10 in the 12:25 trigger: Spark 2.1 applied the watermark
    // that (12:21, owl) set from the *next* trigger on. One event per micro-batch, the next
    // batch is the next event, so the same final rows come right after (12:21, owl).
    const third = trigger(w('12:15', 'cat'), w('12:08', 'dog'), w('12:13', 'owl'), w('12:21', 'owl'));
    expect(third.map(show).sort()).to.deep.equal(['12:00 - 12:10 cat 1', '12:00 - 12:10 dog 2', '12:00 - 12:10 owl 1']);
    expect(counter.watermark).to.equal(at('12:11'));

    // The 12:30 table of the figure: 12:05 - 12:15 is final once (12:26, owl) sets wm = 12:16
    // (cat 1, not the figure's 2: the cat at 12:15:00 is not in [12:05, 12:15), see top).
    const fourth = trigger(w('12:04', 'donkey'), w('12:26', 'owl'), w('12:17', 'owl'));
    expect(fourth.map(show).sort()).to.deep.equal([
      '12:05 - 12:15 cat 1',
      '12:05 - 12:15 dog 3',
      '12:05 - 12:15 owl 2',
    ]);
    expect(counter.watermark).to.equal(at('12:16'));

    // (12:09, cat) arrives after wm = 12:16: both its windows are final ("data too late, ignored in counts").
    expect(trigger(w('12:09', 'cat'))).to.deep.equal([]);
    expect(rejections.map((r) => [r.kind, r.input.word, r.input.at])).to.deep.equal([
      ['late', 'donkey', at('12:04')],
      ['late', 'cat', at('12:09')],
    ]);
    expect(counter.latePairs).to.equal(4);

    // Spark does not flush; our flush (on by default in the operator) would add the open windows.
    expect(counter.openWindows).to.equal(4); // 12:10 - 12:20 … 12:25 - 12:35
  });

  it("reproduces every cell of both figures when the figure's (12:15, cat) is read as 12:14:59", () => {
    const update = guideCounter('update');
    const updates = [
      update.trigger(w('12:07', 'dog'), w('12:08', 'owl')),
      update.trigger(w('12:14', 'dog'), w('12:09', 'cat')),
      update.trigger(w('12:14:59', 'cat'), w('12:08', 'dog'), w('12:13', 'owl'), w('12:21', 'owl')),
      update.trigger(w('12:04', 'donkey'), w('12:17', 'owl')),
    ].map(lastPerRow);
    // The purple rows of the update-mode figure, trigger by trigger (those past "..." included).
    expect(updates).to.deep.equal([
      ['12:00 - 12:10 dog 1', '12:00 - 12:10 owl 1', '12:05 - 12:15 dog 1', '12:05 - 12:15 owl 1'],
      ['12:00 - 12:10 cat 1', '12:05 - 12:15 cat 1', '12:05 - 12:15 dog 2', '12:10 - 12:20 dog 1'],
      [
        '12:00 - 12:10 dog 2',
        '12:05 - 12:15 cat 2',
        '12:05 - 12:15 dog 3',
        '12:05 - 12:15 owl 2',
        '12:10 - 12:20 cat 1',
        '12:10 - 12:20 owl 1',
        '12:15 - 12:25 owl 1',
        '12:20 - 12:30 owl 1',
      ],
      ['12:10 - 12:20 owl 2', '12:15 - 12:25 owl 2'],
    ]);
    expect(update.rejections.map((r) => r.input.word)).to.deep.equal(['donkey']);

    const append = guideCounter('append');
    const appends = [
      append.trigger(w('12:07', 'dog'), w('12:08', 'owl')),
      append.trigger(w('12:14', 'dog'), w('12:09', 'cat')),
      append.trigger(w('12:14:59', 'cat'), w('12:08', 'dog'), w('12:13', 'owl'), w('12:21', 'owl')),
      append.trigger(w('12:04', 'donkey'), w('12:26', 'owl'), w('12:17', 'owl')),
      append.trigger(w('12:09', 'cat')),
    ].map((rows) => rows.map(show).sort());
    // The append-mode figure's tables at 12:25 and 12:30, each one trigger earlier (see above).
    expect(appends).to.deep.equal([
      [],
      [],
      ['12:00 - 12:10 cat 1', '12:00 - 12:10 dog 2', '12:00 - 12:10 owl 1'],
      ['12:05 - 12:15 cat 2', '12:05 - 12:15 dog 3', '12:05 - 12:15 owl 2'],
      [],
    ]);
    expect(append.rejections.map((r) => r.input.word)).to.deep.equal(['donkey', 'cat']);
  });

  it('update mode ends with the same counts as append mode for every row append wrote', () => {
    const events = [
      w('12:07', 'dog'),
      w('12:08', 'owl'),
      w('12:14', 'dog'),
      w('12:09', 'cat'),
      w('12:15', 'cat'),
      w('12:08', 'dog'),
      w('12:13', 'owl'),
      w('12:21', 'owl'),
      w('12:04', 'donkey'),
      w('12:26', 'owl'),
      w('12:17', 'owl'),
      w('12:09', 'cat'),
    ];
    const append = guideCounter('append');
    const update = guideCounter('update');
    const appended = append.trigger(...events);
    append.counter.flush();
    const updated = lastPerRow(update.trigger(...events));
    for (const row of appended) expect(updated).to.include(show(row));
  });
});

// The original job's query (`withWatermark("iottimestamp", "2 minute")
// .groupBy(status, window(..., "1 minute")).count()`) run on three events, one per
// micro-batch, in Spark 3.5.9 (PySpark, local, UTC; issue 14): Spark 2.4 to 3.3, and later
// Sparks with spark.sql.streaming.statefulOperator.allowMultiple=false, judge the third
// event late against the watermark 10:06:30 that the second set; Spark ≥ 3.4 by default
// judges it against the watermark before that (10:03:30), counts it, and closes
// [10:05, 10:06) in the same micro-batch. Complete mode ignores the watermark in both.
describe('windowedCount on the three events where Spark 2.4 and Spark ≥ 3.4 differ', () => {
  interface Hit {
    readonly at: number;
    readonly status: number;
  }
  const hit = (clock: string): Hit => ({ at: Date.parse(`2020-07-01T${clock}Z`), status: 200 });
  const events = [hit('10:05:30'), hit('10:08:30'), hit('10:05:50')];
  const row = (r: WindowRow<number>) => `[${hhmm(r.windowStart)}, ${hhmm(r.windowEnd)}) ${r.key} ×${r.count}`;

  /** The job's counter: per status, 1-minute windows, a 2-minute watermark; `options` on top. */
  const jobCounter = (options: Partial<WindowedCountOptions<Hit, number>>, onRow: (r: WindowRow<number>) => void) =>
    new WindowedCountState<Hit, number>(
      {
        eventTime: (e) => e.at,
        key: (e) => e.status,
        windowDuration: '1 minute',
        watermarkDelay: '2 minutes',
        ...options,
      },
      onRow,
    );

  function run(outputMode: 'append' | 'update' | 'complete', lateRule?: 'spark-2.4' | 'spark-3.4') {
    const perEvent: string[][] = [];
    const late: Rejection<Hit>[] = [];
    let current: string[] = [];
    const counter = jobCounter(
      { outputMode, ...(lateRule === undefined ? {} : { lateRule }), onReject: (r) => late.push(r) },
      (r) => current.push(row(r)),
    );
    for (const event of events) {
      current = [];
      counter.push(event);
      perEvent.push(current);
    }
    return { perEvent, late, counter };
  }

  it('spark-2.4 (the default, as Spark 2.4 and allowMultiple=false): the third event is late, [10:05, 10:06) ends ×1', () => {
    for (const lateRule of [undefined, 'spark-2.4'] as const) {
      const { perEvent, late, counter } = run('append', lateRule);
      expect(perEvent).to.deep.equal([[], ['[10:05, 10:06) 200 ×1'], []]);
      expect(late.map((r) => r.reason)).to.deep.equal([
        'event time 2020-07-01T10:05:50.000Z is late for 1 of its 1 window(s): window [2020-07-01T10:05:00.000Z, 2020-07-01T10:06:00.000Z) already final at watermark 2020-07-01T10:06:30.000Z; not counted',
      ]);
      expect(counter.lateEvents).to.equal(1);
    }
  });

  it('spark-3.4 (as Spark 3.5 by default): the third event counts and [10:05, 10:06) comes out ×2 right after it, 0 dropped', () => {
    const { perEvent, late, counter } = run('append', 'spark-3.4');
    expect(perEvent).to.deep.equal([[], [], ['[10:05, 10:06) 200 ×2']]);
    expect(late).to.deep.equal([]);
    expect(counter.watermark).to.equal(Date.parse('2020-07-01T10:06:30Z'));
    expect(counter.openWindows).to.equal(1); // [10:08, 10:09)
  });

  it('spark-3.4 in update mode: the third event updates [10:05, 10:06) to ×2', () => {
    const { perEvent, late } = run('update', 'spark-3.4');
    expect(perEvent).to.deep.equal([['[10:05, 10:06) 200 ×1'], ['[10:08, 10:09) 200 ×1'], ['[10:05, 10:06) 200 ×2']]);
    expect(late).to.deep.equal([]);
    expect(run('update').perEvent[2]).to.deep.equal([]);
  });

  it('spark-3.4: a later event is late against the watermark the previous event arrived with', () => {
    const { counter, late } = run('append', 'spark-3.4');
    counter.push(hit('10:05:59')); // closedUpTo is now 10:06:30 (the third event arrived with it)
    expect(late.map((r) => r.reason)).to.deep.equal([
      'event time 2020-07-01T10:05:59.000Z is late for 1 of its 1 window(s): window [2020-07-01T10:05:00.000Z, 2020-07-01T10:06:00.000Z) already final at watermark 2020-07-01T10:06:30.000Z; not counted',
    ]);
  });

  it('spark-3.4: advancing the watermark closes the windows the last event left open, as a no-data micro-batch', () => {
    const rows: string[] = [];
    const counter = jobCounter({ lateRule: 'spark-3.4' }, (r) => rows.push(row(r)));
    counter.push(events[0]!);
    counter.push(events[1]!);
    expect(rows).to.deep.equal([]);
    counter.advanceWatermark(0); // behind the watermark: it stays, but the pending window closes
    expect(rows).to.deep.equal(['[10:05, 10:06) 200 ×1']);
    counter.push(events[2]!);
    expect(counter.lateEvents).to.equal(1);
  });

  it('complete mode under either rule: nothing late, the last table is [10:05, 10:06) ×2 and [10:08, 10:09) ×1', () => {
    for (const lateRule of ['spark-2.4', 'spark-3.4'] as const) {
      const { perEvent, late } = run('complete', lateRule);
      expect(perEvent).to.deep.equal([
        ['[10:05, 10:06) 200 ×1'],
        ['[10:05, 10:06) 200 ×1', '[10:08, 10:09) 200 ×1'],
        ['[10:05, 10:06) 200 ×2', '[10:08, 10:09) 200 ×1'],
      ]);
      expect(late).to.deep.equal([]);
    }
  });
});
