import { Command } from 'commander';
import type { Cli } from './cli.js';
import { UsageError } from './exit-codes.js';

/**
 * `verdi config caching [--disabled]` (aiida's): the process types for which caching is enabled (or, with
 * `--disabled`, disabled) under the current profile's `caching.*` options. aiida-ts has no entry point registry of
 * process classes, so the process types considered are those of the profile's process nodes.
 */
export function configCachingCommand(cli: Cli): Command {
  return new Command('caching')
    .description('List the process types (of the process nodes in the profile) for which caching is enabled.')
    .option('-d, --disabled', 'List the process types for which caching is disabled instead.')
    .action(async (opts: { disabled?: boolean }) => {
      const storage = await cli.storage();
      const { getUseCache } = await import('../engine/caching/config.js');
      const rows = await storage
        .executor()
        .selectFrom('db_dbnode')
        .select('process_type')
        .distinct()
        .where('process_type', 'is not', null)
        .where('node_type', 'like', 'process.%')
        .orderBy('process_type')
        .execute();
      for (const { process_type: processType } of rows) {
        if (processType === null || processType === '') continue;
        if (getUseCache(processType) !== (opts.disabled === true)) cli.out.echo(processType);
      }
    });
}

/**
 * `verdi node rehash [-e ENTRY_POINT] [-f] [NODES...]` (aiida's): recomputes the `_aiida_hash` extra of the given
 * nodes, or of every node (of the entry point's class), after a confirmation unless `--force`.
 */
export function nodeRehashCommand(cli: Cli): Command {
  return new Command('rehash')
    .description('Recompute the hash for nodes in the database.')
    .argument(
      '[nodes...]',
      'Nodes to rehash (pk, uuid or label); by default every node of the entry point class.',
    )
    .option(
      '-e, --entry-point <entry-point>',
      'Only nodes of this class (an `aiida.node`/`aiida.data` entry point).',
      'aiida.node:node',
    )
    .option('-f, --force', 'Do not ask for confirmation.')
    .action(async (identifiers: string[], opts: { entryPoint: string; force?: boolean }) => {
      const storage = await cli.storage();
      await import('../orm.js');
      const { loadNode } = await import('../orm/loaders.js');
      const { getNodeClassByEntryPoint } = await import('../orm/nodes/registry.js');
      const { rehashNode } = await import('../engine/caching/hash.js');
      let cls: abstract new (...args: never[]) => unknown;
      try {
        cls = getNodeClassByEntryPoint(opts.entryPoint).cls;
      } catch (error) {
        throw new UsageError(`invalid value for --entry-point: ${(error as Error).message}`, undefined, {
          cause: error,
        });
      }
      const pks: number[] = [];
      if (identifiers.length > 0) {
        for (const identifier of identifiers) {
          try {
            const node = await loadNode(identifier, { storage });
            if (!(node instanceof cls))
              throw new UsageError(`node ${identifier} is not of class ${opts.entryPoint}`);
            pks.push(node.pk!);
          } catch (error) {
            if (error instanceof UsageError) throw error;
            throw new UsageError(`invalid value for NODES: ${(error as Error).message}`, undefined, {
              cause: error,
            });
          }
        }
      } else {
        if (
          opts.force !== true &&
          !(await cli.prompt.confirm(
            'Recompute the hashes for all nodes? Warning: this can take a long time.',
          ))
        ) {
          cli.out.critical('Aborted!');
        }
        const { QueryBuilder } = await import('../querybuilder/query-builder.js');
        const builder = new QueryBuilder({ backend: storage }).append(cls, { project: ['id'] });
        for await (const [pk] of builder.iterall()) pks.push(pk as number);
      }
      if (pks.length === 0) {
        cli.out.report('no nodes to rehash');
        return;
      }
      for (const pk of pks) await rehashNode(await loadNode(pk, { storage }));
      cli.out.success(`All done! ${pks.length} node(s) rehashed.`);
    });
}
