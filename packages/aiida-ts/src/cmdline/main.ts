import { inspect } from 'node:util';
import { Command, CommanderError, Option } from 'commander';
import { Cli, type CliOptions } from './cli.js';
import { commandWord } from './command-word.js';
import { CliExit, ExitCode, UsageError } from './exit-codes.js';
import { packageVersion } from './package-version.js';
import { listCommandGroups, type CommandGroupEntry } from './registry.js';
import { VERBOSITY_LEVELS, type Verbosity } from './utils/output.js';

// Commander reports these as errors of the command line: exit code 2, as click does.
const USAGE_ERROR_CODES = new Set([
  'commander.unknownCommand',
  'commander.unknownOption',
  'commander.missingArgument',
  'commander.optionMissingArgument',
  'commander.missingMandatoryOptionValue',
  'commander.invalidArgument',
  'commander.conflictingOption',
  'commander.excessArguments',
  'verdi.usage',
]);

function groupsToLoad(argv: readonly string[], groups: readonly CommandGroupEntry[]): CommandGroupEntry[] {
  const { word, next } = commandWord(argv);
  const byName = (name: string | undefined) => groups.find((group) => group.name === name);
  if (word === undefined) {
    // `verdi --version` needs no command module at all: keep it as fast as starting node.
    const wantsHelp = argv.includes('-h') || argv.includes('--help');
    return argv.some((token) => token === '-V' || token === '--version') && !wantsHelp ? [] : [...groups];
  }
  if (word === 'help') {
    const group = byName(next);
    return group === undefined ? [...groups] : [group];
  }
  const group = byName(word);
  // An unknown word: load every group so that commander can suggest the closest command.
  return group === undefined ? [...groups] : [group];
}

function commandPath(command: Command): string {
  const names: string[] = [];
  for (let current: Command | null = command; current !== null; current = current.parent)
    names.unshift(current.name());
  return names.join(' ');
}

function applyToTree(command: Command, apply: (command: Command) => void): void {
  apply(command);
  for (const child of command.commands) applyToTree(child, apply);
}

/** Options of {@link runVerdi}. */
export interface RunVerdiOptions extends CliOptions {
  /** Command groups to offer; default: every group of `verdi` (see `listCommandGroups`). */
  readonly groups?: readonly CommandGroupEntry[];
}

/**
 * Run `verdi` with the words typed after it and resolve to the exit code (see {@link ExitCode}). Nothing here calls
 * `process.exit`: the executable does that after this returns.
 */
export async function runVerdi(argv: readonly string[], options: RunVerdiOptions = {}): Promise<number> {
  const cli = new Cli(options);
  const out = cli.out;
  const program = new Command('verdi')
    .description('The command line interface of aiida-ts.')
    .version(`aiida-ts version ${packageVersion()}`, '-V, --version', 'Show the version and exit.')
    .option('-p, --profile <name>', 'Execute the command for this profile instead of the default profile.')
    .addOption(
      new Option('-v, --verbosity <level>', 'Set the verbosity of the output.')
        .choices(VERBOSITY_LEVELS.map((level) => level.toLowerCase()))
        .default('report'),
    )
    .enablePositionalOptions()
    .showSuggestionAfterError();

  const groups = options.groups ?? listCommandGroups();
  for (const entry of groupsToLoad(argv, groups)) {
    const group = await entry.load();
    program.addCommand(group.build(cli).description(group.description));
  }

  applyToTree(program, (command) => {
    command.exitOverride();
    command.helpOption('-h, --help', 'Show this message and exit.');
    if (command.commands.length > 0) command.helpCommand('help [command]', 'Show help for a command.');
    command.configureOutput({
      writeOut: (text) => out.writeOut(text),
      writeErr: (text) => out.writeErr(text),
      outputError: (text, write) => write(out.errColors.red(text)),
    });
    command.showHelpAfterError(`(run \`${commandPath(command)} --help\` for usage)`);
  });
  program.hook('preAction', () => {
    const rootOptions = program.opts<{ profile?: string; verbosity: string }>();
    cli.profileName = rootOptions.profile;
    cli.out.verbosity = rootOptions.verbosity.toUpperCase() as Verbosity;
  });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.SUCCESS;
  } catch (error) {
    return reportError(error, cli);
  } finally {
    await cli.close();
  }
}

function reportError(error: unknown, cli: Cli): number {
  const out = cli.out;
  if (error instanceof CliExit) return error.exitCode;
  if (error instanceof CommanderError) {
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version')
      return ExitCode.SUCCESS;
    // `verdi help <group>` exits 0; a group called without a subcommand prints its help on stderr with a non-zero
    // code, which is a usage error (as in click 8.2).
    if (error.code === 'commander.help')
      return error.exitCode === 0 ? ExitCode.SUCCESS : ExitCode.USAGE_ERROR;
    return USAGE_ERROR_CODES.has(error.code) ? ExitCode.USAGE_ERROR : error.exitCode;
  }
  if (error instanceof UsageError) {
    out.writeErr(`${out.errColors.red(`error: ${error.message}`)}\n`);
    if (error.hint !== undefined) out.writeErr(`${error.hint}\n`);
    return ExitCode.USAGE_ERROR;
  }
  const typed = error as { name?: string; message?: string; stack?: string; code?: unknown };
  // Every aiida-ts error is an expected failure with a message meant for the user.
  const isAiidaError =
    typeof error === 'object' &&
    error !== null &&
    (error as Record<symbol, unknown>)[Symbol.for('aiida-ts.AiidaError')] === true;
  if (isAiidaError) {
    out.writeErr(
      `${out.errColors.red(out.errColors.bold('Critical:'))} ${typed.message ?? inspect(error)}\n`,
    );
    if (cli.out.verbosity === 'DEBUG' && typed.stack !== undefined) out.writeErr(`${typed.stack}\n`);
    return ExitCode.CRITICAL;
  }
  out.writeErr(
    `${out.errColors.red(out.errColors.bold('Critical:'))} unexpected ${typed.name ?? 'error'}: ${typed.message ?? inspect(error)}\n`,
  );
  if (typed.stack !== undefined) out.writeErr(`${typed.stack}\n`);
  return ExitCode.UNKNOWN;
}
