import { z } from 'zod';
import { PluginInternalError } from '../../../errors.js';
import { safeRelativePath } from './paths.js';

/** The sources of the files of a working directory, in the order they are copied (aiida's `FileCopyOperation`). */
export const FileCopyOperation = { LOCAL: 'local', REMOTE: 'remote', SANDBOX: 'sandbox' } as const;
export type FileCopyOperation = (typeof FileCopyOperation)[keyof typeof FileCopyOperation];
export const fileCopyOperationSchema = z.enum(['local', 'remote', 'sandbox']);

/** aiida-core's integer values of `FileCopyOperation`, as `.aiida/calcinfo.json` holds them. */
const FILE_COPY_OPERATION_INT: Readonly<Record<FileCopyOperation, number>> = {
  local: 0,
  remote: 1,
  sandbox: 2,
};

/** The order aiida uses when a plugin gives none: the sandbox, then local copies, then remote copies. */
export const DEFAULT_FILE_COPY_OPERATION_ORDER: readonly FileCopyOperation[] = ['sandbox', 'local', 'remote'];

/** How the files of a stash are kept (aiida's `StashMode`). */
export const StashMode = {
  COPY: 'copy',
  COMPRESS_TAR: 'tar',
  COMPRESS_TARBZ2: 'tar.bz2',
  COMPRESS_TARGZ: 'tar.gz',
  COMPRESS_TARXZ: 'tar.xz',
  SUBMIT_CUSTOM_CODE: 'submit_custom_code',
} as const;
export type StashMode = (typeof StashMode)[keyof typeof StashMode];
export const stashModeSchema = z.enum(['copy', 'tar', 'tar.bz2', 'tar.gz', 'tar.xz', 'submit_custom_code']);
/** The stash modes that make one archive. */
export const COMPRESS_STASH_MODES: readonly StashMode[] = ['tar', 'tar.bz2', 'tar.gz', 'tar.xz'];

/** Where unstashed files go (aiida's `UnstashTargetMode`). */
export const UnstashTargetMode = {
  ORIGINAL_PLACE: 'OriginalPlace',
  NEW_REMOTE_DATA: 'NewRemoteData',
} as const;
export type UnstashTargetMode = (typeof UnstashTargetMode)[keyof typeof UnstashTargetMode];
export const unstashTargetModeSchema = z.enum(['OriginalPlace', 'NewRemoteData']);

/** How several codes of one job run: one after the other, or all at once (aiida's `CodeRunMode`). */
export const codesRunModeSchema = z.enum(['serial', 'parallel']);

