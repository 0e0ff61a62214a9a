// The command's words, in-process: what a duration flag takes, and how the library's
// failures read at the command's edge (flags and files, one line, no operator names).
import { expect } from 'chai';
import { CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CassandraDriverMissingError } from '../src/cassandra/driver.js';
import { FlagValueProblem, brokerUrl, duration, positiveDuration } from '../src/cli/flagValues.js';
import { failureMessage, oneLine } from '../src/cli/failureMessage.js';
import { cliProgram, HELP_WIDTH, usageProblem } from '../src/cli/program.js';
import { GpioBackendUnavailableError, MqttConnectionError } from '../src/index.js';
import { finalConnectionError } from '../src/mqtt/connectionError.js';
import { projectRoot } from './support/cli.js';

const problem = (read: () => unknown): string => {
  try {
    read();
  } catch (error) {
    if (error instanceof FlagValueProblem) return error.message;
    throw error;
  }
  throw new Error('no problem');
};

describe('the command line: flag values', () => {
  it('reads every duration as milliseconds or text, through the library parser', () => {
    const read = duration();
    expect([read('10000'), read('10 s'), read('1 minute'), read('7 days'), read('250ms'), read('0')]).to.deep.equal([
      10_000, 10_000, 60_000, 604_800_000, 250, 0,
    ]);
    expect(problem(() => read('soon'))).to.equal(
      `must be a length of time such as '1 minute', '10 s' or 500 (milliseconds), got "soon"`,
    );
    expect(problem(() => read('-5 s'))).to.match(/^must be a length of time/);
    expect(problem(() => positiveDuration()('0'))).to.match(/above 0, got "0"$/);
  });

  it('takes off (and 0) where a duration can be none, and says when a bare number was meant as seconds', () => {
    const off = duration({ off: true, min: 1_000 });
    expect([off('off'), off('0'), off('2 s'), off('1500')]).to.deep.equal([undefined, undefined, 2_000, 1_500]);
    expect(problem(() => off('6'))).to.equal(
      `must be at least 1 second (or off), got "6" (a bare number is milliseconds: '6 s' is 6 seconds)`,
    );
    const seconds = duration({ min: 1_000, wholeSeconds: true, max: 4_294_967_295_000 });
    expect(seconds('7 days')).to.equal(604_800_000);
    expect(problem(() => seconds('1500'))).to.match(/^must be whole seconds, got "1500"/);
  });

  it('checks broker URLs against the library list of schemes', () => {
    for (const url of [
      'mqtt://h:1883',
      'mqtts://h',
      'ws://h/mqtt',
      'wss://h',
      'tcp://h',
      'ssl://h',
      'mqtt+unix:///run/m.sock',
    ])
      expect(brokerUrl(url), url).to.equal(url);
    for (const url of ['http://h', 'mqtt://', 'notaurl', 'mqtt:/h'])
      expect(
        problem(() => brokerUrl(url)),
        url,
      ).to.match(/^must be a broker URL such as mqtt:\/\/localhost:1883/);
  });
});

