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
  /** The broker, as the message names it, e.g. `mqtts://127.0.0.1:8883`. */
  readonly broker: string;
  /** The CONNACK reason code, when the broker refused us. */
  readonly reasonCode: number | undefined;
  /** The Node.js error code, when the socket or TLS failed. */
  readonly code: string | undefined;
  /**
   * @param message - the operator, the broker and the cause, in one sentence.
   * @param options - the `broker`, the CONNACK `reasonCode` or Node.js `code` if any,
   *   and the error MQTT.js reported as `cause`.
   */
  constructor(
    message: string,
    options: {
      readonly broker: string;
      readonly reasonCode?: number;
      readonly code?: string;
      readonly cause?: unknown;
    },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.broker = options.broker;
    this.reasonCode = options.reasonCode;
    this.code = options.code;
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

/** An error MQTT.js emitted, with what the rules read of it and of the connection. */
interface ConnectionFailure {
  readonly operator: MqttOperator;
  readonly error: Error;
  readonly broker: string;
  /** Whether the client had connected (a successful CONNACK) before. */
  readonly connectedBefore: boolean;
  /** Whether the error is the broker's answer to CONNECT (a CONNACK refusal). */
  readonly fromConnack: boolean;
  /** The MQTT reason code the error carries, if any. */
  readonly reasonCode: number | undefined;
  /** The Node.js error code (`ECONNREFUSED`, `CERT_HAS_EXPIRED`, …), if any. */
  readonly code: string | undefined;
}

/** A final failure's message, and which of the failure's codes its error carries; or `'transient'`. */
type Verdict = { readonly message: string; readonly reasonCode?: number; readonly code?: string } | 'transient';

/** One rule: when it applies, and its verdict. */
interface Rule {
  readonly when: (failure: ConnectionFailure) => boolean;
  readonly verdict: (failure: ConnectionFailure) => Verdict;
}

/**
 * The rules, the first that applies decides (the last applies always). Before the first
 * successful connect every error is final: a broker we never reached is a configuration
 * problem, and retrying silently hides it. After it, socket errors are transient;
 * refusals (CONNACK), TLS and certificate failures stay final because retrying cannot
 * fix them.
 */
const RULES: readonly Rule[] = [
  {
    when: ({ fromConnack, reasonCode }) =>
      fromConnack && reasonCode !== undefined && CREDENTIALS_REFUSED.has(reasonCode),
    verdict: ({ operator, broker, reasonCode }) => ({
      message: `${operator}: the MQTT broker at ${broker} refused the credentials: CONNACK ${describeReasonCode(reasonCode!)}. Check username and password, and that this client may connect`,
      reasonCode,
    }),
  },
  {
    when: ({ fromConnack, reasonCode }) => fromConnack && reasonCode !== undefined,
    verdict: ({ operator, broker, reasonCode }) => ({
      message: `${operator}: the MQTT broker at ${broker} refused the connection: CONNACK ${describeReasonCode(reasonCode!)}`,
      reasonCode,
    }),
  },
  {
    when: ({ code }) => code !== undefined && isTlsCode(code),
    verdict: ({ operator, broker, error, code }) => ({
      message: `${operator}: TLS with the MQTT broker at ${broker} failed: ${error.message} (${code}). Pass the CA that signed the broker's certificate as the \`ca\` option, and connect by the name or IP address the certificate was issued for`,
      code,
    }),
  },
  {
    when: ({ connectedBefore, code, reasonCode, error }) =>
      connectedBefore && (code !== undefined || reasonCode !== undefined || TRANSIENT_MESSAGES.test(error.message)),
    verdict: () => 'transient',
  },
  {
    // Errors without any code after a good connect are MQTT.js refusing what the
    // broker sent (a protocol violation). Reconnecting would resend the same
    // message and loop, so they are final too.
    when: ({ connectedBefore }) => connectedBefore,
    verdict: ({ operator, broker, error }) => ({
      message: `${operator}: the MQTT broker at ${broker} sent a packet MQTT.js refuses: ${error.message}${
        /Invalid pub(ack|rec) reason code/.test(error.message)
          ? ' (Mosquitto answers so when a message is larger than its message_size_limit)'
          : ''
      }`,
    }),
  },
  {
    when: ({ code }) => code === 'ECONNREFUSED',
    verdict: ({ operator, broker, code }) => ({
      message: `${operator}: nothing accepts connections at ${broker} (ECONNREFUSED): is the broker running, and is the port right?`,
      code,
    }),
  },
  {
    when: ({ code }) => code === 'ENOTFOUND',
    verdict: ({ operator, broker, code }) => ({
      message: `${operator}: the MQTT broker host in ${broker} cannot be resolved (ENOTFOUND)`,
      code,
    }),
  },
  {
    when: ({ code }) => code === 'ECONNRESET' || code === 'EPIPE',
    verdict: ({ operator, broker, code }) => ({
      message: `${operator}: the MQTT broker at ${broker} closed the connection before answering CONNECT (${code}). If this port expects TLS, connect with mqtts:// and a \`ca\``,
      code,
    }),
  },
  {
    when: ({ code }) => code !== undefined && TRANSIENT_SOCKET_CODES.has(code),
    verdict: ({ operator, broker, error, code }) => ({
      message: `${operator}: cannot reach the MQTT broker at ${broker}: ${error.message} (${code})`,
      code,
    }),
  },
  {
    when: () => true,
    verdict: ({ operator, broker, error, reasonCode, code }) => ({
      message: `${operator}: cannot connect to the MQTT broker at ${broker}: ${error.message}`,
      reasonCode,
      code,
    }),
  },
];

/**
 * Decides whether an error MQTT.js emitted is final, and if so builds the error
 * to end the stream with. Returns `undefined` for a transient error, which the
 * client's own reconnect handles. The first of the {@link RULES} that applies
 * decides. The message starts with `operator`, the operator whose connection failed.
 * @internal
 */
export function finalConnectionError(
  operator: MqttOperator,
  error: Error,
  broker: string,
  connectedBefore: boolean,
  fromConnack: boolean,
): MqttConnectionError | undefined {
  const rawCode = (error as { code?: unknown }).code;
  const failure: ConnectionFailure = {
    operator,
    error,
    broker,
    connectedBefore,
    fromConnack,
    reasonCode: reasonCodeOf(error),
    code: typeof rawCode === 'string' ? rawCode : undefined,
  };
  const verdict = RULES.find((rule) => rule.when(failure))!.verdict(failure);
  if (verdict === 'transient') return undefined;
  const { message, reasonCode, code } = verdict;
  return new MqttConnectionError(message, { broker, reasonCode, code, cause: error });
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
    { broker },
  );
}
