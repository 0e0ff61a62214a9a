// What `aggregate --aggregates` and `--value` mean: the list of aggregates per (window,
// status) and the access-log fields they read, turned into windowedAggregate's options.
//
//   --aggregates count,sum,min,max,mean,p50,p99,distinct(client) --value bytes
//
// count is always there (it is what a larger count means when rows replace each other);
// sum, min, max, mean and the quantiles (pNN: p50, p99, p99.9) are of --value; distinct(f)
// is an approximate count of the distinct values of field f.
import type { AccessLogRecord } from '../accesslog/accessLogRecord.js';
import type { AggregateValues } from '../aggregate/AggregateCell.js';
import type { AggregateOptions } from '../aggregate/aggregateSpec.js';
import { quantileName } from '../aggregate/aggregateSpec.js';
import { FlagValueProblem, type FlagReader } from './flagValues.js';

/** The numeric fields of a log line that --value may name. */
export const VALUE_FIELDS = ['bytes', 'status'] as const;
export type ValueField = (typeof VALUE_FIELDS)[number];

/** The fields distinct(…) may name: text the log line always has (an absent one counts as `-`). */
export const DISTINCT_FIELDS = [
  'client',
  'user',
  'method',
  'path',
  'protocol',
  'referer',
  'userAgent',
  'request',
  'status',
  'bytes',
] as const;
type DistinctField = (typeof DISTINCT_FIELDS)[number];

/** The aggregates asked for, before the value field is known. */
export interface AggregateList {
  readonly sum: boolean;
  readonly min: boolean;
  readonly max: boolean;
  readonly mean: boolean;
  readonly quantiles: readonly number[];
  readonly distinct: DistinctField | undefined;
  /** As given, normalised: `count,sum,p99,distinct(client)`, for the start line. */
  readonly text: string;
}

const EXPECTED =
  'a comma-separated list of count, sum, min, max, mean, pNN (a quantile: p50, p99, p99.9) and distinct(<field>) ' +
  `(a field of the log line: ${DISTINCT_FIELDS.join(', ')})`;

/** Reads `--aggregates`. */
export const aggregateList: FlagReader<AggregateList> = (text) => {
  const flags = { sum: false, min: false, max: false, mean: false };
  const quantiles: number[] = [];
  let distinct: DistinctField | undefined;
  const names = text.split(',').map((name) => name.trim());
  const refuse = (why: string): never => {
    throw new FlagValueProblem(`must be ${EXPECTED}: ${why}, got ${JSON.stringify(text)}`);
  };
  for (const name of names) {
    if (name === 'count') continue;
    if (name === 'sum' || name === 'min' || name === 'max' || name === 'mean') {
      flags[name] = true;
      continue;
    }
    const quantile = /^p(\d{1,3}(?:\.\d+)?)$/.exec(name);
    if (quantile !== null) {
      const q = Number(quantile[1]) / 100;
      if (!(q >= 0 && q <= 1)) refuse(`${name} is not a quantile from p0 to p100`);
      if (quantiles.includes(q)) refuse(`${name} is given twice`);
      quantiles.push(q);
      continue;
    }
    const field = /^distinct\((\w+)\)$/.exec(name)?.[1];
    if (field !== undefined) {
      if (!(DISTINCT_FIELDS as readonly string[]).includes(field)) refuse(`distinct(${field}) names no field`);
      if (distinct !== undefined) refuse('one distinct(…) at most');
      distinct = field as DistinctField;
      continue;
    }
    refuse(name === '' ? 'an empty name' : `${JSON.stringify(name)} is none of them`);
  }
  const normalised = [
    'count',
    ...(['sum', 'min', 'max', 'mean'] as const).filter((name) => flags[name]),
    ...quantiles.map(quantileName),
    ...(distinct === undefined ? [] : [`distinct(${distinct})`]),
  ];
  return { ...flags, quantiles, distinct, text: normalised.join(',') };
};

/** Whether the list reads --value (sum, min, max, mean or a quantile). */
export function readsValue(list: AggregateList): boolean {
  return list.sum || list.min || list.max || list.mean || list.quantiles.length > 0;
}

/**
 * windowedAggregate's options for the list: the value and the distinct value read from
 * each request's log line by `recordOf`.
 */
export function aggregateOptions<E>(
  list: AggregateList,
  value: ValueField,
  recordOf: (event: E) => AccessLogRecord,
): AggregateOptions<E> {
  const { sum, min, max, mean, quantiles, distinct } = list;
  return {
    sum,
    min,
    max,
    mean,
    ...(readsValue(list) ? { value: (event: E) => recordOf(event)[value] } : {}),
    ...(quantiles.length === 0 ? {} : { quantiles }),
    ...(distinct === undefined ? {} : { distinct: (event: E) => recordOf(event)[distinct] ?? '-' }),
  };
}

/** `sum=2560 max=2048 p99=2041.2 distinct=2`: each aggregate beside the count, rounded to 6 significant digits. */
export function describeAggregates({ count, quantiles, ...rest }: AggregateValues): string {
  void count;
  const shown = (value: number) => String(Number(value.toPrecision(6)));
  return [
    ...Object.entries(rest).map(([name, value]) => `${name}=${shown(value as number)}`),
    ...Object.entries(quantiles ?? {}).map(([name, value]) => `${name}=${shown(value)}`),
  ].join(' ');
}
