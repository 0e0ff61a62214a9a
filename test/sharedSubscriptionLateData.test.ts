// Several aggregators on one MQTT shared subscription each see part of the stream and
// keep their own watermark: what that does to late data, on the window state machine
// alone. Each aggregator's watermark is the largest event time *it* has seen minus the
// delay, never more than the watermark one aggregator over the whole stream would have
// at the same point. So the summed partials count every event one aggregator would
// count, and also the events that are late for the whole stream but not for the
// aggregator that got them. The cluster suite (test/cluster/) shows the same with the
// real command on a real broker; the README's "Scale-out" section explains it.
import { expect } from 'chai';
import fc from 'fast-check';
import { countAsOneAggregator } from './support/oneAggregator.js';

interface Ev {
  readonly t: number;
  readonly k: number;
}

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

/** One aggregator: 1-minute windows, 2-minute watermark, append mode, open windows flushed at the end. */
const aggregate = (events: readonly Ev[]) =>
  countAsOneAggregator(
    events,
    (e) => e.t,
    (e) => e.k,
  );

/** N aggregators, event i going to aggregator `assignment[i]`; their partial counts summed per cell. */
function aggregateShared(events: readonly Ev[], assignment: readonly number[], aggregators: number) {
  const parts = Array.from({ length: aggregators }, (_, a) => aggregate(events.filter((_, i) => assignment[i] === a)));
  const counts = new Map<string, number>();
  for (const part of parts) for (const [cell, count] of part.counts) counts.set(cell, (counts.get(cell) ?? 0) + count);
  return { counts, late: parts.reduce((sum, part) => sum + part.late, 0) };
}

const total = (counts: Map<string, number>) => [...counts.values()].reduce((a, b) => a + b, 0);
const cell = (minute: number, status: number) => `${T0 + minute * MINUTE}/${status}`;

/** Streams with disorder up to 6 minutes (3× the watermark delay), so that some events are late. */
const streams = fc
  .array(fc.record({ t: fc.integer({ min: 0, max: 20 * MINUTE }), k: fc.constantFrom(200, 404, 500) }), {
    maxLength: 60,
  })
  .map((events) =>
    events.map(({ t, k }, i) => ({ t: T0 + Math.max(0, Math.round(i * 20_000 + (t % (6 * MINUTE)) - 3 * MINUTE)), k })),
  );

const withAssignment = (aggregators: number) =>
  streams.chain((events) =>
    fc
      .array(fc.integer({ min: 0, max: aggregators - 1 }), { minLength: events.length, maxLength: events.length })
      .map((assignment) => ({ events, assignment })),
  );

describe('several aggregators on one shared subscription: per-aggregator watermarks and late data', () => {
  it('the summed partials count at least what one aggregator counts, cell by cell, and never more than was sent', () => {
    fc.assert(
      fc.property(withAssignment(3), ({ events, assignment }) => {
        const single = aggregate(events);
        const shared = aggregateShared(events, assignment, 3);
        for (const [id, count] of single.counts) expect(shared.counts.get(id) ?? 0, id).to.be.at.least(count);
        // What differs is exactly the events late for the whole stream but on time for their aggregator.
        expect(total(shared.counts) - total(single.counts)).to.equal(single.late - shared.late);
        expect(total(shared.counts) + shared.late).to.equal(events.length);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same counts as one aggregator however the stream is split, when no event is late for one aggregator', () => {
    fc.assert(
      fc.property(withAssignment(3), ({ events, assignment }) => {
        fc.pre(aggregate(events).late === 0);
        expect(aggregateShared(events, assignment, 3).counts).to.deep.equal(aggregate(events).counts);
      }),
      { numRuns: 300 },
    );
  });

  it('counts an event that is late for the whole stream when its aggregator has not seen the later events', () => {
    // 12:05 goes to aggregator 0: one aggregator's watermark is 12:03, past the 12:00 window.
    // 12:00:30 goes to aggregator 1, which has seen nothing yet: on time there.
    const events = [
      { t: T0 + 5 * MINUTE, k: 200 },
      { t: T0 + 30_000, k: 404 },
    ];
    expect(aggregate(events).counts.get(cell(0, 404))).to.equal(undefined);
    expect(aggregate(events).late).to.equal(1);
    expect(aggregateShared(events, [0, 1], 2).counts.get(cell(0, 404))).to.equal(1);
    // Had the same aggregator got both, it would have dropped it too.
    expect(aggregateShared(events, [0, 0], 2).counts.get(cell(0, 404))).to.equal(undefined);
  });

  it('drops a late event as one aggregator does once every aggregator has seen an event past its window and the delay', () => {
    // Round robin (Mosquitto's way): the three 12:20 events reach all three aggregators
    // before the 12:01 events, so those are late everywhere.
    const events = [
      { t: T0, k: 200 },
      { t: T0 + 10_000, k: 200 },
      { t: T0 + 20_000, k: 200 },
      { t: T0 + 20 * MINUTE, k: 200 },
      { t: T0 + 20 * MINUTE, k: 200 },
      { t: T0 + 20 * MINUTE, k: 200 },
      { t: T0 + MINUTE, k: 500 },
      { t: T0 + MINUTE, k: 500 },
      { t: T0 + MINUTE, k: 500 },
    ];
    const roundRobin = events.map((_, i) => i % 3);
    const shared = aggregateShared(events, roundRobin, 3);
    expect(shared.counts).to.deep.equal(aggregate(events).counts);
    expect(shared.counts.get(cell(1, 500))).to.equal(undefined);
    expect(shared.late).to.equal(3);
  });
});
