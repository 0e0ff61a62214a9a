// `mqtt-iot-stream demo`: the flags of the one-command demo, read and checked before
// anything starts.
import { runDemo } from './demo.js';
import { describeFlags, integerSetting, readSettings, UsageError, type FlagName } from './flags.js';
import { readListenAddress } from './statusEndpoint.js';

const demoFlags = [
  'file',
  'rate',
  'window',
  'watermark',
  'cassandra',
  'datacenter',
  'keyspace',
  'table',
  'duration',
  'http',
] as const satisfies readonly FlagName[];
// The demo closes windows quickly so a newcomer sees final rows within half a minute.
// Its dashboard is on by default, on loopback only: the demo is there to be watched, and
// on 9464 (a port to bookmark, and Prometheus's exporter port) unless another demo or
// an aggregator has it, when any free port will do: two demos never fail over a port.
const demoDefaults = { window: '10 seconds', watermark: '10 seconds', cassandra: undefined, http: 'auto' };

export const demoHelp = `mqtt-iot-stream demo [flags]

Everything on this machine: an in-process MQTT broker, the Pi publisher on a simulated
button, the aggregator and a live table. Enter presses the button; Ctrl-C (or q) stops,
flushing the open windows. The same windows, live, in a browser: the dashboard address
is printed above the table. It listens on this machine only, on 127.0.0.1:9464, or on a
free port when another demo or an aggregator has that one (--http off: no dashboard).

${describeFlags(demoFlags, demoDefaults)}`;

export async function demoCommand(argv: readonly string[]): Promise<number> {
  const s = readSettings(argv, demoFlags, demoDefaults);
  const http = readListenAddress(s.http);
  if (http !== undefined && 'problem' in http) throw new UsageError(`--http ${http.problem}`);
  await runDemo({
    logFile: s.file,
    rate: Number(s.rate),
    window: s.window,
    watermark: s.watermark,
    cassandra: s.cassandra,
    datacenter: s.datacenter,
    keyspace: s.keyspace,
    table: s.table,
    durationSeconds: integerSetting('duration', s.duration),
    http,
  });
  return 0;
}
