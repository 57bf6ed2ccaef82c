import { InvalidOperationError, ValidationError } from '../../errors.js';
// every node class registers itself when its module loads: load them all, so nodes come back as Int, Dict, …
import '../../orm.js';
import type { Computer } from '../../orm/entities/computer.js';
import type { User } from '../../orm/entities/user.js';
import { isLinkType, LinkType } from '../../orm/links.js';
import { loadNodesByPk, type Node } from '../../orm/nodes/node.js';
import { ProcessNode } from '../../orm/nodes/process/process.js';
import { getStorage, type StorageOption } from '../../storage/context.js';

/** One link of the provenance graph (`source --type/label--> target`, pks). */
export interface ProvenanceLink {
  readonly source: number;
  readonly target: number;
  readonly linkType: LinkType;
  readonly label: string;
}

/** The provenance of one process, as the exporters see it: nodes by pk, the links among them, owners, computers. */
export interface ProvenanceGraph {
  readonly root: ProcessNode;
  /** Every node of the provenance, by pk, in ascending pk order. */
  readonly nodes: ReadonlyMap<number, Node>;
  /** Every link whose two ends are in {@link nodes}, in link-id order. */
  readonly links: readonly ProvenanceLink[];
  /** The owners of the nodes, by user pk. */
  readonly users: ReadonlyMap<number, User>;
  /** The computers of the nodes (calculation jobs, remote data, codes), by computer pk. */
  readonly computers: ReadonlyMap<number, Computer>;
}

const INPUT_TYPES: readonly LinkType[] = [LinkType.INPUT_CALC, LinkType.INPUT_WORK];
const PROCESS_OUT_TYPES: readonly LinkType[] = [
  LinkType.CREATE,
  LinkType.RETURN,
  LinkType.CALL_CALC,
  LinkType.CALL_WORK,
];
// SQLite's default bound-parameter limit is large, PostgreSQL's 65535: stay well below both.
const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += CHUNK) out.push(items.slice(start, start + CHUNK));
  return out;
}

/**
 * Collects the provenance of a process: the process, every process it called (recursively), their inputs and
 * outputs, and for every data node found its creator (recursively, with that creator's inputs, outputs and callees),
 * so each data node comes with the calculation that made it. The caller of the root is left out: the export is of
 * this process, not of the workflow that ran it.
 *
 * Every process found must be sealed (terminated and closed to new links), as aiida-core requires for archives: the
 * provenance of a process still running is not final. A process that is not sealed throws `InvalidOperationError`
 * naming it.
 */
export async function collectProvenance(
  process: ProcessNode | number,
  options: StorageOption = {},
): Promise<ProvenanceGraph> {
  const storage = getStorage(
    process instanceof ProcessNode && process.storage !== undefined ? { storage: process.storage } : options,
  );
  const rootPk = process instanceof ProcessNode ? process.pk : process;
  if (rootPk === null) throw new InvalidOperationError('the process is not stored: it has no provenance yet');
  const [rootNode] = await loadNodesByPk([rootPk], { storage });
  if (!(rootNode instanceof ProcessNode)) {
    throw new ValidationError(
      `node<${rootPk}> is a ${rootNode?.constructor.name ?? 'node'}, not a process: only the provenance of a process can be exported`,
    );
  }
  const db = storage.executor();
  const kinds = new Map<number, 'process' | 'data'>([[rootPk, 'process']]);
  let processes = [rootPk];
  let data: number[] = [];
  const add = (pk: number, kind: 'process' | 'data', next: { processes: number[]; data: number[] }): void => {
    if (kinds.has(pk)) return;
    kinds.set(pk, kind);
    (kind === 'process' ? next.processes : next.data).push(pk);
  };
  while (processes.length > 0 || data.length > 0) {
    const next = { processes: [] as number[], data: [] as number[] };
    for (const chunk of chunks(processes)) {
      const inputs = await db
        .selectFrom('db_dblink')
        .select(['input_id'])
        .where('output_id', 'in', chunk)
        .where('type', 'in', [...INPUT_TYPES])
        .execute();
      for (const row of inputs) add(row.input_id, 'data', next);
      const outputs = await db
        .selectFrom('db_dblink')
        .select(['output_id', 'type'])
        .where('input_id', 'in', chunk)
        .where('type', 'in', [...PROCESS_OUT_TYPES])
        .execute();
      for (const row of outputs)
        add(row.output_id, row.type === 'call_calc' || row.type === 'call_work' ? 'process' : 'data', next);
    }
    for (const chunk of chunks(data)) {
      const creators = await db
        .selectFrom('db_dblink')
        .select(['input_id'])
        .where('output_id', 'in', chunk)
        .where('type', '=', LinkType.CREATE)
        .execute();
      for (const row of creators) add(row.input_id, 'process', next);
    }
    processes = next.processes;
    data = next.data;
  }

  const pks = [...kinds.keys()].sort((a, b) => a - b);
  const nodes = new Map<number, Node>();
  for (const chunk of chunks(pks)) {
    for (const node of await loadNodesByPk(chunk, { storage })) nodes.set(node.pk ?? -1, node);
  }
  for (const node of nodes.values()) {
    if (node instanceof ProcessNode && !node.isSealed) {
      throw new InvalidOperationError(
        `${node.constructor.name}<${String(node.pk)}> (${node.processLabel ?? 'process'}, state ${node.processState ?? 'unknown'}) is not sealed: its provenance is not final until it terminates; export it once it has finished`,
      );
    }
  }

  const seen = new Set<number>();
  const links: (ProvenanceLink & { id: number })[] = [];
  for (const chunk of chunks(pks)) {
    const rows = await db
      .selectFrom('db_dblink')
      .select(['id', 'input_id', 'output_id', 'type', 'label'])
      .where('input_id', 'in', chunk)
      .execute();
    for (const row of rows) {
      if (seen.has(row.id) || !kinds.has(row.output_id)) continue;
      if (!isLinkType(row.type))
        throw new ValidationError(`link ${row.id} has an unknown type \`${row.type}\``);
      seen.add(row.id);
      links.push({
        id: row.id,
        source: row.input_id,
        target: row.output_id,
        linkType: row.type,
        label: row.label,
      });
    }
  }
  links.sort((a, b) => a.id - b.id);

  const users = new Map<number, User>();
  const computers = new Map<number, Computer>();
  for (const node of nodes.values()) {
    const userId = node.userId;
    if (userId !== null && !users.has(userId)) users.set(userId, await node.getUser());
    const computerId = node.computerId;
    if (computerId !== null && !computers.has(computerId)) {
      const computer = await node.getComputer();
      if (computer !== null) computers.set(computerId, computer);
    }
  }
  return {
    root: rootNode,
    nodes,
    links: links.map(({ source, target, linkType, label }) => ({ source, target, linkType, label })),
    users,
    computers,
  };
}
