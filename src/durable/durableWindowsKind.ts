/**
 * What the durable core keeps in its windows: counts ({@link durableWindowedCount}) or
 * aggregates ({@link durableWindowedAggregate}).
 * @module
 */
import { AggregateCell } from '../aggregate/AggregateCell.js';
import type { AggregateSpec } from '../aggregate/aggregateSpec.js';
import { deriveSessionAggregateOptions, SessionAggregateState } from '../aggregate/SessionAggregateState.js';
import {
  deriveAggregateOptions,
  WindowedAggregateState,
  type AggregateRow,
} from '../aggregate/WindowedAggregateState.js';
import type { DurableWindowSettings } from './durableOptions.js';
import type { RejectionKind } from '../reject.js';
import { SessionCountState } from '../window/SessionCountState.js';
import type { SessionSettings } from '../window/sessionOptions.js';
import { WindowedCountState } from '../window/WindowedCountState.js';
import type { WindowRow } from '../window/windowRow.js';
import type { WindowState } from '../window/windowState.js';
import { rowToSaved, savedRowToRow, type SavedRow } from './pendingRows.js';

/**
 * An event as the journal keeps it and the windows count it: its time and key, and for
 * aggregates its value and distinct value (as read; the windows reject one that is not a
 * number, or not a string or number).
 * @internal
 */
export interface JournaledEvent<K> {
  readonly time: number;
  readonly key: K;
  readonly value?: unknown;
  readonly distinct?: unknown;
}

/** What an event adds to its journal line beside time and key. @internal */
export interface JournaledExtras {
  readonly value: unknown;
  readonly distinct: unknown;
}

/** A window state the durable core can checkpoint and restore. @internal */
export interface DurableWindows<K, W extends WindowRow<K>> extends WindowState<JournaledEvent<K>, W> {
  snapshot(): unknown;
  restore(snapshot: unknown): void;
}

/**
 * The part of the durable core that depends on what a window holds.
 * @internal
 */
export interface DurableWindowsKind<E, K, W extends WindowRow<K>> {
  /** Names the operator in errors and rejections. */
  readonly operator: string;
  /** The rejection kinds reported as zero before the first, so a metrics query over kinds always has samples. */
  readonly rejectionKinds: readonly RejectionKind[];
  /** Reads what the journal keeps of an event beside its time and key; `undefined` when nothing. */
  readonly extrasOf: ((event: E) => JournaledExtras) | undefined;
  /** The windows (fixed, or sessions when the settings have a gap), over journaled events, emitting to `emit`. */
  makeWindows(settings: DurableWindowSettings<JournaledEvent<K>, K>, emit: (row: W) => void): DurableWindows<K, W>;
  /** A row waiting for the writer, as the checkpoint keeps it, and back. */
  saveRow(row: W): SavedRow<K>;
  loadRow(saved: SavedRow<K>, watermark: number | undefined): W;
}

/** The kinds every durable operator reports. */
const REJECTION_KINDS: readonly RejectionKind[] = [
  'payload',
  'line',
  'timestamp',
  'future',
  'late',
  'message',
  'row',
  'queue-full',
];

/** Window counts: the journal keeps time and key. @internal */
export function countKind<E, K>(): DurableWindowsKind<E, K, WindowRow<K>> {
  return {
    operator: 'durableWindowedCount',
    rejectionKinds: REJECTION_KINDS,
    extrasOf: undefined,
    makeWindows: (settings, emit) =>
      isSessions(settings) ? new SessionCountState(settings, emit) : new WindowedCountState(settings, emit),
    saveRow: rowToSaved,
    loadRow: savedRowToRow,
  };
}

/**
 * Window aggregates: the journal also keeps each event's value and distinct value, so a
 * replay folds in what the live run did. Rows always carry their partial: the checkpoint
 * keeps a waiting row as it (its values are rebuilt from it), and a table that merges
 * aggregators needs it.
 * @internal
 */
export function aggregateKind<E, K>(spec: AggregateSpec<E>): DurableWindowsKind<E, K, AggregateRow<K>> {
  const { value, distinct } = spec;
  const journaledSpec: AggregateSpec<JournaledEvent<K>> = {
    ...spec,
    value: value === undefined ? undefined : (event) => event.value as number,
    distinct: distinct === undefined ? undefined : (event) => event.distinct as string | number,
  };
  return {
    operator: 'durableWindowedAggregate',
    rejectionKinds: [...REJECTION_KINDS, 'value'],
    extrasOf: (event) => ({ value: value?.(event), distinct: distinct?.(event) }),
    makeWindows: (settings, emit) =>
      isSessions(settings)
        ? new SessionAggregateState(
            deriveSessionAggregateOptions({ settings, spec: journaledSpec, withPartials: true }),
            emit,
          )
        : new WindowedAggregateState(
            deriveAggregateOptions({ settings, spec: journaledSpec, withPartials: true }),
            emit,
          ),
    saveRow: (row) => {
      if (row.partial === undefined) throw new Error('durableWindowedAggregate: a row to save has no partial');
      const [windowStart, windowEnd, key, count, final] = rowToSaved(row);
      return [windowStart, windowEnd, key, count, final, null, row.partial];
    },
    loadRow: (saved, watermark) => {
      const row = savedRowToRow(saved, watermark);
      const cell = AggregateCell.fromPartial(saved[6], journaledSpec);
      return { ...row, aggregates: cell.values(), partial: cell.toPartial() };
    },
  };
}

function isSessions<E, K>(settings: DurableWindowSettings<E, K>): settings is SessionSettings<E, K> {
  return 'sessionGap' in settings;
}
