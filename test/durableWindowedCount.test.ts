// durableWindowedCount in one process: acknowledgement after the journal, recognised
// redeliveries, restarts that continue, backpressure that stops intake, graceful stop.
// The real broker, real Cassandra and real kills are in test/faults/.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Observable,
  Subject,
  VirtualTimeScheduler,
  lastValueFrom,
  map,
  mergeMap,
  of,
  delay,
  filter,
  toArray,
  type Subscription,
} from 'rxjs';
import { Deliveries } from './support/deliveries.js';
import {
  RejectionError,
  durableWindowedCount,
  type DurableWindowStats,
  type DurableWriterHooks,
  type MqttMessage,
  type Rejection,
  type WindowRow,
  type WriteResult,
} from '../src/index.js';

interface Ev {
  readonly t: number;
  readonly k: number;
}

const show = (row: WindowRow<number>) =>
  `[${row.windowStart.getTime()},${row.windowEnd.getTime()}) ${row.key}=${row.count}`;

const windows = { windowDuration: 10, watermarkDelay: 5 } as const;

/** A writer that refuses the rows of status 404 for good, as cassandraSink refuses a row it cannot encode. */
const refusing404 = (rows: Observable<WindowRow<number>>, { onReject }: DurableWriterHooks<number>) =>
  rows.pipe(
    filter((row) => {
      if (row.key !== 404) return true;
      onReject({ operator: 'refusing404', kind: 'row', reason: 'cannot write 404', input: row });
      return false;
    }),
    map((row) => ({ value: row })),
  );

function counting(
  stateDirectory: string,
  extra: Partial<Parameters<typeof durableWindowedCount<Ev, number, WriteResult<WindowRow<number>>>>[0]> = {},
) {
  return durableWindowedCount<Ev, number, WriteResult<WindowRow<number>>>({
    stateDirectory,
    prepare: (messages) => messages.pipe(map((message) => JSON.parse(message.payload.toString()) as Ev)),
    eventTime: (event) => event.t,
    key: (event) => event.k,
    ...windows,
    onReject: () => {},
    write: (rows) => rows.pipe(map((row) => ({ value: row }))),
    ...extra,
  });
}

/**
 * `counting(dir, extra)` subscribed to `deliveries` (`next` given its results), keeping
 * the live stats it hands to onSubscribe (synchronously, as it subscribes).
 */
function countingWithStats(
  deliveries: Deliveries,
  dir: string,
  extra: Parameters<typeof counting>[1] = {},
  next?: (result: WriteResult<WindowRow<number>>) => void,
): { subscription: Subscription; stats: () => DurableWindowStats } {
  let stats: DurableWindowStats | undefined;
  const subscription = deliveries.source
    .pipe(
      counting(dir, {
        ...extra,
        onSubscribe: (s) => {
          stats = s;
        },
      }),
    )
    .subscribe(next);
  return { subscription, stats: () => stats! };
}

