// The mqtt-iot-stream command as a user runs it (the built bin), including the
// one-command demo on its embedded defaults.
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const cli = join(resolve(import.meta.dirname, '..'), 'dist', 'examples', 'cli.js');

describe('the mqtt-iot-stream command', function () {
  this.timeout(60_000);

  it('explains itself with --help, per command, with defaults and environment variables', async () => {
    const { stdout } = await run(process.execPath, [cli, '--help']);
    expect(stdout).to.match(/demo \[flags\]/).and.match(/publish \[flags\]/).and.match(/aggregate \[flags\]/);
    const publish = await run(process.execPath, [cli, 'publish', '--help']);
    expect(publish.stdout).to.match(/--topic\s+.*\(default: "rupesh\/gpiotopic"\)\s+\[\$MQTT_TOPIC\]/);
    const aggregate = await run(process.execPath, [cli, 'aggregate', '--help']);
    expect(aggregate.stdout).to.match(/--window\s+.*"1 minute"/).and.match(/--watermark\s+.*"2 minutes"/).and.match(/--keyspace\s+.*"hyper"/);
  });

  it('refuses an unknown command or flag with a message that names it', async () => {
    const unknown = await run(process.execPath, [cli, 'frobnicate']).catch((error: { code: number; stderr: string }) => error);
    expect(unknown).to.include({ code: 1 });
    expect((unknown as { stderr: string }).stderr).to.match(/unknown command "frobnicate"/);
    const badFlag = await run(process.execPath, [cli, 'demo', '--colour', 'blue']).catch((error: { code: number; stderr: string }) => error);
    expect((badFlag as { stderr: string }).stderr).to.match(/--colour/);
  });

  it('runs the demo on its embedded defaults: every press sent is received and counted, then exits', async () => {
    const { stdout } = await run(process.execPath, [cli, 'demo', '--duration', '6', '--rate', '2']);
    const summary = /sent (\d+) · received (\d+) · rejected (\d+) · late (\d+)/.exec(stdout);
    expect(summary, stdout).to.not.equal(null);
    const [, sent, received, rejected, late] = summary!.map(Number);
    expect(sent).to.be.at.least(5);
    expect(received).to.equal(sent);
    expect(late).to.equal(0);
    // Every received line is counted in a window or rejected: the flushed rows add up.
    const counted = [...stdout.matchAll(/\b\d{3}:(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
    expect(counted + rejected!).to.equal(received);
    expect(stdout).to.match(/Next: examples\/pi-publisher\.ts/);
  });
});
