/**
 * The publisher's outbox: messages not yet acknowledged by the broker, kept in a file so
 * that they survive a restart or a power loss, each with a publisher id and a sequence
 * number the aggregator recognises again.
 * @module
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { releaseDirectoryLock, takeDirectoryLock } from '../internal/directoryLock.js';
import { optionChecks } from '../internal/options.js';
import { syncPath } from '../internal/syncPath.js';
import { writeFully } from '../internal/writeFully.js';

/**
 * The MQTT 5 user properties every message sent through an {@link Outbox} carries: the
 * publisher's id and the message's sequence number (decimal), which
 * {@link durableWindowedCount} uses to recognise a message it has counted already.
 */
export const PUBLISHER_PROPERTY = 'publisher';
/** See {@link PUBLISHER_PROPERTY}. */
export const SEQUENCE_PROPERTY = 'seq';

/** The defaults of {@link OutboxOptions}, which their TSDoc quotes. */
const OUTBOX_DEFAULTS = { maxMessages: 10_000, durability: 'process' } as const;

/** Options of {@link openOutbox}. */
export interface OutboxOptions {
  /** Messages kept unacknowledged at most; {@link Outbox.add} refuses one more. Default 10,000. */
  readonly maxMessages?: number;
  /**
   * `'process'` (default): each message is written to the file (the kernel's page cache)
   * before it is published, which survives the death of the process. `'power'`: also
   * `fsync`ed, which survives a power loss, at the cost of a disk flush per message.
   */
  readonly durability?: 'process' | 'power';
}

/** One message in the outbox. */
export interface OutboxMessage {
  /** Its sequence number, from 1, one more for each message this outbox ever held. */
  readonly seq: number;
  readonly topic: string;
  readonly payload: Buffer;
  /** What the caller kept with it (e.g. a place in a log), as JSON. */
  readonly mark: unknown;
  /** The message's own MQTT 5 user properties (an event time…), sent again with it after a restart. */
  readonly userProperties?: Readonly<Record<string, string | string[]>>;
}

/** The error {@link Outbox.add} throws when `maxMessages` are unacknowledged. */
export class OutboxFullError extends Error {
  override readonly name = 'OutboxFullError';
  /** The outbox's directory. */
  readonly directory: string;
  /** Its `maxMessages`. */
  readonly maxMessages: number;
  /** @param options - the outbox's `directory` and its `maxMessages`. */
  constructor(options: { readonly directory: string; readonly maxMessages: number }) {
    super(
      `the outbox ${options.directory} holds ${options.maxMessages} messages the broker has not acknowledged ` +
        '(maxMessages): is the broker reachable?',
    );
    this.directory = options.directory;
    this.maxMessages = options.maxMessages;
  }
}

/** A line of `outbox.log`. */
interface OutboxRecord {
  /** The header: the publisher id, the last sequence number and mark (after a compaction). */
  readonly publisher?: string;
  readonly last?: number;
  /** A message: sequence number, topic, payload (base64), mark, user properties. */
  readonly s?: number;
  readonly t?: string;
  readonly p?: string;
  readonly m?: unknown;
  readonly u?: Record<string, string | string[]>;
  /** An acknowledgement of sequence number `a`. */
  readonly a?: number;
}

const LOG = 'outbox.log';
/** Acknowledgement lines past which the log is rewritten with only what is pending. */
const COMPACT_AFTER = 1_000;

/**
 * An outbox, open: a directory holding `outbox.log`, an append-only journal of messages
 * (written before each is published) and of their acknowledgements, rewritten with only
 * the pending ones every 1,000 acknowledgements, and a `lock` (one process at a time).
 *
 * Made by {@link openOutbox}; hand it to {@link toMqtt} (`outbox` option), which adds
 * each value before publishing it, with the user properties `publisher` and `seq`, and
 * removes it at its PUBACK. The messages an earlier run left unacknowledged
 * ({@link Outbox.restored}) are published again by the first `toMqtt` subscribed,
 * before any new value, in their order. Close it when done; it is not closed by `toMqtt`.
 */
export class Outbox {
  /** This outbox's publisher id: the host name and 8 random hex digits, made with the outbox, kept in it. */
  readonly publisher: string;
  private readonly pending = new Map<number, OutboxMessage>();
  private lastSeq: number;
  private lastMark: unknown;
  private fd: number | undefined;
  private acknowledgedSinceCompaction = 0;
  private restoredLeft: OutboxMessage[];
  private readonly maxMessages: number;
  private readonly sync: boolean;

