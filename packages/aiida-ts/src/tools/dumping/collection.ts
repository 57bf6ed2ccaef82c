import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import type { Group } from '../../orm/entities/group.js';
import { loadNodesByPk } from '../../orm/nodes/node.js';
import { CalculationNode, ProcessNode, WorkflowNode } from '../../orm/nodes/process/process.js';
import type { StorageBackend } from '../../storage/backend.js';
import {
  CollectionDumpOptionsSchema,
  dumpModeOf,
  type CollectionDumpConfig,
  type CollectionDumpOptions,
} from './config.js';
import { defaultProcessDumpName, DumpNames, prepareDirectory, safeDeleteDirectory } from './paths.js';
import { ProcessDumpExecutor } from './process-dumper.js';
import { DumpTracker } from './tracker.js';

/** Options of {@link dumpGroup} and {@link dumpProfile}: the dump options, where to write, the storage. */
export interface CollectionDumpTarget extends CollectionDumpOptions {
  /** The folder of the dump. */
  readonly outputPath: string;
  readonly storage: StorageBackend;
}

/** What a collection dump did. */
export interface CollectionDumpResult {
  readonly path: string;
  /** Processes written (or rewritten) in this run, by pk. */
  readonly dumped: number[];
  /** Dump folders removed because their process or group membership is gone. */
  readonly deleted: string[];
}

/** `calculations/` or `workflows/`: where a process of a group goes inside the group's folder. */
function typeFolder(process: ProcessNode): string {
  return process instanceof CalculationNode ? DumpNames.CALCULATIONS : DumpNames.WORKFLOWS;
}

/** Whether `process` passes the user, computer and code filters (aiida-core's `EntityFilterMixin`). */
async function passesEntityFilters(process: ProcessNode, config: CollectionDumpConfig): Promise<boolean> {
  if (config.user !== undefined && (await process.getUser()).email !== config.user) return false;
  if (config.computers !== undefined && config.computers.length > 0) {
    const computer = await process.getComputer();
    if (computer === null || !config.computers.includes(computer.uuid)) return false;
  }
  if (config.codes !== undefined && config.codes.length > 0) {
    const codes = config.codes;
    const inputs = (await process.base.links.getIncoming()).all();
    if (!inputs.some((link) => codes.includes(link.node.uuid))) return false;
  }
  return true;
}

/** Whether `process` passes the time filters (on its modification time) and the last-dump filter. */
function selected(process: ProcessNode, config: CollectionDumpConfig, tracker: DumpTracker): boolean {
  const mtime = process.mtime ?? process.ctime;
  if (config.pastDays !== undefined && mtime.getTime() < Date.now() - config.pastDays * 86_400_000)
    return false;
  if (config.startDate !== undefined && mtime < config.startDate) return false;
  if (config.endDate !== undefined && mtime > config.endDate) return false;
  // Unchanged since the last dump and already dumped: nothing to do (the executor would skip it anyway).
  if (config.filterByLastDumpTime && tracker.lastDumpTime !== null && mtime <= tracker.lastDumpTime)
    return tracker.get(process.uuid) === undefined;
  return true;
}

async function processesOf(
  nodes: readonly { pk: number | null }[],
  storage: StorageBackend,
): Promise<ProcessNode[]> {
  const pks = nodes.map((node) => node.pk).filter((pk): pk is number => pk !== null);
  const loaded = await loadNodesByPk(pks, { storage });
  return loaded.filter((node): node is ProcessNode => node instanceof ProcessNode);
}

