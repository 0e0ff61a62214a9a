/**
 * `require` from this package's own files, in its ESM build as in its CommonJS one: for a
 * dependency loaded only when a feature that needs it is used, and synchronously, where an
 * `await import()` would make an operator's construction asynchronous.
 * @module
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The path of this module. The same source is compiled to ESM and to CommonJS, and
 * `import.meta` is a syntax error in CommonJS, so the path is read from V8's call site
 * of this very function (a file URL in ESM, a path in CommonJS).
 * @internal
 */
export function thisFile(): string {
  if (typeof __filename === 'string') return __filename;
  const original = Error.prepareStackTrace;
  let file: string | undefined;
  try {
    Error.prepareStackTrace = (_error, callSites) => callSites;
    const holder: { stack?: NodeJS.CallSite[] } = {};
    Error.captureStackTrace(holder);
    file = holder.stack?.[0]?.getFileName() ?? undefined;
  } finally {
    Error.prepareStackTrace = original;
  }
  if (file === undefined) throw new Error('mqtt-iot-stream: cannot tell where its own files are');
  return file.startsWith('file:') ? fileURLToPath(file) : file;
}

let packageRequire: NodeJS.Require | undefined;

/**
 * Loads `name` as `require` would from this package's files (its CommonJS build, when it
 * has one), the first time it is asked for.
 * @internal
 */
export function requireDependency<T>(name: string): T {
  packageRequire ??= createRequire(thisFile());
  return packageRequire(name) as T;
}
