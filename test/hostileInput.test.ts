// Hostile payloads: nothing a publisher sends can throw out of decodeIotPayloadBytes,
// decodeIotPayload or any onReject path, make a reason or a reported input unbounded,
// or make a payload over the size limit cost more than its own buffer. The cases
// that once killed or flooded the aggregator (an 8 KB payload nested 5,000 deep, a
// 16 MiB object, a 250 MiB message) are here by name; fast-check covers the rest.
import { expect } from 'chai';
import fc from 'fast-check';
import { Subject, type Subscription } from 'rxjs';
import {
  RejectionError,
  decodeIotPayload,
  decodeIotPayloadBytes,
  encodeIotPayload,
  makeIotPayload,
  parseAccessLog,
  warnOnReject,
  windowedCount,
  type MqttMessage,
  type Rejection,
} from '../src/index.js';
import { reject } from '../src/reject.js';
import { captureStderrSync } from './support/captureStderr.js';

const MiB = 1024 * 1024;
/** Longest reason decodeIotPayloadBytes gives: its longest sentence describes two fields, each in about 150 characters. */
const MAX_DECODE_REASON = 400;
/** What reject() hands over at most: 500 characters, then `… (N more characters)`. */
const MAX_REASON = 500 + '… (999999999 more characters)'.length;
const MAX_INPUT = 1000 + '… (999999999 more characters)'.length;
/** One warnOnReject line: prefix, kind, the bounded reason, the repeat count. */
const MAX_WARNING_LINE = 700;

const message = (payload: Buffer | string, topic = 'rupesh/gpiotopic'): MqttMessage =>
  ({
    topic,
    payload: Buffer.from(payload),
    qos: 1,
    retain: false,
    dup: false,
    messageId: 1,
    properties: {},
    ack: () => undefined,
  }) as unknown as MqttMessage;

/** Nesting `depth` deep: arrays, objects or a mix, closed or cut off. */
function nested(depth: number, shape: 'array' | 'object' | 'mixed', closed: boolean): string {
  const open = (i: number) => (shape === 'array' || (shape === 'mixed' && i % 2 === 0) ? '[' : '{"a":');
  const close = (i: number) => (shape === 'array' || (shape === 'mixed' && i % 2 === 0) ? ']' : '}');
  let head = '';
  let tail = '';
  for (let i = 0; i < depth; i++) {
    head += open(i);
    tail = close(i) + tail;
  }
  return closed ? `${head}1${tail}` : head;
}

/** Where a hostile piece goes: the whole payload or one field of an otherwise good one. */
function placed(piece: string, where: 'top' | 'iottimestamp' | 'accesslogs' | 'extra'): string {
  if (where === 'top') return piece;
  const good: Record<string, string> = {
    iottimestamp: '"2020-07-01 12:34:56.789012"',
    accesslogs: '"127.0.0.1 - - [01/Jul/2020:12:34:56 +0000] \\"GET / HTTP/1.1\\" 200 5"',
  };
  if (where !== 'extra') good[where] = piece;
  return `{"iottimestamp": ${good['iottimestamp']}, "accesslogs": ${good['accesslogs']}${where === 'extra' ? `, "extra": ${piece}` : ''}}`;
}

const deepPayloads = fc
  .tuple(
    fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 100_000 }), fc.constant(100_000)),
    fc.constantFrom('array' as const, 'object' as const, 'mixed' as const),
    fc.boolean(),
    fc.constantFrom('top' as const, 'iottimestamp' as const, 'accesslogs' as const, 'extra' as const),
  )
  .map(([depth, shape, closed, where]) => placed(nested(depth, shape, closed), where));

/** Valid-looking payloads with one thing wrong, or right: types, prototypes, encodings. */
const trickyPayloads = fc.oneof(
  fc.uint8Array({ maxLength: 4096 }).map((bytes) => Buffer.from(bytes)),
  fc.json({ maxDepth: 10 }),
  fc
    .record({ iottimestamp: fc.anything(), accesslogs: fc.anything() })
    .map((value) => JSON.stringify(value) ?? 'undefined'),
  fc
    .tuple(
      fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty'),
      fc.json({ maxDepth: 3 }),
    )
    .map(([key, value]) => `{"${key}": ${value}, "iottimestamp": "2020-07-01 12:34:56", "accesslogs": "x"}`),
  fc.constantFrom(
    '{"__proto__": {"iottimestamp": "2020-07-01 12:34:56", "accesslogs": "x"}}',
    '{"iottimestamp": 1e400, "accesslogs": -0}',
    '{"iottimestamp": "2020-07-01 12:34:56", "accesslogs": "\\ud800"}',
    '\uFEFF{}',
    '{"a":1,"a":2}',
    '',
  ),
  // Invalid UTF-8 (lone continuation bytes, overlong forms, surrogates) inside a good payload.
  fc
    .tuple(fc.constantFrom([0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xff]), fc.nat())
    .map(([bad, at]) => {
      const good = Buffer.from(encodeIotPayload(makeIotPayload('line', new Date(0))));
      const cut = at % (good.length + 1);
      return Buffer.concat([good.subarray(0, cut), Buffer.from(bad), good.subarray(cut)]);
    }),
);