  private constructor(
    readonly directory: string,
    options: OutboxOptions,
  ) {
    const check = optionChecks('openOutbox');
    this.maxMessages = check.positiveInteger('maxMessages', options.maxMessages ?? OUTBOX_DEFAULTS.maxMessages);
    this.sync =
      check.oneOf('durability', options.durability ?? OUTBOX_DEFAULTS.durability, ['process', 'power']) === 'power';
    mkdirSync(directory, { recursive: true });
    takeDirectoryLock(directory, {
      inUseHere: `the outbox ${directory} is already open in this process`,
      inUseBy: (holder) => `the outbox ${directory} is in use by process ${holder}; give each publisher its own outbox`,
      cannotLock: `cannot lock the outbox ${directory}`,
    });
    try {
      const path = join(directory, LOG);
      const read = existsSync(path) ? readLog(path) : undefined;
      this.publisher =
        read?.publisher ?? `${hostname().replace(/[^A-Za-z0-9._-]/g, '_')}-${randomBytes(4).toString('hex')}`;
      this.lastSeq = read?.last ?? 0;
      this.lastMark = read?.mark;
      for (const message of read?.messages ?? []) this.pending.set(message.seq, message);
      this.restoredLeft = [...this.pending.values()];
      // Rewritten at once: a torn last line gone, the acknowledged ones dropped.
      this.compact();
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** Opens (or makes) the outbox in `directory`; throws naming the cause when it cannot. */
  static open(directory: string, options: OutboxOptions = {}): Outbox {
    return new Outbox(directory, options);
  }

  /** Messages added and not yet acknowledged, this run's and the restored ones. */
  get size(): number {
    return this.pending.size;
  }

  /** The mark of the last message ever added (kept after its acknowledgement), or `undefined`. */
  get mark(): unknown {
    return this.lastMark;
  }

  /** The last sequence number given out (0 before the first message). */
  get seq(): number {
    return this.lastSeq;
  }

  /** The messages an earlier run left unacknowledged, oldest first (as opened). */
  get restored(): readonly OutboxMessage[] {
    return this.restoredLeft;
  }

  /**
   * The restored messages not yet handed out, once: the first {@link toMqtt} subscribed
   * publishes them again.
   * @internal
   */
  takeRestored(): OutboxMessage[] {
    const taken = this.restoredLeft.filter((message) => this.pending.has(message.seq));
    this.restoredLeft = [];
    return taken;
  }

  /**
   * Writes a message to the outbox before it is published and returns it with its
   * sequence number. `userProperties` are the message's own, kept with it so that it is
   * sent again as it was (its other MQTT 5 properties are not kept). Throws an
   * {@link OutboxFullError} when `maxMessages` are pending, or the file system's error
   * (nothing is then kept).
   */
  add(
    topic: string,
    payload: Buffer | string,
    mark?: unknown,
    userProperties?: Readonly<Record<string, string | string[]>>,
  ): OutboxMessage {
    if (this.pending.size >= this.maxMessages)
      throw new OutboxFullError({ directory: this.directory, maxMessages: this.maxMessages });
    const bytes = typeof payload === 'string' ? Buffer.from(payload) : payload;
    const message: OutboxMessage = {
      seq: this.lastSeq + 1,
      topic,
      payload: bytes,
      mark,
      ...(userProperties === undefined ? {} : { userProperties }),
    };
    this.write(messageRecord(message));
    this.lastSeq = message.seq;
    if (mark !== undefined) this.lastMark = mark;
    this.pending.set(message.seq, message);
    return message;
  }

  /** The broker acknowledged message `seq`: it leaves the outbox. */
  acknowledge(seq: number): void {
    if (!this.pending.delete(seq)) return;
    this.write({ a: seq });
    if (++this.acknowledgedSinceCompaction >= COMPACT_AFTER) this.compact();
  }

  /** The user properties of `message`: its own, then `publisher` and `seq`. */
  userProperties(message: OutboxMessage): Record<string, string | string[]> {
    return {
      ...message.userProperties,
      [PUBLISHER_PROPERTY]: this.publisher,
      [SEQUENCE_PROPERTY]: String(message.seq),
    };
  }

  /** Closes the file and releases the lock; what is pending stays for the next run. Safe to call twice. */
  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
    releaseDirectoryLock(this.directory);
  }

  private write(record: OutboxRecord): void {
    if (this.fd === undefined) throw new Error(`the outbox ${this.directory} is closed`);
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    writeFully(this.fd, line);
    if (this.sync) fsyncSync(this.fd);
  }

  /** Rewrites the log with the header and the pending messages only (beside, then renamed over). */
  private compact(): void {
    const path = join(this.directory, LOG);
    const temporary = `${path}.tmp`;
    const header: OutboxRecord = {
      publisher: this.publisher,
      last: this.lastSeq,
      ...(this.lastMark === undefined ? {} : { m: this.lastMark }),
    };
    const lines = [header, ...[...this.pending.values()].map(messageRecord)].map((record) => JSON.stringify(record));
    writeFileSync(temporary, `${lines.join('\n')}\n`);
    if (this.sync) syncPath(temporary);
    renameSync(temporary, path);
    if (this.sync) syncPath(this.directory);
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = openSync(path, 'a');
    this.acknowledgedSinceCompaction = 0;
  }
}

/**
 * Opens the outbox in `directory` (made if missing): its publisher id, sequence number,
 * last mark and the messages an earlier run left unacknowledged. One process at a time:
 * a directory locked by a running process is refused.
 *
 * @example
 * ```ts
 * import { interval, map } from 'rxjs';
 * import { openOutbox, toMqtt, makeIotPayload } from 'mqtt-iot-stream';
 * const outbox = openOutbox('/var/lib/pi-publisher/outbox');
 * interval(1000)
 *   .pipe(
 *     map((i) => makeIotPayload(`127.0.0.1 - - [01/Jul/2020:12:34:56 +0000] "GET /${i} HTTP/1.1" 200 5`)),
 *     toMqtt('mqtt://localhost:1883', { topic: 'rupesh/gpiotopic', qos: 1, outbox }),
 *   )
 *   .subscribe({ complete: () => outbox.close() });
 * ```
 * @param directory - the outbox's directory, one per publisher.
 * @param options - `maxMessages`, `durability`.
 * @returns the open outbox.
 */
export function openOutbox(directory: string, options: OutboxOptions = {}): Outbox {
  return Outbox.open(directory, options);
}

function messageRecord(message: OutboxMessage): OutboxRecord {
  return {
    s: message.seq,
    t: message.topic,
    p: message.payload.toString('base64'),
    ...(message.mark === undefined ? {} : { m: message.mark }),
    ...(message.userProperties === undefined ? {} : { u: message.userProperties }),
  };
}

/** What `outbox.log` holds: its header's publisher id, the last sequence number and mark, the pending messages. */
function readLog(path: string): {
  publisher: string | undefined;
  last: number;
  mark: unknown;
  messages: OutboxMessage[];
} {
  const content = readFileSync(path);
  // After the last newline: a line the process died writing, never published.
  const complete = content.toString('utf8', 0, content.lastIndexOf(0x0a) + 1);
  let publisher: string | undefined;
  let last = 0;
  let mark: unknown;
  const messages = new Map<number, OutboxMessage>();
  const lines = complete.split('\n');
  lines.pop();
  for (let i = 0; i < lines.length; i++) {
    let record: OutboxRecord;
    try {
      record = JSON.parse(lines[i] as string) as OutboxRecord;
    } catch (error) {
      throw new Error(`the outbox ${path} is damaged at line ${i + 1}; move it away to start a new one`, {
        cause: error,
      });
    }
    if (record.publisher !== undefined) {
      publisher = record.publisher;
      last = Math.max(last, record.last ?? 0);
      if (record.m !== undefined) mark = record.m;
    } else if (record.s !== undefined && record.t !== undefined && record.p !== undefined) {
      messages.set(record.s, {
        seq: record.s,
        topic: record.t,
        payload: Buffer.from(record.p, 'base64'),
        mark: record.m,
        ...(record.u === undefined ? {} : { userProperties: record.u }),
      });
      last = Math.max(last, record.s);
      if (record.m !== undefined) mark = record.m;
    } else if (record.a !== undefined) messages.delete(record.a);
  }
  if (publisher === undefined && lines.length > 0)
    throw new Error(`the outbox ${path} has no header line; move it away to start a new one`);
  return { publisher, last, mark, messages: [...messages.values()].sort((a, b) => a.seq - b.seq) };
}
