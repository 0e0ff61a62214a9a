// The command against a real Cassandra node: a wrong --datacenter is named as the cause,
// with the data centres the cluster has, in one line and before anything else opens.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CASSANDRA_START_TIMEOUT_MS, cassandraNode, type CassandraNode } from './support/cassandra.js';
import { cliPath, projectRoot } from './support/cli.js';

/** Runs the built command with stdin closed; its status and output. */
function run(args: readonly string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(killer);
      resolve({ status, stdout, stderr });
    });
  });
}

describe('the command with a real Cassandra', function () {
  this.timeout(90_000);
  let node: CassandraNode;
  let stateRoot: string;

  before(async function () {
    this.timeout(CASSANDRA_START_TIMEOUT_MS);
    node = await cassandraNode();
    stateRoot = mkdtempSync(join(tmpdir(), 'cli-cassandra-'));
  });
  after(() => rmSync(stateRoot, { recursive: true, force: true }));

  for (const command of ['aggregate', 'demo'] as const) {
    it(`${command} --datacenter dc1 names the data centre as the cause, and the ones the cluster has (status 1, one line)`, async () => {
      const args =
        command === 'aggregate'
          ? ['aggregate', '--cassandra', node.contactPoint, '--datacenter', 'dc1', '--state-dir', join(stateRoot, 'dc')]
          : ['demo', '--cassandra', node.contactPoint, '--datacenter', 'dc1', '--http', 'off'];
      const { status, stderr } = await run(args);
      expect(status, stderr).to.equal(1);
      const failures = stderr
        .trimEnd()
        .split('\n')
        .filter((line) => line.startsWith('mqtt-iot-stream: '));
      expect(failures, stderr).to.deep.equal([
        `mqtt-iot-stream: --datacenter dc1 is not a data centre of the Cassandra at ${node.contactPoint}: its nodes ` +
          'are in datacenter1 (give --datacenter datacenter1; nodetool status names them)',
      ]);
      expect(stderr).not.to.match(/is it running\?|localDataCenter/);
    });
  }
});
