// Builds the package into dist/.
//
//   node scripts/build.mjs               the full build: type-checked ESM and CommonJS with
//                                        declarations, and the examples (npm run build,
//                                        prepack, npm test)
//   node scripts/build.mjs --if-changed  for running the examples (npm run demo): nothing
//                                        when dist/ is newer than every input, otherwise an
//                                        esbuild emit of the ESM and the examples, file by
//                                        file (no type check, no declarations, no CommonJS):
//                                        under a second instead of three tsc runs (10-30 s)
//
// Run `npm run build` (or `npm test`, which does) before anything that needs the
// declarations or the CommonJS build: type-checking the examples, the docs, packing.
//
// The CommonJS folder gets its own package.json so Node reads its .js files as CJS
// even though the package root says "type": "module".
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(import.meta.dirname, '..');
process.chdir(root);

if (!existsSync('node_modules/typescript/bin/tsc')) {
  process.stderr.write('build: TypeScript is not installed here; run `npm ci` first\n');
  process.exit(1);
}

// What dist/ is made from; a change to any of them makes it stale.
const inputs = [
  'src',
  'examples',
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'tsconfig.cjs.json',
  'tsconfig.examples.json',
  'scripts/build.mjs',
];
// Outside dist/, so it is never packed; its mtime is when the last build started.
const stamp = 'node_modules/.cache/mqtt-iot-stream/build-stamp';

const ifChanged = process.argv.includes('--if-changed');
const started = new Date();

if (ifChanged) {
  if (upToDate()) process.exit(0);
  await transpileOnly();
} else {
  fullBuild();
}
mkdirSync(dirname(stamp), { recursive: true });
writeFileSync(stamp, ifChanged ? 'transpile-only\n' : 'full\n');
// Sources saved while this build ran are newer than the stamp, so the next run sees them.
utimesSync(stamp, started, started);

function fullBuild() {
  const tsc = (project) => {
    try {
      execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });
    } catch {
      process.stderr.write(`build: tsc -p ${project} failed (its errors are above)\n`);
      process.exit(1);
    }
  };
  rmSync('dist', { recursive: true, force: true });
  tsc('tsconfig.build.json');
  tsc('tsconfig.cjs.json');
  mkdirSync('dist/cjs', { recursive: true });
  writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
  // The examples import 'mqtt-iot-stream' itself (resolved through our own exports map),
  // so they are compiled after the library.
  tsc('tsconfig.examples.json');
  cpSync('examples/data', 'dist/examples/data', { recursive: true });
}

// Each file on its own, as `tsc --isolatedModules` allows (the sources pass that check);
// the full build stays the one that type-checks. Without esbuild (a platform it has no
// binary for), the full build does it.
async function transpileOnly() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    fullBuild();
    return;
  }
  const emit = (from, to) =>
    esbuild.build({
      entryPoints: files(from).filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts')),
      outbase: from,
      outdir: to,
      format: 'esm',
      platform: 'node',
      target: 'es2022',
      logLevel: 'error',
    });
  await Promise.all([emit('src', 'dist/esm'), emit('examples', 'dist/examples')]);
  cpSync('examples/data', 'dist/examples/data', { recursive: true });
}

function upToDate() {
  if (!existsSync(stamp) || !existsSync('dist/esm/index.js') || !existsSync('dist/examples/cli.js')) return false;
  const built = statSync(stamp).mtimeMs;
  return inputs.every((input) => files(input).every((file) => statSync(file).mtimeMs < built));
}

function files(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}
