/**
 * The aggregate side of a window state, fixed windows ({@link WindowedAggregateState}) or
 * sessions ({@link SessionAggregateState}): what their cells are and how rows and
 * snapshots show them.
 * @module
 */
import { describeValue } from '../internal/options.js';
import { reject, type RejectOptions } from '../reject.js';
import type { SnapshotCells } from '../window/snapshot.js';
import { AggregateCell, type AggregatePartial } from './AggregateCell.js';
import { resolveAggregateSpec, type AggregateOptions, type AggregateSpec } from './aggregateSpec.js';
import type { AggregateRow, AggregateSettings } from './WindowedAggregateState.js';

/** What an aggregate state's options add to the windows': the aggregates, and whether rows carry partials. @internal */
export interface AggregateParts<E> {
  readonly spec: AggregateSpec<E>;
  readonly withPartials: boolean;
}

/**
 * Checks the aggregate options of a `windowedAggregate` (fixed windows or sessions), naming
 * it in errors.
 * @internal
 */
export function resolveAggregateParts<E>(options: {
  readonly aggregates: AggregateOptions<E>;
  readonly partials?: boolean;
}): AggregateParts<E> {
  if (options === null || typeof options !== 'object') throw new TypeError('windowedAggregate: options are required');
  if (options.aggregates === undefined)
    throw new TypeError(
      'windowedAggregate: aggregates is required, e.g. { value: (e) => e.bytes, sum: true }; use windowedCount to count alone',
    );
  const partials = options.partials ?? false;
  if (typeof partials !== 'boolean')
    throw new TypeError(`windowedAggregate: partials must be a boolean, got ${describeValue(partials)}`);
  return { spec: resolveAggregateSpec(options.aggregates, 'windowedAggregate'), withPartials: partials };
}

/**
 * The cells of an aggregate state: reads each event's value and distinct value once
 * (rejecting one that cannot be read, kind `'value'`), folds them into
 * {@link AggregateCell}s, makes the rows, and saves, checks and loads the cells of a
 * snapshot.
 * @internal
 */
export class AggregateCells<E> {
  /** Events refused for their value. */
  valueRejects = 0;
  /** How a snapshot stores the cells: partials, in a field `cells`. */
  readonly saved: SnapshotCells;
  /** The value and distinct value of the event being pushed, read once for all its cells. */
  private value = 0;
  private distinctValue: string | number | undefined = undefined;

  /**
   * @param spec - the aggregates.
   * @param withPartials - whether rows carry their cell's partial.
   * @param rejects - where rejections go.
   */
  constructor(
    readonly spec: AggregateSpec<E>,
    private readonly withPartials: boolean,
    private readonly rejects: RejectOptions<E>,
  ) {
    this.saved = {
      field: 'cells',
      noun: 'a cell',
      expected: 'aggregate partial',
      check: (partial) => {
        try {
          AggregateCell.fromPartial(partial as AggregatePartial, spec);
          return true;
        } catch {
          return false;
        }
      },
    };
  }

  /** Reads the event's value and distinct value for the next {@link AggregateCells.add}; `false` (reported) when one cannot be read. */
  read(event: E): boolean {
    const { spec } = this;
    if (spec.value !== undefined) {
      const value = spec.value(event);
      if (typeof value !== 'number' || !Number.isFinite(value))
        return this.rejectValue(event, `value is ${describeValue(value)}, not a finite number`);
      this.value = value;
    }
    if (spec.distinct !== undefined) {
      const distinct = spec.distinct(event);
      if (typeof distinct !== 'string' && typeof distinct !== 'number')
        return this.rejectValue(event, `distinct value is ${describeValue(distinct)}, not a string or a number`);
      this.distinctValue = distinct;
    }
    return true;
  }

  /** A cell with no event. */
  newCell(): AggregateCell<E> {
    return new AggregateCell(this.spec);
  }

  /** Folds the event last {@link AggregateCells.read} into `cell`. */
  add(cell: AggregateCell<E>): void {
    cell.add(this.value, this.distinctValue);
  }

  /** The row of one cell. */
  rowOf<K>(windowStart: number, windowEnd: number, key: K, cell: AggregateCell<E>, final: boolean): AggregateRow<K> {
    const row = {
      windowStart: new Date(windowStart),
      windowEnd: new Date(windowEnd),
      key,
      count: cell.count,
      final,
      aggregates: cell.values(),
    };
    return this.withPartials ? { ...row, partial: cell.toPartial() } : row;
  }

  /** The aggregates as a snapshot records them. */
  settings(): AggregateSettings {
    const { sum, min, max, mean, quantiles, quantileAccuracy, distinctPrecision } = this.spec;
    return {
      sum,
      min,
      max,
      mean,
      quantiles,
      quantileAccuracy,
      distinctPrecision,
      distinct: this.spec.distinct !== undefined,
    };
  }

  /** A saved cell, once {@link AggregateCells.saved} checked it. */
  load(partial: AggregatePartial): AggregateCell<E> {
    return AggregateCell.fromPartial(partial, this.spec);
  }

  /**
   * Throws unless `snapshot` was taken under these aggregates and counts its value
   * rejections; its windows or sessions are checked by the caller.
   */
  checkSaved(
    snapshot: { readonly aggregates: AggregateSettings; readonly stats: { readonly valueRejects: number } },
    context: string,
  ): void {
    if (snapshot === null || typeof snapshot !== 'object') throw new Error(`${context}: expected a snapshot object`);
    const saved = JSON.stringify(snapshot.aggregates);
    const current = JSON.stringify(this.settings());
    if (saved !== current)
      throw new Error(
        `${context}: the snapshot was taken with other aggregates: ${saved ?? 'none'} (this state: ${current}); restore it into a state with the options it was taken with`,
      );
    const valueRejects = snapshot.stats?.valueRejects;
    if (!(Number.isSafeInteger(valueRejects) && valueRejects >= 0))
      throw new Error(`${context}: stats.valueRejects must be a whole number ≥ 0, got ${describeValue(valueRejects)}`);
  }

  private rejectValue(event: E, problem: string): false {
    this.valueRejects++;
    reject(this.rejects, {
      operator: 'windowedAggregate',
      kind: 'value',
      reason: `${problem}; not counted`,
      input: event,
    });
    return false;
  }
}
