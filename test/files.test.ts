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
