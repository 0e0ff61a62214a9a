// Memory check for the window state machine (not a test, no timing assertions):
// pushes 10 M generated events with advancing event time (1-minute windows, 2-minute
// watermark, 10 statuses, up to 59 s of disorder like the elastic log) through
// WindowCounter and prints the heap after a forced GC at intervals. The heap should
// stay flat: state is dropped as windows become final, so it is bounded by the open
// windows × statuses, not by the length of the stream.
//
//   node --expose-gc --import tsx scripts/window-memory.ts [events]
import { WindowCounter } from '../src/window/WindowCounter.js';

interface Request { readonly time: number; readonly status: number }

const total = Number(process.argv[2] ?? 10_000_000);
const report = Math.max(1, Math.floor(total / 10));
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error('run with: node --expose-gc --import tsx scripts/window-memory.ts');
  process.exit(2);
}

const STATUSES = [200, 200, 200, 200, 200, 304, 301, 404, 206, 500, 403, 416, 302, 307]; // 10 distinct, skewed like real logs
const start = Date.UTC(2015, 4, 17, 10, 5);
let seed = 42;
const random = () => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648; // deterministic LCG: the same run every time
  return seed / 2_147_483_648;
};

let rows = 0;
let rowCount = 0;
const counter = new WindowCounter<Request, number>(
  { eventTime: (r) => r.time, key: (r) => r.status, windowDuration: '1 minute', watermarkDelay: '2 minutes', onReject: () => {} },
  (row) => { rows++; rowCount += row.count; },
);

const mb = (bytes: number) => (bytes / 1_048_576).toFixed(2);
gc();
const baseline = process.memoryUsage().heapUsed;
console.log(`events ${total.toLocaleString('en')}, 1-minute windows, 2-minute watermark, ${new Set(STATUSES).size} statuses, disorder ≤ 59 s`);
console.log(`heap before: ${mb(baseline)} MiB`);
console.log('      events   heapUsed MiB   Δ vs before   open windows   state entries   rows emitted   late   events/s (this slice)');

let pushMs = 0;
let sliceStart = performance.now();
for (let i = 1; i <= total; i++) {
  // ~5 ms of event time per event (≈12,000 events a minute), shuffled back up to 59 s.
  const time = start + i * 5 - Math.floor(random() * 59_000);
  counter.push({ time, status: STATUSES[i % STATUSES.length] as number });
  if (i % report === 0) {
    const sliceMs = performance.now() - sliceStart;
    pushMs += sliceMs;
    gc();
    const heap = process.memoryUsage().heapUsed;
    console.log(
      `${i.toLocaleString('en').padStart(12)}   ${mb(heap).padStart(12)}   ${mb(heap - baseline).padStart(11)}   ${String(counter.openWindows).padStart(12)}   ${String(counter.stateSize).padStart(13)}   ${rows.toLocaleString('en').padStart(12)}   ${String(counter.lateEvents).padStart(4)}   ${Math.round(report / (sliceMs / 1000)).toLocaleString('en')}`,
    );
    sliceStart = performance.now();
  }
}
counter.flush();
console.log(`flushed: ${rows.toLocaleString('en')} rows, counts sum ${rowCount.toLocaleString('en')} (+ ${counter.latePairs} late) = ${(rowCount + counter.latePairs).toLocaleString('en')} events`);
console.log(`overall: ${Math.round(total / (pushMs / 1000)).toLocaleString('en')} events/s through WindowCounter.push (generation of the event objects included)`);
