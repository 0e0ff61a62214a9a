// The published package, as a user gets it: `npm pack` in a clean copy of the
// repository (no dist/: its prepack must build it), the tarball installed into an
// empty project, loaded from CommonJS and from ESM, its command run.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import * as publicApi from '../src/index.js';
import * as testingApi from '../src/testing.js';
import { typeCheck } from './support/typeCheck.js';

const projectRoot = resolve(import.meta.dirname, '..');
const npm = (args: string[], cwd: string) =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/**
 * The files a clone would have (tracked, plus new ones not ignored, as they are in the
 * working tree), and the installed dependencies linked one by one, so the copy has no
 * dist/ and builds its own cache (nothing it writes lands in this checkout).
 */
function cleanCopy(): string {
  const copy = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-clone-'));
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: projectRoot,
    encoding: 'utf8',
  });
  for (const file of listed.split('\0').filter((name) => name !== '' && existsSync(join(projectRoot, name)))) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(projectRoot, file), join(copy, file));
  }
  mkdirSync(join(copy, 'node_modules'));
  for (const entry of readdirSync(join(projectRoot, 'node_modules')).filter((name) => name !== '.cache')) {
    symlinkSync(join(projectRoot, 'node_modules', entry), join(copy, 'node_modules', entry));
  }
  return copy;
}

