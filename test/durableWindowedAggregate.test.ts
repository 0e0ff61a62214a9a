// durableWindowedAggregate in one process: aggregates equal windowedAggregate's across
// graceful restarts and crashes, redeliveries folded in once, waiting rows kept as their
// partials, state of another kind or other aggregates refused. The real broker and a real
// SIGKILL are in test/faults/aggregatorFaults.test.ts.
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NEVER, Subject, map } from 'rxjs';
import {
  SessionAggregateState,
  WindowedAggregateState,
  durableWindowedAggregate,
  durableWindowedCount,
  type AggregateOptions,
  type AggregateRow,
  type DurableWindowedAggregateOptions,
  type DurableWindowStats,
  type Rejection,
  type WriteResult,
} from '../src/index.js';
import { Deliveries } from './support/deliveries.js';
import { everyAggregate } from './support/aggregates.js';

interface Hit {
  readonly t: number;
  readonly status: number;
  readonly bytes: unknown;
  readonly client: string;
}

const aggregates = everyAggregate<Hit>(
  (hit) => hit.bytes as number,
  (hit) => hit.client,
);
const windows = { windowDuration: 10, watermarkDelay: 5 } as const;
type Options = DurableWindowedAggregateOptions<Hit, number, WriteResult<AggregateRow<number>>>;

function aggregating(stateDirectory: string, extra: Partial<Options> = {}) {
  return durableWindowedAggregate<Hit, number, WriteResult<AggregateRow<number>>>({
    stateDirectory,
    prepare: (messages) => messages.pipe(map((message) => JSON.parse(message.payload.toString()) as Hit)),
    eventTime: (hit) => hit.t,
    key: (hit) => hit.status,
    ...windows,
    aggregates,
    onReject: () => {},
    write: (rows) => rows.pipe(map((row) => ({ value: row }))),
    checkpointEvery: 50,
    ...extra,
  });
}

