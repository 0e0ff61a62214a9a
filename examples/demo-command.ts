// `mqtt-iot-stream demo`: the flags of the one-command demo, read and checked before
// anything starts.
import { runDemo } from './demo.js';
import { describeFlags, integerSetting, readSettings, type FlagName } from './settings.js';

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
] as const satisfies readonly FlagName[];
// The demo closes windows quickly so a newcomer sees final rows within half a minute.
const demoDefaults = { window: '10 seconds', watermark: '10 seconds', cassandra: undefined };

export const demoHelp = `mqtt-iot-stream demo [flags]

Everything on this machine: an in-process MQTT broker, the Pi publisher on a simulated
button, the aggregator and a live table. Enter presses the button; Ctrl-C (or q) stops,
flushing the open windows.

${describeFlags(demoFlags, demoDefaults)}`;

export async function demoCommand(argv: readonly string[]): Promise<number> {
  const s = readSettings(argv, demoFlags, demoDefaults);
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
  });
  return 0;
}
