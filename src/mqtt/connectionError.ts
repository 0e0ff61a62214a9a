/**
 * Telling a final connection failure (wrong credentials, TLS, nothing listening at
 * first connect, a session another client took) from a transient drop, and saying
 * which it is in plain words.
 * @module
 */
import { describeReasonCode, reasonCodeOf } from './reasonCodes.js';

/** The operators that open MQTT connections, as their errors name them. @internal */
export type MqttOperator = 'fromMqtt' | 'toMqtt';

/**
 * The error `fromMqtt` and `toMqtt` end their stream with when the connection to
 * the broker failed for good. The message names the operator, the broker and the cause;
 * `reasonCode` is the CONNACK reason code when the broker refused us (or the
 * DISCONNECT reason code when it closed a connection for good), `code` the Node.js
 * error code (e.g. `ECONNREFUSED`, `SELF_SIGNED_CERT_IN_CHAIN`) when the socket or TLS
 * failed; `cause` is the error MQTT.js reported. `takenOver` says that another client
 * uses the same client id.
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
   * Another client connected with this client's id, so the broker closed this one: it
   * said so (MQTT 5 DISCONNECT, Session taken over, 0x8E), or it closed the connection
   * right after accepting it several times in a row. Two clients with one id take the
   * session from each other in turn; neither can work until one of them changes its id.
   */
  readonly takenOver: boolean;
  /** The client id the connection used, when {@link takenOver}. */
  readonly clientId: string | undefined;
  /**
   * @param message - the operator, the broker and the cause, in one sentence.
   * @param options - the `broker`, the CONNACK or DISCONNECT `reasonCode` or Node.js
   *   `code` if any, `takenOver` and its `clientId`, and the error MQTT.js reported as `cause`.
   */
  constructor(
    message: string,
    options: {
      readonly broker: string;
      readonly reasonCode?: number;
      readonly code?: string;
      readonly takenOver?: boolean;
      readonly clientId?: string;
      readonly cause?: unknown;
    },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.broker = options.broker;
    this.reasonCode = options.reasonCode;
    this.code = options.code;
    this.takenOver = options.takenOver ?? false;
    this.clientId = options.clientId;
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

/** MQTT 5 DISCONNECT reason code: another connection with this client id took the session. */
const SESSION_TAKEN_OVER = 0x8e;

/**
 * Connections in a row that the broker closed right after accepting them, from which a
 * client id in use twice is concluded where the broker does not say so: MQTT 3.1.1 has
 * no DISCONNECT from the server, and Mosquitto 2.0 sends none on a take-over even to an
 * MQTT 5 client (checked with 2.0.11: it logs `already connected, closing old
 * connection` and closes the socket). Two clients with one id that both reconnect after
 * a second take turns about once a second; measured on Mosquitto 2.0.11, the newcomer
 * stopped 5.6 s after it first connected, the one that had run longer went on.
 * @internal
 */
export const SHORT_CONNECTIONS_IN_A_ROW = 3;

/** An error MQTT.js emitted, or the broker closing the connection, with what the rules read of it. */
interface ConnectionFailure {
  readonly operator: MqttOperator;
  readonly error: Error;
  readonly broker: string;
  /** The client id the connection used. */
  readonly clientId: string | undefined;
  /**
   * Whether the failure is the broker closing an established connection: by a DISCONNECT
   * packet (its reason code in `reasonCode`), or by closing the socket.
   */
  readonly brokerClosed: boolean;
  /** Connections in a row, this one included, that the broker closed right after accepting them. */
  readonly shortConnections: number;
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
type Verdict =
  | { readonly message: string; readonly reasonCode?: number; readonly code?: string; readonly takenOver?: true }
  | 'transient';

/** One rule: when it applies, and its verdict. */
interface Rule {
  readonly when: (failure: ConnectionFailure) => boolean;
  readonly verdict: (failure: ConnectionFailure) => Verdict;
}

/** What the message of a session taken over says to do, and what the command line finds it by. @internal */
export const GIVE_EACH_ITS_OWN_ID = 'give each client its own client id';

/**
 * The rules, the first that applies decides (the last applies always). Before the first
 * successful connect every error is final: a broker we never reached is a configuration
 * problem, and retrying silently hides it. After it, socket errors are transient;
 * refusals (CONNACK), TLS and certificate failures stay final because retrying cannot
 * fix them. A session another client took is final too: reconnecting takes it back,
 * and the two clients then take turns for as long as both run (Mosquitto logs
 * `already connected, closing old connection` each time), each losing its in-flight
 * messages at every turn.
 */
const RULES: readonly Rule[] = [
  {
    when: ({ brokerClosed, reasonCode }) => brokerClosed && reasonCode === SESSION_TAKEN_OVER,
    verdict: ({ operator, broker, clientId, reasonCode }) => ({
      message: `${operator}: another client connected to the MQTT broker at ${broker} with this client's id "${clientId ?? ''}", and the broker closed this connection: DISCONNECT ${describeReasonCode(reasonCode!)}. Two clients with one id take the session from each other in turn: ${GIVE_EACH_ITS_OWN_ID}`,
      reasonCode,
      takenOver: true,
    }),
  },
  {
    when: ({ shortConnections }) => shortConnections >= SHORT_CONNECTIONS_IN_A_ROW,
    verdict: ({ operator, broker, clientId, shortConnections }) => ({
      message: `${operator}: the MQTT broker at ${broker} closed the connection right after accepting it, ${shortConnections} times in a row: is another client connected with this client's id "${clientId ?? ''}"? Two clients with one id take the session from each other in turn: ${GIVE_EACH_ITS_OWN_ID}`,
      takenOver: true,
    }),
  },
  {
    // Any other DISCONNECT (server shutting down, keep-alive timeout, …) or close: MQTT.js reconnects.
    when: ({ brokerClosed }) => brokerClosed,
    verdict: () => 'transient',
  },
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
  return decide({
    operator,
    error,
    broker,
    clientId: undefined,
    brokerClosed: false,
    shortConnections: 0,
    connectedBefore,
    fromConnack,
    reasonCode: reasonCodeOf(error),
    code: typeof rawCode === 'string' ? rawCode : undefined,
  });
}

/**
 * Decides whether the broker closing an established connection is final: a DISCONNECT
 * saying that another client took the session (0x8E), or the
 * {@link SHORT_CONNECTIONS_IN_A_ROW}th connection in a row closed right after the broker
 * accepted it. Returns `undefined` when it is not (MQTT.js reconnects). The first of
 * the {@link RULES} that applies decides, as for {@link finalConnectionError}.
 * @internal
 */
export function finalDisconnection(options: {
  readonly operator: MqttOperator;
  readonly broker: string;
  /** The client id the connection used. */
  readonly clientId: string | undefined;
  /** The reason code of the broker's DISCONNECT packet, when the broker sent one. */
  readonly disconnectReason?: number;
  /** Connections in a row, this one included, that the broker closed right after accepting them. */
  readonly shortConnections: number;
}): MqttConnectionError | undefined {
  const { operator, broker, clientId, disconnectReason, shortConnections } = options;
  return decide({
    operator,
    error: new Error(
      disconnectReason === undefined
        ? 'the broker closed the connection'
        : `DISCONNECT ${describeReasonCode(disconnectReason)}`,
    ),
    broker,
    clientId,
    brokerClosed: true,
    shortConnections,
    connectedBefore: true,
    fromConnack: false,
    reasonCode: disconnectReason,
    code: undefined,
  });
}

/** The verdict of the first of the {@link RULES} that applies, as the error to end the stream with. */
function decide(failure: ConnectionFailure): MqttConnectionError | undefined {
  const verdict = RULES.find((rule) => rule.when(failure))!.verdict(failure);
  if (verdict === 'transient') return undefined;
  const { message, reasonCode, code, takenOver } = verdict;
  const { broker, error, clientId } = failure;
  return takenOver
    ? new MqttConnectionError(message, { broker, reasonCode, takenOver, clientId, cause: error })
    : new MqttConnectionError(message, { broker, reasonCode, code, cause: error });
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
