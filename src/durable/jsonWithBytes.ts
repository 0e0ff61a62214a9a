/**
 * Writing a checkpoint's JSON whose bulk is bytes, without building it as one string.
 * @module
 */
import { closeSync, openSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { writeFully } from '../internal/writeFully.js';

/**
 * Bytes that {@link writeJsonWithBytes} writes as a base64 string. Read back, the file
 * holds an ordinary string: `Buffer.from(text, 'base64')` gives the bytes.
 * @internal
 */
export class Base64Bytes {
  constructor(readonly bytes: Uint8Array) {}
}

/** Stands for one {@link Base64Bytes} in the JSON text; unguessable, so no key or value can be it. */
const PLACEHOLDER = `\u0000base64-${randomBytes(12).toString('hex')}`;
const QUOTED_PLACEHOLDER = JSON.stringify(PLACEHOLDER);
/** Bytes encoded at a time: a multiple of 3, so the pieces join into one base64 text; 64 KiB of text each. */
const PIECE = 49_152;

/**
 * Writes `value` as JSON to the file `path` (created or emptied), as `JSON.stringify`
 * would, with each {@link Base64Bytes} in it as a base64 string. The bytes are encoded
 * and written 48 KiB at a time: a checkpoint's 512 KB of packet digests as one string
 * was 700 KB of text twice (encoded, then within the JSON) and a UTF-8 copy of it all
 * for the write, at every checkpoint; without them a 200,000-message drain peaked at
 * 122–123 MiB instead of 130–132 (issue 24).
 * @internal
 */
export function writeJsonWithBytes(path: string, value: unknown): void {
  const bulk: Uint8Array[] = [];
  const text = JSON.stringify(value, (_key, field: unknown) => {
    if (!(field instanceof Base64Bytes)) return field;
    bulk.push(field.bytes);
    return PLACEHOLDER;
  });
  const texts = text.split(QUOTED_PLACEHOLDER);
  const descriptor = openSync(path, 'w');
  try {
    texts.forEach((piece, i) => {
      writeFully(descriptor, Buffer.from(piece, 'utf8'));
      const bytes = bulk[i];
      if (bytes === undefined) return;
      writeFully(descriptor, Buffer.from('"'));
      const all = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let start = 0; start < all.length; start += PIECE)
        writeFully(descriptor, Buffer.from(all.subarray(start, start + PIECE).toString('base64'), 'latin1'));
      writeFully(descriptor, Buffer.from('"'));
    });
  } finally {
    closeSync(descriptor);
  }
}
