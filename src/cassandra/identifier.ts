/**
 * CQL identifier checks: keyspace, table and column names given as options are
 * spliced into CQL text (they cannot be bound as parameters), so they are checked
 * before any query is sent.
 * @module
 */

/**
 * Unquoted CQL identifiers: a letter, then letters, digits or `_`; at most 48
 * characters (Cassandra's limit for keyspace and table names, kept for columns too).
 * Cassandra folds them to lower case, so `windowStart` names the column `windowstart`.
 */
const UNQUOTED_IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,47}$/;

/**
 * CQL's reserved keywords: unquoted, they cannot name anything. (Non-reserved
 * keywords such as `count`, `status` or `key` are fine.)
 */
const RESERVED = new Set([
  'add',
  'allow',
  'alter',
  'and',
  'apply',
  'asc',
  'authorize',
  'batch',
  'begin',
  'by',
  'columnfamily',
  'create',
  'default',
  'delete',
  'desc',
  'describe',
  'drop',
  'entries',
  'execute',
  'from',
  'full',
  'grant',
  'if',
  'in',
  'index',
  'infinity',
  'insert',
  'into',
  'is',
  'keyspace',
  'limit',
  'materialized',
  'mbean',
  'mbeans',
  'modify',
  'nan',
  'norecursive',
  'not',
  'null',
  'of',
  'on',
  'or',
  'order',
  'primary',
  'rename',
  'replace',
  'revoke',
  'schema',
  'select',
  'set',
  'table',
  'to',
  'token',
  'truncate',
  'unlogged',
  'unset',
  'update',
  'use',
  'using',
  'view',
  'where',
  'with',
]);

/** The error thrown for a keyspace, table or column name that is not a plain CQL identifier. */
export class CqlIdentifierError extends Error {
  override readonly name = 'CqlIdentifierError';
  /** Which option held the name, e.g. `'keyspace'` or `'columns[2]'`. */
  readonly option: string;
  /** The rejected value, as given. */
  readonly value: unknown;
  /** The function the option was given to, e.g. `'ensureWindowCountTable'`. */
  readonly operator: string | undefined;
  /**
   * @param options - the `option` that held the name, its `value` as given, `why` it is
   *   refused, and the `operator` it was given to (the message starts with it).
   */
  constructor(options: {
    readonly option: string;
    readonly value: unknown;
    readonly why: string;
    readonly operator?: string;
  }) {
    const { option, value, why, operator } = options;
    super(
      `${operator === undefined ? '' : `${operator}: `}${option} ${JSON.stringify(value) ?? String(value)} is not a valid CQL identifier: ${why}`,
    );
    this.option = option;
    this.value = value;
    this.operator = operator;
  }
}

/**
 * Whether `name` can be used unquoted as a CQL keyspace, table or column name:
 * a letter, then letters, digits or `_`, 48 characters at most, not a reserved keyword.
 *
 * @example
 * ```ts
 * import { isCqlIdentifier } from 'mqtt-iot-stream';
 * isCqlIdentifier('window_start'); // true
 * isCqlIdentifier('mqtt; DROP TABLE x'); // false
 * ```
 * @param name - the candidate name.
 * @returns `true` when Cassandra accepts it unquoted.
 */
export function isCqlIdentifier(name: unknown): name is string {
  return typeof name === 'string' && UNQUOTED_IDENTIFIER.test(name) && !RESERVED.has(name.toLowerCase());
}

/**
 * Throws a {@link CqlIdentifierError} naming `operator` (the function the option was
 * given to) and `option` unless `name` is a plain CQL identifier.
 * @internal
 */
export function assertCqlIdentifier(option: string, name: unknown, operator?: string): string {
  const refuse = (why: string) => new CqlIdentifierError({ option, value: name, why, operator });
  if (typeof name !== 'string') throw refuse(`expected a string, got ${typeof name}`);
  if (name.length === 0) throw refuse('it is empty');
  if (name.length > 48) throw refuse(`it has ${name.length} characters, at most 48 are allowed`);
  if (!UNQUOTED_IDENTIFIER.test(name)) throw refuse('use a letter followed by letters, digits or underscores');
  if (RESERVED.has(name.toLowerCase())) throw refuse('it is a reserved CQL keyword');
  return name;
}
