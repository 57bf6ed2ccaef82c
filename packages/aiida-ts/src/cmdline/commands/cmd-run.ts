import { Command, Option } from 'commander';
import type { EngineProcessInstance } from '../../engine/processes/instantiate.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { CliExit, ExitCode, UsageError } from '../exit-codes.js';

/** The signals that end a run, and the exit code a shell reports for each (128 + signal number). */
const SIGNAL_EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
type RunSignal = keyof typeof SIGNAL_EXIT_CODES;
const RUN_SIGNALS = Object.keys(SIGNAL_EXIT_CODES) as RunSignal[];

/** How long a clean kill (the running step ends first) may take before the processes are killed at once. */
const FORCE_KILL_AFTER_MS = 2_000;

interface RunOptions {
  readonly logFormat?: string;
  readonly autoGroup?: boolean;
  readonly autoGroupLabelPrefix?: string;
  readonly exclude?: string[];
  readonly include?: string[];
}

/** `Label<pk>` of a process, as aiida-core names one in messages. */
function nameOf(process: EngineProcessInstance): string {
  return `${process.node.processLabel ?? process.constructor.name}<${String(process.pk ?? process.node.uuid)}>`;
}

/** `A<1>`, `A<1> and B<2>`, `A<1>, B<2> and C<3>`. */
function listOf(names: readonly string[]): string {
  return names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} and ${names.at(-1) ?? ''}`;
}

/** What became of the processes a signal tried to kill, read from their nodes: one sentence. */
function interruptionSummary(signal: RunSignal, targets: readonly EngineProcessInstance[]): string {
  const killed: string[] = [];
  const others: string[] = [];
  for (const target of targets) {
    const node = target.node;
    const state = node.processState;
    if (state === 'killed') killed.push(nameOf(target));
    else if (state === 'finished')
      others.push(`${nameOf(target)} finished [${String(node.exitStatus ?? 0)}] before the kill took effect`);
    else if (state === 'excepted') others.push(`${nameOf(target)} excepted before the kill took effect`);
    else others.push(`${nameOf(target)} is still ${String(state ?? 'unknown')}`);
  }
  const clauses = [
    ...(killed.length === 0 ? [] : [`${listOf(killed)} ${killed.length === 1 ? 'was' : 'were'} killed`]),
    ...others,
  ];
  return clauses.length === 0
    ? `Interrupted by ${signal}.`
    : `Interrupted by ${signal}: ${clauses.join('; ')}.`;
}

/** The processes of `runner` that have not terminated. */
function activeProcesses(live: readonly EngineProcessInstance[]): EngineProcessInstance[] {
  return live.filter((process) => !process.hasTerminated() && !process.isClosed);
}

/** The first error in `error`'s cause chain that is an instance of `errorClass`, if any. */
function findInChain<E extends Error>(
  error: unknown,
  errorClass: abstract new (...args: never[]) => E,
): E | undefined {
  const seen = new Set<unknown>();
  for (let current = error; typeof current === 'object' && current !== null && !seen.has(current);) {
    seen.add(current);
    if (current instanceof errorClass) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Whether a step's failure comes from a `ProcessStalledError`. */
function isStallError(error: unknown, stalledClass: abstract new (...args: never[]) => Error): boolean {
  return findInChain(error, stalledClass) !== undefined;
}

async function runScript(
  cli: Cli,
  scriptName: string,
  args: readonly string[],
  options: RunOptions,
): Promise<void> {
  const path = await import('node:path');
  const { existsSync } = await import('node:fs');
  const { pathToFileURL } = await import('node:url');
  const { ValidationError, ProcessStalledError, DatabaseUnavailableError } = await import('../../errors.js');
  const logging = await import('../../engine/logging.js');

  // The output format first: a wrong value is a usage error before anything runs.
  try {
    const fromEnv = process.env[logging.LOG_FORMAT_ENV];
    const format =
      options.logFormat !== undefined
        ? logging.parseLogFormat(options.logFormat, '--log-format')
        : fromEnv !== undefined && fromEnv !== ''
          ? logging.parseLogFormat(fromEnv, logging.LOG_FORMAT_ENV)
          : 'halfverbose';
    logging.setLogFormat(format);
    cli.defer(() => logging.setLogFormat(undefined));
  } catch (error) {
    if (error instanceof ValidationError) throw new UsageError(error.message, undefined, { cause: error });
    throw error;
  }
  const autoGroupOptions = [options.autoGroupLabelPrefix, options.exclude, options.include].some(
    (value) => value !== undefined,
  );
  if (autoGroupOptions && options.autoGroup !== true)
    throw new UsageError('-l/--auto-group-label-prefix, -e/--exclude and -i/--include need --auto-group');
  if (options.exclude !== undefined && options.include !== undefined)
    throw new UsageError('-e/--exclude and -i/--include cannot be given together');

  const { AutogroupManager } = await import('../../orm/autogroup.js');
  try {
    AutogroupManager.validate(options.exclude);
    AutogroupManager.validate(options.include);
  } catch (error) {
    if (error instanceof ValidationError)
      throw new UsageError(
        error.message,
        'end the list of -e/-i values with `--` before the script: verdi run -i aiida.data:core.int -- script.ts',
        { cause: error },
      );
    throw error;
  }

  const script = path.resolve(scriptName);
  if (!existsSync(script)) {
    cli.out.critical(`the script \`${scriptName}\` does not exist`);
  }
  const storage = await cli.storage();
  logging.configureLogging();
  // Once the profile's database has been away for longer than the storage waits for it, every write fails the same
  // way (the step, its report, its end state, the runner's records): those log lines are left out and one line at the
  // end says what happened. A database that comes back in time produces none of them.
  let databaseAway: string | undefined;
  const restoreLogLines = logging.filterLogLines((line) => {
    if (!line.includes('DatabaseUnavailableError')) return false;
    databaseAway ??=
      /the database `[^`]*` \([^)]*\)(?: of profile `[^`]*`)? could not be reached for \d+ s/.exec(line)?.[0];
    return true;
  });
  cli.defer(() => restoreLogLines());

  if (options.autoGroup === true) {
    const { getAutogroupManager } = await import('../../orm/autogroup.js');
    const autogroup = getAutogroupManager(storage);
    autogroup.setGroupLabelPrefix(options.autoGroupLabelPrefix);
    autogroup.setExclude(options.exclude);
    autogroup.setInclude(options.include);
    autogroup.enable();
    cli.defer(() => {
      autogroup.disable();
      autogroup.setExclude(undefined);
      autogroup.setInclude(undefined);
    });
  }

  const { getManager } = await import('../../engine/manager.js');
  const manager = getManager();
  cli.defer(() => manager.close());
  // This command handles the signals for every process of the script, foreground or submitted.
  const runner = await manager.getRunner({ handleSignals: false });

  // A self-contained script runs from its cached compiled module; any other through the loader hooks (tsx).
  const { prepareScript } = await import('../utils/script-cache.js');
  const { resolveOwnModule } = await import('../utils/own-modules.js');
  let scriptUrl = pathToFileURL(script).href;
  let prepared: Awaited<ReturnType<typeof prepareScript>> | undefined;
  try {
    prepared = await prepareScript(script, resolveOwnModule);
  } catch {
    // esbuild refused the script (a syntax error) or the cache is not writable: tsx reports or runs it as before
  }
  if (prepared?.kind === 'compiled') {
    scriptUrl = prepared.url;
    // stack traces name the script's lines, not the compiled module's (the module carries an inline source map)
    process.setSourceMapsEnabled(true);
  } else {
    const { registerScriptLoader } = await import('../utils/script-loader.js');
    const unregister = await registerScriptLoader();
    cli.defer(() => unregister());
  }

  // Settles when the run must stop waiting for the script: interrupted with nothing to kill, or stalled.
  let stopWaiting: () => void = () => undefined;
  const stopped = new Promise<'stopped'>((resolve) => {
    stopWaiting = () => resolve('stopped');
  });

  // Ctrl-C, SIGTERM or SIGHUP (the terminal or SSH session closed) kills the processes running here: cleanly first
  // (a running step ends), at once when they still run two seconds later or at the second signal. One line says
  // so; the summary at the end says what became of each, read from its node.
  let signalled: RunSignal | undefined;
  let targets: EngineProcessInstance[] = [];
  let forced = false;
  let escalation: NodeJS.Timeout | undefined;
  const killAll = (force: boolean, signal: RunSignal): void => {
    for (const live of activeProcesses(runner.liveProcesses))
      live.kill(`Killed by ${signal}`, { forceKill: force });
  };
  const onSignal = (signal: RunSignal): void => {
    // After a hang-up the terminal is gone: writing to it fails (EIO), which must not crash the clean-up.
    if (signal === 'SIGHUP')
      for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
    if (signalled === undefined) {
      signalled = signal;
      targets = activeProcesses(runner.liveProcesses);
      if (targets.length === 0) {
        // A process that has just ended may still be writing its end (it stays live until then): stop waiting for
        // the script only once that is stored, or the node would be left saying it runs.
        void Promise.all(
          runner.liveProcesses.map((live) => live.provenance.whenWritten().catch(() => undefined)),
        ).then(stopWaiting);
        return;
      }
      cli.out.warning(
        `${signal}: killing ${listOf(targets.map(nameOf))} once the running steps return (again to kill at once)`,
      );
      killAll(false, signal);
      escalation = setTimeout(() => {
        forced = true;
        killAll(true, signal);
      }, FORCE_KILL_AFTER_MS);
      escalation.unref();
    } else if (!forced) {
      forced = true;
      cli.out.warning(`${signal}: killing them at once`);
      killAll(true, signal);
    }
  };
  const handlers = RUN_SIGNALS.map((signal) => [signal, () => onSignal(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);

  // The event loop drained while a process is still active: its step awaits a promise nothing can settle (Node
  // would exit with code 13, the node left `running`). Mark such processes excepted, children first, so the
  // script's `await` rejects and the run ends with a message.
  const stalled: string[] = [];
  let scriptStalled = false;
  const onDrained = (): void => {
    const stuck = activeProcesses(runner.liveProcesses);
    if (stuck.length === 0) {
      scriptStalled = true;
      stopWaiting();
      return;
    }
    for (const process of [...stuck].reverse()) {
      if (process.hasTerminated()) continue;
      stalled.push(nameOf(process));
      const error = new ProcessStalledError(
        `${nameOf(process)} was still ${String(process.node.processState ?? 'active')} when nothing was left ` +
          'to run: a step awaits a promise that can never settle (verdi run marked it excepted)',
      );
      // Where verdi noticed is no clue to the user: the traceback on the node is the message alone.
      error.stack = `${error.name}: ${error.message}`;
      process.fail(error);
    }
  };
  process.on('beforeExit', onDrained);

  cli.defer(() => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
    process.off('beforeExit', onDrained);
    if (escalation !== undefined) clearTimeout(escalation);
  });

  const savedArgv = process.argv;
  process.argv = [savedArgv[0] ?? process.execPath, script, ...args];
  let failure: unknown;
  try {
    const outcome: unknown = await Promise.race([import(scriptUrl) as Promise<unknown>, stopped]);
    // Processes the script submitted run in this JS process: wait for them before leaving.
    if (outcome !== 'stopped') await Promise.race([runner.awaitIdle(), stopped]);
  } catch (error) {
    failure = error;
  } finally {
    process.argv = savedArgv;
  }
  if (failure === undefined && !scriptStalled && signalled === undefined) {
    try {
      await runner.awaitIdle();
    } catch (error) {
      failure = error;
    }
  }

  if (signalled !== undefined) {
    // Every kill has ended (or the script stopped): the nodes say what happened.
    await Promise.race([runner.awaitIdle(), stopped]).catch(() => undefined);
    const summary = interruptionSummary(signalled, targets);
    cli.out.stderr.write(`${summary}\n`);
    throw new CliExit(SIGNAL_EXIT_CODES[signalled] as ExitCode);
  }
  const unavailable = findInChain(failure, DatabaseUnavailableError)?.message ?? databaseAway;
  if (unavailable !== undefined) {
    cli.out.error(
      `${unavailable}; the run ended and its processes keep the state their nodes last had: once the database is ` +
        'back, `verdi process list` shows their runner gone and `verdi process repair` hands them to the daemon',
    );
    throw new CliExit(ExitCode.CRITICAL);
  }
  if (stalled.length > 0) {
    cli.out.error(
      `${listOf(stalled)} never finished: nothing was left to run while ${stalled.length === 1 ? 'it was' : 'they were'} ` +
        'still active (a step awaits a promise that can never settle); marked excepted',
    );
    if (failure !== undefined && !isStallError(failure, ProcessStalledError)) printFailure(cli, failure);
    throw new CliExit(ExitCode.CRITICAL);
  }
  if (scriptStalled) {
    cli.out.error(
      `the script never finished: its top-level \`await\` waits for a promise that can never settle ` +
        '(nothing was left to run)',
    );
    throw new CliExit(ExitCode.CRITICAL);
  }
  if (failure !== undefined) {
    printFailure(cli, failure);
    throw new CliExit(ExitCode.CRITICAL);
  }
}

