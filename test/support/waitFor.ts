// The one way the tests, and the servers they start, wait for something to happen:
// polling a condition under a deadline, never a fixed sleep.

/**
 * Polls `condition` every `intervalMs` until it holds; fails after `timeoutMs` with
 * `timed out after … ms waiting for <what>`. `what` may be a function, to describe the
 * state at the moment of failure (`() => \`3 rows, got ${rows.length}\``).
 *
 * `condition` may return a promise (a port probe, a query) and may throw to give up
 * before the deadline (a server that exited): the error is passed on as it is.
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  timeoutMs = 15_000,
  intervalMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const held = condition();
    // A plain boolean is not awaited, so a condition that already holds costs no extra tick.
    if (typeof held === 'boolean' ? held : await held) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
