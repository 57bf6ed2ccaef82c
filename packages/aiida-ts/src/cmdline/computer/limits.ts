import type { Command } from 'commander';
import type { Computer } from '../../orm/entities/computer.js';
import type { StorageBackend } from '../../storage/backend.js';
import type { Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';

/** Collects a repeatable option's values (`--quota a --quota b`). */
export function collect(value: string, previous: readonly string[]): string[] {
  return [...previous, value];
}

/** Reads `--max-queued-jobs`: a positive whole number; a `UsageError` naming the option otherwise. */
export async function maxQueuedJobs(value: string): Promise<number> {
  const { parseJobLimit } = await import('../../storage/aiida-ts-schema/job-limits.js');
  const { ValidationError } = await import('../../errors.js');
  const number = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  try {
    const limit = parseJobLimit(number);
    if (limit !== null) return limit;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
  }
  throw new UsageError(
    `invalid value for --max-queued-jobs: \`${value}\` is not a whole number of at least 1`,
  );
}

/** The limit options shared by `verdi computer set-limits` and `verdi quota set-limits`. */
export function addLimitOptions(command: Command): Command {
  return command
    .option(
      '--max-queued-jobs <n>',
      'The most jobs it may have with the scheduler at once, counted across every process.',
    )
    .option('--unset', 'Remove the limit: no cap on queued jobs.');
}

/** The limit the options ask for: a number, null for `--unset`, or undefined when neither was given. */
export async function limitFromOptions(opts: {
  readonly maxQueuedJobs?: string;
  readonly unset?: boolean;
}): Promise<number | null | undefined> {
  if (opts.maxQueuedJobs !== undefined && opts.unset === true) {
    throw new UsageError('--max-queued-jobs and --unset cannot be given together');
  }
  if (opts.unset === true) return null;
  return opts.maxQueuedJobs === undefined ? undefined : maxQueuedJobs(opts.maxQueuedJobs);
}

/** `in use / limit` of a pool as `verdi` prints it. */
export function formatUsage(usage: {
  readonly used: number;
  readonly limit: number | null;
  readonly waiting: number;
}): string {
  const waiting = usage.waiting > 0 ? `, ${usage.waiting} waiting` : '';
  return `${usage.used} of ${usage.limit === null ? 'unlimited' : usage.limit} in use${waiting}`;
}

/** What `verdi computer show` adds about the limits of a computer: its cap, its quotas and their usage. */
export async function describeComputerLimits(
  storage: StorageBackend,
  computer: Computer,
): Promise<{
  readonly max_queued_jobs: number | null;
  readonly queued_jobs: string;
  readonly quotas: readonly {
    readonly name: string;
    readonly limit: number | null;
    readonly usage: string;
  }[];
}> {
  const { getCoordinator } = await import('../../engine/coordination/coordinator.js');
  const coordinator = getCoordinator(storage);
  const pools = await coordinator.poolsForComputer(computer.uuid);
  const usages = await Promise.all(pools.map((pool) => coordinator.usage(pool)));
  const [own, ...quotas] = usages;
  return {
    max_queued_jobs: own?.limit ?? null,
    queued_jobs: own === undefined ? '' : formatUsage(own),
    quotas: quotas.map((usage) => ({
      name: usage.pool.slice('quota:'.length),
      limit: usage.limit,
      usage: formatUsage(usage),
    })),
  };
}

/**
 * Adds `verdi computer set-limits COMPUTER [--max-queued-jobs N | --unset] [--quota NAME ...] [--remove-quota
 * NAME ...]`: the cap on jobs a computer may have with its scheduler at once and the quotas it counts against,
 * holding across every process of the profile (aiida-core has no such limit: aiida-core #88).
 */
export function addSetLimitsCommand(group: Command, cli: Cli): void {
  const command = group
    .command('set-limits')
    .description(
      'Limit how many jobs the computer may have with its scheduler at once (across every daemon worker and script ' +
        'of the profile), and choose the quotas it counts against. Extra jobs wait, oldest first, with a process ' +
        'status saying so. Quotas are made with `verdi quota create`.',
    )
    .argument('<computer>', 'Label, pk or uuid of the computer.');
  addLimitOptions(command)
    .option(
      '--quota <name>',
      'Count the jobs of this computer against the quota too (repeatable).',
      collect,
      [],
    )
    .option('--remove-quota <name>', 'Stop counting against this quota (repeatable).', collect, [])
    .action(
      async (
        identifier: string,
        opts: { maxQueuedJobs?: string; unset?: boolean; quota: string[]; removeQuota: string[] },
      ) => {
        const limit = await limitFromOptions(opts);
        if (limit === undefined && opts.quota.length === 0 && opts.removeQuota.length === 0) {
          throw new UsageError(
            'nothing to set: give --max-queued-jobs N, --unset, --quota NAME or --remove-quota NAME',
          );
        }
        const storage = await cli.storage();
        const { loadComputer } = await import('../../orm/entities/computer.js');
        const computer = await loadComputer(identifier, { storage });
        const { getCoordinator } = await import('../../engine/coordination/coordinator.js');
        const { computerPool } = await import('../../storage/aiida-ts-schema/job-limits.js');
        const coordinator = getCoordinator(storage);
        if (limit !== undefined) {
          await coordinator.setLimit(computerPool(computer.uuid), limit);
          cli.out.success(
            limit === null
              ? `Computer '${computer.label}' has no cap on queued jobs any more.`
              : `Computer '${computer.label}' may have at most ${limit} jobs with its scheduler at once.`,
          );
        }
        for (const name of opts.quota) {
          await coordinator.addToQuota(name, computer.uuid);
          cli.out.success(`Jobs on computer '${computer.label}' count against the quota '${name}'.`);
        }
        for (const name of opts.removeQuota) {
          await coordinator.removeFromQuota(name, computer.uuid);
          cli.out.success(
            `Jobs on computer '${computer.label}' no longer count against the quota '${name}'.`,
          );
        }
      },
    );
}
