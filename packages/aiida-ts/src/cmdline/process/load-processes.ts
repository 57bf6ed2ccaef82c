import type { ProcessNode } from '../../orm/nodes/process/process.js';
import type { Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';
import { resolveArgument } from '../utils/arguments.js';

/** Options of {@link resolveProcesses}. */
export interface ResolveProcessesOptions {
  /** The full command (`verdi process show`), for messages. */
  readonly command: string;
  /** `-M/--most-recent-node` was given. */
  readonly mostRecent?: boolean;
}

/**
 * The process nodes named on the command line, by pk, uuid (or prefix) or label, in the order given; or, with
 * `mostRecent`, the most recently created process. An identifier that matches no node, or matches a node that is not
 * a process, ends the command with exit code 1 and a message naming it. Giving neither identifiers nor `-M`, or
 * both, is a usage error (exit code 2).
 */
export async function resolveProcesses(
  cli: Cli,
  identifiers: readonly string[],
  options: ResolveProcessesOptions,
): Promise<ProcessNode[]> {
  if (identifiers.length === 0 && options.mostRecent !== true) {
    throw new UsageError(
      'Please specify one or multiple processes by their identifier (PK, UUID or label) or use an option.',
      `(run \`${options.command} --help\` for usage)`,
    );
  }
  if (identifiers.length > 0 && options.mostRecent === true) {
    throw new UsageError(
      'cannot specify individual processes and the `-M/--most-recent-node` flag at the same time.',
    );
  }
  const storage = await cli.storage();
  await import('../../orm.js');
  const { ProcessNode: ProcessNodeClass } = await import('../../orm/nodes/process/process.js');
  if (options.mostRecent === true) {
    const { QueryBuilder } = await import('../../querybuilder/query-builder.js');
    const latest = await new QueryBuilder({ backend: storage })
      .append(ProcessNodeClass, { tag: 'process', project: '*' })
      .orderBy({ process: { ctime: 'desc' } })
      .limit(1)
      .first({ flat: true });
    if (latest === null || latest === undefined) cli.out.critical('there are no processes in this profile');
    const node = latest as ProcessNode;
    cli.out.info(`Most recent node matched: \`${String(node)}\`.`);
    return [node];
  }
  const { loadNode } = await import('../../orm/loaders.js');
  const nodes: ProcessNode[] = [];
  for (const identifier of identifiers) {
    const node = await resolveArgument('PROCESSES', () => loadNode(identifier, { storage }));
    if (!(node instanceof ProcessNodeClass)) {
      throw new UsageError(
        `invalid value for PROCESSES: \`${identifier}\` is node<${String(node.pk)}> (${node.constructor.name}), ` +
          `not a process: \`${options.command}\` only takes process nodes`,
      );
    }
    nodes.push(node);
  }
  return nodes;
}

/** The top of the call stack above `process` (null when nothing called it). */
export async function callRoot(process: ProcessNode): Promise<ProcessNode | null> {
  let caller = await process.getCaller();
  if (caller === null) return null;
  const seen = new Set<number>([process.pk!]);
  for (;;) {
    if (seen.has(caller.pk!)) return caller; // a cycle can only come from a corrupt graph: stop rather than spin
    seen.add(caller.pk!);
    const next = await caller.getCaller();
    if (next === null) return caller;
    caller = next;
  }
}
