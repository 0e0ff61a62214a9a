/**
 * `BrokerLiveness`: MQTT pings as the proof that a silent subscription is idle, not
 * stalled, for idle advance.
 * @module
 */
import { asyncScheduler, type SchedulerAction, type SchedulerLike, type Subscription } from 'rxjs';
import type { MqttClient, Packet } from 'mqtt';
import type { Duration } from '../duration.js';
import { optionChecks } from '../internal/options.js';
import { PacketIdentifierSet } from './packetIdentifierSet.js';
import type { QuietProof, SourceLiveness } from '../window/idleAdvance.js';

/** The defaults of {@link BrokerLiveness}'s options, which their TSDoc quotes. */
const BROKER_LIVENESS_DEFAULTS = { pingEvery: '1 s', maxRoundTrip: '1 s' } as const;

/** Options of {@link BrokerLiveness}. */
export interface BrokerLivenessOptions {
  /**
   * How often to ping the broker while connected (one PINGREQ at a time; MQTT.js's
   * keep-alive pings count too). Default `'1 s'`.
   */
  pingEvery?: Duration;
  /**
   * A ping answered later than this is a stall: the silence before it proves nothing
   * and counting starts again. Default `'1 s'`. A stall shorter than
   * `pingEvery + maxRoundTrip` can go unseen, so keep the sum below the watermark delay.
   */
  maxRoundTrip?: Duration;
  /** Where time and timers come from; the same as the idle advance's. Default RxJS's `asyncScheduler`. */
  scheduler?: SchedulerLike;
}

/** A PINGREQ on its way: when it left, and whether every message received had been acknowledged then. */
interface Ping {
  readonly sentAt: number;
  readonly settled: boolean;
}

/**
 * Proves, ping by ping, that the broker behind a {@link fromMqtt} is there and has
 * nothing more for it, so that {@link IdleAdvanceOptions.liveness idle advance} counts
 * only real idleness, never a stall. Give the same instance to `fromMqtt` (its
 * `liveness` option) and to the window operator's `idleAdvance.liveness`.
 *
 * The proof: MQTT packets on one connection arrive in order, so a PINGRESP comes after
 * every message the broker had for us when it handled our PINGREQ. A PINGREQ sent at
 * `T`, after the last message arrived and with every message received acknowledged
 * (so no message waits behind the broker's in-flight limit), shows that at `T` or
 * later the broker had nothing more: `until = T`. It counts only if answered within
 * `maxRoundTrip`; a later answer, or none yet, means the broker was stalled, and a
 * backlog (its own, or publishers' stuck behind it) may still come. So the proof
 * breaks on a late or missing answer, on a lost connection and on a new CONNACK,
 * and starts again (`since`) with the next prompt answer: while the broker is
 * unreachable, stalled or has just reconnected, the proven silence does not grow.
 *
 * It cannot see a publisher's own outage (a Pi buffering through a network blip while
 * the broker is fine): events it sends late are late by idle advance's rule, as
 * without it. A stall shorter than `pingEvery + maxRoundTrip` can go unseen.
 *
 * One `fromMqtt` subscription at a time; a re-subscription (retry, the durable
 * operator resuming intake) attaches again. While none is attached, nothing is proven.
 *
 * @example
 * ```ts
 * import { BrokerLiveness, fromMqtt, windowedCount } from 'mqtt-iot-stream';
 *
 * const liveness = new BrokerLiveness();
 * fromMqtt('mqtt://localhost:1883', 'sensors/+/event', { liveness })
 *   .pipe(windowedCount({
 *     eventTime: (message) => message.properties.userProperties?.['at'] as string,
 *     key: (message) => message.topic,
 *     windowDuration: '1 minute',
 *     watermarkDelay: '10 s',
 *     outputMode: 'append',
 *     idleAdvance: { after: '10 s', liveness },
 *   }))
 *   .subscribe((row) => console.log(row.windowStart, row.key, row.count));
 * ```
 */
export class BrokerLiveness implements SourceLiveness {
  private readonly pingEvery: number;
  private readonly maxRoundTrip: number;
  private readonly scheduler: SchedulerLike;
  private readonly listeners = new Set<() => void>();
  private client: MqttClient | undefined;
  /** PINGREQs not answered yet, oldest first (PINGRESPs answer them in order). */
  private pings: Ping[] = [];
  /** Packet identifiers of QoS ≥ 1 messages received and not yet acknowledged. */
  private readonly unacknowledged = new PacketIdentifierSet();
  private lastMessageAt = Number.NEGATIVE_INFINITY;
  private since: number | undefined;
  private until: number | undefined;
  private stalled = false;
  private stallCount = 0;
  private lastRoundTrip = Number.NaN;

