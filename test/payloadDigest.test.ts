import { expect } from 'chai';
import fc from 'fast-check';
import { payloadDigest } from '../src/durable/recentDeliveries.js';

/** FNV-1a, 32 bits, in BigInt arithmetic: the definition, with no 32-bit tricks to get wrong. */
function fnv1a(bytes: Uint8Array): bigint {
  let hash = 0x811c9dc5n;
  for (const byte of bytes) hash = ((hash ^ BigInt(byte)) * 0x01000193n) % 2n ** 32n;
  return hash;
}

describe('payloadDigest', () => {
  it('is FNV-1a of the bytes plus the length times 2^32: the digests saved state directories hold', () => {
    // The published FNV-1a test vectors.
    expect(payloadDigest(Buffer.from(''))).to.equal(0x811c9dc5);
    expect(payloadDigest(Buffer.from('a'))).to.equal(2 ** 32 + 0xe40c292c);
    expect(payloadDigest(Buffer.from('foobar'))).to.equal(6 * 2 ** 32 + 0xbf9cf968);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        expect(payloadDigest(bytes)).to.equal(bytes.length * 2 ** 32 + Number(fnv1a(bytes)));
      }),
      { numRuns: 2_000 },
    );
  });

  it('counts the length modulo 2^20', () => {
    const bytes = new Uint8Array(2 ** 20 + 3);
    expect(Math.floor(payloadDigest(bytes) / 2 ** 32)).to.equal(3);
  });
});