describe('durableWindowedCount', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'durable-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('lets a PUBACK leave only once its message is in the journal, one write for a batch', async () => {
    const deliveries = new Deliveries();
    const journalAtAck: string[] = [];
    const subscription = deliveries.source.pipe(counting(dir)).subscribe();
    const journal = () => readFileSync(join(dir, 'journal.log'), 'utf8');
    deliveries.send({ t: 1, k: 200 }, { onAck: () => journalAtAck.push(journal()) });
    deliveries.send({ t: 2, k: 200 }, { onAck: () => journalAtAck.push(journal()) });
    expect(deliveries.acked, 'no PUBACK before the batch is written').to.deep.equal([]);
    expect(journal()).to.equal('');
    await new Promise(setImmediate);
    subscription.unsubscribe();
    expect(deliveries.acked).to.deep.equal([1, 2]);
    for (const [i, seen] of journalAtAck.entries()) expect(seen).to.match(new RegExp(`"m":${i + 1},`));
  });

  it('counts as windowedCount does, and a restart continues the open windows instead of starting from zero', () => {
    const rows: string[] = [];
    const events: Ev[] = [
      { t: 1, k: 200 },
      { t: 3, k: 404 },
      { t: 12, k: 200 },
      { t: 14, k: 200 },
      { t: 16, k: 200 },
      { t: 27, k: 200 },
      { t: 40, k: 404 },
    ];
    for (const [from, to] of [
      [0, 3],
      [3, 5],
      [5, 7],
    ] as const) {
      const deliveries = new Deliveries();
      const subscription = deliveries.source.pipe(counting(dir)).subscribe(({ value }) => rows.push(show(value)));
      for (const event of events.slice(from, to)) deliveries.send(event);
      subscription.unsubscribe(); // an abrupt end: no partial rows, the state is saved
    }
    // Uninterrupted, append mode: [0,10) final at watermark 7+… → with delay 5: 16-5=11 closes [0,10); 40-5=35 closes [10,20) and [20,30).
    expect(rows).to.deep.equal(['[0,10) 200=1', '[0,10) 404=1', '[10,20) 200=3', '[20,30) 200=1']);
  });

  it('recognises a redelivery (dup, same packet identifier, same payload) and does not count it again', async () => {
    const deliveries = new Deliveries();
    let stats: DurableWindowStats | undefined;
    const rows = lastValueFrom(
      deliveries.source.pipe(
        counting(dir, {
          onSubscribe: (s) => {
            stats = s;
          },
          stop: deliveries.subject.pipe(delay(0)),
        }),
        toArray(),
      ),
    );
    deliveries.send({ t: 1, k: 200 }, { messageId: 7 });
    deliveries.send({ t: 1, k: 200 }, { messageId: 7, dup: true }); // PUBACK lost: sent again
    deliveries.send({ t: 2, k: 200 }, { messageId: 7, dup: true }); // same identifier, another message: counted
    deliveries.send({ t: 3, k: 200 }, { messageId: 9, dup: true }); // dup, but never seen (lost in transit): counted
    expect(stats!.duplicates).to.equal(1);
    await new Promise(setImmediate);
    expect(deliveries.acked).to.deep.equal([7, 7, 7, 9]);
    expect((await rows).map(({ value }) => show(value))).to.deep.equal(['[0,10) 200=3']);
  });

  it('recognises a redelivery however many messages the broker had in flight (one slot per packet identifier)', () => {
    const deliveries = new Deliveries();
    const { subscription, stats } = countingWithStats(deliveries, dir);
    // A broker that ignored our Receive Maximum: 5,000 messages unacknowledged, then all sent again.
    for (let id = 1; id <= 5_000; id++) deliveries.send({ t: id, k: 200 }, { messageId: id });
    for (let id = 1; id <= 5_000; id++) deliveries.send({ t: id, k: 200 }, { messageId: id, dup: true });
    expect(stats().duplicates).to.equal(5_000);
    expect(stats().eventsSeen).to.equal(5_000);
    subscription.unsubscribe();
  });

  it('recognises a redelivery after a restart too (the identifiers are saved)', () => {
    const first = new Deliveries();
    first.source.pipe(counting(dir)).subscribe().unsubscribe();
    const again = new Deliveries();
    const subscription = again.source.pipe(counting(dir)).subscribe();
    again.send({ t: 1, k: 200 }, { messageId: 5 });
    subscription.unsubscribe();
    const restarted = countingWithStats(again, dir);
    again.send({ t: 1, k: 200 }, { messageId: 5, dup: true });
    expect(restarted.stats().duplicates).to.equal(1);
    expect(restarted.stats().eventsCounted).to.equal(1);
    restarted.subscription.unsubscribe();
  });

  it('replays the journal after a crash, dropping a torn last line (an append the process died in, never acknowledged)', async () => {
    const deliveries = new Deliveries();
    // checkpointEvery large: everything stays in the journal, as after a crash.
    const subscription = deliveries.source.pipe(counting(dir, { checkpointEvery: 1_000_000 })).subscribe();
    deliveries.send({ t: 1, k: 200 });
    deliveries.send({ t: 2, k: 200 });
    await new Promise(setImmediate); // the batch is written
    const journal = readFileSync(join(dir, 'journal.log'), 'utf8');
    subscription.unsubscribe();
    // Put the journal back as a crash would have left it (unsubscribe checkpointed), plus a torn line.
    rmSync(join(dir, 'checkpoint.json'));
    appendFileSync(join(dir, 'journal.log'), journal + '{"q":3,"m":3,"h":"x","n":1,"t":3,');
    const restarted = countingWithStats(deliveries, dir);
    expect(restarted.stats().replayedRecords).to.equal(2);
    expect(restarted.stats().eventsCounted).to.equal(2);
    restarted.subscription.unsubscribe();
  });

  it('refuses a state saved with other window options, saying which', () => {
    const deliveries = new Deliveries();
    const subscription = deliveries.source.pipe(counting(dir)).subscribe();
    deliveries.send({ t: 1, k: 200 });
    subscription.unsubscribe();
    let failure: Error | undefined;
    deliveries.source.pipe(counting(dir, { windowDuration: 20 })).subscribe({
      error: (error: Error) => {
        failure = error;
      },
    });
    expect(failure?.message).to.match(/windowDuration 10 .*20/);
  });

  it('refuses a second aggregator on the same state directory', () => {
    const deliveries = new Deliveries();
    const subscription = deliveries.source.pipe(counting(dir)).subscribe();
    let failure: Error | undefined;
    deliveries.source.pipe(counting(dir)).subscribe({
      error: (error: Error) => {
        failure = error;
      },
    });
    subscription.unsubscribe();
    expect(failure?.message).to.match(/^durableWindowedCount: the state directory .* is already in use/);
  });

  it('stops taking messages while too many rows wait for the writer, and takes them again once they drain', () => {
    const deliveries = new Deliveries();
    const written = new Subject<void>();
    const held: WindowRow<number>[] = [];
    // A writer that acknowledges only when told: Cassandra down, then back.
    const write = (rows: Observable<WindowRow<number>>) =>
      new Observable<WriteResult<WindowRow<number>>>((subscriber) => {
        const input = rows.subscribe((row) => held.push(row));
        const release = written.subscribe(() => held.splice(0).forEach((row) => subscriber.next({ value: row })));
        return () => {
          input.unsubscribe();
          release.unsubscribe();
        };
      });
    const reports: string[] = [];
    const { subscription, stats } = countingWithStats(deliveries, dir, {
      write,
      maxPendingRows: 4,
      outputMode: 'update',
      onBackpressure: ({ paused, pendingRows }) => reports.push(`${paused ? 'paused' : 'resumed'} at ${pendingRows}`),
    });
    for (let k = 1; k <= 4; k++) deliveries.send({ t: 1, k });
    return Promise.resolve().then(() => {
      expect(stats().paused).to.equal(true);
      expect(deliveries.unsubscribes).to.equal(1);
      expect(deliveries.subject.observed).to.equal(false);
      written.next();
      expect(stats().paused).to.equal(false);
      expect(deliveries.subscribes).to.equal(2);
      deliveries.send({ t: 2, k: 1 });
      expect(stats().eventsCounted).to.equal(5);
      expect(reports).to.deep.equal(['paused at 4', 'resumed at 2']);
      subscription.unsubscribe();
    });
  });

  it('coalesces the rows of one (window, key) while the writer is busy: memory per key, not per event', () => {
    const deliveries = new Deliveries();
    const sent: string[] = [];
    const written = new Subject<void>();
    const write = (rows: Observable<WindowRow<number>>) =>
      new Observable<WriteResult<WindowRow<number>>>((subscriber) => {
        const held: WindowRow<number>[] = [];
        const input = rows.subscribe((row) => {
          sent.push(show(row));
          held.push(row);
        });
        const release = written.subscribe(() => held.splice(0).forEach((row) => subscriber.next({ value: row })));
        return () => {
          input.unsubscribe();
          release.unsubscribe();
        };
      });
    const subscription = deliveries.source.pipe(counting(dir, { write, outputMode: 'update' })).subscribe();
    for (let i = 0; i < 1000; i++) deliveries.send({ t: 1, k: 200 });
    written.next();
    expect(sent).to.deep.equal(['[0,10) 200=1', '[0,10) 200=1000']);
    subscription.unsubscribe();
  });

  it('on stop, writes the open windows so far and completes; the next start keeps counting them', async () => {
    const deliveries = new Deliveries();
    const stop = new Subject<void>();
    const first = lastValueFrom(deliveries.source.pipe(counting(dir, { stop }), toArray()));
    deliveries.send({ t: 1, k: 200 });
    deliveries.send({ t: 2, k: 200 });
    stop.next();
    expect((await first).map(({ value }) => show(value))).to.deep.equal(['[0,10) 200=2']);
    const again = lastValueFrom(deliveries.source.pipe(counting(dir, { stop }), toArray()));
    deliveries.send({ t: 3, k: 200 });
    stop.next();
    expect((await again).map(({ value }) => show(value))).to.deep.equal(['[0,10) 200=3']);
  });

  it('errors when prepare emits after its message was handled (it must be synchronous)', async () => {
    const deliveries = new Deliveries();
    const failure = lastValueFrom(
      deliveries.source.pipe(
        counting(dir, {
          prepare: (messages) =>
            messages.pipe(
              map((message) => JSON.parse(message.payload.toString()) as Ev),
              delay(1),
            ),
        }),
      ),
    ).then(
      () => undefined,
      (error: Error) => error,
    );
    deliveries.send({ t: 1, k: 200 });
    expect((await failure)?.message).to.match(/must be synchronous/);
    expect(deliveries.acked).to.deep.equal([1]); // acknowledged with nothing counted: the event came too late
  });

  it('checks its options when created', () => {
    expect(() => counting(dir, { durability: 'disk' as 'power' })).to.throw(RangeError, /durability/);
    expect(() => counting('', {})).to.throw(TypeError, /stateDirectory/);
    expect(() => counting(dir, { maxPendingRows: 0 })).to.throw(RangeError, /maxPendingRows/);
  });

  it('a row the writer refuses for good leaves the saved state, is reported, and frees its write slot', () => {
    const deliveries = new Deliveries();
    const rejections: Rejection[] = [];
    const results: string[] = [];
    const { subscription, stats } = countingWithStats(
      deliveries,
      dir,
      { write: refusing404, maxRowsInFlight: 1, outputMode: 'update', onReject: (r) => rejections.push(r) },
      ({ value }) => results.push(show(value)),
    );
    deliveries.send({ t: 1, k: 404 });
    deliveries.send({ t: 1, k: 200 }); // one write slot: written only if the refused row gave it back
    deliveries.send({ t: 1, k: 404 });
    expect(results).to.deep.equal(['[0,10) 200=1']);
    expect(rejections.map((r) => [r.kind, r.reason, show(r.input as WindowRow<number>)])).to.deep.equal([
      ['row', 'cannot write 404', '[0,10) 404=1'],
      ['row', 'cannot write 404', '[0,10) 404=2'],
    ]);
    expect(stats().pendingRows).to.equal(0);
    subscription.unsubscribe();
  });

  it('with strict, a row the writer refuses ends the stream and stays saved for the next start', async () => {
    const deliveries = new Deliveries();
    const failure = lastValueFrom(deliveries.source.pipe(counting(dir, { write: refusing404, strict: true }))).then(
      () => undefined,
      (e: unknown) => e,
    );
    deliveries.send({ t: 1, k: 404 });
    deliveries.send({ t: 30, k: 200 }); // the watermark passes [0,10): its row goes to the writer
    const error = await failure;
    expect(error).to.be.instanceOf(RejectionError);
    expect((error as Error).message).to.equal('refusing404: row rejected: cannot write 404');
    const stop = new Subject<void>();
    const again = lastValueFrom(deliveries.source.pipe(counting(dir, { stop }), toArray()));
    stop.next();
    expect((await again).map(({ value }) => show(value)).sort()).to.deep.equal(['[0,10) 404=1', '[30,40) 200=1']);
  });

  it('writes nothing twice to a result stream that completes early, and still saves', async () => {
    const deliveries = new Deliveries();
    const rows = await lastValueFrom(
      of(deliveries.message({ t: 1, k: 200 }), deliveries.message({ t: 30, k: 200 })).pipe(counting(dir), toArray()),
    );
    expect(rows.map(({ value }) => show(value))).to.deep.equal(['[0,10) 200=1', '[30,40) 200=1']);
  });

  it('idle advance honours idleAdvance.scheduler: virtual time closes a window and its row is written', async () => {
    const deliveries = new Deliveries();
    const virtualScheduler = new VirtualTimeScheduler();
    const runUntil = (time: number) => {
      virtualScheduler.maxFrames = time;
      virtualScheduler.flush();
      virtualScheduler.frame = time;
    };
    const rows: string[] = [];
    const started = performance.now();
    const { subscription, stats } = countingWithStats(
      deliveries,
      dir,
      { idleAdvance: { after: '5 s', scheduler: virtualScheduler } },
      ({ value }) => rows.push(show(value)),
    );
    runUntil(1_000);
    deliveries.send({ t: 1, k: 200 }); // [0, 10) open, silence from 1 s of virtual time
    await new Promise(setImmediate); // the batch is written, its PUBACK leaves
    expect(deliveries.acked).to.deep.equal([1]);
    expect(virtualScheduler.actions, 'one idle timer, on the virtual scheduler').to.have.length(1);
    runUntil(5_999);
    expect(rows).to.deep.equal([]);
    expect(stats().watermark).to.equal(-4);
    runUntil(6_000);
    expect(rows).to.deep.equal(['[0,10) 200=1']);
    expect(stats().watermark).to.equal(1 + 5_000 - 5);
    expect(readFileSync(join(dir, 'journal.log'), 'utf8')).to.match(/\n\{"q":2,"a":4996\}\n$/);
    subscription.unsubscribe();
    expect(virtualScheduler.actions, 'no timer left').to.have.length(0);
    expect(performance.now() - started, 'no real waiting').to.be.below(1_000);
  });

  it('a message it cannot count whole (a key it cannot save) counts for nothing, however often it comes again', async () => {
    const deliveries = new Deliveries();
    const poisoned = {
      // One message, several events: a JSON array.
      prepare: (messages: Observable<MqttMessage>) =>
        messages.pipe(mergeMap((message) => JSON.parse(message.payload.toString()) as Ev[])),
      key: (event: Ev) => (event.k === 0 ? ({ status: 0 } as unknown as number) : event.k),
    };
    const poison = [
      { t: 2, k: 200 },
      { t: 3, k: 0 },
    ] as unknown as Ev;
    for (const dup of [false, true]) {
      const failure = lastValueFrom(deliveries.source.pipe(counting(dir, poisoned))).then(
        () => undefined,
        (error: Error) => error,
      );
      if (!dup) deliveries.send([{ t: 1, k: 200 }] as unknown as Ev, { messageId: 1 });
      deliveries.send(poison, { messageId: 2, dup }); // never acknowledged: the broker sends it again
      expect((await failure)?.message).to.equal(
        'durableWindowedCount: key must return a string or a number to be saved, got object',
      );
    }
    expect(deliveries.acked).to.deep.equal([1]);
    const stop = new Subject<void>();
    const rows = lastValueFrom(deliveries.source.pipe(counting(dir, { stop }), toArray()));
    stop.next();
    expect((await rows).map(({ value }) => show(value))).to.deep.equal(['[0,10) 200=1']);
  });
});