const hugeStrings = fc
  .tuple(
    fc.integer({ min: 64 * 1024, max: 2 * MiB }),
    fc.constantFrom('top' as const, 'iottimestamp' as const, 'accesslogs' as const, 'extra' as const),
    fc.constantFrom('x', '\\n', '\\u001b', 'é'),
  )
  .map(([length, where, unit]) => placed(`"${unit.repeat(Math.ceil(length / unit.length))}"`, where));

function expectBoundedResult(result: ReturnType<typeof decodeIotPayloadBytes>): void {
  expect(['Left', 'Right']).to.include(result._tag);
  if (result._tag === 'Left') {
    expect(result.left).to.be.a('string').and.not.equal('');
    expect(result.left.length, result.left.slice(0, 200)).to.be.at.most(MAX_DECODE_REASON);
  }
}

function expectBoundedWarnings(stderr: string): void {
  expect(stderr === '' || stderr.endsWith('\n')).to.equal(true);
  for (const line of stderr.split('\n').slice(0, -1)) {
    expect(line.startsWith('mqtt-iot-stream: '), line.slice(0, 100)).to.equal(true);
    expect(line.length, line.slice(0, 100)).to.be.at.most(MAX_WARNING_LINE);
  }
}

describe('decodeIotPayloadBytes under hostile input', () => {
  it("refuses the 8 KB payload nested 5,000 deep that overflowed the stack in io-ts's error rendering", () => {
    const result = decodeIotPayloadBytes(Buffer.from('['.repeat(5000) + ']'.repeat(5000)));
    expect(result).to.deep.equal({
      _tag: 'Left',
      left: 'payload is not a JSON object {"iottimestamp": …, "accesslogs": …}: got an array of 1 item',
    });
  });

  it('refuses nesting 100,000 deep in the top level and in each field, with a short reason', () => {
    const deep = nested(100_000, 'mixed', true);
    expect(decodeIotPayloadBytes(deep, { maxPayloadBytes: Infinity })).to.deep.equal({
      _tag: 'Left',
      left: 'payload is not a JSON object {"iottimestamp": …, "accesslogs": …}: got an array of 1 item',
    });
    expect(decodeIotPayloadBytes(placed(deep, 'iottimestamp'), { maxPayloadBytes: Infinity })).to.deep.equal({
      _tag: 'Left',
      left: 'iottimestamp: expected a timestamp string, got an array of 1 item',
    });
    expect(
      decodeIotPayloadBytes(placed(nested(100_000, 'object', true), 'accesslogs'), { maxPayloadBytes: Infinity }),
    ).to.deep.equal({
      _tag: 'Left',
      left: 'accesslogs: expected a string (one access-log line), got an object',
    });
    // Deep junk in a field the codec does not read is ignored, as every extra field is.
    expect(decodeIotPayloadBytes(placed(deep, 'extra'), { maxPayloadBytes: Infinity })._tag).to.equal('Right');
  });

  it('never throws and keeps the reason short for any nesting up to 100,000 deep, anywhere', () => {
    fc.assert(
      fc.property(deepPayloads, (payload) => {
        expectBoundedResult(decodeIotPayloadBytes(payload, { maxPayloadBytes: Infinity }));
        expectBoundedResult(decodeIotPayloadBytes(Buffer.from(payload)));
      }),
      { numRuns: 200, seed: 20_200_701 },
    );
  });

  it('never throws and keeps the reason short for random bytes, wrong types, prototype keys and invalid UTF-8', () => {
    fc.assert(
      fc.property(trickyPayloads, (payload) => {
        expectBoundedResult(decodeIotPayloadBytes(payload));
      }),
      { numRuns: 5000, seed: 20_200_701 },
    );
  });

  it('reads a "__proto__" key as a plain field: it never sets the payload\'s prototype', () => {
    const hidden = decodeIotPayloadBytes('{"__proto__": {"iottimestamp": "2020-07-01 12:34:56", "accesslogs": "x"}}');
    expect(hidden._tag).to.equal('Left');
    const extra = decodeIotPayloadBytes(
      '{"__proto__": {"polluted": 1}, "iottimestamp": "2020-07-01 12:34:56", "accesslogs": "x"}',
    );
    expect(extra._tag).to.equal('Right');
    if (extra._tag === 'Right') expect(Object.getPrototypeOf(extra.right)).to.equal(Object.prototype);
    expect(({} as Record<string, unknown>)['polluted']).to.equal(undefined);
  });

  it('never throws and keeps the reason short for strings up to 2 MiB anywhere, read whole', () => {
    fc.assert(
      fc.property(hugeStrings, (payload) => {
        expectBoundedResult(decodeIotPayloadBytes(payload, { maxPayloadBytes: Infinity }));
      }),
      { numRuns: 40, seed: 20_200_701 },
    );
  });

  it('describes a 16 MiB string in a field in a short reason, and decodes a 16 MiB line when the limit allows it', () => {
    const huge = 'x'.repeat(16 * MiB);
    const asTimestamp = decodeIotPayloadBytes(JSON.stringify({ iottimestamp: huge, accesslogs: 'x' }), {
      maxPayloadBytes: Infinity,
    });
    expect(asTimestamp).to.deep.equal({
      _tag: 'Left',
      left: `iottimestamp: "${'x'.repeat(60)}"… (a string of 16777216 characters) is not a timestamp like "2020-07-01 12:34:56.789012" or ISO 8601`,
    });
    const asTopLevel = decodeIotPayloadBytes(JSON.stringify(huge), { maxPayloadBytes: Infinity });
    expect(asTopLevel._tag === 'Left' && asTopLevel.left.length).to.be.within(1, MAX_DECODE_REASON);
    const asLine = decodeIotPayloadBytes(JSON.stringify({ iottimestamp: '2020-07-01 12:34:56', accesslogs: huge }), {
      maxPayloadBytes: Infinity,
    });
    expect(asLine._tag === 'Right' && asLine.right.accesslogs.length).to.equal(16 * MiB);
  });

  it('refuses a payload over maxPayloadBytes (default 1 MiB) by its size, without JSON.parse ever seeing it', () => {
    const parse = JSON.parse;
    let parsed = 0;
    JSON.parse = ((...args: Parameters<typeof JSON.parse>) => {
      parsed++;
      return parse(...args);
    }) as typeof JSON.parse;
    try {
      const limit = Buffer.from(encodeIotPayload(makeIotPayload('x'.repeat(MiB - 100), new Date(0))));
      expect(limit.length).to.be.at.most(MiB);
      expect(decodeIotPayloadBytes(limit)._tag).to.equal('Right');
      expect(parsed).to.equal(1);
      parsed = 0;
      expect(decodeIotPayloadBytes(Buffer.alloc(MiB + 1, 0x5b))).to.deep.equal({
        _tag: 'Left',
        left: 'payload is 1,048,577 bytes, more than the 1,048,576 allowed (maxPayloadBytes); not parsed',
      });
      expect(decodeIotPayloadBytes('é'.repeat(MiB / 2 + 1))).to.deep.equal({
        _tag: 'Left',
        left: 'payload is 1,048,578 bytes, more than the 1,048,576 allowed (maxPayloadBytes); not parsed',
      });
      expect(
        decodeIotPayloadBytes(encodeIotPayload(makeIotPayload('x'.repeat(200), new Date(0))), { maxPayloadBytes: 100 }),
      ).to.deep.include({ _tag: 'Left' });
      expect(parsed).to.equal(0);
    } finally {
      JSON.parse = parse;
    }
  });

  it('refusing a 64 MiB message costs no memory beyond its own buffer', () => {
    const payload = Buffer.alloc(64 * MiB, 0x20);
    payload.write('{"iottimestamp": "2020-07-01 12:34:56", "accesslogs": "');
    const before = process.memoryUsage();
    const started = performance.now();
    const result = decodeIotPayloadBytes(payload);
    const tookMs = performance.now() - started;
    const after = process.memoryUsage();
    expect(result._tag).to.equal('Left');
    expect(tookMs).to.be.below(50);
    expect(after.heapUsed - before.heapUsed).to.be.below(4 * MiB);
    expect(after.rss - before.rss).to.be.below(16 * MiB);
  });

  it('refuses a bad maxPayloadBytes with a RangeError naming the option', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => decodeIotPayloadBytes('{}', { maxPayloadBytes: bad })).to.throw(
        RangeError,
        /decodeIotPayloadBytes: maxPayloadBytes must be an integer ≥ 1 or Infinity/,
      );
      expect(() => decodeIotPayload({ maxPayloadBytes: bad })).to.throw(
        RangeError,
        /decodeIotPayload: maxPayloadBytes/,
      );
    }
  });
});

