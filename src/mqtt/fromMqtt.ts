/**
 * fromMqtt: messages on MQTT topics as an Observable.
 * @module
 */
import { Observable, type Subscription } from 'rxjs';
import type { IClientSubscribeOptions, IPublishPacket } from 'mqtt';
import type { LiveStatistics } from '../observe/LiveStatistics.js';
import type { BrokerLiveness } from './brokerLiveness.js';
import { BrokerStatistics } from './brokerStatistics.js';
import { closeOwned, openConnectionOrError, type MqttConnection } from './connection.js';
import { holdAck, holdOutgoing, leaveUnclaimedUnacknowledged, lingerIntake } from './manualAck.js';
import { describeValue, optionChecks } from '../internal/options.js';
import { QOS_LEVELS, type MqttMessage } from './message.js';
import { OutstandingAcks } from './outstandingAcks.js';
import { describeReasonCode } from './reasonCodes.js';
import { SessionDrain } from './sessionDrain.js';
import { acquireFilters, releaseFilters } from './subscriptions.js';
import { topicFilterProblem, topicMatcher } from './topicFilter.js';
import { watchConnection } from './watchConnection.js';

/** The defaults of {@link fromMqtt}'s options, which their TSDoc quotes. */
const FROM_MQTT_DEFAULTS = { qos: 1, ack: 'auto', keepSubscription: false } as const;

/** Options of {@link fromMqtt}. */
export interface FromMqttOptions {
  /** Maximum QoS to receive with. Default `1`. */
  qos?: 0 | 1 | 2;
  /**
   * `'auto'` (default): MQTT.js acknowledges each message as it is emitted.
   * `'manual'`: each QoS ≥ 1 message's PUBACK/PUBCOMP waits until you call its
   * `ack()`, and the client takes in nothing else until then (one message at a
   * time, so the broker holds the rest). Use it when each message is written
   * downstream on its own, so a crash before the write means redelivery, not loss.
   * Do not use it with operators that hold a message until later ones arrive (such
   * as `windowedCount`): the next message would never come. Ack within about the
   * keepalive (60 s by default): the broker's PINGRESP waits behind the held
   * message, and MQTT.js reconnects on a keepalive timeout (the broker then sends
   * the message again with `dup` set). Messages still unacknowledged at teardown
   * are acknowledged on a client you passed in (it must go on) and left
   * unacknowledged on an owned client, which a persistent session redelivers.
   */
  ack?: 'auto' | 'manual';
  /**
   * Leave the subscription in the broker's session on teardown instead of sending
   * UNSUBSCRIBE. With a persistent session (`clean: false`, a fixed `clientId`
   * and, in MQTT 5, a `sessionExpiryInterval`), the broker then keeps queueing
   * QoS ≥ 1 messages while the application is away. Default `false`.
   */
  keepSubscription?: boolean;
  /** Further MQTT 5 subscription options (`nl`, `rap`, `rh`, `properties`). */
  subscribeOptions?: Omit<IClientSubscribeOptions, 'qos'>;
  /**
   * Where the connection's live statistics go (stage `broker`: connected, subscribed,
   * state, connections, losses, reconnection attempts, messages); losing the broker
   * and getting it back are reported as changes. See {@link LiveStatistics}.
   */
  statistics?: LiveStatistics;
  /**
   * Pings the broker to prove that silence on the subscription is idleness, not a
   * stall, for the window operator's `idleAdvance.liveness` (give it the same
   * instance). One subscription at a time. See {@link BrokerLiveness}.
   */
  liveness?: BrokerLiveness;
  /**
   * Leaves for good when it emits: a member of a shared subscription going away, its
   * share going to the others. Sends UNSUBSCRIBE, so that the broker deals this session
   * nothing new, and goes on emitting what the broker still holds for the session
   * (queued or in flight) until the broker proves it holds nothing more: a ping sent
   * once the UNSUBACK came, with every message acknowledged, answered with no message
   * before its answer. Then the stream completes and the session ends (DISCONNECT with
   * session expiry 0), so the broker keeps nothing for it. Needs connection options,
   * not a client. A new subscription leaves at once when `leave` replays what it emitted
   * (a `ReplaySubject`), as after durableWindowedCount's intake paused and resumed.
   * Stopped before the proof (unsubscribed), the session stays, holding what was still
   * queued: subscribe again with the same `leave` to finish. Default: never.
   */
  leave?: Observable<unknown>;
}

/** The broker refused a subscription (SUBACK reason code ≥ 0x80). */
export class MqttSubscribeError extends Error {
  override readonly name = 'MqttSubscribeError';
  /** The topic filters the broker refused. */
  readonly topics: readonly string[];
  /** The SUBACK reason code of the first refused filter. */
  readonly reasonCode: number | undefined;
  /**
   * @param message - which subscription was refused, and why.
   * @param options - the refused `topics`, the first one's `reasonCode`, and the `cause` MQTT.js reported.
   */
  constructor(
    message: string,
    options: { readonly topics: readonly string[]; readonly reasonCode?: number; readonly cause?: unknown },
  ) {
    super(message, { cause: options.cause });
    this.topics = options.topics;
    this.reasonCode = options.reasonCode;
  }
}

