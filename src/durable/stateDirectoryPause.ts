/**
 * Intake paused while the state directory cannot be written, and taken up again once it
 * can: what {@link durableWindowedCount} does with a {@link StateDirectoryError}.
 * @module
 */
import type { LiveStatistics } from '../observe/LiveStatistics.js';
import type { DurableWindowsState } from './DurableWindowsState.js';
import { isTransientStateDirectoryError } from './stateDirectoryError.js';

/** How often a state directory that could not be written is tried again. */
const RETRY_MS = 1_000;

/** What {@link StateDirectoryPause} works with: the core, and the operator's intake. @internal */
export interface StateDirectoryPauseOptions {
  readonly state: Pick<
    DurableWindowsState<unknown, string | number>,
    'phase' | 'enter' | 'savingFailed' | 'retrySaving'
  >;
  readonly stateDirectory: string;
  /** Where the pause and the resumption are told (one change each). */
  readonly statistics?: LiveStatistics;
  /** Stops taking messages; the acknowledgements held stay held (the connection is shut, not ended). */
  readonly stopIntake: () => void;
  /** Lets the held acknowledgements go once their batch is written; throws when it cannot be. */
  readonly releaseAcknowledgements: () => void;
  /** Takes messages again, unless rows wait for the writer; returns whether it did. */
  readonly resumeIntake: () => boolean;
  /** Ends the stream with an error that will not pass by itself. */
  readonly fail: (error: unknown) => void;
}

/**
 * A state directory failure that may pass (a full disk, a read-only file system, an I/O
 * error) pauses intake: nothing more is taken or acknowledged, the broker's session
 * queues the messages, and the batch that could not be written stays in the core. Every
 * second the directory is tried again ({@link DurableWindowsState.retrySaving});
 * once the batch and a checkpoint are written, its acknowledgements go and intake
 * resumes. One line says when it pauses and one when it resumes. Any other failure,
 * or one while the state is being restored or the stream stops, ends the stream.
 * @internal
 */
export class StateDirectoryPause {
  private retry: ReturnType<typeof setInterval> | undefined;
  private since = 0;

  constructor(private readonly options: StateDirectoryPauseOptions) {}

  /** A step that touches the state files threw `error`. */
  failed(error: unknown): void {
    const { state, stateDirectory } = this.options;
    if (!isTransientStateDirectoryError(error) || (state.phase !== 'running' && state.phase !== 'paused')) {
      this.stop();
      this.options.fail(error);
      return;
    }
    state.savingFailed(error);
    if (this.retry !== undefined) return;
    this.since = Date.now();
    state.enter('paused');
    this.options.statistics?.report({
      stage: 'durable',
      state: 'paused',
      reason: `state directory ${stateDirectory}: ${error.summary}; intake paused, nothing acknowledged since; resumes when it is writable`,
    });
    this.options.stopIntake();
    this.retry = setInterval(() => this.tryAgain(), RETRY_MS);
  }

  /** No more retries: the stream ends. */
  stop(): void {
    clearInterval(this.retry);
    this.retry = undefined;
  }

  private tryAgain(): void {
    let writable: boolean;
    try {
      writable = this.options.state.retrySaving();
    } catch (error) {
      this.stop();
      this.options.fail(error);
      return;
    }
    if (!writable) return;
    this.stop();
    try {
      // Written now: on a connection shut meanwhile they go nowhere, and the broker's
      // redeliveries of those messages are recognised as counted.
      this.options.releaseAcknowledgements();
    } catch (error) {
      this.failed(error);
      return;
    }
    const after = ((Date.now() - this.since) / 1000).toFixed(1);
    const taking = this.options.resumeIntake();
    this.options.statistics?.report({
      stage: 'durable',
      state: taking ? 'taking' : 'paused',
      reason: `state directory ${this.options.stateDirectory} writable again after ${after} s: ${taking ? 'intake resumed' : 'intake waits for the writer'}`,
    });
  }
}