  /**
   * @param options - how often to ping and how late an answer may come.
   * @throws TypeError or RangeError when an option is invalid.
   */
  constructor(options: BrokerLivenessOptions = {}) {
    const check = optionChecks('BrokerLiveness');
    this.pingEvery = check.duration('pingEvery', options.pingEvery ?? BROKER_LIVENESS_DEFAULTS.pingEvery, {
      positive: true,
    });
    this.maxRoundTrip = check.duration('maxRoundTrip', options.maxRoundTrip ?? BROKER_LIVENESS_DEFAULTS.maxRoundTrip, {
      positive: true,
    });
    this.scheduler = options.scheduler ?? asyncScheduler;
  }

  /** Whether a `fromMqtt` subscription is attached. */
  get attached(): boolean {
    return this.client !== undefined;
  }

  /** Stalls seen: pings answered later than `maxRoundTrip`, or not at all in that time (each stall once). */
  get stalls(): number {
    this.checkOverdue();
    return this.stallCount;
  }

  /** The last answered ping's round trip in ms (`NaN` before the first). */
  get roundTrip(): number {
    return this.lastRoundTrip;
  }

  provenQuiet(): QuietProof | undefined {
    if (this.client === undefined) return undefined;
    this.checkOverdue();
    const { since, until } = this;
    if (since === undefined || until === undefined) return undefined;
    const from = Math.max(since, this.lastMessageAt);
    return until > from ? { since: from, until } : undefined;
  }

  onProof(listener: () => void): () => void {
    // Wrapped: the same function given twice is called twice, and each removal removes one.
    const entry = () => listener();
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  /**
   * Follows `client` (and pings it) until the returned function is called.
   * @internal
   */
  attach(client: MqttClient): () => void {
    if (this.client !== undefined)
      throw new Error('fromMqtt: this BrokerLiveness already follows another subscription; give each its own');
    this.client = client;
    this.reset();
    const onSend = (packet: Packet) => this.sent(packet);
    const onReceive = (packet: Packet) => this.received(packet);
    const onClose = () => this.reset();
    client.on('packetsend', onSend);
    client.on('packetreceive', onReceive);
    client.on('close', onClose);
    const every = this.pingEvery;
    const ping = () => this.ping(client);
    const pinger: Subscription = this.scheduler.schedule(function (this: SchedulerAction<unknown>) {
      ping();
      this.schedule(undefined, every);
    }, 0);
    return () => {
      pinger.unsubscribe();
      client.off('packetsend', onSend);
      client.off('packetreceive', onReceive);
      client.off('close', onClose);
      this.client = undefined;
      this.reset();
    };
  }

  /** One PINGREQ at a time: a stalled one already breaks the proof, more would only queue. */
  private ping(client: MqttClient): void {
    if (!client.connected || this.pings.length > 0 || typeof client.sendPing !== 'function') return;
    client.sendPing();
  }

  private sent(packet: Packet): void {
    switch (packet.cmd) {
      case 'pingreq':
        // 'packetsend' comes as MQTT.js writes the packet, so this is no later than it left.
        this.pings.push({ sentAt: this.scheduler.now(), settled: this.unacknowledged.size === 0 });
        break;
      case 'puback':
      case 'pubcomp':
        // The broker frees the message's in-flight slot (and may send a queued one) on this.
        if (packet.messageId !== undefined) this.unacknowledged.delete(packet.messageId);
        break;
      case 'pubrec':
        if ((packet.reasonCode ?? 0) >= 0x80 && packet.messageId !== undefined)
          this.unacknowledged.delete(packet.messageId);
        break;
    }
  }

  private received(packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        this.lastMessageAt = this.scheduler.now();
        if (packet.qos > 0 && packet.messageId !== undefined) this.unacknowledged.add(packet.messageId);
        break;
      case 'pingresp': {
        const ping = this.pings.shift();
        if (ping === undefined) break;
        this.lastRoundTrip = this.scheduler.now() - ping.sentAt;
        if (this.lastRoundTrip > this.maxRoundTrip) {
          this.stall();
          break;
        }
        this.stalled = false;
        // A prompt answer: the broker was there. The run of prompt answers starts here
        // if it was broken; the silence is proven up to this ping if nothing was pending.
        this.since ??= ping.sentAt;
        if (ping.settled && ping.sentAt > this.lastMessageAt) {
          this.until = ping.sentAt;
          for (const listener of [...this.listeners]) listener();
        }
        break;
      }
      case 'connack':
        // A new connection: what the session kept for us may follow.
        this.reset();
        break;
    }
  }

  /** The oldest ping not answered in time: stalled now, whatever the late answer will say. */
  private checkOverdue(): void {
    const oldest = this.pings[0];
    if (oldest !== undefined && this.scheduler.now() - oldest.sentAt > this.maxRoundTrip) this.stall();
  }

  private stall(): void {
    if (!this.stalled) this.stallCount++;
    this.stalled = true;
    this.breakProof();
  }

  private breakProof(): void {
    this.since = undefined;
    this.until = undefined;
  }

  /** A new or lost connection: pings and unacknowledged messages belonged to the old one. */
  private reset(): void {
    this.breakProof();
    this.stalled = false;
    this.pings = [];
    this.unacknowledged.clear();
  }
}
