// A small real file system for the state directory's failures: a tmpfs of a few pages,
// mounted by the test (root: the tests run as root here and in CI), filled with a file
// until the kernel says ENOSPC, emptied again, remounted read-only and back. A mount
// that fails fails the test with the reason: it is never skipped.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A mounted tmpfs. */
export interface Tmpfs {
  /** Where it is mounted. */
  readonly path: string;
  /** Writes a file until the file system is full (ENOSPC); returns the bytes it took. */
  fill(): number;
  /** Removes what {@link Tmpfs.fill} wrote. */
  empty(): void;
  /** `mount -o remount,ro` (`rw` back); throws with mount's message when the kernel refuses. */
  remount(mode: 'ro' | 'rw'): void;
  /** Unmounts and removes the mount point; safe to call twice. */
  unmount(): void;
}

const FILLER = '.filler';

/** Mounts a tmpfs of `bytes` (rounded up to pages by the kernel) on a new temporary directory. */
export function mountTmpfs(bytes: number): Tmpfs {
  const path = mkdtempSync(join(tmpdir(), 'state-tmpfs-'));
  try {
    run('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', path]);
  } catch (error) {
    rmSync(path, { recursive: true, force: true });
    throw new Error(
      `cannot mount a tmpfs on ${path} (${(error as Error).message}): the state directory failure tests need root ` +
        '(mount -t tmpfs); run them as root, as CI does',
      { cause: error },
    );
  }
  let mounted = true;
  return {
    path,
    fill() {
      const fd = openSync(join(path, FILLER), 'a');
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      let taken = 0;
      try {
        // Smaller and smaller writes, down to one byte: every page the kernel still has is taken.
        for (let size = chunk.length; size >= 1;) {
          try {
            taken += writeSync(fd, chunk, 0, size);
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
            size = Math.floor(size / 2);
          }
        }
      } finally {
        closeSync(fd);
      }
      return taken;
    },
    empty() {
      rmSync(join(path, FILLER), { force: true });
    },
    remount(mode) {
      run('mount', ['-o', `remount,${mode}`, path]);
    },
    unmount() {
      if (!mounted) return;
      mounted = false;
      try {
        run('umount', [path]);
      } catch {
        // Still busy (a process of a failed test holds a file there): detach it anyway.
        run('umount', ['-l', path]);
      }
      rmSync(path, { recursive: true, force: true });
    },
  };
}

function run(command: string, args: readonly string[]): void {
  try {
    execFileSync(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${command} ${args.join(' ')}: ${stderr || (error as Error).message}`, { cause: error });
  }
}
