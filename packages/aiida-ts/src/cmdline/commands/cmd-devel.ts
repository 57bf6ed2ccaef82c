import { join } from 'node:path';
import { Command } from 'commander';
import type { AbstractCode } from '../../orm/nodes/data/code/abstract.js';
import type { ProcessNode } from '../../orm/nodes/process/process.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { resolveArgument } from '../utils/arguments.js';
import { UsageError } from '../exit-codes.js';

const ADD_PLUGIN = 'core.arithmetic.add';

/**
 * The `localhost` computer (set up as `verdi presto` does when missing: `core.local` + `core.direct`, a scratch
 * folder under the configuration folder, configured for the default user).
 */
async function localhost(cli: Cli) {
  const { Computer } = await import('../../orm/entities/computer.js');
  const { NotExistentError } = await import('../../errors.js');
  try {
    const computer = await Computer.get({ label: 'localhost' });
    if (!(await computer.isUserConfigured())) await computer.configure({ safe_interval: 0 });
    return computer;
  } catch (error) {
    if (!(error instanceof NotExistentError)) throw error;
  }
  const config = await cli.config();
  const profile = await cli.profile();
  const computer = await new Computer({
    label: 'localhost',
    hostname: 'localhost',
    description: 'Localhost set up by `verdi devel launch-add`',
    transportType: 'core.local',
    schedulerType: 'core.direct',
    workdir: join(config.dirpath, 'scratch', profile.name),
  }).store();
  await computer.setProperties({ minimum_scheduler_poll_interval: 1, default_mpiprocs_per_machine: 1 });
  await computer.configure({ safe_interval: 0 });
  cli.out.report('Set up the computer `localhost`.');
  return computer;
}

/** The code given with `-c`, which must run `core.arithmetic.add`, else `bash@localhost` (set up when missing). */
async function addCode(cli: Cli, identifier: string | undefined): Promise<AbstractCode> {
  await cli.storage();
  const { loadCode } = await import('../../orm/nodes/data/code/load-code.js');
  if (identifier !== undefined) {
    const code = await resolveArgument('-c/--code', () => loadCode(identifier));
    if (code.defaultCalcJobPlugin !== ADD_PLUGIN) {
      throw new UsageError(
        `invalid value for -c/--code: code \`${code.fullLabel}\` runs \`${String(code.defaultCalcJobPlugin)}\`, ` +
          `not \`${ADD_PLUGIN}\``,
      );
    }
    return code;
  }
  const { NotExistentError } = await import('../../errors.js');
  try {
    return await loadCode('bash@localhost');
  } catch (error) {
    if (!(error instanceof NotExistentError)) throw error;
  }
  const computer = await localhost(cli);
  const { InstalledCode } = await import('../../orm/nodes/data/code/installed.js');
  const code = await new InstalledCode(
    { computer, filepathExecutable: '/bin/bash', defaultCalcJobPlugin: ADD_PLUGIN },
    { label: 'bash' },
  ).store();
  cli.out.report('Set up the code `bash@localhost`.');
  return code;
}

function nonNegativeInteger(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value))
    throw new UsageError(`invalid value for ${option}: \`${value}\` is not a whole number`);
  return Number(value);
}

/** The runner of this command, closed when it ends. */
async function runner(cli: Cli) {
  const { getManager } = await import('../../engine/manager.js');
  const manager = getManager();
  cli.defer(() => manager.close());
  return manager.getRunner({ handleSignals: false });
}

function reportOutcome(cli: Cli, label: string, node: ProcessNode): void {
  if (node.isFinishedOk) cli.out.success(`${label}<${String(node.pk)}> finished successfully.`);
  else cli.out.warning(`${label}<${String(node.pk)}> did not finish successfully.`);
}

export default defineCommandGroup({
  name: 'devel',
  description: 'Commands for developers.',
  build(cli) {
    const group = new Command('devel').description('Commands for developers.');

    group
      .command('launch-add')
      .description(
        'Run an ArithmeticAddCalculation (1 + 1), or submit it to the daemon with --daemon. Without --code, ' +
          '`bash@localhost` is used, and set up (with the computer `localhost`) when missing.',
      )
      .option('-c, --code <code>', 'A code whose default plugin is core.arithmetic.add.')
      .option('-d, --daemon', 'Submit to the daemon instead of running blockingly.')
      .option('-s, --sleep <seconds>', 'Make the job sleep this many seconds first.')
      .action(async (opts: { code?: string; daemon?: boolean; sleep?: string }) => {
        const sleep = nonNegativeInteger('-s/--sleep', opts.sleep);
        const code = await addCode(cli, opts.code);
        const { Int } = await import('../../orm/nodes/data/base.js');
        const { getCodeBuilder } = await import('../../engine/processes/code-builder.js');
        const builder = await getCodeBuilder(code);
        builder._update({
          x: new Int(1),
          y: new Int(1),
          ...(sleep === undefined ? {} : { metadata: { options: { sleep } } }),
        });
        if (opts.daemon === true) {
          const node = await (await runner(cli)).submitToDaemon(builder);
          cli.out.success(`Submitted calculation \`${String(node)}\``);
          return;
        }
        const { node } = await (await runner(cli)).runGetNode(builder);
        reportOutcome(cli, 'ArithmeticAddCalculation', node);
      });

    group
      .command('launch-multiply-add')
      .description(
        'Run a MultiplyAddWorkChain ((1 × 1) + 1), or submit it to the daemon with --daemon. Without --code, ' +
          '`bash@localhost` is used, and set up (with the computer `localhost`) when missing.',
      )
      .option('-c, --code <code>', 'A code whose default plugin is core.arithmetic.add.')
      .option('-d, --daemon', 'Submit to the daemon instead of running blockingly.')
      .action(async (opts: { code?: string; daemon?: boolean }) => {
        const code = await addCode(cli, opts.code);
        const { Int } = await import('../../orm/nodes/data/base.js');
        const { MultiplyAddWorkChain } = await import('../../workflows/arithmetic/multiply-add.js');
        const inputs = { x: new Int(1), y: new Int(1), z: new Int(1), code };
        if (opts.daemon === true) {
          const node = await (await runner(cli)).submitToDaemon(MultiplyAddWorkChain, inputs);
          cli.out.success(`Submitted workflow \`${String(node)}\``);
          return;
        }
        const { node } = await (await runner(cli)).runGetNode(MultiplyAddWorkChain, inputs);
        reportOutcome(cli, 'MultiplyAddWorkChain', node);
      });

    return group;
  },
});
