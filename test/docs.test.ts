// The API site as a reader meets it: `npm run docs` builds without a warning, the
// sidebar follows the pipeline (the six operators first, in the order data flows, then
// one group per stage), the front page has one title, and the README's diagram is
// narrow enough not to wrap in the site's code block.
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { inflateSync } from 'node:zlib';

const projectRoot = resolve(import.meta.dirname, '..');

interface NavigationNode {
  readonly text: string;
  readonly children?: readonly NavigationNode[];
}

describe('the API docs', function () {
  this.timeout(180_000);
  let out: string;
  let navigation: readonly NavigationNode[];
  let modules: readonly NavigationNode[];

  before(() => {
    out = mkdtempSync(join(tmpdir(), 'mqtt-iot-stream-docs-'));
    // typedoc.json sets treatWarningsAsErrors: a warning fails this.
    execFileSync(process.execPath, [join(projectRoot, 'node_modules/typedoc/bin/typedoc'), '--out', out], {
      cwd: projectRoot,
      encoding: 'utf8',
      stdio: 'pipe',
    });
    // The sidebar's data: base64 of deflated JSON, as the default theme writes it.
    const script = readFileSync(join(out, 'assets', 'navigation.js'), 'utf8');
    const data = /navigationData = "([^"]+)"/.exec(script)?.[1];
    expect(data, 'navigation data').to.be.a('string');
    const sidebar = JSON.parse(inflateSync(Buffer.from(data!, 'base64')).toString('utf8')) as NavigationNode[];
    // Two entry points: the sidebar holds one node per module, each with its groups.
    modules = sidebar.flatMap((node) => node.children ?? []);
    navigation = modules.find((node) => node.text === 'mqtt-iot-stream')?.children ?? [];
  });

  after(() => rmSync(out, { recursive: true, force: true }));

  it('groups the sidebar by pipeline stage, the six operators first in pipeline order', () => {
    const groups = navigation.map((node) => node.text);
    expect(groups).to.deep.equal([
      'Operators',
      'GPIO',
      'Files',
      'Payload',
      'MQTT',
      'Access logs',
      'Windows',
      'Cassandra',
      'Observability',
      'Errors and shared options',
    ]);
    expect(navigation[0]!.children!.map((node) => node.text)).to.deep.equal([
      'fromGpioButton',
      'toMqtt',
      'fromMqtt',
      'parseAccessLog',
      'windowedCount',
      'cassandraSink',
    ]);
    const member = (group: string) =>
      navigation.find((node) => node.text === group)!.children!.map((node) => node.text);
    expect(member('GPIO')).to.include('lightWhile');
    expect(member('GPIO')).to.not.include('SimulatedGpio');
    expect(member('Files')).to.include('nextLine');
    expect(member('Payload')).to.include('decodeIotPayload');
    expect(member('MQTT')).to.include.members(['topicMatches', 'redactCredentials']);
    expect(member('Access logs')).to.include('parseAccessLogLine');
    expect(member('Windows')).to.include.members(['WindowedCountState', 'WindowRow']);
    expect(member('Cassandra')).to.include('ensureWindowCountTable');
    expect(member('Errors and shared options')).to.include.members([
      'Duration',
      'RejectionError',
      'MqttConnectionError',
      'Rejection',
      'warnOnReject',
      'QueueFullError',
      'WriteQueueOptions',
    ]);
  });

  it('documents the test doubles under mqtt-iot-stream/testing, apart from the main entry', () => {
    expect(modules.map((node) => node.text)).to.deep.equal(['mqtt-iot-stream', 'mqtt-iot-stream/testing']);
    const testing = modules[1]!.children!.flatMap((group) => (group.children ?? []).map((node) => node.text));
    expect(testing).to.include.members([
      'SimulatedGpio',
      'sharedSimulatedGpio',
      'ManualClock',
      'RealClock',
      'keyboardButton',
    ]);
  });

  it('gives the front page one title', () => {
    const index = readFileSync(join(out, 'index.html'), 'utf8');
    expect(index.match(/<h1[\s>]/g)).to.have.length(1);
  });

  it('draws the README diagram within 90 columns, so the site does not wrap it', () => {
    const readme = readFileSync(join(projectRoot, 'README.md'), 'utf8');
    const diagram = /```text\n( *Raspberry Pi[\s\S]*?)```/.exec(readme)?.[1];
    expect(diagram, 'the diagram in a text block').to.be.a('string');
    for (const line of diagram!.split('\n')) expect([...line].length, line).to.be.at.most(90);
  });
});