/** The dump of one set of processes into `root/calculations|workflows/<name>`. */
async function dumpProcesses(
  processes: readonly ProcessNode[],
  root: string,
  config: CollectionDumpConfig,
  tracker: DumpTracker,
  executor: ProcessDumpExecutor,
  dumped: number[],
): Promise<void> {
  // Calculations first, then workflows, as aiida-core: a calculation in the group gets its own folder first.
  const ordered = [
    ...processes.filter((process) => process instanceof CalculationNode),
    ...processes.filter((process) => process instanceof WorkflowNode),
  ];
  for (const process of ordered) {
    if (!selected(process, config, tracker) || !(await passesEntityFilters(process, config))) continue;
    await executor.dump(process, join(root, typeFolder(process), defaultProcessDumpName(process)));
    dumped.push(process.pk ?? 0);
  }
  if (config.onlyTopLevelCalcs) return;
  // Every calculation called (at any depth) by a workflow of the set also in `calculations/` of the set: linked
  // to the copy in its workflow's folder with `symlinkCalcs`, else written again.
  for (const workflow of ordered.filter((process) => process instanceof WorkflowNode)) {
    for (const called of await workflow.getCalledDescendants()) {
      if (!(called instanceof CalculationNode)) continue;
      await executor.dump(called, join(root, DumpNames.CALCULATIONS, defaultProcessDumpName(called)));
    }
  }
}

/** Removes the folders of dumped processes that were deleted from the profile, and forgets them. */
async function deleteMissing(
  tracker: DumpTracker,
  storage: StorageBackend,
  deleted: string[],
): Promise<void> {
  const uuids = [...tracker.registries.calculations.keys(), ...tracker.registries.workflows.keys()];
  if (uuids.length === 0) return;
  const rows = await storage
    .executor()
    .selectFrom('db_dbnode')
    .select('uuid')
    .where('uuid', 'in', uuids)
    .execute();
  const existing = new Set(rows.map((row) => row.uuid));
  for (const uuid of uuids) {
    if (existing.has(uuid)) continue;
    const record = tracker.get(uuid);
    if (record === undefined) continue;
    for (const path of [record.path, ...record.duplicates]) {
      await safeDeleteDirectory(path);
      deleted.push(path);
    }
    tracker.delete(uuid);
  }
}

/** Removes the folders, under `root`, of processes that left `group` since the last dump. */
async function deleteRemovedMembers(
  group: Group,
  members: ReadonlySet<string>,
  root: string,
  tracker: DumpTracker,
  deleted: string[],
): Promise<void> {
  for (const uuid of tracker.previousMapping.groupToNodes.get(group.uuid) ?? []) {
    if (members.has(uuid)) continue;
    const record = tracker.get(uuid);
    if (record === undefined) continue;
    if (`${resolve(record.path)}${sep}`.startsWith(`${resolve(root)}${sep}`)) {
      await safeDeleteDirectory(record.path);
      deleted.push(record.path);
      tracker.delete(uuid);
    }
  }
}

async function dumpOneGroup(
  group: Group,
  root: string,
  config: CollectionDumpConfig,
  tracker: DumpTracker,
  executor: ProcessDumpExecutor,
  result: { dumped: number[]; deleted: string[] },
  storage: StorageBackend,
): Promise<void> {
  await prepareDirectory(root, { overwrite: false, leaf: false });
  const record =
    tracker.registries.groups.get(group.uuid) ?? tracker.add('groups', group.uuid, resolve(root));
  const members = await processesOf(await group.nodes(), storage);
  const uuids = new Set(members.map((member) => member.uuid));
  tracker.currentMapping.groupToNodes.set(group.uuid, [...uuids]);
  if (config.deleteMissing) await deleteRemovedMembers(group, uuids, root, tracker, result.deleted);
  await dumpProcesses(members, root, config, tracker, executor, result.dumped);
  DumpTracker.updateStats(record, root);
}

/**
 * Dumps the processes of a group (aiida-core 2.8's `Group.dump()`): each in `calculations/` or `workflows/` of the
 * dump folder, as {@link dumpProcess} writes it; incremental through the log, and (with `deleteMissing`) removing
 * the folders of processes deleted or taken out of the group since the last dump.
 */
