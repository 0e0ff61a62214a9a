/**
 * The error a GPIO backend that cannot run here fails with.
 * @module
 */

/**
 * A GPIO backend could not be loaded or started; the message names the cause and
 * what to do, `causes` lists the causes as codes.
 *
 * @example
 * ```ts
 * import { fromGpioButton, GpioBackendUnavailableError } from 'mqtt-iot-stream';
 * fromGpioButton(17, { backend: 'pigpio' }).subscribe({
 *   error: (error) => {
 *     if (error instanceof GpioBackendUnavailableError) console.error(error.causes, error.message);
 *   },
 * });
 * ```
 */
export class GpioBackendUnavailableError extends Error {
  override readonly name = 'GpioBackendUnavailableError';
  /** The backend that failed: `pigpio` or `gpiod`. */
  readonly backend: string;
  /** The causes as codes, most important first. */
  readonly causes: readonly string[];
  /**
   * @param message - what went wrong and what to do
   * @param options - `backend`, `causes` and the underlying error as `cause`, if any
   */
  constructor(
    message: string,
    options: { readonly backend: string; readonly causes: readonly string[]; readonly cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.backend = options.backend;
    this.causes = options.causes;
  }
}
