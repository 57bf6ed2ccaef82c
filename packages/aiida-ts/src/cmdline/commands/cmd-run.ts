import { Command } from 'commander';
import { defineCommandGroup, type Cli } from '../cli.js';
import { CliExit, ExitCode } from '../exit-codes.js';

/** The exit code of a run ended by Ctrl-C (128 + SIGINT), as shells report it. */
const INTERRUPTED = 130;

/**
 * Loader hooks (a data: URL module, so that they need no file of their own) that make `aiida-ts`, `plumpy-ts` and
 * `kiwipy-ts` in a script resolve to the very modules `verdi` runs with: the script then shares the loaded profile,
 * its storage and the engine's runner, wherever the script lives.
 */
function hooksModule(parentUrl: string): string {
  const code = `
const PACKAGES = ['aiida-ts', 'plumpy-ts', 'kiwipy-ts'];
const PARENT = ${JSON.stringify(parentUrl)};
export async function resolve(specifier, context, nextResolve) {
  if (PACKAGES.some((name) => specifier === name || specifier.startsWith(name + '/'))) {
    return nextResolve(specifier, { ...context, parentURL: PARENT });
  }
  const resolved = await nextResolve(specifier, context);
  // Scripts are ES modules (top-level await), also outside a package whose package.json says so.
  if (/\\.tsx?$/.test(resolved.url) && resolved.url.startsWith('file:') && !resolved.url.includes('/node_modules/') && resolved.format !== 'module') {
    return { ...resolved, format: 'module' };
  }
  return resolved;
}`;
  return `data:text/javascript,${encodeURIComponent(code)}`;
}

interface RunOptions {
  readonly waitSeconds?: string;
}

async function runScript(
  cli: Cli,
  scriptName: string,
  args: readonly string[],
  _options: RunOptions,
): Promise<void> {
  const path = await import('node:path');
  const { existsSync } = await import('node:fs');
  const { pathToFileURL } = await import('node:url');
  const script = path.resolve(scriptName);
  if (!existsSync(script)) {
    cli.out.critical(`the script \`${scriptName}\` does not exist`);
  }
  await cli.storage();
  const { configureLogging, getLogger } = await import('../../engine/logging.js');
  configureLogging();
  const { getManager } = await import('../../engine/manager.js');
  const manager = getManager();
  cli.defer(() => manager.close());

  const { register } = await import('node:module');
  register(hooksModule(import.meta.url));
  const tsx = await import('tsx/esm/api');
  const unregister = tsx.register();
  cli.defer(() => unregister());

  // Ctrl-C (or SIGTERM) kills the processes running here: cleanly first (a running step ends), at once when they
  // are still running two seconds later or at the second signal. No node is left `running`.
  let interrupted = false;
  let escalation: NodeJS.Timeout | undefined;
  const killAll = async (forceKill: boolean, signal: string): Promise<void> => {
    const runner = await manager.getRunner();
    for (const live of runner.liveProcesses) {
      if (!live.hasTerminated() && !live.isClosed) live.kill(`Killed by ${signal}`, { forceKill });
    }
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    const force = interrupted;
    interrupted = true;
    getLogger('aiida').warn(
      { signal },
      force ? 'killing the running processes at once' : 'killing the running processes',
    );
    void killAll(force, signal).catch(() => undefined);
    escalation ??= setTimeout(() => void killAll(true, signal).catch(() => undefined), 2_000);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  cli.defer(() => {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    if (escalation !== undefined) clearTimeout(escalation);
  });

  const savedArgv = process.argv;
  process.argv = [savedArgv[0] ?? process.execPath, script, ...args];
  let failure: unknown;
  try {
    await import(pathToFileURL(script).href);
  } catch (error) {
    failure = error;
  } finally {
    process.argv = savedArgv;
  }
  // Processes the script submitted run in this JS process: wait for them before leaving.
  try {
    const runner = await manager.getRunner();
    await runner.awaitIdle();
  } catch (error) {
    failure ??= error;
  }
  if (interrupted) {
    cli.out.stderr.write('Interrupted: the running processes were killed.\n');
    throw new CliExit(INTERRUPTED as ExitCode);
  }
  if (failure !== undefined) {
    const error = failure as { name?: string; message?: string; stack?: string };
    cli.out.stderr.write(
      `${error.stack ?? `${error.name ?? 'Error'}: ${error.message ?? JSON.stringify(failure)}`}\n`,
    );
    throw new CliExit(ExitCode.CRITICAL);
  }
}

export default defineCommandGroup({
  name: 'run',
  description: 'Execute a TypeScript (or JavaScript) script with the profile loaded.',
  build(cli: Cli): Command {
    return new Command('run')
      .argument('<scriptname>', 'The script to run (`.ts`, `.mts`, `.js`, `.mjs`); no build step is needed.')
      .argument('[varargs...]', 'Arguments handed to the script (its `process.argv.slice(2)`).')
      .passThroughOptions()
      .allowUnknownOption()
      .summary('Execute a script with the profile loaded.')
      .description(
        'Execute a TypeScript or JavaScript script with the profile loaded: `aiida-ts` imported by the script shares the ' +
          'profile, its storage and the process runner. Processes the script submits run here and are waited for. ' +
          'Ctrl-C kills the running processes.',
      )
      .action(async (scriptname: string, varargs: string[], opts: RunOptions) => {
        await runScript(cli, scriptname, varargs, opts);
      });
  },
});
