// The README is what a user meets first: its code must compile against the built
// package, and its worked example of windows and watermarks must be true.
import { expect } from 'chai';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { WindowedCountState, type Rejection, type WindowRow } from '../src/index.js';
import { typeCheck } from './support/typeCheck.js';

const projectRoot = resolve(import.meta.dirname, '..');
const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');

describe('README', () => {
  it('has TypeScript examples that type-check against the built package', function () {
    this.timeout(120_000);
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
    expect(blocks.length).to.be.at.least(2);
    // Inside the project, so 'mqtt-iot-stream' resolves to our own dist/ through the exports map.
    const dir = join(projectRoot, 'node_modules', '.readme-check');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = blocks.map((code, index) => {
      const file = join(dir, `block${index}.ts`);
      writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    try {
      typeCheck(dir, files, 'README code', { types: ['node'], typeRoots: [join(projectRoot, 'node_modules/@types')] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('tells the truth in its worked example of windows and watermarks', () => {
    const rows: WindowRow<number>[] = [];
    const late: Rejection[] = [];
    const at = (clock: string) => Date.parse(`2020-07-01T${clock}Z`);
    let sink = rows;
    const counter = new WindowedCountState<{ time: number; status: number }, number>(
      {
        eventTime: (event) => event.time,
        key: (event) => event.status,
        windowDuration: '1 minute',
        watermarkDelay: '2 minutes',
        outputMode: 'append',
        onReject: (rejection) => late.push(rejection),
      },
      (row) => sink.push(row),
    );
    const watermarks: string[] = [];
    const push = (clock: string, status: number) => {
      counter.push({ time: at(clock), status });
      watermarks.push(new Date(counter.watermark!).toISOString().slice(11, 19));
    };
    push('12:00:10', 200);
    push('12:00:50', 404);
    expect(rows).to.have.length(0);
    push('12:03:05', 200);
    expect(rows.map((row) => [row.windowStart.toISOString().slice(11, 16), row.key, row.count])).to.deep.equal([
      ['12:00', 200, 1],
      ['12:00', 404, 1],
    ]);
    push('12:00:30', 200);
    expect(late.map((rejection) => rejection.kind)).to.deep.equal(['late']);
    push('12:01:30', 500);
    expect(late).to.have.length(1);
    expect(watermarks).to.deep.equal(['11:58:10', '11:58:50', '12:01:05', '12:01:05', '12:01:05']);
    const flushed: WindowRow<number>[] = [];
    sink = flushed;
    counter.flush();
    expect(flushed.map((row) => [row.windowStart.toISOString().slice(11, 16), row.key, row.count])).to.deep.equal([
      ['12:01', 500, 1],
      ['12:03', 200, 1],
    ]);
  });
});
