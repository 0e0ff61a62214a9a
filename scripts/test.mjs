// `npm test` after the build: every test file, in three mocha processes side by side.
//
//   node scripts/test.mjs [mocha options…]     e.g. npm test -- --grep outage
//
// The files that need the Cassandra node (they import test/support/cassandra.ts) run in
// one process, which starts the node once; the files that mostly wait run one after the
// other in a second (a node stopped for three minutes, on a node of its own; a broker
// frozen for 40 s; then the Spark oracle); every other file runs in the third, which is mostly CPU (parsers,
// fuzzing, type checks, a browser). Side by side they take about as long as the longest
// alone on two cores, instead of the sum.
//
// Each process keeps mocha's own config (.mocharc.json: tsx, the leak check). Its output
// is written to a file and printed whole when it ends, so the two do not interleave; a
// line every minute says how far each has got. The exit status is the first failure's.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const mocha = join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const mochaOptions = process.argv.slice(2);

/** test/**\/*.test.ts, sorted as mocha would sort the glob. */
function testFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, name))
    .filter((path) => path.endsWith('.test.ts') && statSync(path).isFile())
    .map((path) => relative(root, path))
    .sort();
}

const needsCassandra = (file) => /from '(\.\.?\/)+support\/cassandra\.js'/.test(readFileSync(join(root, file), 'utf8'));
// Minutes of waiting each: a process of their own lets the others use the cores meanwhile.
// The Spark oracle (one Spark JVM, about 2.5 minutes) runs after them there: beside the
// waiting it fits, and in the third process it made that one the last to end by minutes.
const waiting = new Set([
  'test/faults/cassandraOutageFaults.test.ts',
  'test/faults/idleAdvanceStall.test.ts',
  'test/windowSparkOracle.test.ts',
]);
const files = testFiles(join(root, 'test'));
for (const file of waiting)
  if (!files.includes(file)) throw new Error(`scripts/test.mjs: ${file} is gone; update its list`);
// The third runs at a lower priority (nice 10): the fault suite's cases depend on timing
// (a broker killed 150 ms after the aggregator resumed, what Mosquitto had saved by then),
// and with both at the same priority they saw what they never see alone.
const groups = [
  {
    name: 'with the Cassandra node',
    files: files.filter((file) => !waiting.has(file) && needsCassandra(file)),
    nice: 0,
  },
  { name: 'that mostly wait, and Spark', files: files.filter((file) => waiting.has(file)), nice: 0 },
  { name: 'that need neither', files: files.filter((file) => !waiting.has(file) && !needsCassandra(file)), nice: 10 },
].filter((group) => group.files.length > 0);

const logDir = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-test-'));
const started = Date.now();
const seconds = (ms) => `${Math.round(ms / 1000)} s`;

function run(group, index) {
  const log = join(logDir, `${index}.log`);
  const out = openSync(log, 'w');
  const mochaCommand = [process.execPath, mocha, ...group.files, ...mochaOptions];
  // nice runs the command in its own place (exec): the child's pid is mocha's.
  const [command, ...args] = group.nice > 0 ? ['nice', '-n', String(group.nice), ...mochaCommand] : mochaCommand;
  const child = spawn(command, args, { cwd: root, stdio: ['ignore', out, out] });
  closeSync(out);
  group.child = child;
  group.log = log;
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      group.code = code ?? (signal ? 128 : 1);
      group.ms = Date.now() - started;
      process.stdout.write(`\n${'='.repeat(8)} mocha, ${group.files.length} files ${group.name}: `);
      process.stdout.write(`exit ${group.code} after ${seconds(group.ms)}\n${readFileSync(log, 'utf8')}`);
      resolve();
    });
  });
}

/** How far a running group's spec output has got: ✔ lines and numbered failures. */
function progress(group) {
  if (group.code !== undefined) return `${group.name} done`;
  const text = readFileSync(group.log, 'utf8');
  const passed = (text.match(/✔/g) ?? []).length;
  const failed = (text.match(/^\s+\d+\) /gm) ?? []).length;
  return `${group.name} ${passed} passed${failed > 0 ? `, ${failed} failed` : ''}`;
}

// A CI timeout (SIGTERM to this process alone) is passed on, so that each mocha stops what
// it started (the Cassandra node, brokers). Ctrl-C reaches them from the terminal already:
// this process only waits for them to end and prints what they wrote.
process.once('SIGTERM', () => {
  for (const group of groups) group.child?.kill('SIGTERM');
});
process.on('SIGINT', () => {});

process.stdout.write(
  `${groups.map((group) => `${group.files.length} test files ${group.name}`).join(' and ')}, side by side; ` +
    `each one's output follows when it ends\n`,
);
const ticker = setInterval(() => {
  process.stdout.write(`  … ${seconds(Date.now() - started)}: ${groups.map(progress).join('; ')}\n`);
}, 60_000);
await Promise.all(groups.map(run));
clearInterval(ticker);
rmSync(logDir, { recursive: true, force: true });
process.stdout.write(
  `\n${groups.map((group) => `${group.name}: exit ${group.code} after ${seconds(group.ms)}`).join('; ')}\n`,
);
process.exitCode = groups.find((group) => group.code !== 0)?.code ?? 0;
