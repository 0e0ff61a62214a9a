// Type-checking code as a user of the package writes it, with the project's own compiler.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const projectRoot = resolve(import.meta.dirname, '..', '..');

/**
 * Type-checks `files` as a strict NodeNext consumer would (ES2022, no emit, libraries'
 * own declarations not checked, no ambient `@types` unless `compilerOptions` names
 * some), from a tsconfig.json written into `dir`. Throws with the compiler's report,
 * saying that `what` does not compile, if it finds an error.
 */
export function typeCheck(
  dir: string,
  files: readonly string[],
  what: string,
  compilerOptions: Record<string, unknown> = {},
): void {
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        noEmit: true,
        skipLibCheck: true,
        types: [],
        ...compilerOptions,
      },
      files,
    }),
  );
  try {
    execFileSync(process.execPath, [join(projectRoot, 'node_modules/typescript/bin/tsc'), '-p', dir], {
      encoding: 'utf8',
    });
  } catch (error) {
    throw new Error(`${what} does not compile:\n${(error as { stdout: string }).stdout}`, { cause: error });
  }
}
