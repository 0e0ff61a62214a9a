/**
 * Telling a final connection failure (wrong credentials, TLS, nothing listening at
 * first connect) from a transient drop, and saying which it is in plain words.
 * @module
 */
import { describeReasonCode, reasonCodeOf } from './reasonCodes.js';

/** The operators that open MQTT connections, as their errors name them. @internal */
export type MqttOperator = 'fromMqtt' | 'toMqtt';

/**
 * The error `fromMqtt` and `toMqtt` end their stream with when the connection to
 * the broker failed for good. The message names the operator, the broker and the cause;
 * `reasonCode` is the CONNACK reason code when the broker refused us, `code` the
 * Node.js error code (e.g. `ECONNREFUSED`, `SELF_SIGNED_CERT_IN_CHAIN`) when the
 * socket or TLS failed; `cause` is the error MQTT.js reported.
 */
export class MqttConnectionError extends Error {
  override readonly name = 'MqttConnectionError';
  constructor(
    message: string,
    readonly broker: string,
    readonly reasonCode?: number,
    readonly code?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// Socket errors that mean "the network blipped or the broker is restarting".
// After a successful connect these are left to MQTT.js's reconnect.
const TRANSIENT_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTCONN',
]);

// MQTT.js's own timeouts: the connection is gone and a reconnect may well work.
const TRANSIENT_MESSAGES = /^(Keepalive timeout|connack timeout)$/;

// CONNACK refusals: v3.1.1 return codes 1–5, v5 reason codes ≥ 0x80.
const CREDENTIALS_REFUSED = new Set([4, 5, 134, 135]);

/**
 * Decides whether an error MQTT.js emitted is final, and if so builds the error
 * to end the stream with. Returns `undefined` for a transient error, which the
 * client's own reconnect handles.
 *
 * Before the first successful connect every error is final: a broker we never
 * reached is a configuration problem, and retrying silently hides it. After it,
 * socket errors are transient; refusals (CONNACK), TLS and certificate failures
 * stay final because retrying cannot fix them. The message starts with `operator`,
 * the operator whose connection failed.
 * @internal
 */
export function finalConnectionError(
  operator: MqttOperator,
  error: Error,
  broker: string,
  connectedBefore: boolean,
  fromConnack: boolean,
): MqttConnectionError | undefined {
  const reasonCode = reasonCodeOf(error);
  const rawCode = (error as { code?: unknown }).code;
  const code = typeof rawCode === 'string' ? rawCode : undefined;
  if (fromConnack && reasonCode !== undefined) {
    if (CREDENTIALS_REFUSED.has(reasonCode)) {
      return new MqttConnectionError(
        `${operator}: the MQTT broker at ${broker} refused the credentials: CONNACK ${describeReasonCode(reasonCode)}. Check username and password, and that this client may connect`,
        broker,
        reasonCode,
        undefined,
        { cause: error },
      );
    }
    return new MqttConnectionError(
      `${operator}: the MQTT broker at ${broker} refused the connection: CONNACK ${describeReasonCode(reasonCode)}`,
      broker,
      reasonCode,
      undefined,
      { cause: error },
    );
  }
  if (code !== undefined && isTlsCode(code)) {
    return new MqttConnectionError(
      `${operator}: TLS with the MQTT broker at ${broker} failed: ${error.message} (${code}). Pass the CA that signed the broker's certificate as the \`ca\` option, and connect by the name or IP address the certificate was issued for`,
      broker,
      undefined,
      code,
      { cause: error },
    );
  }
  if (connectedBefore) {
    // Errors without any code after a good connect are MQTT.js refusing what the
    // broker sent (a protocol violation). Reconnecting would resend the same
    // message and loop, so they are final too.
    if (code !== undefined || reasonCode !== undefined || TRANSIENT_MESSAGES.test(error.message)) return undefined;
    const hint = /Invalid pub(ack|rec) reason code/.test(error.message)
      ? ' (Mosquitto answers so when a message is larger than its message_size_limit)'
      : '';
    return new MqttConnectionError(
      `${operator}: the MQTT broker at ${broker} sent a packet MQTT.js refuses: ${error.message}${hint}`,
      broker,
      undefined,
      undefined,
      { cause: error },
    );
  }
  switch (code) {
    case 'ECONNREFUSED':
      return new MqttConnectionError(
        `${operator}: nothing accepts connections at ${broker} (ECONNREFUSED): is the broker running, and is the port right?`,
        broker,
        undefined,
        code,
        { cause: error },
      );
    case 'ENOTFOUND':
      return new MqttConnectionError(
        `${operator}: the MQTT broker host in ${broker} cannot be resolved (ENOTFOUND)`,
        broker,
        undefined,
        code,
        { cause: error },
      );
    case 'ECONNRESET':
    case 'EPIPE':
      return new MqttConnectionError(
        `${operator}: the MQTT broker at ${broker} closed the connection before answering CONNECT (${code}). If this port expects TLS, connect with mqtts:// and a \`ca\``,
        broker,
        undefined,
        code,
        { cause: error },
      );
    default:
      if (code !== undefined && TRANSIENT_SOCKET_CODES.has(code)) {
        return new MqttConnectionError(
          `${operator}: cannot reach the MQTT broker at ${broker}: ${error.message} (${code})`,
          broker,
          undefined,
          code,
          { cause: error },
        );
      }
      return new MqttConnectionError(
        `${operator}: cannot connect to the MQTT broker at ${broker}: ${error.message}`,
        broker,
        reasonCode,
        code,
        { cause: error },
      );
  }
}

function isTlsCode(code: string): boolean {
  return (
    code.startsWith('ERR_TLS') ||
    code.startsWith('ERR_SSL') ||
    code.includes('CERT') ||
    code.startsWith('UNABLE_TO') ||
    code === 'EPROTO'
  );
}

/** The error for a socket that closed before the broker sent CONNACK, without any error. */
export function closedBeforeConnack(operator: MqttOperator, broker: string): MqttConnectionError {
  return new MqttConnectionError(
    `${operator}: the MQTT broker at ${broker} closed the connection before answering CONNECT. If this port expects TLS, connect with mqtts:// and a \`ca\``,
    broker,
  );
}