describe('the command line: failures in flags and files', () => {
  const broker = 'mqtt://127.0.0.1:1883';

  it("puts the flags in the library's broker messages, without the operator's name", () => {
    const refused = finalConnectionError(
      'toMqtt',
      Object.assign(new Error('Connection refused: Not authorized'), { code: 5 }),
      broker,
      false,
      true,
    )!;
    expect(failureMessage(refused)).to.match(
      /^the MQTT broker at .* refused the credentials: .*check --username and --password/,
    );
    const tls = finalConnectionError(
      'fromMqtt',
      Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }),
      'mqtts://127.0.0.1:8883',
      false,
      false,
    )!;
    expect(failureMessage(tls)).to.match(
      /give the CA that signed the broker's certificate with --ca, and a --broker host/,
    );
    expect(failureMessage(tls)).not.to.match(/fromMqtt|`ca`/);
    const silent = finalConnectionError('toMqtt', new Error('connack timeout'), broker, false, false)!;
    expect(failureMessage(silent)).to.equal(
      `no answer from the MQTT broker at ${broker} within 10 s: it took the connection and never answered CONNECT (is --broker an MQTT port?)`,
    );
    expect(
      failureMessage(
        new MqttConnectionError(
          'toMqtt: nothing accepts connections at x (ECONNREFUSED): is the broker running, and is the port right?',
          { broker },
        ),
      ),
    ).to.equal(
      'nothing accepts connections at x (ECONNREFUSED): is the broker running, and is the port right? (--broker sets the address)',
    );
  });

  it('makes a numbered GPIO diagnosis one line, naming --backend simulated', () => {
    const pigpio = new GpioBackendUnavailableError(
      "The pigpio GPIO backend cannot be used:\n  1. pigpio's native addon was never built: rebuild it.\n  2. this machine does not look like a Raspberry Pi: use backend 'simulated' to run pipelines elsewhere",
      { backend: 'pigpio', causes: ['native-addon-missing', 'not-a-raspberry-pi'] },
    );
    expect(failureMessage(pigpio)).to.equal(
      "The pigpio GPIO backend cannot be used: (1) pigpio's native addon was never built: rebuild it; (2) this machine does not look like a Raspberry Pi: use --backend simulated to run pipelines elsewhere",
    );
    const gpiod = new GpioBackendUnavailableError('The gpiod GPIO backend cannot be used: no /dev/gpiochip*.', {
      backend: 'gpiod',
      causes: ['no-chip'],
    });
    expect(failureMessage(gpiod)).to.equal(
      'The gpiod GPIO backend cannot be used: no /dev/gpiochip*; without a Pi, run with --backend simulated (Enter presses the button)',
    );
  });

  it('rephrases messages that start with an operator: the state directory, Cassandra, the endpoint, a missing driver', () => {
    expect(
      failureMessage(
        new Error(
          'durableWindowedCount: the state directory /s is in use by process 12; give each aggregator its own directory',
        ),
      ),
    ).to.equal(
      'the state directory /s is in use by process 12; give each aggregator its own --state-dir (or --aggregator-id)',
    );
    expect(failureMessage(new Error('cassandraSink: writes to hyper.mqtt failing'))).to.equal(
      'Cassandra: writes to hyper.mqtt failing',
    );
    expect(
      failureMessage(new Error('serveStatus: cannot listen on 127.0.0.1:9464: the port is already in use')),
    ).to.equal('--http: cannot listen on 127.0.0.1:9464: the port is already in use');
    expect(
      failureMessage(
        new Error(
          'cannot set up the counts table in Cassandra at h: checkWindowCountTable: hyper.mqtt exists with another schema',
        ),
      ),
    ).to.equal('cannot set up the counts table in Cassandra at h: hyper.mqtt exists with another schema');
    expect(failureMessage(new CassandraDriverMissingError('--cassandra', new Error('not found')))).to.match(
      /^--cassandra needs cassandra-driver, .*npm install cassandra-driver/,
    );
    expect(oneLine('first\n\nsecond.\nthird')).to.equal('first; second; third');
  });

  it("words commander's errors as one line that says where the flags are listed", () => {
    const error = (code: string, message: string) => new CommanderError(1, code, message);
    expect(
      usageProblem(
        error('commander.unknownOption', "error: unknown option '--brokr'\n(Did you mean --broker?)"),
        'publish',
      ),
    ).to.equal('unknown flag --brokr: did you mean --broker? (mqtt-iot-stream publish --help lists the flags)');
    expect(usageProblem(error('commander.unknownOption', "error: unknown option '--x'"), 'demo')).to.equal(
      'unknown flag --x (mqtt-iot-stream demo --help lists the flags)',
    );
    expect(
      usageProblem(
        error('commander.optionMissingArgument', "error: option '--qos <level>' argument missing"),
        'aggregate',
      ),
    ).to.equal('--qos needs a value (mqtt-iot-stream aggregate --help lists the flags)');
    expect(
      usageProblem(
        error('commander.unknownCommand', "error: unknown command 'publsh'\n(Did you mean publish?)"),
        undefined,
      ),
    ).to.equal('unknown command "publsh": did you mean publish? (mqtt-iot-stream --help lists the commands)');
  });
});

describe('the command line: its reference, docs/cli.md', () => {
  it('lists every flag of every command with its variable, as the help does', () => {
    const reference = readFileSync(join(projectRoot, 'docs', 'cli.md'), 'utf8');
    const { program } = cliProgram();
    for (const command of program.commands) {
      const section = reference.split(/^## /m).find((part) => part.startsWith(`${command.name()}\n`));
      expect(section, `a section for ${command.name()}`).to.be.a('string');
      for (const option of command.options.filter((each) => each.long !== '--help' && !each.hidden)) {
        expect(section, `${command.name()} ${option.flags}`).to.include(
          `| \`${option.flags}\` | \`${option.envVar!}\` |`,
        );
      }
    }
    expect(HELP_WIDTH).to.equal(80);
  });
});
