import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { z } from 'zod';
import { ValidationError } from '../../errors.js';
import { directoryStats, DumpNames } from './paths.js';

/** Where one entity was dumped (aiida-core's `DumpRecord`); paths absolute in memory, relative in the log. */
export interface DumpRecord {
  path: string;
  symlinks: string[];
  duplicates: string[];
  dirMtime: Date | null;
  dirSize: number | null;
}

export const REGISTRY_NAMES = ['calculations', 'workflows', 'groups'] as const;
export type RegistryName = (typeof REGISTRY_NAMES)[number];

const RecordSchema = z.object({
  path: z.string(),
  symlinks: z.array(z.string()).default([]),
  duplicates: z.array(z.string()).default([]),
  dir_mtime: z.string().nullable().default(null),
  dir_size: z.number().nullable().default(null),
});

const MappingSchema = z.object({
  group_to_nodes: z.record(z.string(), z.array(z.string())).default({}),
  node_to_groups: z.record(z.string(), z.array(z.string())).default({}),
});

/** The `aiida_dump_log.json` file, as aiida-core writes it. */
const LogSchema = z.object({
  calculations: z.record(z.string(), RecordSchema).default({}),
  workflows: z.record(z.string(), RecordSchema).default({}),
  groups: z.record(z.string(), RecordSchema).default({}),
  last_dump_time: z.string().nullable().optional(),
  group_node_mapping: MappingSchema.optional(),
});

/** Which groups hold which nodes, by uuid (aiida-core's `GroupNodeMapping`). */
export interface GroupNodeMapping {
  groupToNodes: Map<string, string[]>;
}

/** Python's `datetime.isoformat()` of an aware time: `2024-01-02T03:04:05.123000+00:00`. */
function pythonIso(time: Date): string {
  return time.toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

/**
 * The log of one dump folder: what was dumped where, and when the last dump ran. Loaded from and saved to
 * `aiida_dump_log.json` at the top of the dump, in aiida-core's format, so that either can continue the other's dump.
 */
export class DumpTracker {
  readonly base: string;
  readonly registries: Record<RegistryName, Map<string, DumpRecord>> = {
    calculations: new Map(),
    workflows: new Map(),
    groups: new Map(),
  };
  /** When the previous dump ran, if there was one. */
  readonly lastDumpTime: Date | null;
  /** When this dump started. */
  readonly currentDumpTime = new Date();
  readonly previousMapping: GroupNodeMapping;
  currentMapping: GroupNodeMapping = { groupToNodes: new Map() };

  private constructor(base: string, lastDumpTime: Date | null, previousMapping: GroupNodeMapping) {
    this.base = base;
    this.lastDumpTime = lastDumpTime;
    this.previousMapping = previousMapping;
  }

  /** The log of the dump folder `base` (empty when there is none); a corrupt log is refused, naming the file. */
  static load(base: string): DumpTracker {
    const file = join(base, DumpNames.TRACKING_LOG);
    if (!existsSync(file)) return new DumpTracker(base, null, { groupToNodes: new Map() });
    let parsed;
    try {
      parsed = LogSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
    } catch (error) {
      throw new ValidationError(`the dump log \`${file}\` is not valid: ${(error as Error).message}`, [], {
        cause: error,
      });
    }
    const mapping = parsed.group_node_mapping?.group_to_nodes ?? {};
    const tracker = new DumpTracker(
      base,
      parsed.last_dump_time == null ? null : new Date(parsed.last_dump_time),
      { groupToNodes: new Map(Object.entries(mapping)) },
    );
    const absolute = (path: string) => (isAbsolute(path) ? path : resolve(base, path));
    for (const name of REGISTRY_NAMES) {
      for (const [uuid, record] of Object.entries(parsed[name])) {
        tracker.registries[name].set(uuid, {
          path: absolute(record.path),
          symlinks: record.symlinks.map(absolute),
          duplicates: record.duplicates.map(absolute),
          dirMtime: record.dir_mtime === null ? null : new Date(record.dir_mtime),
          dirSize: record.dir_size,
        });
      }
    }
    return tracker;
  }

  /** The record of `uuid` in any registry. */
  get(uuid: string): DumpRecord | undefined {
    for (const name of REGISTRY_NAMES) {
      const record = this.registries[name].get(uuid);
      if (record !== undefined) return record;
    }
    return undefined;
  }

  /** Forgets `uuid` in every registry. */
  delete(uuid: string): void {
    for (const name of REGISTRY_NAMES) this.registries[name].delete(uuid);
  }

  /** A new record of `path` (absolute) in `registry`. */
  add(registry: RegistryName, uuid: string, path: string): DumpRecord {
    const record: DumpRecord = { path, symlinks: [], duplicates: [], dirMtime: null, dirSize: null };
    this.registries[registry].set(uuid, record);
    return record;
  }

  /** Records the modification time and size of the folder of `record`. */
  static updateStats(record: DumpRecord, path = record.path): void {
    const stats = directoryStats(path);
    record.dirMtime = stats.mtime;
    record.dirSize = stats.size;
  }

  /** Writes the log, paths relative to the dump folder. */
  async save(): Promise<void> {
    const rel = (path: string) => relative(this.base, path) || '.';
    const document: Record<string, unknown> = {};
    for (const name of REGISTRY_NAMES) {
      document[name] = Object.fromEntries(
        [...this.registries[name]].map(([uuid, record]) => [
          uuid,
          {
            path: rel(record.path),
            symlinks: record.symlinks.map(rel),
            duplicates: record.duplicates.map(rel),
            dir_mtime: record.dirMtime === null ? null : pythonIso(record.dirMtime),
            dir_size: record.dirSize === 0 ? null : record.dirSize,
          },
        ]),
      );
    }
    document['last_dump_time'] = pythonIso(this.currentDumpTime);
    const nodeToGroups = new Map<string, string[]>();
    for (const [group, nodes] of this.currentMapping.groupToNodes)
      for (const node of nodes) nodeToGroups.set(node, [...(nodeToGroups.get(node) ?? []), group]);
    document['group_node_mapping'] = {
      group_to_nodes: Object.fromEntries(this.currentMapping.groupToNodes),
      node_to_groups: Object.fromEntries(nodeToGroups),
    };
    await writeFile(join(this.base, DumpNames.TRACKING_LOG), JSON.stringify(document, null, 4), 'utf8');
  }
}
