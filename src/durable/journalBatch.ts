/**
 * The journal lines appended and not yet written, as bytes.
 * @module
 */

const NEWLINE = 0x0a;
const DOUBLE_QUOTE = 0x22;
const BACKSLASH = 0x5c;
const ZERO = 0x30;
const MINUS = 0x2d;
/** Below it a character is written as itself by JSON, from space on (bar `"` and `\`). */
const DELETE = 0x7f;
const SPACE = 0x20;
/** Texts copied character by character (longer ones by `Buffer.write`). */
const SHORT_TEXT = 16;
const INITIAL_BYTES = 64 * 1024;
const LARGEST_KEPT = 1024 * 1024;
/** Digits of the largest safe integer, 2^53 - 1. */
const MAX_DIGITS = 16;
const BILLION = 1_000_000_000;
const POWERS_OF_TEN = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000, 100_000_000];

/**
 * Journal lines appended and not yet written, as UTF-8 in one buffer that serves batch
 * after batch. Numbers are written digit by digit: a number made text (`String(n)`, a
 * template) stays in V8's number-string cache, which carried each of the 4–6 numbers of
 * every line through the young generation's collections into the old one (issue 24).
 * @internal
 */
export class JournalBatch {
  private buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  private used = 0;

  /** Bytes appended. */
  get length(): number {
    return this.used;
  }

  /** The bytes appended: a view, valid until the next change. */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.used);
  }

  clear(): void {
    this.used = 0;
    // One huge batch (durability 'power' reading a backlog) does not keep its buffer.
    if (this.buffer.length > LARGEST_KEPT) this.buffer = Buffer.allocUnsafe(INITIAL_BYTES);
  }

  /** Drops what was appended after the batch was `length` bytes long. */
  truncate(length: number): void {
    if (length < this.used) this.used = length;
  }

  /** `text` as UTF-8. */
  text(text: string): void {
    this.room(text.length * 3);
    // A few ASCII characters (a field's name) cost less copied here than by a call into C++.
    if (text.length <= SHORT_TEXT) {
      const buffer = this.buffer;
      const start = this.used;
      for (let i = 0; i < text.length; i++) {
        const code = text.charCodeAt(i);
        if (code >= DELETE) {
          this.used = start + buffer.write(text, start, 'utf8');
          return;
        }
        buffer[start + i] = code;
      }
      this.used = start + text.length;
      return;
    }
    this.used += this.buffer.write(text, this.used, 'utf8');
  }

  /** Ends a line. */
  newline(): void {
    this.ascii(NEWLINE);
  }

  /** One ASCII character, by its code. */
  ascii(code: number): void {
    this.room(1);
    this.buffer[this.used++] = code;
  }

  /** `value` as `JSON.stringify` writes it (`null` when not finite). */
  number(value: number): void {
    if (!Number.isSafeInteger(value)) {
      this.text(Number.isFinite(value) ? String(value) : 'null');
      return;
    }
    this.room(MAX_DIGITS + 1);
    let rest = value;
    if (rest < 0) {
      this.buffer[this.used++] = MINUS;
      rest = -rest;
    }
    // In two parts below a billion each: digits of a small integer are integer
    // arithmetic, while `%` of a 13-digit arrival time is a floating-point call.
    if (rest < BILLION) {
      this.digits(rest, 1);
      return;
    }
    const high = Math.floor(rest / BILLION);
    this.digits(high, 1);
    this.digits(rest - high * BILLION, 9);
  }

  /** `value` (a whole number below a billion) in decimal, with leading zeros to `width` digits. */
  private digits(value: number, width: number): void {
    let count = 1;
    while (count < 9 && value >= POWERS_OF_TEN[count]!) count++;
    if (count < width) count = width;
    let rest = value | 0;
    const buffer = this.buffer;
    const start = this.used;
    const end = start + count;
    for (let at = end - 1; at >= start; at--) {
      const tenth = (rest / 10) | 0;
      buffer[at] = ZERO + rest - tenth * 10;
      rest = tenth;
    }
    this.used = end;
  }

  /** `value` as `JSON.stringify` writes it: quoted, escaped where JSON must. */
  string(value: string): void {
    this.room(value.length + 2);
    const buffer = this.buffer;
    const start = this.used;
    buffer[start] = DOUBLE_QUOTE;
    for (let i = 0; i < value.length; i++) {
      const code = value.charCodeAt(i);
      if (code < SPACE || code >= DELETE || code === DOUBLE_QUOTE || code === BACKSLASH) {
        this.text(JSON.stringify(value));
        return;
      }
      buffer[start + 1 + i] = code;
    }
    buffer[start + 1 + value.length] = DOUBLE_QUOTE;
    this.used = start + value.length + 2;
  }

  /** Makes room for `bytes` more. */
  private room(bytes: number): void {
    if (this.used + bytes <= this.buffer.length) return;
    const larger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.used + bytes));
    this.buffer.copy(larger, 0, 0, this.used);
    this.buffer = larger;
  }
}
