import { Command } from 'commander';
import type { Computer } from '../../orm/entities/computer.js';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { addLimitOptions, collect, formatUsage, limitFromOptions } from './limits.js';

/** The coordinator of the profile's storage and the stored computers named by `identifiers`. */
async function open(cli: Cli, identifiers: readonly string[] = []) {
  const storage = await cli.storage();
  const { getCoordinator } = await import('../../engine/coordination/coordinator.js');
  const { loadComputer } = await import('../../orm/entities/computer.js');
  const computers: Computer[] = [];
  for (const identifier of identifiers) computers.push(await loadComputer(identifier, { storage }));
  return { storage, coordinator: getCoordinator(storage), computers };
}

/** A quota as `verdi quota list/show --json` print it. */
interface QuotaDescription {
  readonly name: string;
  readonly max_queued_jobs: number | null;
  readonly in_use: number;
  readonly waiting: number;
  readonly description: string;
  readonly computers: readonly string[];
}

async function describeQuotas(cli: Cli, only?: string): Promise<QuotaDescription[]> {
  const { storage, coordinator } = await open(cli);
  const { Computer } = await import('../../orm/entities/computer.js');
  const labels = new Map(
    (await Computer.all({ storage })).map((computer) => [computer.uuid, computer.label]),
  );
  const pools = (await coordinator.listPools()).filter(
    (pool) => pool.pool.startsWith('quota:') && (only === undefined || pool.pool === `quota:${only}`),
  );
  return Promise.all(
    pools.map(async (pool) => {
      const usage = await coordinator.usage(pool.pool);
      return {
        name: pool.pool.slice('quota:'.length),
        max_queued_jobs: pool.limit,
        in_use: usage.used,
        waiting: usage.waiting,
        description: pool.description,
        computers: pool.computers.map((uuid) => labels.get(uuid) ?? uuid).sort(),
      };
    }),
  );
}

/**
 * `verdi quota`: named limits on queued jobs shared by several computers (a licence valid on two clusters, an
 * allocation split across machines). A job counts against its computer's own cap (`verdi computer set-limits`) and
 * against every quota its computer belongs to; it is submitted once it has a slot in all of them.
 */
