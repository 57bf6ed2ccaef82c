import type { NamespaceDesc, PortDesc, ProcessSpec, SpecTypes } from 'plumpy-ts';
import { z } from 'zod';

/** The name of the input namespace holding the settings of a process run (never linked in the graph). */
export const METADATA_KEY = 'metadata';

/** The label of a `call_calc`/`call_work` link when the caller gives none. */
export const DEFAULT_CALL_LINK_LABEL = 'CALL';

/** The output label of a process that returns a single node (aiida's `SINGLE_OUTPUT_LINKNAME`). */
export const SINGLE_OUTPUT_LINKNAME = 'result';

/** The `metadata` namespace as the type system sees it (ports: value in, value out, required, has default). */
export type MetadataNamespaceDesc = NamespaceDesc<
  {
    readonly store_provenance: PortDesc<boolean, boolean, false, true>;
    readonly description: PortDesc<string, string, false, false>;
    readonly label: PortDesc<string, string, false, false>;
    readonly call_link_label: PortDesc<string, string, false, true>;
    readonly disable_cache: PortDesc<boolean, boolean, false, false>;
  },
  never,
  never,
  false
>;

/** The labels of the exit codes every process has. */
export type BaseExitCodeLabel =
  'ERROR_UNSPECIFIED' | 'ERROR_LEGACY_FAILURE' | 'ERROR_INVALID_OUTPUT' | 'ERROR_MISSING_OUTPUT';

/**
 * `S` with the `metadata` namespace and the base exit codes. Spelled out because the type inferred from the
 * builder chain is too long for the compiler to write into a declaration file.
 */
export type ProcessBaseSpecTypes<S extends SpecTypes> = {
  readonly [K in keyof S]: K extends 'inputs'
    ? NamespaceDesc<
        {
          readonly [P in keyof S['inputs']['ports'] | 'metadata']: P extends 'metadata'
            ? MetadataNamespaceDesc
            : S['inputs']['ports'][P];
        },
        S['inputs']['dynIn'],
        S['inputs']['dynOut'],
        S['inputs']['required']
      >
    : K extends 'exitCodes'
      ? S['exitCodes'] | BaseExitCodeLabel
      : S[K];
};

/**
 * Adds what every aiida-ts process has (aiida's `Process.define`): the `metadata` namespace (`store_provenance`,
 * `label`, `description`, `call_link_label`, `disable_cache`) and the base exit codes 1, 2, 10 and 11.
 */
export function defineProcessBase<S extends SpecTypes>(
  spec: ProcessSpec<S>,
): ProcessSpec<ProcessBaseSpecTypes<S>> {
  const built = spec
    .inputNamespace(METADATA_KEY, {
      required: false,
      help: 'Settings of the process run; not stored as links.',
    })
    .input(`${METADATA_KEY}.store_provenance`, {
      validType: z.boolean(),
      default: true,
      help: 'If set to `false` provenance will not be stored in the database.',
    })
    .input(`${METADATA_KEY}.description`, {
      validType: z.string(),
      required: false,
      help: 'Description to set on the process node.',
    })
    .input(`${METADATA_KEY}.label`, {
      validType: z.string(),
      required: false,
      help: 'Label to set on the process node.',
    })
    .input(`${METADATA_KEY}.call_link_label`, {
      validType: z.string(),
      default: DEFAULT_CALL_LINK_LABEL,
      help: 'The label to use for the `CALL` link if the process is called by another process.',
    })
    .input(`${METADATA_KEY}.disable_cache`, {
      validType: z.boolean(),
      required: false,
      help: 'Do not consider the cache for this process, ignoring all other caching configuration rules.',
    })
    .exitCode(1, 'ERROR_UNSPECIFIED', 'The process has failed with an unspecified error.', {
      invalidatesCache: true,
    })
    .exitCode(2, 'ERROR_LEGACY_FAILURE', 'The process failed with legacy failure mode.', {
      invalidatesCache: true,
    })
    .exitCode(10, 'ERROR_INVALID_OUTPUT', 'The process returned an invalid output.', {
      invalidatesCache: true,
    })
    .exitCode(11, 'ERROR_MISSING_OUTPUT', 'The process did not register a required output.', {
      invalidatesCache: true,
    });
  return built as unknown as ProcessSpec<ProcessBaseSpecTypes<S>>;
}

/** The parsed `metadata` namespace as the engine reads it. */
export interface ProcessMetadata {
  readonly store_provenance?: boolean;
  readonly description?: string;
  readonly label?: string;
  readonly call_link_label?: string;
  readonly disable_cache?: boolean;
  readonly [key: string]: unknown;
}
