/**
 * One process a directory (a state directory, an outbox): a lock file holding the
 * owner's pid, taken over when that process has died.
 * @module
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const LOCK = 'lock';

/** What a refusal says, in the words of the directory's owner. @internal */
export interface DirectoryLockMessages {
  /** This process holds the lock already (a second operator on one directory). */
  readonly inUseHere: string;
  /** A running process `holder` holds it. */
  readonly inUseBy: (holder: number) => string;
  /** It could not be taken (it came back twice). */
  readonly cannotLock: string;
}

/** Lock files taken by this process: a second taker in it is refused too. */
const lockedHere = new Set<string>();

/** Takes `directory`'s lock, or throws an Error with one of `messages`. @internal */
export function takeDirectoryLock(directory: string, messages: DirectoryLockMessages): void {
  const path = join(directory, LOCK);
  if (lockedHere.has(path)) throw new Error(messages.inUseHere);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      lockedHere.add(path);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number(readFileSync(path, 'utf8'));
    // An empty lock (a full disk took its pid) names no process: 0 would be this process group.
    if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder))
      throw new Error(messages.inUseBy(holder));
    // Left by a process that died (or by this one, not closed): take it over.
    unlinkSync(path);
  }
  throw new Error(messages.cannotLock);
}

/** Releases `directory`'s lock if this process took it. Safe to call twice. @internal */
export function releaseDirectoryLock(directory: string): void {
  const path = join(directory, LOCK);
  if (!lockedHere.delete(path)) return;
  try {
    if (Number(readFileSync(path, 'utf8')) === process.pid) unlinkSync(path);
  } catch {
    // Already gone: nothing to release.
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
