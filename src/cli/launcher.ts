// What started the command, when it matters for stopping it. npx (and npm exec, npm run,
// npm start) runs the command through npm's script shell: npm → sh -c 'mqtt-iot-stream'
// … → node. npm passes SIGTERM and SIGINT on to that shell only; sh (dash on Debian,
// and any sh that does not replace itself with its one command) dies of the signal
// without passing it on, and npm then kills itself with the same signal. Measured with
// npm 11.19 and dash 0.5.12: `kill -TERM <npx pid>` ends npx 17 ms later (status 143),
// and the aggregator, re-parented to PID 1, runs on, unseen, holding its state
// directory's lock and its MQTT session; Ctrl-C (SIGINT to all three) ends npx with 130
// while the aggregator is still writing its windows. So, started by npm, the command
// watches its parent and stops as on SIGTERM once it is gone: no orphan, nothing lost.
// npx's own exit status stays 143 or 130, and npx does not wait for the stop: a service
// runs the command itself (docs/cli.md, "Running it as a service").

/** Whether npm started this process: it sets `npm_lifecycle_event` (`npx` for npx) for what it runs. */
export function startedByNpm(environment: NodeJS.ProcessEnv = process.env): boolean {
  return (environment['npm_lifecycle_event'] ?? '') !== '';
}

/** How often the parent is looked for: a stop starts at most this long after npx has gone. */
export const PARENT_CHECK_MS = 500;

/**
 * Calls `onGone` once, with the pid of the process that started this one, when that
 * process has gone: this one was re-parented (to PID 1 or a subreaper), so its parent id
 * changed. Returns the function that stops watching. Nothing is watched when the parent
 * is PID 1 already (a container's entry point, a daemon).
 */
export function whenParentGone(onGone: (parent: number) => void): () => void {
  const parent = process.ppid;
  if (parent <= 1) return () => {};
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone(parent);
  }, PARENT_CHECK_MS);
  // The command's own work (a socket, a timer) keeps the process alive, never this.
  timer.unref();
  return () => clearInterval(timer);
}
