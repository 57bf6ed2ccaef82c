import { Command } from 'commander';
import { defineCommandGroup, type Cli } from '../cli.js';
import { CliExit, ExitCode } from '../exit-codes.js';
import { packageVersion } from '../package-version.js';

/** State of one service in `verdi status`, as AiiDA's `ServiceStatus`. */
export const ServiceStatus = { UP: 'up', ERROR: 'error', WARNING: 'warning', DOWN: 'down' } as const;
export type ServiceStatus = (typeof ServiceStatus)[keyof typeof ServiceStatus];

interface StatusLine {
  readonly service: string;
  readonly status: ServiceStatus;
  readonly message: string;
  readonly error?: string;
}

function errorText(error: unknown): string {
  const typed = error as { name?: string; message?: string };
  return `${typed.name ?? 'Error'}: ${typed.message ?? JSON.stringify(error)}`;
}

async function collect(
  cli: Cli,
  printTraceback: boolean,
): Promise<{ lines: StatusLine[]; exitCode: ExitCode }> {
  const lines: StatusLine[] = [];
  let exitCode: ExitCode = ExitCode.SUCCESS;
  const add = (line: StatusLine, error?: unknown): void => {
    lines.push(error === undefined ? line : { ...line, error: errorText(error) });
    if (error !== undefined && printTraceback && (error as Error).stack)
      cli.out.writeErr(`${(error as Error).stack}\n`);
  };

  add({ service: 'version', status: ServiceStatus.UP, message: `aiida-ts v${packageVersion()}` });
  const { getConfigDir } = await import('../../config/manager.js');
  add({ service: 'config', status: ServiceStatus.UP, message: getConfigDir() });

  let profile;
  try {
    profile = await cli.maybeProfile();
  } catch (error) {
    add({ service: 'profile', status: ServiceStatus.ERROR, message: 'Unable to read the profile' }, error);
    return { lines, exitCode: ExitCode.CRITICAL };
  }
  if (profile === undefined) {
    add({ service: 'profile', status: ServiceStatus.WARNING, message: 'no profile configured yet' });
    return { lines, exitCode };
  }
  add({ service: 'profile', status: ServiceStatus.UP, message: profile.name });

  const { openProfileStorage } = await import('../../config/load-profile.js');
  const { getStoragePlugin } = await import('../../storage/factory.js');
  let head = '<unknown>';
  try {
    head = getStoragePlugin(profile.storageBackend).versionHead();
    // Reachable, not damaged where opening looks (the file's header, the schema's tables) and at the code's schema
    // version: opening checks all three. No scan of the nodes or the repository here (aiida-core's `verdi status`
    // has none either): at millions of nodes that takes seconds; `verdi storage integrity` is the full check.
    const storage = await openProfileStorage(profile);
    try {
      const version = await storage.schemaVersion();
      add({
        service: 'storage',
        status: ServiceStatus.UP,
        message: `${storage.entryPoint} at ${storage.location}, schema version ${version ?? 'none'} (head ${head})`,
      });
    } finally {
      await storage.close();
    }
  } catch (error) {
    const name = (error as { name?: string }).name;
    exitCode = ExitCode.CRITICAL;
    if (name === 'IncompatibleStorageSchemaError') {
      add({
        service: 'storage',
        status: ServiceStatus.DOWN,
        message: `Storage schema version is incompatible with the code version '${head}'. Run \`verdi storage migrate\` to solve this.`,
      });
    } else if (name === 'CorruptStorageError') {
      add({ service: 'storage', status: ServiceStatus.DOWN, message: 'Storage is corrupted.' }, error);
    } else {
      add(
        {
          service: 'storage',
          status: ServiceStatus.DOWN,
          message: "Unable to connect to profile's storage.",
        },
        error,
      );
    }
  }

  if (profile.processControlBackend === null) {
    add({
      service: 'broker',
      status: ServiceStatus.WARNING,
      message: 'none: the profile has no broker configured',
    });
  } else {
    const { probeRabbitMq } = await import('../utils/rabbitmq.js');
    const probe = await probeRabbitMq(profile.processControlConfig);
    if (probe.reachable) {
      add({
        service: 'broker',
        status: ServiceStatus.UP,
        message: `RabbitMQ${probe.version ? ` v${probe.version}` : ''} @ ${probe.url}`,
      });
    } else {
      exitCode = ExitCode.CRITICAL;
      lines.push({
        service: 'broker',
        status: ServiceStatus.ERROR,
        message: `Unable to connect to broker: RabbitMQ @ ${probe.url}`,
        error: probe.error,
      });
    }
  }

  // the client and its paths only: the supervisor's index also loads the engine (repair, hand-over), which
  // `verdi status` does not need
  const { DaemonClient } = await import('../../engine/daemon/supervisor/client.js');
  const { daemonPaths } = await import('../../engine/daemon/supervisor/paths.js');
  const { getConfig } = await import('../../config/manager.js');
  const client = new DaemonClient(daemonPaths(getConfig().dirpath, profile.name));
  try {
    const status = await client.status(2_000);
    if (status === null)
      add({
        service: 'daemon',
        status: ServiceStatus.WARNING,
        message: 'not running (start it with `verdi daemon start`)',
      });
    else
      add({
        service: 'daemon',
        status: ServiceStatus.UP,
        message: `Daemon is running with PID ${status.pid} (${status.workers.length} workers)`,
      });
  } catch (error) {
    exitCode = ExitCode.CRITICAL;
    add({ service: 'daemon', status: ServiceStatus.ERROR, message: 'the daemon does not answer' }, error);
  }
  return { lines, exitCode };
}

const SYMBOLS: Record<ServiceStatus, string> = {
  up: '\u2714',
  error: '\u2718',
  warning: '\u23fa',
  down: '\u2718',
};

export default defineCommandGroup({
  name: 'status',
  description: 'Print the status of the services: configuration, profile, storage, broker and daemon.',
  build(cli: Cli) {
    return new Command('status')
      .description(
        'Print the status of the configuration, the profile, its storage (reachable, schema version), its broker and ' +
          'the daemon. The exit code is 1 when something is broken.',
      )
      .option('-t, --print-traceback', 'Print the full traceback of errors.')
      .option(
        '--json',
        'Print the status as JSON: {services: [{service, status, message, error?}], exit_code}.',
      )
      .action(async (opts: { printTraceback?: boolean; json?: boolean }) => {
        cli.out.json = opts.json === true;
        const { lines, exitCode } = await collect(cli, opts.printTraceback === true);
        if (opts.json === true) {
          cli.out.printJson({ services: lines, exit_code: exitCode });
        } else {
          const c = cli.out.colors;
          const color = { up: c.green, error: c.red, warning: c.yellow, down: c.red } as const;
          for (const line of lines) {
            const [first = '', ...rest] = line.message.split('\n');
            cli.out.echo(
              `${color[line.status](` ${SYMBOLS[line.status]} `)}${`${line.service}:`.padEnd(12)} ${first}`,
            );
            for (const more of rest) cli.out.echo(`${''.padEnd(15)} ${more}`);
            if (line.error !== undefined) cli.out.error(line.error);
          }
          if (lines.some((line) => line.service === 'profile' && line.status === ServiceStatus.WARNING)) {
            cli.out.report(
              'Run `verdi presto` to automatically setup a profile using all defaults or use `verdi profile setup` for more control.',
            );
          }
        }
        if (exitCode !== ExitCode.SUCCESS) throw new CliExit(exitCode);
      });
  },
});
