/**
 * `writeFully`: every byte of a buffer to a file descriptor, or an error.
 * @module
 */
import { writeSync } from 'node:fs';

/**
 * `write(2)` until all of `bytes` is written. A short write (the disk filled in the
 * middle) says how much it wrote: the rest is written again, and fails with the reason if
 * there is still no room. One that writes nothing throws EIO rather than looping without end.
 * @internal
 */
export function writeFully(descriptor: number, bytes: Uint8Array): void {
  for (let written = 0; written < bytes.length;) {
    const count = writeSync(descriptor, bytes, written, bytes.length - written);
    if (count <= 0) throw Object.assign(new Error('write(2) wrote nothing'), { code: 'EIO' });
    written += count;
  }
}