/**
 * Subscribes to MQTT topics when subscribed to, and emits every message that
 * arrives on them.
 *
 * ```
 * broker:    --a----b--------c----|   (publishes on matching topics)
 * fromMqtt:  ^-a----b--------c---!    (^ SUBSCRIBE, ! UNSUBSCRIBE on teardown)
 * ```
 *
 * On subscribe, sends one SUBSCRIBE for all `topics` (filters with `+` and `#`,
 * and MQTT 5 shared subscriptions `$share/<group>/<filter>`, in which the broker
 * gives each message to one member of the group). Each message is emitted as a
 * {@link MqttMessage} with its real topic, QoS, retain flag and MQTT 5
 * properties. On teardown, removes its listeners and sends UNSUBSCRIBE (unless
 * `keepSubscription`); a client built from options is then closed, a client you
 * passed in stays open. Several `fromMqtt` on one client may share filters: the
 * filter is unsubscribed when the last of them goes.
 *
 * The stream never completes by itself. It errors, once, with an
 * {@link MqttConnectionError} naming the cause when the connection fails for good
 * (credentials refused, TLS failure, nothing listening at the first connect, bad
 * options), and with an {@link MqttSubscribeError} when the broker refuses the
 * subscription. After a successful connect, drops are transient: the client
 * reconnects by itself and the stream goes on (with a persistent session the
 * broker also delivers what was published meanwhile).
 *
 * Payloads are not decoded here; pipe into {@link decodeIotPayload} for the
 * reference payload.
 *
 * @example
 * ```ts
 * import { fromMqtt, decodeIotPayload } from 'mqtt-iot-stream';
 *
 * const subscription = fromMqtt('mqtt://localhost:1883', ['rupesh/gpiotopic', 'sensors/+/log'], { qos: 1 })
 *   .pipe(decodeIotPayload())
 *   .subscribe(({ payload, message }) => console.log(message.topic, payload.iottimestamp, payload.accesslogs));
 * setTimeout(() => subscription.unsubscribe(), 60_000);
 * ```
 *
 * @example Acknowledge after the downstream write, with a persistent session
 * ```ts
 * import { concatMap } from 'rxjs';
 * import { fromMqtt } from 'mqtt-iot-stream';
 *
 * const store = async (text: string) => { console.log(text); };
 * fromMqtt({ url: 'mqtt://localhost:1883', clientId: 'aggregator-1', clean: false, properties: { sessionExpiryInterval: 3600 } },
 *   'rupesh/gpiotopic', { qos: 1, ack: 'manual' })
 *   .pipe(concatMap(async (message) => { await store(message.payload.toString()); message.ack(); }))
 *   .subscribe();
 * ```
 *
 * @param conn - a client you own, or a URL or options for a client this operator owns.
 * @param topics - one topic filter or several.
 * @param options - QoS, acknowledgement mode, subscription options.
 * @returns an Observable of messages that subscribes when subscribed to.
 * @see {@link toMqtt}
 * @see {@link decodeIotPayload}
 */
