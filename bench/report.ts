/**
 * `npx tsx bench/report.ts <results.json>`: prints the results of
 * `npm run bench -- --full --json <results.json>` as the Markdown table that
 * docs/benchmarks.md records.
 */
import { readFileSync } from 'node:fs';
import { formatFigure, type BenchResult } from './harness.js';

interface Recorded {
  readonly mode: string;
  readonly at: string;
  readonly node: string;
  readonly cpus: number;
  readonly cpu: string;
  readonly loadAverageAtStart: number;
  readonly loadAverageAtEnd: number;
  readonly results: ReadonlyArray<BenchResult & { readonly benchmark: string }>;
}

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: npx tsx bench/report.ts <results.json>\n');
  process.exit(2);
}
const recorded = JSON.parse(readFileSync(file, 'utf8')) as Recorded;
const verdict = (result: BenchResult): string =>
  result.ok === true ? 'OK' : result.ok === false ? '**MISSED**' : 'reported';
const lines = [
  `${recorded.mode} mode, ${recorded.at}; node ${recorded.node}; ${recorded.cpus} × ${recorded.cpu}; load average ${recorded.loadAverageAtStart.toFixed(1)} at the start, ${recorded.loadAverageAtEnd.toFixed(1)} at the end`,
  '',
  '| benchmark | ours | baseline | ratio | target | result |',
  '|---|---:|---:|---:|---|---|',
  ...recorded.results.map((result) => {
    const ratio = result.ratio === undefined ? '—' : `${result.ratio.toFixed(2)}×`;
    const name = result.note === undefined ? result.name : `${result.name} (${result.note})`;
    return `| ${name} | ${formatFigure(result.ours)} | ${formatFigure(result.baseline)} | ${ratio} | ${result.target} | ${verdict(result)} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