export default defineCommandGroup({
  name: 'quota',
  description: 'Manage quotas: limits on queued jobs shared by several computers.',
  build(cli: Cli) {
    const group = new Command('quota');

    const create = group
      .command('create')
      .description('Create a quota, optionally with its limit and computers.')
      .argument('<name>', 'Name of the quota: letters, digits and `_ . - + @`.');
    addLimitOptions(create)
      .option('-D, --description <text>', 'What the quota stands for.', '')
      .option('--computer <computer>', 'A computer whose jobs count against it (repeatable).', collect, [])
      .action(
        async (
          name: string,
          opts: { maxQueuedJobs?: string; unset?: boolean; description: string; computer: string[] },
        ) => {
          const limit = (await limitFromOptions(opts)) ?? null;
          const { coordinator, computers } = await open(cli, opts.computer);
          await coordinator.createQuota(name, {
            limit,
            description: opts.description,
            computers: computers.map((computer) => computer.uuid),
          });
          const what = limit === null ? 'no limit yet' : `at most ${limit} queued jobs`;
          cli.out.success(`Quota '${name}' created (${what}).`);
        },
      );

    group
      .command('list')
      .description('List the quotas with their limit, usage and computers.')
      .option('--json', 'Print the quotas as JSON.')
      .action(async (opts: { json?: boolean }) => {
        cli.out.json = opts.json === true;
        const quotas = await describeQuotas(cli);
        if (opts.json === true) {
          cli.out.printJson(quotas);
          return;
        }
        if (quotas.length === 0) {
          cli.out.report("No quotas defined yet. Use 'verdi quota create'");
          return;
        }
        cli.out.table(
          ['Name', 'Queued jobs', 'Computers', 'Description'],
          quotas.map((quota) => [
            quota.name,
            formatUsage({ used: quota.in_use, limit: quota.max_queued_jobs, waiting: quota.waiting }),
            quota.computers.join(', '),
            quota.description,
          ]),
        );
      });

    group
      .command('show')
      .description('Show a quota: its limit, usage and computers.')
      .argument('<name>', 'Name of the quota.')
      .option('--json', 'Print the quota as JSON.')
      .action(async (name: string, opts: { json?: boolean }) => {
        cli.out.json = opts.json === true;
        const [quota] = await describeQuotas(cli, name);
        if (quota === undefined) {
          const { NotExistentError } = await import('../../errors.js');
          throw new NotExistentError(`no quota named \`${name}\``);
        }
        if (opts.json === true) {
          cli.out.printJson(quota);
          return;
        }
        cli.out.table(
          ['Property', 'Value'],
          [
            ['Name', quota.name],
            ['Description', quota.description],
            ['Max queued jobs', quota.max_queued_jobs ?? 'unlimited'],
            [
              'Queued jobs',
              formatUsage({ used: quota.in_use, limit: quota.max_queued_jobs, waiting: quota.waiting }),
            ],
            ['Computers', quota.computers.join(', ')],
          ],
        );
      });

    const setLimits = group
      .command('set-limits')
      .description('Change the limit of a quota.')
      .argument('<name>', 'Name of the quota.');
    addLimitOptions(setLimits).action(
      async (name: string, opts: { maxQueuedJobs?: string; unset?: boolean }) => {
        const limit = await limitFromOptions(opts);
        if (limit === undefined) throw new UsageError('nothing to set: give --max-queued-jobs N or --unset');
        const { coordinator } = await open(cli);
        // the quota must exist: set-limits does not create one by a typo
        const { quotaPool } = await import('../../storage/aiida-ts-schema/job-limits.js');
        if (!(await coordinator.listPools()).some((pool) => pool.pool === quotaPool(name))) {
          const { NotExistentError } = await import('../../errors.js');
          throw new NotExistentError(
            `no quota named \`${name}\`; create it with \`verdi quota create ${name}\``,
          );
        }
        await coordinator.setLimit(quotaPool(name), limit);
        cli.out.success(
          limit === null
            ? `Quota '${name}' has no limit any more.`
            : `Quota '${name}' allows ${limit} queued jobs.`,
        );
      },
    );

    group
      .command('delete')
      .description('Delete a quota. Jobs holding a slot in it keep it; it no longer limits anything.')
      .argument('<name>', 'Name of the quota.')
      .option('-f, --force', 'Do not ask for confirmation.')
      .action(async (name: string, opts: { force?: boolean }) => {
        if (
          opts.force !== true &&
          !(await cli.prompt.confirm(`Are you sure you want to delete quota \`${name}\`?`))
        ) {
          cli.out.critical('Deletion cancelled.');
        }
        const { coordinator } = await open(cli);
        await coordinator.deleteQuota(name);
        cli.out.success(`Quota '${name}' deleted.`);
      });

    group
      .command('add-computer')
      .description('Count the jobs of these computers against the quota.')
      .argument('<name>', 'Name of the quota.')
      .argument('<computers...>', 'Labels, pks or uuids of the computers.')
      .action(async (name: string, identifiers: string[]) => {
        const { coordinator, computers } = await open(cli, identifiers);
        for (const computer of computers) await coordinator.addToQuota(name, computer.uuid);
        cli.out.success(`Added ${computers.map((c) => `'${c.label}'`).join(', ')} to quota '${name}'.`);
      });

    group
      .command('remove-computer')
      .description('Stop counting the jobs of these computers against the quota.')
      .argument('<name>', 'Name of the quota.')
      .argument('<computers...>', 'Labels, pks or uuids of the computers.')
      .action(async (name: string, identifiers: string[]) => {
        const { coordinator, computers } = await open(cli, identifiers);
        for (const computer of computers) await coordinator.removeFromQuota(name, computer.uuid);
        cli.out.success(`Removed ${computers.map((c) => `'${c.label}'`).join(', ')} from quota '${name}'.`);
      });

    return group;
  },
});