export function fromMqtt(
  conn: MqttConnection,
  topics: string | readonly string[],
  options: FromMqttOptions = {},
): Observable<MqttMessage> {
  const check = optionChecks('fromMqtt');
  const filters = typeof topics === 'string' ? [topics] : [...topics];
  if (filters.length === 0) throw new RangeError('fromMqtt: give at least one topic filter');
  for (const filter of filters) {
    const problem = typeof filter === 'string' ? topicFilterProblem(filter) : 'a string';
    if (problem !== undefined)
      throw new TypeError(`fromMqtt: ${describeValue(filter)} is not a valid MQTT topic filter: it must be ${problem}`);
  }
  const qos = check.oneOf('qos', options.qos ?? FROM_MQTT_DEFAULTS.qos, QOS_LEVELS);
  const manual = check.oneOf('ack', options.ack ?? FROM_MQTT_DEFAULTS.ack, ['auto', 'manual']) === 'manual';
  const keepSubscription = check.boolean(
    'keepSubscription',
    options.keepSubscription ?? FROM_MQTT_DEFAULTS.keepSubscription,
  );

  const liveness = options.liveness;
  // Duck-typed, as clients are: the BrokerLiveness may come from another copy of this package.
  if (liveness !== undefined && typeof (liveness as Partial<BrokerLiveness> | null)?.attach !== 'function')
    throw check.error('type', 'liveness', 'a BrokerLiveness', liveness);

  const matchers = filters.map(topicMatcher);

  return new Observable<MqttMessage>((destination) => {
    if (liveness?.attached === true) {
      destination.error(
        new Error('fromMqtt: this BrokerLiveness already follows another subscription; give each fromMqtt its own'),
      );
      return;
    }
    const opened = openConnectionOrError('fromMqtt', conn, destination);
    if (opened === undefined) return;
    const { client, owned, broker } = opened;
    if (options.leave !== undefined && !owned) {
      destination.error(new Error('fromMqtt: leave ends the MQTT session: give connection options, not a client'));
      return;
    }
    // Acks handed out and not yet called: released or abandoned on teardown.
    const unacked = new OutstandingAcks();
    let active = true;

    const holdAcknowledgements = () => holdOutgoing(client);
    const lingerHere = (ms: number) => lingerIntake(client, ms);

    const onMessage = (topic: string, payload: Buffer, packet: IPublishPacket): void => {
      if (!matchers.some((matches) => matches(topic))) return;
      let ack: () => void = noop;
      if (manual && packet.qos > 0) ack = unacked.add(holdAck(client, packet));
      destination.next({
        topic,
        payload,
        qos: packet.qos,
        retain: packet.retain,
        dup: packet.dup,
        messageId: packet.qos > 0 ? packet.messageId : undefined,
        properties: packet.properties ?? {},
        ack,
        holdAcknowledgements,
        lingerIntake: lingerHere,
      });
    };
    client.on('message', onMessage);
    const stopWatching = watchConnection('fromMqtt', client, broker, (error) => destination.error(error));
    const statistics = options.statistics;
    const brokerStage = statistics?.stage('broker', () => new BrokerStatistics((change) => statistics.report(change)));
    const detachLiveness = liveness?.attach(client);
    const detachStatistics = brokerStage?.attach(client, broker, filters, liveness);

    // Leaving: UNSUBSCRIBE, then what the broker still holds, then complete and end the session.
    let drain: SessionDrain | undefined;
    let drained = false;
    let holdingFilters = false;
    const leave = () => {
      if (drain !== undefined || !active) return;
      drain = new SessionDrain(client, () =>
        setImmediate(() => {
          if (!active) return;
          drained = true;
          destination.complete();
        }),
      );
      if (holdingFilters) releaseFilters(client, filters);
      holdingFilters = false;
      const unsubscribe = () =>
        client.unsubscribe(filters, (error) => {
          if (!active) return;
          // Sent on a connection that closed under it: again on the next.
          if (error == null) drain?.unsubscribed();
          else client.once('connect', unsubscribe);
        });
      unsubscribe();
    };
    const leaving: Subscription | undefined = options.leave?.subscribe(leave);

    const fresh = drain === undefined ? acquireFilters(client, filters) : [];
    holdingFilters = drain === undefined;
    if (drain === undefined && fresh.length === 0) brokerStage?.subscriptionGranted();
    if (fresh.length > 0) {
      const request = Object.fromEntries(fresh.map((filter) => [filter, { ...options.subscribeOptions, qos }]));
      client.subscribe(request, (error, requested, suback) => {
        if (active && error == null) brokerStage?.subscriptionGranted();
        if (!active || error == null) return;
        // An error without a SUBACK comes from a connection that closed under the
        // request: MQTT.js subscribes again on reconnect, and a final connection
        // failure is reported by watchConnection.
        const codes = suback?.granted;
        if (codes === undefined) return;
        const topicsInOrder = (requested ?? []).map((grant) => grant.topic);
        // mqtt-packet types granted entries as number | Object; SUBACK carries numbers.
        const refused = codes.flatMap((code, i) =>
          typeof code === 'number' && code >= 0x80 ? [{ topic: topicsInOrder[i] ?? fresh[i] ?? '?', code }] : [],
        );
        const first = refused[0];
        if (first === undefined) return;
        destination.error(
          new MqttSubscribeError(
            `fromMqtt: the MQTT broker at ${broker} refused the subscription to ${refused.map((r) => `"${r.topic}"`).join(', ')}: SUBACK ${describeReasonCode(first.code)}`,
            { topics: refused.map((r) => r.topic), reasonCode: first.code, cause: error },
          ),
        );
      });
    }

    return () => {
      active = false;
      leaving?.unsubscribe();
      drain?.stop();
      client.off('message', onMessage);
      stopWatching();
      detachStatistics?.();
      detachLiveness?.();
      if (drained) {
        closeOwned(client, { endSession: true });
        return;
      }
      const unused = holdingFilters ? releaseFilters(client, filters) : [];
      const unsubscribe = !keepSubscription && unused.length > 0;
      if (!owned) {
        // The user's client must go on: acknowledge what we hold, or it stalls.
        unacked.settleAll();
        if (unsubscribe && !client.disconnecting) client.unsubscribe(unused);
        return;
      }
      // Owned client: unacknowledged messages are not acknowledged, so a persistent
      // session gets them again. UNSUBACK cannot be read past a held message.
      if (manual) leaveUnclaimedUnacknowledged(client);
      if (!unsubscribe || unacked.size > 0 || !client.connected) {
        closeOwned(client);
        return;
      }
      const timer = setTimeout(() => closeOwned(client), 2_000);
      client.unsubscribe(unused, () => {
        clearTimeout(timer);
        closeOwned(client);
      });
    };
  });
}

function noop(): void {
  /* QoS 0 and auto-acknowledged messages have nothing to acknowledge */
}
