/**
 * Names of MQTT reason codes, for error messages a person can read.
 * @module
 */
import { ReasonCodes } from 'mqtt';

/** `"Not authorized (0x87)"`: the name MQTT 5 gives a reason code, with the code in hex. */
export function describeReasonCode(code: number): string {
  const name = (ReasonCodes as Record<number, string | undefined>)[code];
  const hex = `0x${code.toString(16).padStart(2, '0')}`;
  return name ? `${name} (${hex})` : `reason code ${hex}`;
}

/** The numeric reason code an MQTT.js error carries, if any. */
export function reasonCodeOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}
