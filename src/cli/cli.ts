#!/usr/bin/env node
// The mqtt-iot-stream command: the reference scenario without writing code.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { aggregateCommand, aggregateHelp } from './aggregateCommand.js';
import { demoCommand, demoHelp } from './demoCommand.js';
import { publishCommand, publishHelp } from './publishCommand.js';
import { UsageError } from './flags.js';
import { packageVersion } from './packageFiles.js';

const usage = `mqtt-iot-stream: a Raspberry Pi button → MQTT → per-status counts in event-time windows
→ Cassandra

Usage:
  mqtt-iot-stream demo [flags]        everything on this machine: in-process broker, simulated
                                      button, bundled log, live table (Cassandra optional)
  mqtt-iot-stream publish [flags]     the Pi side: each press of GPIO 17 publishes the next log line
  mqtt-iot-stream aggregate [flags]   the aggregator: count statuses per window, into Cassandra
                                      or to stdout
  mqtt-iot-stream <command> --help    the flags of a command
  mqtt-iot-stream --version           the version of this package

Every flag can also come from the environment variable shown beside it.`;

const commands: Record<string, { readonly help: string; readonly run: (argv: readonly string[]) => Promise<number> }> =
  {
    demo: { help: demoHelp, run: demoCommand },
    publish: { help: publishHelp, run: publishCommand },
    aggregate: { help: aggregateHelp, run: aggregateCommand },
  };

/** Runs the command line `argv` (without node and the script); resolves with the exit status. */
export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`mqtt-iot-stream ${packageVersion()}\n`);
    return 0;
  }
  const command = commands[name];
  if (command === undefined)
    throw new UsageError(`unknown command "${name}" (mqtt-iot-stream --help lists the commands)`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${command.help}\n`);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError)
      throw new UsageError(`${error.message} (mqtt-iot-stream ${name} --help lists the flags)`);
    throw error;
  }
}

/** How long a finished or failed command may take to let go of what it opened. */
const EXIT_GRACE_MS = 1_000;

// Run when started as a program (also through npm's bin link), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  // A socket a library failed to close (MQTT.js ended before its CONNACK, the Cassandra
  // driver's replacement connections) must not keep a finished command alive: after a
  // grace period the process exits with the status it already has.
  const finish = (status: number): void => {
    process.exitCode = status;
    setTimeout(() => process.exit(status), EXIT_GRACE_MS).unref();
  };
  let failed = false;
  // One line for the first failure, wherever it comes from (a rejected command, an
  // 'error' event nobody listened to); what fails after it is a consequence of it.
  const fail = (error: unknown): void => {
    if (failed) return;
    failed = true;
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`mqtt-iot-stream: ${message}\n`);
    finish(error instanceof UsageError ? 2 : 1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  main(process.argv.slice(2)).then(finish, fail);
}