export async function dumpGroup(group: Group, options: CollectionDumpTarget): Promise<CollectionDumpResult> {
  const { outputPath, storage, ...rest } = options;
  const config = CollectionDumpOptionsSchema.parse(rest);
  const base = resolve(outputPath);
  const result = { path: base, dumped: [] as number[], deleted: [] as string[] };
  const mode = dumpModeOf(config);
  if (mode === 'dry_run') return result;
  await prepareDirectory(base, { overwrite: mode === 'overwrite', leaf: true });
  const tracker = DumpTracker.load(base);
  config.report?.(`Starting dump of group \`${group.label}\` (PK: ${String(group.pk)}) in ${mode} mode...`);
  const executor = new ProcessDumpExecutor(config, tracker);
  if (config.deleteMissing) await deleteMissing(tracker, storage, result.deleted);
  await dumpOneGroup(group, base, config, tracker, executor, result, storage);
  config.report?.(`Saving final dump log to file \`${DumpNames.TRACKING_LOG}\`.`);
  await tracker.save();
  return result;
}

/** Whether profile options select anything (aiida-core dumps nothing without `all` or a filter). */
export function profileDumpSelects(options: CollectionDumpOptions): boolean {
  return (
    options.all === true ||
    (options.groups?.length ?? 0) > 0 ||
    options.pastDays !== undefined ||
    options.user !== undefined ||
    (options.computers?.length ?? 0) > 0 ||
    (options.codes?.length ?? 0) > 0 ||
    options.startDate !== undefined ||
    options.endDate !== undefined
  );
}

/**
 * Dumps a profile (aiida-core 2.8's `Profile.dump()`): every group (with `all`) or the given ones, each in
 * `groups/<label>/` (or all together with `organizeByGroups: false`), plus the processes in no group in
 * `ungrouped/` with `alsoUngrouped`. Top-level processes only unless told otherwise; incremental through the log.
 */
export async function dumpProfile(
  groups: readonly Group[],
  options: CollectionDumpTarget,
): Promise<CollectionDumpResult> {
  const { outputPath, storage, ...rest } = options;
  const config = CollectionDumpOptionsSchema.parse(rest);
  const base = resolve(outputPath);
  const result = { path: base, dumped: [] as number[], deleted: [] as string[] };
  const mode = dumpModeOf(config);
  if (mode === 'dry_run') return result;
  await prepareDirectory(base, { overwrite: mode === 'overwrite', leaf: true });
  const tracker = DumpTracker.load(base);
  const executor = new ProcessDumpExecutor(config, tracker);
  if (config.deleteMissing) await deleteMissing(tracker, storage, result.deleted);
  for (const group of groups) {
    const root = config.organizeByGroups ? join(base, DumpNames.GROUPS, group.label) : base;
    // A group relabelled since the last dump: its folder follows the label.
    const previous = tracker.registries.groups.get(group.uuid);
    if (previous !== undefined && resolve(previous.path) !== resolve(root) && config.organizeByGroups) {
      if (existsSync(previous.path) && !existsSync(root)) {
        await mkdir(dirname(root), { recursive: true });
        await rename(previous.path, root);
        for (const name of ['calculations', 'workflows'] as const)
          for (const record of tracker.registries[name].values())
            if (record.path.startsWith(`${previous.path}${sep}`))
              record.path = join(root, record.path.slice(previous.path.length + 1));
      }
      previous.path = resolve(root);
    }
    await dumpOneGroup(group, root, config, tracker, executor, result, storage);
  }
  if (config.alsoUngrouped) {
    const grouped = await storage.executor().selectFrom('db_dbgroup_dbnodes').select('dbnode_id').execute();
    const groupedPks = new Set(grouped.map((row) => row.dbnode_id));
    const rows = await storage
      .executor()
      .selectFrom('db_dbnode')
      .select('id')
      .where('node_type', 'like', 'process.%')
      .orderBy('id')
      .execute();
    const candidates = await processesOf(
      rows.filter((row) => !groupedPks.has(row.id)).map((row) => ({ pk: row.id })),
      storage,
    );
    const ungrouped: ProcessNode[] = [];
    for (const process of candidates) {
      const isTop = (await process.getCaller()) === null;
      const topOnly =
        process instanceof CalculationNode ? config.onlyTopLevelCalcs : config.onlyTopLevelWorkflows;
      if (isTop || !topOnly) ungrouped.push(process);
    }
    const root = config.organizeByGroups ? join(base, DumpNames.UNGROUPED) : base;
    await dumpProcesses(ungrouped, root, config, tracker, executor, result.dumped);
  }
  await tracker.save();
  return result;
}
