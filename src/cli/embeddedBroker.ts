// An in-process MQTT broker (Aedes) for the zero-install demo. Real deployments use
// Mosquitto; Aedes speaks MQTT 3.1.1, so clients of this broker use protocolVersion 4.
// Aedes is an optional dependency of the package (a Pi that only publishes installs
// without it), so it is loaded when the demo starts.
import { createServer, type AddressInfo } from 'node:net';

export interface EmbeddedBroker {
  readonly url: string;
  close(): Promise<void>;
}

/** Starts Aedes on a free loopback port. */
export async function startEmbeddedBroker(): Promise<EmbeddedBroker> {
  const { Aedes } = await import('aedes').catch((error: unknown) => {
    throw new Error(
      "the demo's embedded MQTT broker (aedes) is not installed: this install left it out " +
        '(npm install --omit=optional); run `npm install aedes` beside mqtt-iot-stream',
      { cause: error },
    );
  });
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        broker.close(() => server.close(() => resolve()));
      }),
  };
}
