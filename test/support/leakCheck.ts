// A leaked socket, timer or child process keeps Node alive after the last test: without
// this, the run would hang silently (mocha runs without --exit on purpose). Once every
// test and hook has finished, give teardown a grace period, then fail loudly, naming
// what is still open. A global teardown, not a root afterAll: root hooks run in the
// order they were added, so an afterAll here ran before the test files' own root
// `after` hooks, and a cluster taking 20 s to stop ate into the grace.
const GRACE_MS = 30_000;

export function mochaGlobalTeardown(): void {
  const timer = setTimeout(() => {
    const open = process.getActiveResourcesInfo().filter((kind) => kind !== 'TTYWrap');
    process.stderr.write(
      `\nleak check: the process is still alive ${GRACE_MS / 1000} s after the last test; open resources: ${open.join(', ') || 'none reported'}\n`,
    );
    // Mocha's own 'exit' listener sets the exit code from the test failures (0 here);
    // this one, added later, runs after it.
    process.on('exit', () => {
      process.exitCode = 1;
    });
    process.exit(1);
  }, GRACE_MS);
  timer.unref(); // this timer itself must not keep the process alive
}