function printFailure(cli: Cli, failure: unknown): void {
  const error = failure as { name?: string; message?: string; stack?: string };
  cli.out.stderr.write(
    `${error.stack ?? `${error.name ?? 'Error'}: ${error.message ?? JSON.stringify(failure)}`}\n`,
  );
}

export default defineCommandGroup({
  name: 'run',
  description: 'Execute a TypeScript (or JavaScript) script with the profile loaded.',
  build(cli: Cli): Command {
    return new Command('run')
      .argument('<scriptname>', 'The script to run (`.ts`, `.mts`, `.js`, `.mjs`); no build step is needed.')
      .argument('[varargs...]', 'Arguments handed to the script (its `process.argv.slice(2)`).')
      .option('--auto-group', 'Enables the autogrouping: every node the script stores goes into one group.')
      .option(
        '-l, --auto-group-label-prefix <prefix>',
        'Specify the prefix of the label of the auto group (numbers might be automatically appended to generate ' +
          'unique names per run).',
      )
      .option(
        '-e, --exclude <entry-points...>',
        'Exclude these classes from auto grouping (full entry point strings such as `aiida.data:core.int`, `%` ' +
          'and `_` as wildcards); end the list with `--` before the script.',
      )
      .option(
        '-i, --include <entry-points...>',
        'Include only these classes in auto grouping (full entry point strings, `%` and `_` as wildcards); end the ' +
          'list with `--` before the script.',
      )
      .addOption(
        new Option(
          '--log-format <format>',
          'How reports and other log records are printed on stderr: `halfverbose` (aiida-core’s console format, ' +
            'with time and logger), `cli` (aiida-core’s `Report: …`) or `json` (one JSON object per line). Default: ' +
            'AIIDA_TS_LOG_FORMAT, else halfverbose.',
        ).choices(['halfverbose', 'cli', 'json']),
      )
      .passThroughOptions()
      .allowUnknownOption()
      .summary('Execute a script with the profile loaded.')
      .description(
        'Execute a TypeScript or JavaScript script with the profile loaded: `aiida-ts` imported by the script shares the ' +
          'profile, its storage and the process runner. Processes the script submits run here and are waited for. ' +
          'Ctrl-C (or SIGTERM, SIGHUP) kills the running processes; a process left waiting for a promise that can ' +
          'never settle is marked excepted. Options go before the script; what follows it is the script’s.',
      )
      .action(async (scriptname: string, varargs: string[], opts: RunOptions) => {
        await runScript(cli, scriptname, varargs, opts);
      });
  },
});
