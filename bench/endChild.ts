// Ending a benchmark's helper process without waiting for ever.
import type { ChildProcess } from 'node:child_process';

/** Disconnects the IPC channel, which tells the child to leave; SIGKILL if it is still there after 5 s. */
export async function endChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.disconnect();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
