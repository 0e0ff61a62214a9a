// The command line as commander reads it: the program, its three commands, their flags
// and help, and commander's errors turned into ours (one line, status 2). cli.ts runs
// `main`; tests can run it in-process.
import { Command, CommanderError } from 'commander';
import { aggregateCommand } from './aggregateCommand.js';
import { demoCommand } from './demoCommand.js';
import { addFlags, dropEmptyVariables, type FlagSet, type Switch } from './flags.js';
import { packageVersion } from './packageFiles.js';
import { publishCommand } from './publishCommand.js';
import { UsageError } from './usageError.js';

/** One command: what the help says of it, its flags, and what it runs. */
export interface CommandSpec {
  readonly name: string;
  /** One line for the program's list of commands. */
  readonly summary: string;
  /** The paragraphs under the command's usage line, each line at most 80 columns. */
  readonly description: string;
  readonly flags: FlagSet;
  readonly switches?: readonly Switch[];
  /** Text after the flags in the help, each line at most 80 columns. */
  readonly after?: string;
  /** Runs the command; resolves with its exit status. */
  readonly run: (command: Command) => Promise<number>;
}

/** Help is written for 80 columns, also on a wider terminal: lines that long stay readable. */
export const HELP_WIDTH = 80;

const PROGRAM = 'mqtt-iot-stream';

const DESCRIPTION = `A Raspberry Pi button → MQTT → per-status counts in event-time windows
→ Cassandra, without writing code.

Every flag can also come from the environment variable its help names; the
command line wins. Durations are milliseconds or text: 10000, '10 s', '7 days'.
Exit status: 0 done, 1 something it needs failed, 2 the command line is wrong,
3 another client took aggregate's MQTT session (do not restart it as it is).`;

/** The program: `demo`, `publish` and `aggregate`, each a {@link CommandSpec}. */
export function cliProgram(specs: readonly CommandSpec[] = [demoCommand, publishCommand, aggregateCommand]): {
  readonly program: Command;
  /** The status of the command that ran, once `parseAsync` has resolved. */
  readonly status: () => number;
} {
  let status = 0;
  const program = new Command(PROGRAM)
    .description(DESCRIPTION)
    .usage('<command> [flags]')
    .version(`${PROGRAM} ${packageVersion()}`, '-V, --version', 'the version of this package')
    .helpOption('-h, --help', 'this help; <command> --help: the flags of a command')
    .helpCommand(false)
    .showSuggestionAfterError(true)
    .configureOutput({
      getOutHelpWidth: () => Math.min(HELP_WIDTH, process.stdout.columns || HELP_WIDTH),
      getErrHelpWidth: () => Math.min(HELP_WIDTH, process.stderr.columns || HELP_WIDTH),
      // Errors become one UsageError line (main); commander's own lines would be a second.
      outputError: () => {},
    })
    .configureHelp({ subcommandTerm: (command) => `${command.name()} [flags]` })
    .exitOverride()
    .addHelpText('after', `\nRun "${PROGRAM} <command> --help" for the flags of a command.`);
  for (const spec of specs) {
    // program.command() (not addCommand) so each command inherits the output and exit settings.
    const command = program
      .command(spec.name)
      .summary(spec.summary)
      .description(spec.description)
      .usage('[flags]')
      .helpOption('-h, --help', 'this help')
      .allowExcessArguments(true); // refused by the action, in our words
    addFlags(command, spec.flags, spec.switches);
    if (spec.after !== undefined) command.addHelpText('after', `\n${spec.after}`);
    command.action(async (_options: unknown, self: Command) => {
      if (self.args.length > 0)
        throw new UsageError(
          `unexpected argument ${self.args[0]!}: values go after their flag (--name value) (${PROGRAM} ${spec.name} --help lists the flags)`,
        );
      try {
        status = await spec.run(self);
      } catch (error) {
        if (error instanceof UsageError)
          throw new UsageError(`${error.message} (${PROGRAM} ${spec.name} --help lists the flags)`);
        throw error;
      }
    });
  }
  return { program, status: () => status };
}

/**
 * Runs the command line `argv` (without node and the script); resolves with the exit
 * status, rejects with a {@link UsageError} (status 2) or the failure (status 1).
 */
export async function main(argv: readonly string[]): Promise<number> {
  const { program, status } = cliProgram();
  dropEmptyVariables(program);
  if (argv.length === 0) {
    process.stdout.write(program.helpInformation());
    return 2;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.exitCode === 0) return 0; // --help, --version
    const command = program.commands.find((each) => each.name() === argv[0]);
    throw new UsageError(usageProblem(error, command?.name()));
  }
  return status();
}

/** Commander's error as one line in our words, saying where the flags or commands are listed. */
export function usageProblem(error: CommanderError, command: string | undefined): string {
  const [first = '', ...rest] = error.message.replace(/^error: /, '').split('\n');
  const suggestion = /\(Did you mean (?:one of )?(.*)\?\)/.exec(rest.join(' '))?.[1];
  const didYouMean = suggestion === undefined ? '' : `: did you mean ${suggestion}?`;
  const where =
    command === undefined ? `(${PROGRAM} --help lists the commands)` : `(${PROGRAM} ${command} --help lists the flags)`;
  switch (error.code) {
    case 'commander.unknownOption':
      return `unknown flag ${/'([^']*)'/.exec(first)?.[1] ?? first}${didYouMean} ${where}`;
    case 'commander.unknownCommand':
      return `unknown command "${/'([^']*)'/.exec(first)?.[1] ?? first}"${didYouMean} ${where}`;
    case 'commander.optionMissingArgument':
      return `${/'(--[^ ']+)/.exec(first)?.[1] ?? 'a flag'} needs a value ${where}`;
    default:
      return `${first}${didYouMean} ${where}`;
  }
}
