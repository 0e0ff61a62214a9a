import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Base64Bytes, writeJsonWithBytes } from '../src/durable/jsonWithBytes.js';

describe('writeJsonWithBytes', () => {
  let directory: string;
  beforeEach(() => (directory = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-json-bytes-'))));
  afterEach(() => rmSync(directory, { recursive: true, force: true }));

  it('writes what JSON.stringify writes, each Base64Bytes as its base64 string, whatever its length', () => {
    // Around the 48 KiB pieces it is encoded in, and a checkpoint's 512 KB table.
    for (const length of [0, 1, 2, 3, 4, 49_151, 49_152, 49_153, 98_305, 524_288]) {
      const bytes = randomBytes(length);
      const other = randomBytes(5);
      const path = join(directory, `${length}.json`);
      const rest = { text: 'é "quoted" \\ \u2028', nested: [1, null, { deeper: true }] };
      writeJsonWithBytes(path, {
        sequence: length,
        deliveries: new Base64Bytes(bytes),
        rest,
        more: [new Base64Bytes(other)],
      });
      const expected = JSON.stringify({
        sequence: length,
        deliveries: bytes.toString('base64'),
        rest,
        more: [other.toString('base64')],
      });
      expect(readFileSync(path, 'utf8') === expected).to.equal(true, `${length} bytes`);
    }
  });

  it('writes a view of part of a buffer as just that part', () => {
    const whole = randomBytes(1_000);
    const part = new Uint8Array(whole.buffer, whole.byteOffset + 100, 300);
    const path = join(directory, 'part.json');
    writeJsonWithBytes(path, { part: new Base64Bytes(part) });
    expect(JSON.parse(readFileSync(path, 'utf8'))).to.deep.equal({ part: whole.subarray(100, 400).toString('base64') });
  });

  it('replaces a file that was there, and throws when the file cannot be written', () => {
    const path = join(directory, 'checkpoint.json');
    writeJsonWithBytes(path, { long: 'x'.repeat(10_000) });
    writeJsonWithBytes(path, { short: new Base64Bytes(Buffer.from('hi')) });
    expect(readFileSync(path, 'utf8')).to.equal('{"short":"aGk="}');
    expect(() => writeJsonWithBytes(join(directory, 'missing', 'x.json'), {})).to.throw(/ENOENT/);
  });
});
