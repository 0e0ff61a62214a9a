#!/usr/bin/env node
// The mqtt-iot-stream command (package.json's bin): the reference scenario without
// writing code. It runs the command line and ends the process: every failure is one
// line on stderr with status 2 (the command line is wrong), 3 (another client took the
// aggregator's MQTT session) or 1 (anything else), in the words of flags and files
// (failureMessage.ts), and the process exits within a second of its command ending,
// whatever a library left open.
import { exitStatus, failureMessage } from './failureMessage.js';
import { main } from './program.js';

/** How long a finished or failed command may take to let go of what it opened. */
const EXIT_GRACE_MS = 1_000;

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
  process.stderr.write(`mqtt-iot-stream: ${failureMessage(error)}\n`);
  finish(exitStatus(error));
};
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);
main(process.argv.slice(2)).then(finish, fail);
