// Builds the ESM and CommonJS flavours of the package into dist/.
// The CommonJS folder gets its own package.json so Node reads its .js files as CJS
// even though the package root says "type": "module".
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';

const tsc = (project) => execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', project], { stdio: 'inherit' });

rmSync('dist', { recursive: true, force: true });
tsc('tsconfig.build.json');
tsc('tsconfig.cjs.json');
mkdirSync('dist/cjs', { recursive: true });
writeFileSync('dist/cjs/package.json', JSON.stringify({ type: 'commonjs' }) + '\n');
// The examples import 'mqtt-iot-stream' itself (resolved through our own exports map),
// so they are compiled after the library.
tsc('tsconfig.examples.json');
cpSync('examples/data', 'dist/examples/data', { recursive: true });
