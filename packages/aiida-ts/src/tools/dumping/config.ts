import { z } from 'zod';

/** How a dump treats what an earlier dump left in the target folder (aiida-core's `DumpMode`). */
export const DumpMode = { INCREMENTAL: 'incremental', OVERWRITE: 'overwrite', DRY_RUN: 'dry_run' } as const;
export type DumpMode = (typeof DumpMode)[keyof typeof DumpMode];

/** What every dump takes (aiida-core's `BaseDumpConfig`); the defaults are aiida-core's. */
export const BaseDumpOptionsSchema = z.strictObject({
  /** Say what would be done, write nothing. */
  dryRun: z.boolean().default(false),
  /** Delete an earlier dump in the target folder first (only a folder with the safeguard file). */
  overwrite: z.boolean().default(false),
  /** Write the repositories of the input data nodes of calculations into `node_inputs/`. */
  includeInputs: z.boolean().default(true),
  /** Write the repositories of the output data nodes of calculations into `node_outputs/`. */
  includeOutputs: z.boolean().default(false),
  /** Put the attributes into `aiida_node_metadata.yaml`. */
  includeAttributes: z.boolean().default(true),
  /** Put the extras into `aiida_node_metadata.yaml`. */
  includeExtras: z.boolean().default(false),
  /** Write the files of each calculation into its folder directly, without `inputs/`, `outputs/`, … */
  flat: z.boolean().default(false),
  /** Also dump processes that are not sealed (still running, or crashed without sealing). */
  dumpUnsealed: z.boolean().default(false),
  /** Where progress messages go (aiida-core's REPORT log records); nowhere by default. */
  report: z.custom<(message: string) => void>((value) => typeof value === 'function').optional(),
});

/** Options of a process dump (aiida-core's `ProcessDumpConfig`). */
export const ProcessDumpOptionsSchema = BaseDumpOptionsSchema.extend({
  /** Only dump calculations in their own folder when they are not called by a dumped workflow. */
  onlyTopLevelCalcs: z.boolean().default(true),
  /** Only dump workflows in their own folder when they are not called by a dumped workflow. */
  onlyTopLevelWorkflows: z.boolean().default(true),
  /** Link calculations dumped before (relative symlink) instead of writing them again. */
  symlinkCalcs: z.boolean().default(false),
});
export type ProcessDumpOptions = z.input<typeof ProcessDumpOptionsSchema>;
export type ProcessDumpConfig = z.output<typeof ProcessDumpOptionsSchema>;

/** Options of a group or profile dump (aiida-core's `GroupDumpConfig` / `ProfileDumpConfig`). */
export const CollectionDumpOptionsSchema = ProcessDumpOptionsSchema.extend({
  /** Reproduce the groups as folders (`groups/<label>/…`). */
  organizeByGroups: z.boolean().default(true),
  /** Delete the dump folders of processes and groups deleted from the profile since the last dump. */
  deleteMissing: z.boolean().default(true),
  /** Only processes modified since the last dump (the time is kept in the dump log). */
  filterByLastDumpTime: z.boolean().default(true),
  /** Only processes modified in the past N days. */
  pastDays: z.number().int().nonnegative().optional(),
  /** Only processes modified at or after this time. */
  startDate: z.date().optional(),
  /** Only processes modified at or before this time. */
  endDate: z.date().optional(),
  /** Profile dump: every group (and, with `alsoUngrouped`, every process). */
  all: z.boolean().default(false),
  /** Profile dump: also the processes in no group (in `ungrouped/`). */
  alsoUngrouped: z.boolean().default(false),
  /** Only processes of the user with this email. */
  user: z.string().optional(),
  /** Only processes that ran on one of these computers (uuids). */
  computers: z.array(z.string()).optional(),
  /** Only processes that took one of these codes as input (uuids). */
  codes: z.array(z.string()).optional(),
  /** Profile dump: only these groups (pks, uuids or labels resolved by the caller). */
  groups: z.array(z.string()).optional(),
}).refine(
  (options) =>
    options.pastDays === undefined || (options.startDate === undefined && options.endDate === undefined),
  {
    message: 'Cannot use `past_days` filter together with `start_date` or `end_date`.',
    path: ['pastDays'],
  },
);
export type CollectionDumpOptions = z.input<typeof CollectionDumpOptionsSchema>;
export type CollectionDumpConfig = z.output<typeof CollectionDumpOptionsSchema>;

/** The mode the flags select: a dry run wins over overwrite, as in aiida-core. */
export function dumpModeOf(config: { readonly dryRun: boolean; readonly overwrite: boolean }): DumpMode {
  if (config.dryRun) return DumpMode.DRY_RUN;
  return config.overwrite ? DumpMode.OVERWRITE : DumpMode.INCREMENTAL;
}