const relative = (what: string) =>
  z.string().transform((value, ctx) => {
    try {
      return safeRelativePath(value, what);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

const relativeOrDot = (what: string) =>
  z
    .string()
    .nullish()
    .transform((value, ctx) => {
      try {
        return safeRelativePath(value ?? '.', what, { allowDot: true });
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    });

/**
 * One entry of a retrieve list: a relative path or glob (`'aiida.out'`, `'out/*.xml'`), or `[remote, local, depth]`
 * where the files matching `remote` go under `local` keeping their last `depth` path components (all of them when
 * null). Paths that leave the working directory are refused.
 */
export const retrieveListItemSchema = z
  .union([z.string(), z.tuple([z.string(), z.string().nullish(), z.number().int().min(0).nullable()])], {
    error: 'a retrieve list entry is a path or a list [remote, local, depth]',
  })
  .transform((item, ctx): string | [string, string, number | null] => {
    try {
      if (typeof item === 'string') return safeRelativePath(item, 'a retrieve list entry');
      const [remote, local, depth] = item;
      return [
        safeRelativePath(remote, 'the remote path of a retrieve list entry'),
        safeRelativePath(local ?? '.', 'the local path of a retrieve list entry', { allowDot: true }),
        depth,
      ];
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
export type RetrieveListItem = z.output<typeof retrieveListItemSchema>;

/** One code run by a job (aiida's `CodeInfo`). */
export const codeInfoSchema = z.strictObject({
  /** Arguments after the executable. */
  cmdlineParams: z.array(z.string()).default([]),
  /** File (in the working directory) fed to stdin. */
  stdinName: z.string().nullish(),
  /** File stdout is redirected to. */
  stdoutName: z.string().nullish(),
  /** File stderr is redirected to. */
  stderrName: z.string().nullish(),
  /** Send stderr where stdout goes. */
  joinFiles: z.boolean().nullish(),
  /** Whether the plugin needs MPI (null: the option or the code decide). */
  withmpi: z.boolean().nullish(),
  /** The uuid of the code to run (required). */
  codeUuid: z.string({ error: 'CalcInfo should have the information of the code to be launched' }),
});
export type CodeInfo = z.output<typeof codeInfoSchema>;
export type CodeInfoInput = z.input<typeof codeInfoSchema>;

const copyEntry = (what: string) =>
  z.tuple([z.string(), z.string().nullish(), relativeOrDot(`the destination of a ${what} entry`)]);
const remoteCopyEntry = (what: string) =>
  z.tuple([z.string(), z.string().min(1), relativeOrDot(`the destination of a ${what} entry`)]);

/**
 * What a plugin's `prepareForSubmission` returns (aiida's `CalcInfo`), every field of aiida's in camelCase: the codes
 * to run, the files to copy into the working directory and to retrieve from it, and job settings.
 */
export const calcInfoSchema = z.strictObject({
  /** The uuid of the calculation node (filled in by the engine). */
  uuid: z.string().nullish(),
  codesInfo: z.array(codeInfoSchema).default([]),
  codesRunMode: codesRunModeSchema.default('serial'),
  /** Files to retrieve into the `retrieved` folder. */
  retrieveList: z.array(retrieveListItemSchema).default([]),
  /** Files to retrieve for the parser only (not stored). */
  retrieveTemporaryList: z.array(retrieveListItemSchema).default([]),
  /** `[node uuid, path in its repository (null or '.' for all), destination]`. */
  localCopyList: z.array(copyEntry('local_copy_list')).default([]),
  /** `[computer uuid, absolute source path, destination]`. */
  remoteCopyList: z.array(remoteCopyEntry('remote_copy_list')).default([]),
  /** `[computer uuid, absolute source path, link path]`. */
  remoteSymlinkList: z.array(remoteCopyEntry('remote_symlink_list')).default([]),
  /** Files uploaded but not stored in the node's repository. */
  provenanceExcludeList: z.array(relative('a provenance_exclude_list entry')).default([]),
  /** Upload (and retrieve) only: no job is submitted. */
  skipSubmit: z.boolean().default(false),
  fileCopyOperationOrder: z
    .array(fileCopyOperationSchema, {
      error: 'calc_info.file_copy_operation_order is not a list of `FileCopyOperation` enums.',
    })
    .default([...DEFAULT_FILE_COPY_OPERATION_ORDER]),
  jobEnvironment: z.record(z.string(), z.string()).nullish(),
  email: z.string().nullish(),
  emailOnStarted: z.boolean().nullish(),
  emailOnTerminated: z.boolean().nullish(),
  prependText: z.string().nullish(),
  appendText: z.string().nullish(),
  numMachines: z.number().int().nullish(),
  numMpiprocsPerMachine: z.number().int().nullish(),
  priority: z.string().nullish(),
  maxWallclockSeconds: z.number().int().nullish(),
  maxMemoryKb: z.number().int().nullish(),
  rerunnable: z.boolean().nullish(),
});
export type CalcInfo = z.output<typeof calcInfoSchema>;
/** What a plugin returns: every field optional but the codes' uuids. */
export type CalcInfoInput = z.input<typeof calcInfoSchema>;

/** Checks what a plugin returned; `PluginInternalError` listing every bad field. */
export function parseCalcInfo(value: unknown): CalcInfo {
  const result = calcInfoSchema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues
    .map((issue) => `${issue.path.map(String).join('.') || '<root>'}: ${issue.message}`)
    .join('; ');
  throw new PluginInternalError(`invalid CalcInfo returned by the plugin: ${issues}`);
}

/** The CalcInfo in aiida-core's JSON layout (`.aiida/calcinfo.json`): snake_case keys, enums as aiida's integers. */
export function calcInfoToAiidaJson(info: CalcInfo): Record<string, unknown> {
  const snake = (key: string): string => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(info)) {
    if (value === undefined || value === null) continue;
    if (key === 'codesInfo') {
      out['codes_info'] = info.codesInfo.map((code) => {
        const entry: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(code)) if (v !== undefined && v !== null) entry[snake(k)] = v;
        return entry;
      });
    } else if (key === 'codesRunMode') out['codes_run_mode'] = info.codesRunMode === 'serial' ? 0 : 1;
    else if (key === 'fileCopyOperationOrder')
      out['file_copy_operation_order'] = info.fileCopyOperationOrder.map((op) => FILE_COPY_OPERATION_INT[op]);
    else out[snake(key)] = value;
  }
  return out;
}