describe('reject() keeps every rejection readable', () => {
  it('cuts a 16 MiB reason to 500 characters and a 16 MiB string input to 1,000, saying how much was cut', () => {
    const seen: Rejection<string>[] = [];
    const huge = 'y'.repeat(16 * MiB);
    reject<string>(
      { onReject: (r) => seen.push(r) },
      { operator: 'test', kind: 'line', reason: `bad: ${huge}`, input: huge },
    );
    expect(seen).to.have.length(1);
    expect(seen[0]!.reason).to.equal(`bad: ${'y'.repeat(495)}… (${16 * MiB - 495} more characters)`);
    expect(seen[0]!.input).to.equal(`${'y'.repeat(1000)}… (${16 * MiB - 1000} more characters)`);
    // Short ones and non-string inputs are handed over untouched.
    const input = { line: huge };
    const objects: Rejection<{ line: string }>[] = [];
    reject({ onReject: (r) => objects.push(r) }, { operator: 'test', kind: 'line', reason: 'short', input });
    expect(objects[0]).to.deep.equal({ operator: 'test', kind: 'line', reason: 'short', input });
    expect(objects[0]!.input).to.equal(input);
  });

  it('never splits a surrogate pair when cutting', () => {
    const seen: Rejection<string>[] = [];
    reject<string>(
      { onReject: (r) => seen.push(r) },
      { operator: 'test', kind: 'line', reason: `${'a'.repeat(499)}😀tail`, input: '' },
    );
    expect(seen[0]!.reason).to.equal(`${'a'.repeat(499)}… (6 more characters)`);
  });

  it('strict: the RejectionError carries the cut reason, so its message is bounded too', () => {
    const huge = 'z'.repeat(MiB);
    let error: unknown;
    try {
      reject({ strict: true }, { operator: 'test', kind: 'payload', reason: huge, input: huge });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(RejectionError);
    expect((error as RejectionError).message.length).to.be.at.most(MAX_REASON + 30);
    expect(((error as RejectionError).rejection.input as string).length).to.be.at.most(MAX_INPUT);
  });

  it('warnOnReject writes one line of bounded length for any reason: line breaks, escapes, 16 MiB', () => {
    const reasons = [
      `two\nlines\r\nand \u001b[31mred\u001b[0m and \u2028 and \u0085`,
      'q'.repeat(16 * MiB),
      '\n'.repeat(MiB),
    ];
    const stderr = captureStderrSync(() => {
      for (const reason of reasons) {
        // A kind of its own each time: warnOnReject prints the first of each kind.
        warnOnReject({
          operator: 'test',
          kind: `hostile-${Math.random()}` as Rejection['kind'],
          reason,
          input: reason,
        });
      }
    });
    expect(stderr.split('\n')).to.have.length(reasons.length + 1);
    expectBoundedWarnings(stderr);
    expect(stderr).to.include('two␊lines␍␊and ␛[31mred␛[0m and � and �');
    expect(stderr).not.to.include('\u001b');
  });

  it('never throws for any reason and input, and hands over bounded ones', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 2000 }),
          fc.integer({ min: 0, max: 100_000 }).map((n) => '\n\u001b'.repeat(n)),
        ),
        fc.anything(),
        (reason, input) => {
          const seen: Rejection[] = [];
          reject({ onReject: (r) => seen.push(r) }, { operator: 'test', kind: 'payload', reason, input });
          expect(seen).to.have.length(1);
          expect(seen[0]!.reason.length).to.be.at.most(MAX_REASON);
          if (typeof input === 'string') expect((seen[0]!.input as string).length).to.be.at.most(MAX_INPUT);
          else expect(seen[0]!.input).to.equal(input);
          const stderr = captureStderrSync(() =>
            warnOnReject({ operator: 'test', kind: `fuzz-${Math.random()}` as Rejection['kind'], reason, input }),
          );
          expectBoundedWarnings(stderr);
          expect(stderr.split('\n')).to.have.length(2);
        },
      ),
      { numRuns: 1000, seed: 20_200_701 },
    );
  });
});

