/**
 * Looks up one of our operators by name in src/index.ts, so a benchmark can be
 * registered before its operator lands and report "not available yet" until then.
 */
import * as library from '../src/index.js';

/** The export `name` of src/index.ts, or `undefined` when it is not (yet) exported. */
export function exported<T>(name: string): T | undefined {
  return (library as Record<string, unknown>)[name] as T | undefined;
}
