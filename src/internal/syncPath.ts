/**
 * `fsync` of a file or a directory by its path.
 * @module
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';

/**
 * Waits until the disk holds `path`: a file's content, or a directory's entries (a file
 * renamed into it survives a power loss only once its directory is synced). @internal
 */
export function syncPath(path: string): void {
  const descriptor = openSync(path, 'r');
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}
