// The published package, as a user gets it: pack the built dist/ into a tarball,
// install it into an empty project, and load it from CommonJS and from ESM.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import * as publicApi from '../src/index.js';

const projectRoot = resolve(import.meta.dirname, '..');
const npm = (args: string[], cwd: string) => execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('the packed package', function () {
  this.timeout(180_000);
  let consumer: string;
  const publicNames = Object.keys(publicApi).sort();

  before(() => {
    consumer = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-consumer-'));
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', consumer], projectRoot)) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = join(consumer, packed[0]!.filename);
    expect(packed[0]!.files.map((f) => f.path)).to.include.members(['dist/esm/index.js', 'dist/cjs/index.js', 'dist/esm/index.d.ts', 'README.md']);
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], consumer);
  });

  after(() => rmSync(consumer, { recursive: true, force: true }));

  it('ships no tests, sources or benchmarks', () => {
    const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules/mqtt-iot-stream/package.json'), 'utf8'));
    expect(manifest.name).to.equal('mqtt-iot-stream');
    const listing = execFileSync('find', ['node_modules/mqtt-iot-stream', '-maxdepth', '1'], { cwd: consumer, encoding: 'utf8' });
    expect(listing).not.to.match(/\/(test|src|bench)$/m);
  });

  it('can be required from CommonJS with every public export', () => {
    writeFileSync(join(consumer, 'use.cjs'), "const lib = require('mqtt-iot-stream'); console.log(JSON.stringify(Object.keys(lib).sort()));");
    const names = JSON.parse(execFileSync(process.execPath, ['use.cjs'], { cwd: consumer, encoding: 'utf8' }));
    expect(names).to.deep.equal(publicNames);
  });

  it('can be imported from ESM with every public export, and works', () => {
    writeFileSync(join(consumer, 'use.mjs'), [
      "import * as lib from 'mqtt-iot-stream';",
      "import { parseEventTime } from 'mqtt-iot-stream';",
      'console.log(JSON.stringify({ names: Object.keys(lib).sort(), epoch: parseEventTime("2020-07-01 12:34:56") }));',
    ].join('\n'));
    const result = JSON.parse(execFileSync(process.execPath, ['use.mjs'], { cwd: consumer, encoding: 'utf8' }));
    expect(result.names).to.deep.equal(publicNames);
    expect(result.epoch).to.equal(Date.UTC(2020, 6, 1, 12, 34, 56));
  });

  it('type-checks a TypeScript consumer against the shipped declarations', () => {
    writeFileSync(join(consumer, 'use.ts'), [
      "import { decodePayload, type IotPayload } from 'mqtt-iot-stream';",
      "const decoded = decodePayload('{}');",
      "const payload: IotPayload | string = decoded._tag === 'Right' ? decoded.right : decoded.left;",
      'export { payload };',
    ].join('\n'));
    writeFileSync(join(consumer, 'tsconfig.json'), JSON.stringify({ compilerOptions: { strict: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', noEmit: true, skipLibCheck: true, types: [] }, files: ['use.ts'] }));
    execFileSync(process.execPath, [join(projectRoot, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: consumer, encoding: 'utf8' });
  });
});
