// `mqtt-iot-stream demo`: the flags of the one-command demo, read and checked before
// anything starts.
import type { Command } from 'commander';
import { runDemo } from './demo.js';
import { decimalNumber, duration } from './flagValues.js';
import { flags, logFile, oldLogFlag, readFlags, withDefault } from './flags.js';
import type { CommandSpec } from './program.js';

// The demo closes windows quickly so a newcomer sees final rows within half a minute.
// Its dashboard is on by default, on loopback only: the demo is there to be watched, and
// on 9464 (a port to bookmark, and Prometheus's exporter port) unless another demo or
// an aggregator has it, when any free port will do: two demos never fail over a port.
const demoFlags = {
  log: flags.log,
  file: oldLogFlag(flags.log),
  rate: {
    name: 'rate',
    value: 'per-second',
    env: 'DEMO_RATE',
    fallback: '2',
    help: 'automatic presses a second, up to 20 (0: only Enter); above ~3 the 300 ms bounce time swallows presses',
    group: 'Button, LED and log:',
    read: decimalNumber(0, 20),
  },
  window: withDefault(flags.window, '10 seconds'),
  watermark: withDefault(flags.watermark, '10 seconds'),
  cassandra: flags.cassandra,
  datacenter: flags.datacenter,
  keyspace: flags.keyspace,
  table: flags.table,
  aggregateTable: flags.aggregateTable,
  aggregates: flags.aggregates,
  value: flags.value,
  duration: {
    name: 'duration',
    value: 'time',
    env: 'DEMO_DURATION',
    fallback: 'off',
    help: "stop by itself after this long, e.g. '30 s' (off or 0: at Ctrl-C or q)",
    group: 'Output and status:',
    read: duration({ min: 1_000, off: true }),
  },
  http: withDefault(flags.http, 'auto'),
} as const;

export const demoCommand: CommandSpec = {
  name: 'demo',
  summary: 'everything on this machine: in-process broker, simulated button, bundled log, live table',
  description: `Everything on this machine: an in-process MQTT broker, the Pi publisher on a
simulated button, the aggregator and a live table (Cassandra optional). Enter
presses the button; Ctrl-C (or q) stops, flushing the open windows.

With --aggregates (e.g. count,sum,max,p99 --value bytes), the line under the
table shows the newest window's aggregates per status (and --cassandra writes
them to --aggregate-table).

The same windows, live, in a browser: the dashboard address is printed above
the table. It listens on this machine only, on 127.0.0.1:9464, or on a free port
when another demo or an aggregator has that one (--http off: no dashboard).`,
  flags: demoFlags,
  run: runDemoCommand,
};

async function runDemoCommand(command: Command): Promise<number> {
  const settings = readFlags(command, demoFlags);
  await runDemo({
    logFile: logFile(settings, command),
    rate: settings.rate,
    window: settings.window,
    watermark: settings.watermark,
    cassandra: settings.cassandra,
    datacenter: settings.datacenter,
    keyspace: settings.keyspace,
    table: settings.aggregates === undefined ? settings.table : settings.aggregateTable,
    durationMs: settings.duration ?? 0,
    http: settings.http,
    aggregates: settings.aggregates === undefined ? undefined : { list: settings.aggregates, value: settings.value },
  });
  return 0;
}
