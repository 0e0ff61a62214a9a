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
  /**
   * @param backend - the backend that failed: `pigpio` or `gpiod`
   * @param causes - the causes as codes, most important first
   * @param message - what went wrong and what to do
   * @param cause - the underlying error, if any
   */
  constructor(
    readonly backend: string,
    readonly causes: readonly string[],
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}
