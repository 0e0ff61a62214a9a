// Where the built `mqtt-iot-stream` command is (package.json's bin): the tests that run
// it as a user does spawn `node <cliPath> …` against the build (npm run build first).
import { join, resolve } from 'node:path';

export const projectRoot = resolve(import.meta.dirname, '..', '..');

/** The built command, dist/esm/cli/cli.js. */
export const cliPath = join(projectRoot, 'dist', 'esm', 'cli', 'cli.js');
