/**
 * The `broker` stage of the live statistics: the state of {@link fromMqtt}'s connection.
 * @module
 */
import type { MqttClient } from 'mqtt';
import type { BrokerLiveness } from './brokerLiveness.js';
import {
  counterStatistic,
  gaugeStatistic,
  type Readiness,
  type StageChange,
  type Statistic,
  type StatisticsSource,
} from '../observe/statistic.js';

/** What a connection is doing now. */
type BrokerState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

const STATES: readonly BrokerState[] = ['connecting', 'connected', 'reconnecting', 'closed'];

/**
 * One per pipeline, kept across re-subscriptions (a durable aggregator closes its
 * connection while the writer is backlogged and opens a new one after), so its
 * counters go on: each subscription attaches its client, and detaches it on teardown.
 * @internal
 */
export class BrokerStatistics implements StatisticsSource {
  readonly stage = 'broker';
  private state: BrokerState = 'closed';
  private subscribed = false;
  private broker = '';
  private topics = '';
  private lostAt: number | undefined;
  private connections = 0;
  private losses = 0;
  private reconnectAttempts = 0;
  private messages = 0;
  private liveness: BrokerLiveness | undefined;
  /** Stalls seen by earlier subscriptions' livenesses, and the current one's count when it was attached. */
  private earlierStalls = 0;
  private stallsAtAttach = 0;
  /** Once a liveness was attached, its statistics stay listed. */
  private pinging = false;

  constructor(private readonly report: (change: Omit<StageChange, 'at'>) => void) {}

  /** Follows `client` (and the `liveness` pinging it, if any) until the returned function is called. */
  attach(client: MqttClient, broker: string, topics: readonly string[], liveness?: BrokerLiveness): () => void {
    this.broker = broker;
    this.liveness = liveness;
    this.stallsAtAttach = liveness?.stalls ?? 0;
    if (liveness !== undefined) this.pinging = true;
    this.topics = topics.join(', ');
    this.subscribed = false;
    this.setState(client.connected ? 'connected' : 'connecting');
    const onConnect = () => {
      this.connections++;
      const lostAt = this.lostAt;
      this.lostAt = undefined;
      // Connected before it is told: a listener reading the statistics sees the broker back.
      this.setState('connected');
      if (lostAt !== undefined)
        this.change('connected', `broker ${this.broker} back after ${Math.round((Date.now() - lostAt) / 1000)} s`);
    };
    const onClose = () => {
      if (client.disconnecting || this.state !== 'connected') return;
      this.losses++;
      this.lostAt = Date.now();
      this.setState('reconnecting');
      this.change('reconnecting', `lost the broker ${this.broker}: reconnecting`);
    };
    const onReconnect = () => {
      this.reconnectAttempts++;
    };
    const onMessage = () => {
      this.messages++;
    };
    client.on('connect', onConnect);
    client.on('close', onClose);
    client.on('reconnect', onReconnect);
    client.on('message', onMessage);
    return () => {
      client.off('connect', onConnect);
      client.off('close', onClose);
      client.off('reconnect', onReconnect);
      client.off('message', onMessage);
      this.earlierStalls = this.stalls();
      this.liveness = undefined;
      this.subscribed = false;
      this.setState('closed');
    };
  }

  /**
   * The broker granted the subscription (or it was already there). It stays granted
   * across reconnections: the session keeps it, or MQTT.js subscribes again.
   */
  subscriptionGranted(): void {
    this.subscribed = true;
  }

  statistics(): Statistic[] {
    return [
      gaugeStatistic('broker_connected', '1 while connected to the MQTT broker', this.state === 'connected' ? 1 : 0),
      gaugeStatistic('broker_subscribed', '1 while connected and the subscription is granted', this.ready() ? 1 : 0),
      ...STATES.map((state) =>
        gaugeStatistic(
          'broker_state',
          'The MQTT connection state: 1 for the current one',
          this.state === state ? 1 : 0,
          {
            state,
          },
        ),
      ),
      counterStatistic('broker_connections_total', 'Successful connections (CONNACK) to the broker', this.connections),
      counterStatistic(
        'broker_connection_losses_total',
        'Connections to the broker lost after they were up',
        this.losses,
      ),
      counterStatistic('broker_reconnects_total', 'Reconnection attempts', this.reconnectAttempts),
      counterStatistic('broker_messages_total', 'PUBLISH packets received on the subscribed topics', this.messages),
      ...(!this.pinging
        ? []
        : [
            counterStatistic(
              'broker_stalls_total',
              'Times the broker answered a ping late or not at all (idle advance waited meanwhile)',
              this.stalls(),
            ),
            gaugeStatistic(
              'broker_ping_round_trip_seconds',
              "The round trip of the broker's last answered ping",
              (this.liveness?.roundTrip ?? Number.NaN) / 1000,
            ),
          ]),
    ];
  }

  readiness(): Readiness {
    switch (this.state) {
      case 'connected':
        return this.subscribed
          ? { ready: true, reason: `connected to ${this.broker}, subscribed to ${this.topics}` }
          : { ready: false, reason: `connected to ${this.broker}, waiting for the subscription to ${this.topics}` };
      case 'connecting':
        return { ready: false, reason: `connecting to ${this.broker}` };
      case 'reconnecting':
        return {
          ready: false,
          reason: `lost the broker ${this.broker} ${Math.round((Date.now() - (this.lostAt ?? Date.now())) / 1000)} s ago; reconnecting`,
        };
      case 'closed':
        return { ready: false, reason: 'not connected (no subscription open)' };
    }
  }

  private stalls(): number {
    return this.earlierStalls + (this.liveness === undefined ? 0 : this.liveness.stalls - this.stallsAtAttach);
  }

  private ready(): boolean {
    return this.state === 'connected' && this.subscribed;
  }

  private setState(state: BrokerState): void {
    this.state = state;
  }

  private change(state: BrokerState, reason: string): void {
    this.report({ stage: this.stage, state, reason });
  }
}