/** A stream of hits with disorder (up to 4 ms behind), three statuses, a few clients. */
function hits(n: number, seed: number): Hit[] {
  let x = seed;
  const next = () => (x = (x * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648;
  const result: Hit[] = [];
  for (let i = 0; i < n; i++) {
    const t = Math.floor(i / 3) - Math.floor(next() * 4);
    result.push({
      t,
      status: [200, 404, 500][Math.floor(next() * 3)]!,
      bytes: Math.floor(next() * 50_000),
      client: `10.0.0.${Math.floor(next() * 20)}`,
    });
  }
  return result;
}

/** What a table keyed on (window, key) ends with: the row with the most events folded in, final over partial. */
function tableOf(rows: readonly AggregateRow<number>[]): Map<string, AggregateRow<number>> {
  const table = new Map<string, AggregateRow<number>>();
  for (const row of rows) {
    const id = `${row.windowStart.getTime()} ${row.windowEnd.getTime()} ${row.key}`;
    const known = table.get(id);
    if (known === undefined || row.count > known.count || (row.count === known.count && row.final === true))
      table.set(id, row);
  }
  return table;
}

describe('durableWindowedAggregate', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'durable-aggregate-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** The state files as they are now, to put back as a process killed now would leave them. */
  function filesNow(): () => void {
    const saved = ['journal.log', 'checkpoint.json'].map((name) => {
      const path = join(dir, name);
      return [path, existsSync(path) ? readFileSync(path) : undefined] as const;
    });
    return () => {
      for (const [path, content] of saved)
        if (content === undefined) rmSync(path, { force: true });
        else writeFileSync(path, content);
    };
  }

  /**
   * Delivers `events` to `aggregating(dir, options)` in five parts: after the first and
   * third a crash (the state files as the last PUBACK left them), after the second and
   * fourth a graceful unsubscribe, after the last a stop (the open windows written). After
   * each restart the broker sends the last 5 acknowledged messages again (their PUBACKs
   * lost), which must be recognised. Returns every row written.
   */
  async function deliverThroughRestarts(
    events: readonly Hit[],
    options: Partial<Options>,
  ): Promise<AggregateRow<number>[]> {
    const written: AggregateRow<number>[] = [];
    const deliveries = new Deliveries();
    const sent: { id: number; event: Hit }[] = [];
    const cuts = [0, 0.12, 0.34, 0.58, 0.75, 1].map((at) => Math.round(at * events.length));
    for (let part = 0; part + 1 < cuts.length; part++) {
      const last = part + 2 === cuts.length;
      const stop = new Subject<void>();
      let stats: DurableWindowStats | undefined;
      const subscription = deliveries.source
        .pipe(aggregating(dir, { ...options, stop, onSubscribe: (s) => (stats = s) }))
        .subscribe(({ value }) => written.push(value));
      if (part > 0) for (const { id, event } of sent.slice(-5)) deliveries.send(event, { messageId: id, dup: true });
      for (let i = cuts[part]!; i < cuts[part + 1]!; i++) {
        const message = deliveries.send(events[i]);
        sent.push({ id: message.messageId!, event: events[i]! });
      }
      await new Promise(setImmediate); // the batch is written, its PUBACKs left
      expect(stats!.duplicates, `part ${part}: the 5 resent recognised`).to.equal(part > 0 ? 5 : 0);
      if (last) {
        stop.next(); // writes the open windows so far
        await new Promise(setImmediate);
      } else if (part % 2 === 0) {
        const putBack = filesNow();
        subscription.unsubscribe();
        putBack(); // killed after the last PUBACK: no checkpoint at the end
      } else subscription.unsubscribe(); // graceful: checkpointed
    }
    for (const row of written) expect(row.partial, 'every row carries its partial').to.not.equal(undefined);
    return written;
  }

  /** Every (window or session, key) of `want` is in `got` with the same aggregates, and nothing else is. */
  function expectSameCells(got: readonly AggregateRow<number>[], want: readonly AggregateRow<number>[]): number {
    const table = tableOf(got);
    const expected = tableOf(want);
    expect([...table.keys()].sort()).to.deep.equal([...expected.keys()].sort());
    for (const [id, row] of expected) expect(table.get(id)!.aggregates, id).to.deep.equal(row.aggregates);
    return expected.size;
  }

  it('ends with the aggregates of windowedAggregate over the whole stream, through graceful restarts and crashes, redeliveries folded in once', async () => {
    const events = hits(1_200, 7);
    const expected: AggregateRow<number>[] = [];
    const single = new WindowedAggregateState<Hit, number>(
      { eventTime: (hit) => hit.t, key: (hit) => hit.status, ...windows, aggregates },
      (row) => expected.push(row),
    );
    for (const event of events) single.push(event);
    single.flush();
    expect(expectSameCells(await deliverThroughRestarts(events, {}), expected)).to.be.greaterThan(100);
  });

  it("ends with the session windows' aggregates of windowedAggregate, through the same restarts and crashes", async () => {
    // Bursts: a status's hits close together, then a pause longer than the gap, so sessions end and merge.
    const events = hits(1_200, 11).map((hit, i) => ({ ...hit, t: hit.t + Math.floor(i / 40) * 60 }));
    const sessions = { sessionGap: 8, watermarkDelay: 5 } as const;
    const expected: AggregateRow<number>[] = [];
    const single = new SessionAggregateState<Hit, number>(
      { eventTime: (hit) => hit.t, key: (hit) => hit.status, ...sessions, aggregates },
      (row) => expected.push(row),
    );
    for (const event of events) single.push(event);
    single.flush();
    const written = await deliverThroughRestarts(events, {
      windowDuration: undefined,
      ...sessions,
    } as unknown as Partial<Options>);
    expect(expectSameCells(written, expected)).to.be.greaterThan(50);
    expect(
      expected.some((row) => row.windowEnd.getTime() - row.windowStart.getTime() > 20),
      'sessions longer than one gap',
    ).to.equal(true);
  });

  it('keeps a row the writer has not acknowledged as its partial: after a restart it is written with the same aggregates', async () => {
    const deliveries = new Deliveries();
    const silent = deliveries.source.pipe(aggregating(dir, { write: () => NEVER })).subscribe();
    for (const event of hits(90, 3)) deliveries.send(event);
    await new Promise(setImmediate);
    let stats: DurableWindowStats | undefined;
    silent.unsubscribe();

    const live: AggregateRow<number>[] = [];
    const single = new WindowedAggregateState<Hit, number>(
      { eventTime: (hit) => hit.t, key: (hit) => hit.status, ...windows, aggregates },
      (row) => live.push(row),
    );
    for (const event of hits(90, 3)) single.push(event);

    const written: AggregateRow<number>[] = [];
    const restarted = deliveries.source
      .pipe(aggregating(dir, { onSubscribe: (s) => (stats = s) }))
      .subscribe(({ value }) => written.push(value));
    expect(stats!.rowsWritten, 'the saved rows are written at start').to.equal(live.length);
    expect(written.map((row) => [row.windowStart.getTime(), row.key, row.aggregates])).to.deep.equal(
      live.map((row) => [row.windowStart.getTime(), row.key, row.aggregates]),
    );
    restarted.unsubscribe();
  });

  it('reports an event whose value is not a number with kind value, folds it in nowhere, and not again after a replay', async () => {
    const rejections: Rejection[] = [];
    const deliveries = new Deliveries();
    let stats: DurableWindowStats | undefined;
    const first = deliveries.source
      .pipe(aggregating(dir, { onReject: (r) => rejections.push(r), checkpointEvery: 1_000_000 }))
      .subscribe();
    deliveries.send({ t: 1, status: 200, bytes: 'lots', client: 'a' });
    deliveries.send({ t: 2, status: 200, bytes: 300, client: 'b' });
    await new Promise(setImmediate);
    const putBack = filesNow();
    first.unsubscribe();
    putBack();
    expect(rejections.map((r) => [r.operator, r.kind, r.reason])).to.deep.equal([
      ['durableWindowedAggregate', 'value', 'value is "lots", not a finite number; not counted'],
    ]);
    const written: AggregateRow<number>[] = [];
    const stop = new Subject<void>();
    const second = deliveries.source
      .pipe(aggregating(dir, { stop, onReject: (r) => rejections.push(r), onSubscribe: (s) => (stats = s) }))
      .subscribe(({ value }) => written.push(value));
    expect(stats!.replayedRecords, 'both events replayed').to.equal(2);
    expect(rejections, 'not reported again').to.have.length(1);
    stop.next();
    await new Promise(setImmediate);
    second.unsubscribe();
    expect(written.map((row) => row.aggregates)).to.deep.equal([
      { count: 1, sum: 300, min: 300, max: 300, mean: 300, quantiles: { p50: 300, p99: 300 }, distinct: 1 },
    ]);
  });

  it('writes the closing row of each window, final, in update mode, with its aggregates', async () => {
    const deliveries = new Deliveries();
    const written: AggregateRow<number>[] = [];
    const subscription = deliveries.source
      .pipe(aggregating(dir, { outputMode: 'update' }))
      .subscribe(({ value }) => written.push(value));
    deliveries.send({ t: 1, status: 200, bytes: 100, client: 'a' });
    deliveries.send({ t: 2, status: 200, bytes: 50, client: 'b' });
    deliveries.send({ t: 30, status: 200, bytes: 7, client: 'a' }); // watermark 25 closes [0, 10)
    await new Promise(setImmediate);
    subscription.unsubscribe();
    const closing = written.filter((row) => row.final === true);
    expect(
      closing.map((row) => [row.windowStart.getTime(), row.count, row.aggregates.sum, row.aggregates.max]),
    ).to.deep.equal([[0, 2, 150, 100]]);
    expect(written.filter((row) => row.final !== true).map((row) => row.count)).to.deep.equal([1, 2, 1]);
  });

  it("refuses a state directory of durableWindowedCount's, and one saved with other aggregates, saying so", async () => {
    const deliveries = new Deliveries();
    const counting = deliveries.source
      .pipe(
        durableWindowedCount<Hit, number, WriteResult<AggregateRow<number>>>({
          stateDirectory: dir,
          prepare: (messages) => messages.pipe(map((message) => JSON.parse(message.payload.toString()) as Hit)),
          eventTime: (hit) => hit.t,
          key: (hit) => hit.status,
          ...windows,
          write: () => NEVER,
          checkpointEvery: 1_000_000,
        }),
      )
      .subscribe();
    deliveries.send({ t: 1, status: 200, bytes: 1, client: 'a' });
    await new Promise(setImmediate);
    const putBack = filesNow();
    counting.unsubscribe();
    const errors: Error[] = [];
    const fromCheckpoint = deliveries.source.pipe(aggregating(dir)).subscribe({ error: (e: Error) => errors.push(e) });
    fromCheckpoint.unsubscribe();
    putBack();
    rmSync(join(dir, 'checkpoint.json')); // only the journal: a count line without a value
    deliveries.source.pipe(aggregating(dir)).subscribe({ error: (e: Error) => errors.push(e) });
    expect(errors.map((e) => e.message)).to.have.length(2);
    expect(errors[0]!.message).to.match(
      /^durableWindowedAggregate: cannot restore the state in .*: the state was saved by durableWindowedCount\. Start with/,
    );
    expect(errors[1]!.message, errors[1]!.message).to.match(/journal record 1 was written by durableWindowedCount/);

    rmSync(dir, { recursive: true, force: true });
    const first = deliveries.source.pipe(aggregating(dir)).subscribe();
    deliveries.send({ t: 1, status: 200, bytes: 1, client: 'a' });
    await new Promise(setImmediate);
    first.unsubscribe();
    deliveries.source
      .pipe(aggregating(dir, { aggregates: { ...aggregates, quantiles: [0.5] } }))
      .subscribe({ error: (e: Error) => errors.push(e) });
    expect(errors[2]!.message).to.match(/the snapshot was taken with other aggregates/);
  });

  it('checks its options when created, naming itself', () => {
    expect(() => aggregating(dir, { aggregates: undefined as unknown as AggregateOptions<Hit> })).to.throw(
      TypeError,
      /^durableWindowedAggregate: aggregates is required/,
    );
    expect(() => aggregating(dir, { aggregates: { sum: true } })).to.throw(/^durableWindowedAggregate: /);
    expect(() => aggregating(dir, { windowDuration: -1 })).to.throw(/^durableWindowedAggregate: windowDuration/);
    const sessions = { windowDuration: undefined, sessionGap: '30 s' } as unknown as Partial<Options>;
    expect(() => aggregating(dir, { ...sessions, outputMode: 'update' })).to.throw(
      /^durableWindowedAggregate: .*update/,
    );
    expect(() => aggregating(dir, { ...sessions, writeLate: () => NEVER })).to.throw(
      TypeError,
      /^durableWindowedAggregate: writeLate keeps late counts per fixed window; session windows have none/,
    );
  });
});
