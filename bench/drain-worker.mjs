// The worker thread of bench/drain-child.mjs's `worker` role (issue 24's "a worker
// thread for decode/parse/count fed in batches"): takes batches of payloads from the
// connection's thread, decodes, parses and counts them (the reference windows), writes
// one journal line per event with one write(2) per batch, then answers, and only then
// do the batch's PUBACKs leave. A prototype to measure what a second core buys; not the
// library's durable state (no checkpoint, no redelivery recognition).
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { decodeIotPayloadBytes, parseAccessLogLine, WindowedCountState } from '../dist/esm/index.js';

const journal = openSync(join(workerData.stateDirectory, 'journal.log'), 'a');
const counter = new WindowedCountState(
  {
    eventTime: (event) => event.at,
    key: (event) => event.status,
    windowDuration: '1 minute',
    watermarkDelay: '2 minutes',
    outputMode: 'append',
    onReject: () => undefined,
  },
  () => undefined,
);
let sequence = 0;
parentPort.on('message', (payloads) => {
  let lines = '';
  for (const payload of payloads) {
    const decoded = decodeIotPayloadBytes(payload);
    if (decoded._tag === 'Left') continue;
    const record = parseAccessLogLine(decoded.right.accesslogs);
    if (record._tag === 'Left') continue;
    const at = decoded.right.iottimestamp;
    counter.push({ at, status: record.right.status });
    lines += `${JSON.stringify({ q: ++sequence, n: Date.now(), t: at.getTime(), k: record.right.status })}\n`;
  }
  if (lines !== '') writeSync(journal, lines);
  parentPort.postMessage(payloads.length);
});
parentPort.once('close', () => closeSync(journal));