describe('decodeIotPayload → parseAccessLog → windowedCount under hostile messages', function () {
  this.timeout(120_000);

  /** Every hostile payload kind, with good messages in between. */
  const hostile = fc.oneof(
    deepPayloads,
    trickyPayloads,
    fc.integer({ min: 64 * 1024, max: 3 * MiB }).map((size) => placed(`"${'w'.repeat(size)}"`, 'accesslogs')),
    fc.constantFrom(
      // A line of junk as long as the limit allows, and a line full of terminal escapes.
      encodeIotPayload(makeIotPayload('\u001b[2J'.repeat(100_000), new Date(0))),
      encodeIotPayload(makeIotPayload('1.2.3.4 - - [' + '['.repeat(500_000), new Date(0))),
      encodeIotPayload(makeIotPayload('not a log line\n'.repeat(50_000), new Date(0))),
    ),
  );
  const good = (i: number) =>
    encodeIotPayload(
      makeIotPayload(
        `10.0.0.${i % 250} - - [01/Jul/2020:12:00:${String(i % 60).padStart(2, '0')} +0000] "GET /${i} HTTP/1.1" 200 ${i}`,
        new Date(Date.UTC(2020, 6, 1, 12, 0, i % 60)),
      ),
    );

  function run(
    payloads: Array<string | Buffer>,
    withOnReject: boolean,
  ): { rejections: Rejection[]; counted: number; stderr: string; ended: boolean } {
    const source = new Subject<MqttMessage>();
    const rejections: Rejection[] = [];
    const collect = withOnReject
      ? {
          onReject: (r: Rejection) => {
            rejections.push(r);
          },
        }
      : {};
    let counted = 0;
    let ended = false;
    let subscription: Subscription | undefined;
    const stderr = captureStderrSync(() => {
      subscription = source
        .pipe(
          decodeIotPayload(collect),
          parseAccessLog({ line: (d) => d.payload.accesslogs, ...collect }),
          windowedCount({
            eventTime: ({ record }) => record.time,
            key: ({ record }) => record.status,
            windowDuration: '1 minute',
            watermarkDelay: '2 minutes',
            outputMode: 'append',
            ...collect,
          }),
        )
        .subscribe({
          next: (row) => {
            counted += row.count;
          },
          error: () => {
            ended = true;
          },
          complete: () => {
            ended = true;
          },
        });
      for (const payload of payloads) source.next(message(payload));
      source.complete();
    });
    subscription?.unsubscribe();
    return { rejections, counted, stderr, ended };
  }

  it('accounts for every message (counted or rejected with a bounded reason), with onReject or the default stderr reporter', () => {
    fc.assert(
      fc.property(fc.array(hostile, { minLength: 1, maxLength: 8 }), (bad) => {
        const payloads = bad.flatMap((payload, i) => [payload, good(i)]);
        const withCallback = run(payloads, true);
        expect(withCallback.ended, 'the stream completed (flushing its windows) rather than erroring').to.equal(true);
        // One event per message: counted in its window, or rejected once (payload, line, late).
        expect(withCallback.counted + withCallback.rejections.length).to.equal(payloads.length);
        for (const rejection of withCallback.rejections) {
          expect(rejection.reason.length).to.be.at.most(MAX_REASON);
          if (typeof rejection.input === 'string') expect(rejection.input.length).to.be.at.most(MAX_INPUT);
        }
        expect(withCallback.stderr).to.equal('');

        const withDefault = run(payloads, false);
        expect(withDefault.counted).to.equal(withCallback.counted);
        expectBoundedWarnings(withDefault.stderr);
      }),
      { numRuns: 60, seed: 20_200_701 },
    );
  });

  it('the 16 MiB object that printed a 16 MiB reason: a short reason when parsed, refused unread by default', () => {
    const huge = JSON.stringify({ iottimestamp: 'x'.repeat(16 * MiB), accesslogs: 'y' });
    const reasons = (options: { maxPayloadBytes?: number }): string[] => {
      const rejections: Rejection[] = [];
      const source = new Subject<MqttMessage>();
      const subscription = source
        .pipe(decodeIotPayload({ ...options, onReject: (r) => rejections.push(r) }))
        .subscribe();
      source.next(message(huge));
      subscription.unsubscribe();
      return rejections.map((r) => r.reason);
    };
    const parsed = reasons({ maxPayloadBytes: 32 * MiB });
    expect(parsed).to.have.length(1);
    expect(parsed[0]).to.match(
      /^message on "rupesh\/gpiotopic": iottimestamp: "x{60}"… \(a string of 16777216 characters\) is not a timestamp/,
    );
    expect(parsed[0]!.length).to.be.at.most(MAX_DECODE_REASON);
    expect(Buffer.byteLength(huge)).to.equal(16_777_252);
    expect(reasons({})).to.deep.equal([
      'message on "rupesh/gpiotopic": payload is 16,777,252 bytes, more than the 1,048,576 allowed (maxPayloadBytes); not parsed',
    ]);
  });
});