describe('the packed package', function () {
  this.timeout(240_000);
  let clone: string;
  let consumer: string;
  let packedFiles: string[];
  let tarball: string;
  const publicNames = Object.keys(publicApi).sort();
  const testingNames = Object.keys(testingApi).sort();

  before(() => {
    clone = cleanCopy();
    expect(existsSync(join(clone, 'dist'))).to.equal(false);
    consumer = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-consumer-'));
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', consumer], clone)) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    tarball = join(consumer, packed[0]!.filename);
    packedFiles = packed[0]!.files.map((f) => f.path);
    writeFileSync(
      join(consumer, 'package.json'),
      JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }),
    );
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], consumer);
  });

  after(() => {
    for (const dir of [clone, consumer]) if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is built by npm pack from a clean clone, and carries the licence', () => {
    expect(packedFiles).to.include.members([
      'dist/esm/index.js',
      'dist/cjs/index.js',
      'dist/esm/index.d.ts',
      'dist/cjs/index.d.ts',
      'dist/esm/cli/cli.js',
      'examples/data/access.log',
      'README.md',
      'CHANGELOG.md',
      'LICENSE',
    ]);
    expect(readFileSync(join(consumer, 'node_modules/mqtt-iot-stream/LICENSE'), 'utf8')).to.match(
      /^MIT License\n\nCopyright \(c\) 2026 the mqtt-iot-stream authors\n/,
    );
  });

  it('installs a working mqtt-iot-stream command', () => {
    const bin = join(consumer, 'node_modules', '.bin', 'mqtt-iot-stream');
    const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules/mqtt-iot-stream/package.json'), 'utf8')) as {
      version: string;
    };
    expect(execFileSync(bin, ['--version'], { cwd: consumer, encoding: 'utf8' })).to.equal(
      `mqtt-iot-stream ${manifest.version}\n`,
    );
    expect(execFileSync(bin, ['demo', '--help'], { cwd: consumer, encoding: 'utf8' })).to.match(/--rate/);
  });

  it('ships no tests, sources or benchmarks', () => {
    const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules/mqtt-iot-stream/package.json'), 'utf8'));
    expect(manifest.name).to.equal('mqtt-iot-stream');
    const listing = execFileSync('find', ['node_modules/mqtt-iot-stream', '-maxdepth', '1'], {
      cwd: consumer,
      encoding: 'utf8',
    });
    expect(listing).not.to.match(/\/(test|src|bench)$/m);
  });

  it('can be required from CommonJS with every public export', () => {
    writeFileSync(
      join(consumer, 'use.cjs'),
      "const lib = require('mqtt-iot-stream'); console.log(JSON.stringify(Object.keys(lib).sort()));",
    );
    const names = JSON.parse(execFileSync(process.execPath, ['use.cjs'], { cwd: consumer, encoding: 'utf8' }));
    expect(names).to.deep.equal(publicNames);
  });

  it('can be imported from ESM with every public export, and works', () => {
    writeFileSync(
      join(consumer, 'use.mjs'),
      [
        "import * as lib from 'mqtt-iot-stream';",
        "import { parseEventTime } from 'mqtt-iot-stream';",
        'console.log(JSON.stringify({ names: Object.keys(lib).sort(), epoch: parseEventTime("2020-07-01 12:34:56") }));',
      ].join('\n'),
    );
    const result = JSON.parse(execFileSync(process.execPath, ['use.mjs'], { cwd: consumer, encoding: 'utf8' }));
    expect(result.names).to.deep.equal(publicNames);
    expect(result.epoch).to.equal(Date.UTC(2020, 6, 1, 12, 34, 56));
  });

  it('keeps the test doubles out of the main entry, in mqtt-iot-stream/testing (CommonJS and ESM)', () => {
    expect(publicNames).to.not.include.members(['SimulatedGpio']);
    expect(testingNames).to.deep.equal([
      'ManualClock',
      'RealClock',
      'SimulatedGpio',
      'keyboardButton',
      'sharedSimulatedGpio',
    ]);
    writeFileSync(
      join(consumer, 'testing.cjs'),
      "console.log(JSON.stringify(Object.keys(require('mqtt-iot-stream/testing')).sort()));",
    );
    writeFileSync(
      join(consumer, 'testing.mjs'),
      "import * as t from 'mqtt-iot-stream/testing'; console.log(JSON.stringify(Object.keys(t).sort()));",
    );
    for (const script of ['testing.cjs', 'testing.mjs']) {
      expect(JSON.parse(execFileSync(process.execPath, [script], { cwd: consumer, encoding: 'utf8' }))).to.deep.equal(
        testingNames,
      );
    }
  });

  it('installs rxjs as a peer (one copy for the app), and aedes, cassandra-driver and prom-client unless optional ones are omitted', () => {
    for (const name of ['rxjs', 'mqtt', 'aedes', 'cassandra-driver', 'prom-client']) {
      expect(existsSync(join(consumer, 'node_modules', name, 'package.json')), name).to.equal(true);
    }
    const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules/mqtt-iot-stream/package.json'), 'utf8'));
    expect(Object.keys(manifest.peerDependencies)).to.include('rxjs');
    expect(Object.keys(manifest.dependencies)).to.not.include.members(['rxjs']);
    expect(Object.keys(manifest.optionalDependencies).sort()).to.deep.equal([
      'aedes',
      'cassandra-driver',
      'prom-client',
    ]);
  });

  describe('installed with --omit=optional (a Pi that only publishes)', function () {
    let slim: string;
    const run = (args: string[]) => {
      try {
        return { status: 0, out: execFileSync(process.execPath, args, { cwd: slim, encoding: 'utf8', stdio: 'pipe' }) };
      } catch (error) {
        const failed = error as { status: number; stdout: string; stderr: string };
        return { status: failed.status, out: failed.stdout + failed.stderr };
      }
    };

    before(() => {
      slim = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-slim-'));
      writeFileSync(join(slim, 'package.json'), JSON.stringify({ name: 'slim', version: '1.0.0', private: true }));
      npm(
        ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--omit=optional', tarball],
        slim,
      );
    });
    after(() => rmSync(slim, { recursive: true, force: true }));

    it('has neither the broker nor the Cassandra driver, and loads every export from ESM and CommonJS', () => {
      expect(existsSync(join(slim, 'node_modules/aedes'))).to.equal(false);
      expect(existsSync(join(slim, 'node_modules/cassandra-driver'))).to.equal(false);
      expect(existsSync(join(slim, 'node_modules/prom-client'))).to.equal(false);
      writeFileSync(
        join(slim, 'use.cjs'),
        "console.log(JSON.stringify(Object.keys(require('mqtt-iot-stream')).sort()));",
      );
      writeFileSync(
        join(slim, 'use.mjs'),
        "import * as lib from 'mqtt-iot-stream'; console.log(JSON.stringify(Object.keys(lib).sort()));",
      );
      for (const script of ['use.cjs', 'use.mjs']) expect(JSON.parse(run([script]).out)).to.deep.equal(publicNames);
    });

    it('ends a cassandraSink that needs the driver with an error saying how to install it', () => {
      writeFileSync(
        join(slim, 'sink.mjs'),
        [
          "import { of, lastValueFrom } from 'rxjs';",
          "import { cassandraSink, windowCountRows } from 'mqtt-iot-stream';",
          'const row = { windowStart: new Date(0), windowEnd: new Date(60000), key: 200, count: 1 };',
          "const sink = cassandraSink({ contactPoints: ['127.0.0.1'], localDataCenter: 'dc1' }, windowCountRows());",
          'lastValueFrom(of(row).pipe(sink)).then(() => console.log("wrote"), (e) => console.log(e.name + ": " + e.message));',
        ].join('\n'),
      );
      expect(run(['sink.mjs']).out).to.match(
        /^CassandraDriverMissingError: cassandraSink: cassandra-driver is not installed .*npm install cassandra-driver/,
      );
    });

    it('runs publish --help, and says how to install the broker when demo needs it (status 1)', () => {
      const bin = join(slim, 'node_modules/mqtt-iot-stream/dist/esm/cli/cli.js');
      expect(run([bin, 'publish', '--help'])).to.include({ status: 0 });
      const demo = run([bin, 'demo', '--duration', '1 s']);
      expect(demo.status).to.equal(1);
      expect(demo.out).to.match(/embedded MQTT broker \(aedes\) is not installed.*npm install aedes/);
    });
  });

  it('type-checks a TypeScript consumer against the shipped declarations', () => {
    writeFileSync(
      join(consumer, 'use.ts'),
      [
        "import { decodeIotPayloadBytes, type IotPayload } from 'mqtt-iot-stream';",
        "import { SimulatedGpio } from 'mqtt-iot-stream/testing';",
        'export const gpio = new SimulatedGpio();',
        "const decoded = decodeIotPayloadBytes('{}');",
        "const payload: IotPayload | string = decoded._tag === 'Right' ? decoded.right : decoded.left;",
        'export { payload };',
      ].join('\n'),
    );
    typeCheck(consumer, ['use.ts'], 'a TypeScript consumer of the shipped declarations');
  });
});
