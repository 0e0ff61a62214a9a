// The package as npm publishes it, for the tests that use it as a user would: `npm pack`
// in a clean copy of the repository (the files a clone has, no dist/: prepack builds
// it there, so nothing is written into this checkout), once per test run, and projects
// made by `npm init -y` with the tarball installed.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export const projectRoot = resolve(import.meta.dirname, '..', '..');

/** What `npm pack` made. */
export interface PackedPackage {
  /** The clean copy it was packed from (with dist/ built by prepack). */
  readonly clone: string;
  /** The .tgz file. */
  readonly tarball: string;
  /** The paths inside the tarball, relative to the package root. */
  readonly files: readonly string[];
}

const temporary = new Set<string>();
process.once('exit', () => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory removed when the test process exits. */
export function temporaryDirectory(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporary.add(dir);
  return dir;
}

/** Runs npm in `cwd`; throws with npm's own output when it fails. */
export function npm(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  try {
    return execFileSync('npm', args, { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failed = error as { status: number; stdout: string; stderr: string };
    throw new Error(`npm ${args.join(' ')} (in ${cwd}) exited ${failed.status}:\n${failed.stdout}${failed.stderr}`, {
      cause: error,
    });
  }
}

let packed: PackedPackage | undefined;

/**
 * The packed package, made on first call (a full build: a minute or so on two cores)
 * and kept for the rest of the run. Call it from a `before` hook with a long timeout.
 */
export function packedPackage(): PackedPackage {
  if (packed !== undefined) return packed;
  const clone = temporaryDirectory('mqtt-iot-stream-clone-');
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: projectRoot,
    encoding: 'utf8',
  });
  for (const file of listed.split('\0').filter((name) => name !== '' && existsSync(join(projectRoot, name)))) {
    mkdirSync(dirname(join(clone, file)), { recursive: true });
    cpSync(join(projectRoot, file), join(clone, file));
  }
  // The installed dependencies, linked one by one: the copy builds its own cache.
  mkdirSync(join(clone, 'node_modules'));
  for (const entry of readdirSync(join(projectRoot, 'node_modules')).filter((name) => name !== '.cache'))
    symlinkSync(join(projectRoot, 'node_modules', entry), join(clone, 'node_modules', entry));
  const destination = temporaryDirectory('mqtt-iot-stream-tarball-');
  const [report] = JSON.parse(npm(['pack', '--json', '--pack-destination', destination], clone)) as [
    { filename: string; files: { path: string }[] },
  ];
  packed = { clone, tarball: join(destination, report.filename), files: report.files.map((file) => file.path) };
  return packed;
}

/** `npm install` flags for the tests: from the cache when it can, no audit, no scripts. */
export const QUIET_INSTALL = ['--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'];

/**
 * A project as `npm init -y` makes it, in a fresh temporary directory, with the packed
 * package and `packages` installed. Returns the project's directory.
 */
export function projectWithPackage(packages: readonly string[] = []): string {
  const project = temporaryDirectory('readme-project-');
  npm(['init', '-y'], project);
  npm(['install', ...QUIET_INSTALL, packedPackage().tarball, ...packages], project);
  return project;
}

/**
 * The installed command's script, from the installed package.json's `bin` (so a move of
 * the command needs no change here).
 */
export function installedBin(project: string, command = 'mqtt-iot-stream'): string {
  const root = join(project, 'node_modules', 'mqtt-iot-stream');
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    bin?: string | Record<string, string>;
  };
  const bin = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[command];
  if (bin === undefined) throw new Error(`the installed package.json has no bin "${command}"`);
  return join(root, bin);
}
