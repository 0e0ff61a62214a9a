// The aggregator's MQTT client id: the name of its persistent session at the broker,
// which holds the messages published while it is away and those it has not
// acknowledged yet. --client-id when given; otherwise mqtt-iot-stream-aggregator-<id>
// with --aggregator-id (ids are one per aggregator already: they key its rows);
// otherwise an id kept in the state directory, made there once from the host name and a
// random suffix. So two aggregators started without an id on two hosts (each with its
// own state) no longer take each other's session, and a restart on the same state
// directory keeps its session: the session and the saved windows go together, as the
// messages the one holds unacknowledged are the ones the other has not counted yet.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { syncPath } from '../internal/syncPath.js';

/** The client id before this one was kept, and the start of every default one. */
export const CLIENT_ID_PREFIX = 'mqtt-iot-stream-aggregator';

/** The file in the state directory that keeps the default client id. */
export const CLIENT_ID_FILE = 'mqtt-client-id';

// What the durable counter writes in its state directory (src/durable/stateFiles.ts):
// either means that an earlier run counted there.
const SAVED_STATE = ['checkpoint.json', 'journal.log'];

/** The client id an aggregator connects with, as the flags and its state directory say. */
export function sessionClientId(options: {
  readonly clientId: string | undefined;
  readonly aggregatorId: string;
  readonly stateDirectory: string;
}): string {
  if (options.clientId !== undefined) return options.clientId;
  if (options.aggregatorId !== '') return `${CLIENT_ID_PREFIX}-${options.aggregatorId}`;
  try {
    return keptClientId(options.stateDirectory);
  } catch (error) {
    throw new Error(
      `cannot keep this aggregator's MQTT client id in ${join(options.stateDirectory, CLIENT_ID_FILE)}: ` +
        `${(error as Error).message}; give a --state-dir it can write, or --client-id`,
      { cause: error },
    );
  }
}

/**
 * The id kept in `directory`, made and kept on the first start. A directory where an
 * earlier version counted (saved windows, no id kept) keeps that version's default,
 * whose session at the broker holds that aggregator's messages.
 */
function keptClientId(directory: string): string {
  const path = join(directory, CLIENT_ID_FILE);
  const kept = readKept(path);
  if (kept !== undefined) return kept;
  const counted = SAVED_STATE.some((file) => existsSync(join(directory, file)));
  const id = counted ? CLIENT_ID_PREFIX : `${CLIENT_ID_PREFIX}-${hostPart()}-${randomBytes(3).toString('hex')}`;
  mkdirSync(directory, { recursive: true });
  // Written beside, synced, then linked into place: the file appears whole or not at
  // all, also after a power loss (a journal without its id would be read as an earlier
  // version's), and of two aggregators starting at once on a new directory one id wins
  // (the other is then refused the directory, which the first has locked).
  const temporary = `${path}.${process.pid}.tmp`;
  const descriptor = openSync(temporary, 'w');
  try {
    writeSync(descriptor, `${id}\n`);
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  syncPath(directory);
  return readKept(path) ?? id;
}

function readKept(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const id = readFileSync(path, 'utf8').trim();
  return id === '' ? undefined : id;
}

/** The host name as a client id may carry it: letters, digits and dashes, at most 24. */
function hostPart(): string {
  const part = hostname()
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, 24)
    .replace(/^-+|-+$/g, '');
  return part === '' ? 'host' : part;
}
