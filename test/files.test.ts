import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject, lastValueFrom, of, toArray } from 'rxjs';
import { NextLineState, nextLine } from '../src/index.js';
import { corpusLines, corpusPath } from './support/corpora.js';

describe('NextLineState and nextLine', () => {
  let dir: string;
  const file = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'line-cursor-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('gives lines in order without endings, skips empty ones, and loops by default', () => {
    const cursor = new NextLineState(file('a.log', 'one\r\ntwo\n\nthree'), { chunkSize: 4 });
    expect([1, 2, 3, 4, 5].map(() => cursor.next())).to.deep.equal(['one', 'two', 'three', 'one', 'two']);
    cursor.close();
    expect(() => cursor.next()).to.throw(/^NextLineState: the cursor over .*a\.log is closed$/);
  });

  it('returns undefined at the end without loop, and for an empty file even with loop', () => {
    const once = new NextLineState(file('b.log', 'x\n'), { loop: false });
    expect([once.next(), once.next()]).to.deep.equal(['x', undefined]);
    const empty = new NextLineState(file('c.log', '\n\n'));
    expect(empty.next()).to.equal(undefined);
    once.close();
    empty.close();
  });

  it('keeps UTF-8 characters whole across chunk boundaries', () => {
    const cursor = new NextLineState(file('d.log', 'héllo wörld ☃\nnext\n'), { chunkSize: 3 });
    expect([cursor.next(), cursor.next()]).to.deep.equal(['héllo wörld ☃', 'next']);
    cursor.close();
  });

  it('tells the byte offset after each line, and starts at a saved offset, whatever the text holds', () => {
    // ASCII, UTF-8, an invalid byte, CRLF, empty lines: offsets are bytes of the file.
    const bytes = Buffer.concat([
      Buffer.from('one\r\n\nhé☃\n'),
      Buffer.from([0x61, 0xff, 0x62, 0x0a]),
      Buffer.from('\nlast'),
    ]);
    const path = join(dir, 'offsets.log');
    writeFileSync(path, bytes);
    const cursor = new NextLineState(path, { chunkSize: 2 });
    expect(cursor.offset).to.equal(0);
    const seen: [string | undefined, number][] = [];
    for (let i = 0; i < 5; i++) seen.push([cursor.next(), cursor.offset]);
    cursor.close();
    expect(seen).to.deep.equal([
      ['one', 5],
      ['hé☃', 13],
      ['a\ufffdb', 17],
      ['last', bytes.length],
      ['one', 5], // loops
    ]);
    for (const [line, offset] of seen.slice(0, 3)) {
      const resumed = new NextLineState(path, { start: offset, loop: false });
      const rest: (string | undefined)[] = [];
      for (let next = resumed.next(); next !== undefined; next = resumed.next()) rest.push(next);
      resumed.close();
      const all = ['one', 'hé☃', 'a\ufffdb', 'last'];
      expect(rest, `after ${line}`).to.deep.equal(all.slice(all.indexOf(line!) + 1));
    }
  });

  it('goes round from a start at the end of the file, and starts over when the file is now shorter than the start', () => {
    const path = file('f.log', 'a\nb\n');
    const atEnd = new NextLineState(path, { start: 4 });
    expect([atEnd.next(), atEnd.next()]).to.deep.equal(['a', 'b']);
    atEnd.close();
    const atEndOnce = new NextLineState(path, { start: 4, loop: false });
    expect(atEndOnce.next()).to.equal(undefined);
    atEndOnce.close();
    const truncated = new NextLineState(path, { start: 400, loop: false });
    expect([truncated.next(), truncated.offset]).to.deep.equal(['a', 2]);
    truncated.close();
    expect(() => new NextLineState(path, { start: -1 })).to.throw(
      RangeError,
      /^NextLineState: start must be an integer ≥ 0, got -1$/,
    );
  });

  it('reads a real corpus line for line', () => {
    const expected = corpusLines('hackers');
    const cursor = new NextLineState(corpusPath('hackers'), { loop: false });
    const read: string[] = [];
    for (let line = cursor.next(); line !== undefined; line = cursor.next()) read.push(line);
    cursor.close();
    expect(read).to.deep.equal(expected);
  });

  it('maps each value to the next line and completes when the file is exhausted', async () => {
    const path = file('e.log', 'a\nb\n');
    expect(await lastValueFrom(of(1, 2, 3, 4).pipe(nextLine(path, { loop: false }), toArray()))).to.deep.equal([
      'a',
      'b',
    ]);
  });

  it('errors the stream with the system message when the file is missing', async () => {
    const error = await lastValueFrom(of(1).pipe(nextLine(join(dir, 'missing.log')))).catch((e: Error) => e);
    expect(String(error)).to.match(/ENOENT/);
  });

  it('closes the file on unsubscribe, so further values are not read', () => {
    const presses = new Subject<void>();
    const lines: string[] = [];
    const subscription = presses.pipe(nextLine(file('f.log', 'a\nb\n'))).subscribe((line) => lines.push(line));
    presses.next();
    subscription.unsubscribe();
    presses.next();
    expect(lines).to.deep.equal(['a']);
    expect(presses.observed).to.equal(false);
  });
});
