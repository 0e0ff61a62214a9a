// A consumer of the drain benchmark (bench/drain.bench.ts), in its own process so that
// its CPU time and peak RSS are its own, read by the parent from /proc/<pid>.
//
// Plain JavaScript on the built package (dist/), run by node itself: the CLI it is
// compared with runs that way, and a TypeScript loader (tsx) in the process would add
// its own tens of MiB to the figure being measured.
//
//   node bench/drain-child.mjs raw <url> <clientId> <topic> <expected>
//   node bench/drain-child.mjs library <url> <clientId> <topic> <expected> <stateDirectory>
//   node bench/drain-child.mjs worker <url> <clientId> <topic> <expected> <stateDirectory>
//
// - raw: an MQTT.js client resuming the persistent session, counting messages (MQTT.js
//   sends each PUBACK after the 'message' handler returns): the ceiling.
// - library: fromMqtt (manual acknowledgement) → durableWindowedCount with durability
//   'process', decodeIotPayload and parseAccessLog in `prepare`, the reference window
//   (1 minute, 2-minute watermark, append), a writer that acknowledges each row at once.
// - worker: MQTT.js on this thread, decode/parse/count/journal on a worker thread
//   (bench/drain-worker.mjs) fed a batch per event-loop turn; each batch's PUBACKs are
//   held until the worker answered for it. A prototype of issue 24's second option.
//
// With <expected> 0 (a member of a shared subscription, whose share is not known in
// advance), {handled} is sent every 50 ms instead.
//
// Over IPC: sends {ready} once loaded, connects on the parent's 'go', sends {handled}
// once `expected` messages are handled, and leaves when the parent disconnects.
import { Worker } from 'node:worker_threads';
import { connect } from 'mqtt';
import { map, Observable } from 'rxjs';
import { decodeIotPayload, durableWindowedCount, fromMqtt, parseAccessLog } from '../dist/esm/index.js';

const [role, url, clientId, topic, expectedText, stateDirectory] = process.argv.slice(2);
const expected = Number(expectedText);
// DRAIN_RECEIVE_MAXIMUM: the MQTT 5 Receive Maximum announced (bench/drain-profile.ts experiments).
const receiveMaximum = Number(process.env.DRAIN_RECEIVE_MAXIMUM ?? 0);
const session = {
  clientId,
  clean: false,
  protocolVersion: 5,
  properties: { sessionExpiryInterval: 600, ...(receiveMaximum > 0 ? { receiveMaximum } : {}) },
};
let handled = 0;
const tick = () => {
  handled += 1;
  if (handled === expected) process.send({ handled });
};
if (expected === 0) {
  let reported = 0;
  setInterval(() => {
    if (handled !== reported) process.send({ handled: (reported = handled) });
  }, 50).unref();
}

function raw() {
  const client = connect(url, { ...session, reconnectPeriod: 0 });
  client.on('message', tick);
  client.on('error', (error) => fail(error));
  return () => client.end(true);
}

/** Calls `after` once everything downstream returned from `next` (as bench/durable-pipeline.ts afterEach). */
const afterEach = (after) => (source) =>
  new Observable((destination) =>
    source.subscribe({
      next: (value) => {
        destination.next(value);
        after(value);
      },
      error: (error) => destination.error(error),
      complete: () => destination.complete(),
    }),
  );

function library() {
  const onReject = () => undefined;
  const subscription = fromMqtt({ url, ...session }, topic, { qos: 1, ack: 'manual', keepSubscription: true })
    .pipe(
      afterEach(tick),
      durableWindowedCount({
        stateDirectory,
        durability: 'process',
        prepare: (messages) =>
          messages.pipe(
            decodeIotPayload({ onReject }),
            parseAccessLog({ line: ({ payload }) => payload.accesslogs, onReject }),
          ),
        eventTime: ({ input }) => input.payload.iottimestamp,
        key: ({ record }) => record.status,
        windowDuration: '1 minute',
        watermarkDelay: '2 minutes',
        outputMode: 'append',
        onReject,
        write: (rows) => rows.pipe(map((row) => ({ value: row }))),
      }),
    )
    .subscribe({ error: fail });
  return () => subscription.unsubscribe();
}

function worker() {
  const thread = new Worker(new URL('./drain-worker.mjs', import.meta.url), { workerData: { stateDirectory } });
  thread.on('error', fail);
  const client = connect(url, { ...session, reconnectPeriod: 0 });
  client.on('error', fail);
  // Everything the client writes once connected (PUBACKs, pings) is held with the batch
  // being built and leaves when the worker answered for that batch, in order.
  const stream = client.stream;
  const write = stream.write;
  let collecting = false;
  let parts = [];
  let payloads = [];
  const waiting = [];
  stream.write = function (chunk, encoding, callback) {
    if (!collecting) return write.call(this, chunk, encoding, callback);
    parts.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    return true;
  };
  client.once('connect', () => (collecting = true));
  let scheduled = false;
  client.on('message', (_topic, payload) => {
    payloads.push(payload);
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => {
      scheduled = false;
      waiting.push(parts);
      thread.postMessage(payloads);
      parts = [];
      payloads = [];
    });
  });
  thread.on('message', (count) => {
    const held = waiting.shift();
    if (held.length > 0) write.call(stream, Buffer.concat(held));
    for (let i = 0; i < count; i += 1) tick();
  });
  return () => {
    client.end(true);
    void thread.terminate();
  };
}

function fail(error) {
  process.stderr.write(`drain child (${role}): ${error?.stack ?? String(error)}\n`);
  process.exit(1);
}

const roles = { raw, library, worker };
if (!(role in roles)) fail(new Error(`unknown role ${role}`));
let stop = () => undefined;
process.once('message', () => {
  stop = roles[role]();
});
process.once('disconnect', () => {
  stop();
  setTimeout(() => process.exit(0), 200).unref();
});
process.send({ ready: true });
