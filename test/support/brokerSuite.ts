// One Mosquitto for a describe block of MQTT tests, and the clean-up after each test:
// the test's subscriptions ended, then its clients closed.
import type { Subscription } from 'rxjs';
import { startMosquitto, type Mosquitto, type MosquittoOptions } from './mosquitto.js';
import { closeClients } from './mqttHelpers.js';

/** What {@link brokerSuite} gives the tests of a describe block. */
export interface BrokerSuite {
  /** The block's broker, started by its `before` hook. */
  readonly broker: Mosquitto;
  /** A test's RxJS subscriptions: each is unsubscribed after the test, before its clients are closed. */
  readonly subscriptions: Subscription[];
}

/**
 * Call inside a `describe`: registers its hooks (the broker started with `options`
 * before the tests and disposed of after them; after each test, the subscriptions
 * ended and the test clients closed) and returns what the tests use.
 */
export function brokerSuite(options: MosquittoOptions = {}): BrokerSuite {
  let broker: Mosquitto | undefined;
  const subscriptions: Subscription[] = [];
  before(async function () {
    broker = await startMosquitto(options);
  });
  afterEach(async function () {
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    await closeClients();
  });
  after(async function () {
    await broker?.dispose();
  });
  return {
    get broker(): Mosquitto {
      if (broker === undefined) throw new Error('the broker is started by the before hook: use it inside a test');
      return broker;
    },
    subscriptions,
  };
}
