// Builds the package into dist/.
//
//   node scripts/build.mjs               the full build: type-checked ESM (the library and
//                                        the command, src/cli) and CommonJS (the library)
//                                        with declarations, the examples type-checked against
//                                        them, and the dashboard page (npm run build,
//                                        prepack, npm test); nothing when the last full
//                                        build is newer than every input
//   node scripts/build.mjs --if-changed  for running the command from a clone (npm run
//                                        demo): nothing when dist/ is newer than every input,
//                                        otherwise an esbuild emit of the ESM, file by file
//                                        (no type check, no declarations, no CommonJS): under
//                                        a second instead of four tsc runs (10-30 s)
//
// Run `npm run build` (or `npm test`, which does) before anything that needs the
// declarations or the CommonJS build: type-checking the examples, the docs, packing.
//
// The command (package.json's bin) is dist/esm/cli/cli.js: both paths make it executable,
// so a clone can run it as it is. Its CommonJS copy is not built (tsconfig.cjs.json).
//
// The CommonJS folder gets its own package.json so Node reads its .js files as CJS
// even though the package root says "type": "module".
//
// The dashboard page that serveStatus serves (src/observe/dashboard) runs in a browser,
// so it is not part of the Node builds: both paths bundle its script with chart.js into
// dist/dashboard/dashboard.js (one file, minified, chart.js's MIT notice kept) and copy
// its HTML and CSS beside it. Nothing is fetched from a CDN: a Pi may have no internet.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
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
  'package.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'tsconfig.cjs.json',
  'scripts/build.mjs',
  'node_modules/chart.js/package.json',
];
// Outside dist/, so it is never packed; its mtime is when the last build started.
const stamp = 'node_modules/.cache/mqtt-iot-stream/build-stamp';

const ifChanged = process.argv.includes('--if-changed');
const dashboard = 'src/observe/dashboard';
const bin = 'dist/esm/cli/cli.js';
const started = new Date();

if (ifChanged) {
  if (upToDate()) process.exit(0);
  await transpileOnly();
} else {
  // A full build newer than every input (examples included: it type-checks them) is kept,
  // so that npm test after npm run build, or two commands that build, do not rebuild dist/
  // while something may be running the command from it.
  if (upToDate({ full: true })) {
    process.stderr.write('build: dist/ is up to date (a full build, newer than every input)\n');
    process.exit(0);
  }
  fullBuild();
}
await buildDashboard();
chmodSync(bin, 0o755);
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
  // so they are type-checked, as a user's project would be, after the library is built.
  tsc('tsconfig.examples.json');
  tsc(`${dashboard}/tsconfig.json`); // type-checks the page (DOM); esbuild below only strips the types
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
      entryPoints: files(from).filter(
        (name) => name.endsWith('.ts') && !name.endsWith('.d.ts') && !name.startsWith(`${dashboard}/`),
      ),
      outbase: from,
      outdir: to,
      format: 'esm',
      platform: 'node',
      target: 'es2022',
      logLevel: 'error',
    });
  await emit('src', 'dist/esm');
}

// The page's script and chart.js as one minified browser script, and the page's HTML and
// CSS beside it, in dist/dashboard/ (where serveStatus looks, from dist/esm/observe/ and
// dist/cjs/observe/). Unlike the Node builds, this needs esbuild on every path.
async function buildDashboard() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch (error) {
    process.stderr.write(`build: esbuild is needed to bundle the dashboard page and cannot load: ${error.message}\n`);
    process.exit(1);
  }
  mkdirSync('dist/dashboard', { recursive: true });
  await esbuild.build({
    entryPoints: [`${dashboard}/page.ts`],
    outfile: 'dist/dashboard/dashboard.js',
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    minify: true,
    legalComments: 'eof', // chart.js's and @kurkle/color's MIT notices stay in the file
    logLevel: 'error',
  });
  for (const name of ['index.html', 'dashboard.css']) cpSync(`${dashboard}/${name}`, `dist/dashboard/${name}`);
}

function upToDate({ full = false } = {}) {
  if (!existsSync(stamp) || !existsSync('dist/esm/index.js') || !existsSync(bin)) return false;
  if (!existsSync('dist/dashboard/dashboard.js')) return false;
  if (full && (readFileSync(stamp, 'utf8') !== 'full\n' || !existsSync('dist/cjs/index.js'))) return false;
  const built = statSync(stamp).mtimeMs;
  return [...inputs, ...(full ? ['examples', 'tsconfig.examples.json'] : [])].every((input) =>
    files(input).every((file) => statSync(file).mtimeMs < built),
  );
}

function files(path) {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath ?? entry.path, entry.name));
}
