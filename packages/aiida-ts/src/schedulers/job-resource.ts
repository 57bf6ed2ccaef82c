import { z } from 'zod';
import { ConfigurationError, ValidationError, type ValidationIssue } from '../errors.js';

/**
 * Job resources: how many machines and processes a job asks for. The validated forms are camelCase objects
 * tagged by `kind`; the input is aiida's `resources` dictionary (`{ num_machines: 2, … }`, camelCase keys
 * are accepted too) and every rule and error message is aiida's (`NodeNumberJobResource`,
 * `ParEnvJobResource` and the per-plugin subclasses in `aiida.schedulers`).
 */

/** Resources for schedulers that take a number of nodes and of processes per node (slurm, PBS, direct). */
export const nodeNumberJobResourceSchema = z.object({
  kind: z.literal('node-number'),
  numMachines: z.number().int().min(1),
  numMpiprocsPerMachine: z.number().int().min(1),
  totNumMpiprocs: z.number().int().min(1),
  numCoresPerMachine: z.number().int().min(1).nullable(),
  numCoresPerMpiproc: z.number().int().min(1).nullable(),
});
export type NodeNumberJobResource = z.infer<typeof nodeNumberJobResourceSchema>;

/** Resources for schedulers that take a parallel environment and a total number of processes (SGE). */
export const parEnvJobResourceSchema = z.object({
  kind: z.literal('par-env'),
  parallelEnv: z.string(),
  totNumMpiprocs: z.number().int().min(1),
});
export type ParEnvJobResource = z.infer<typeof parEnvJobResourceSchema>;

/** LSF's resources: an optional host selection (`-m`), a process count, or a node count with `useNumMachines`. */
export const lsfJobResourceSchema = z.object({
  kind: z.literal('lsf'),
  parallelEnv: z.string(),
  totNumMpiprocs: z.number().int().min(1),
  useNumMachines: z.boolean(),
  numMachines: z.number().int().min(1).nullable(),
});
export type LsfJobResource = z.infer<typeof lsfJobResourceSchema>;

/** Any validated job resource. */
export const jobResourceSchema = z.discriminatedUnion('kind', [
  nodeNumberJobResourceSchema,
  parEnvJobResourceSchema,
  lsfJobResourceSchema,
]);
export type JobResource = z.infer<typeof jobResourceSchema>;

/** aiida's `resources` dictionary as a user writes it; keys in aiida's snake_case or in camelCase. */
export type JobResourceInput = Readonly<Record<string, unknown>>;

/**
 * The job resource class of a scheduler plugin (aiida's `Scheduler.job_resource_class`): validates a
 * resources dictionary into its typed form.
 */
export interface JobResourceClass<R extends JobResource = JobResource> {
  /** aiida's class name, for messages (`SlurmJobResource`). */
  readonly name: string;
  /** The keys `validate` accepts, in aiida's spelling. */
  readonly validKeys: readonly string[];
  /** Whether the computer's `default_mpiprocs_per_machine` may fill in `num_mpiprocs_per_machine`. */
  readonly acceptsDefaultMpiprocsPerMachine: boolean;
  /** Whether the computer's `default_memory_per_machine` applies to this scheduler. */
  readonly acceptsDefaultMemoryPerMachine: boolean;
  /**
   * Validate a resources dictionary and fill in what can be derived. Throws `ValidationError` (or
   * `ConfigurationError` where aiida raises one) whose message carries aiida's wording.
   */
  validate(resources: JobResourceInput): R;
}

const SNAKE_TO_CAMEL: Readonly<Record<string, string>> = {
  num_machines: 'numMachines',
  num_mpiprocs_per_machine: 'numMpiprocsPerMachine',
  tot_num_mpiprocs: 'totNumMpiprocs',
  num_cores_per_machine: 'numCoresPerMachine',
  num_cores_per_mpiproc: 'numCoresPerMpiproc',
  parallel_env: 'parallelEnv',
  use_num_machines: 'useNumMachines',
  default_mpiprocs_per_machine: 'defaultMpiprocsPerMachine',
};
const CAMEL_TO_SNAKE: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(SNAKE_TO_CAMEL).map(([snake, camel]) => [camel, snake]),
);

/** Rewrite camelCase keys to aiida's names; a key given in both spellings is an error. */
function toSnakeKeys(input: unknown): unknown {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const snake = CAMEL_TO_SNAKE[key] ?? key;
    if (snake in out) {
      return { __conflict__: `\`${snake}\` is given twice (as \`${snake}\` and \`${key}\`)` };
    }
    out[snake] = value;
  }
  return out;
}

/** aiida converts with `int(value)`: integers and integer strings pass, anything else does not. */
function toInteger(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) ? value : undefined;
  if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) return Number(value);
  return undefined;
}

const CONFIGURATION = { configuration: true } as const;

function optionalInteger(name: string, message = `\`${name}\` must be an integer when specified`) {
  return z
    .unknown()
    .optional()
    .transform((value, ctx): number | null => {
      if (value === undefined || value === null) return null;
      const n = toInteger(value);
      if (n === undefined) {
        ctx.addIssue({ code: 'custom', message });
        return z.NEVER;
      }
      return n;
    });
}

const unrecognized = {
  error: (issue: { code?: string; keys?: readonly string[] }) =>
    issue.code === 'unrecognized_keys' && issue.keys
      ? `these parameters were not recognized: ${issue.keys.join(', ')}`
      : undefined,
};

function conflictGuard(input: unknown, ctx: z.RefinementCtx): void {
  if (typeof input === 'object' && input !== null && '__conflict__' in input) {
    ctx.addIssue({ code: 'custom', message: String(input.__conflict__) });
  }
}

const nodeNumberFields = z.strictObject(
  {
    num_machines: optionalInteger('num_machines'),
    num_mpiprocs_per_machine: optionalInteger('num_mpiprocs_per_machine'),
    tot_num_mpiprocs: optionalInteger('tot_num_mpiprocs'),
    num_cores_per_machine: optionalInteger('num_cores_per_machine'),
    num_cores_per_mpiproc: optionalInteger('num_cores_per_mpiproc'),
  },
  unrecognized,
);

/** aiida's `NodeNumberJobResource.validate_resources`: two of three counts fix the third. */
const nodeNumberSchema = z
  .preprocess(toSnakeKeys, z.unknown().superRefine(conflictGuard).pipe(nodeNumberFields))
  .transform((r, ctx): NodeNumberJobResource => {
    const fail = (message: string): never => {
      ctx.addIssue({ code: 'custom', message });
      return z.NEVER;
    };
    let machines: number | null = r.num_machines;
    let perMachine: number | null = r.num_mpiprocs_per_machine;
    let total: number | null = r.tot_num_mpiprocs;
    if ([machines, perMachine, total].filter((v) => v === null).length > 1) {
      return fail(
        'At least two among `num_machines`, `num_mpiprocs_per_machine` or `tot_num_mpiprocs` must be specified.',
      );
    }
    for (const [name, value] of [
      ['num_machines', machines],
      ['num_mpiprocs_per_machine', perMachine],
    ] as const) {
      if (value !== null && value < 1) return fail(`\`${name}\` must be greater than or equal to one.`);
    }
    // aiida derives with floor division, so an inconsistent total is caught by the product check below.
    if (machines === null) machines = Math.floor(total! / perMachine!);
    if (perMachine === null) perMachine = Math.floor(total! / machines);
    if (total === null) total = perMachine * machines;
    if (total !== perMachine * machines) {
      return fail('`tot_num_mpiprocs` is not equal to `num_mpiprocs_per_machine * num_machines`.');
    }
    if (perMachine < 1) return fail('`num_mpiprocs_per_machine` must be greater than or equal to one.');
    if (machines < 1) return fail('`num_machines` must be greater than or equal to one.');
    return {
      kind: 'node-number',
      numMachines: machines,
      numMpiprocsPerMachine: perMachine,
      totNumMpiprocs: total,
      numCoresPerMachine: r.num_cores_per_machine,
      numCoresPerMpiproc: r.num_cores_per_mpiproc,
    };
  });

const CORES_MISMATCH =
  '`num_cores_per_machine` must be equal to `num_cores_per_mpiproc * num_mpiprocs_per_machine` and in' +
  ' particular it should be a multiple of `num_cores_per_mpiproc` and/or `num_mpiprocs_per_machine`';

/** Cores must be positive whichever plugin rule derived them. */
const positiveCores = (r: NodeNumberJobResource, ctx: z.RefinementCtx): void => {
  for (const [name, value] of [
    ['num_cores_per_machine', r.numCoresPerMachine],
    ['num_cores_per_mpiproc', r.numCoresPerMpiproc],
  ] as const) {
    if (value !== null && value < 1) {
      ctx.addIssue({ code: 'custom', message: `\`${name}\` must be greater than or equal to one.` });
    }
  }
};

/** `SlurmJobResource`: cores per machine fix cores per process (slurm's `--cpus-per-task`). */
const slurmSchema = nodeNumberSchema
  .transform((r, ctx): NodeNumberJobResource => {
    const { numCoresPerMachine: perMachine, numCoresPerMpiproc: perProc } = r;
    if (perMachine !== null && perProc !== null) {
      if (perMachine !== perProc * r.numMpiprocsPerMachine) {
        ctx.addIssue({ code: 'custom', message: CORES_MISMATCH });
        return z.NEVER;
      }
    } else if (perMachine !== null) {
      if (perMachine < 1) {
        ctx.addIssue({
          code: 'custom',
          message: 'num_cores_per_machine must be greater than or equal to one.',
        });
        return z.NEVER;
      }
      if (perMachine % r.numMpiprocsPerMachine !== 0) {
        ctx.addIssue({ code: 'custom', message: CORES_MISMATCH });
        return z.NEVER;
      }
      return { ...r, numCoresPerMpiproc: perMachine / r.numMpiprocsPerMachine };
    }
    return r;
  })
  .superRefine(positiveCores);

/** `PbsJobResource`: cores per process fix cores per machine (PBS's `ncpus`/`ppn`). */
const pbsSchema = nodeNumberSchema
  .transform((r, ctx): NodeNumberJobResource => {
    const { numCoresPerMachine: perMachine, numCoresPerMpiproc: perProc } = r;
    if (perMachine !== null && perProc !== null) {
      if (perMachine !== perProc * r.numMpiprocsPerMachine) {
        ctx.addIssue({ code: 'custom', message: CORES_MISMATCH });
        return z.NEVER;
      }
    } else if (perProc !== null) {
      if (perProc < 1) {
        ctx.addIssue({
          code: 'custom',
          message: 'num_cores_per_mpiproc must be greater than or equal to one.',
        });
        return z.NEVER;
      }
      return { ...r, numCoresPerMachine: perProc * r.numMpiprocsPerMachine };
    }
    return r;
  })
  .superRefine(positiveCores);

const parEnvSchema = z
  .preprocess(
    toSnakeKeys,
    z
      .unknown()
      .superRefine(conflictGuard)
      .pipe(
        z.strictObject(
          {
            parallel_env: z.string({ error: '`parallel_env` must be specified and must be a string' }),
            tot_num_mpiprocs: z
              .unknown()
              .optional()
              .transform((value, ctx) => {
                const n = toInteger(value);
                if (n === undefined) {
                  ctx.addIssue({
                    code: 'custom',
                    message: '`tot_num_mpiprocs` must be specified and must be an integer',
                  });
                  return z.NEVER;
                }
                return n;
              }),
          },
          unrecognized,
        ),
      ),
  )
  .transform((r, ctx): ParEnvJobResource => {
    if (r.tot_num_mpiprocs < 1) {
      ctx.addIssue({ code: 'custom', message: '`tot_num_mpiprocs` must be greater than or equal to one.' });
      return z.NEVER;
    }
    return { kind: 'par-env', parallelEnv: r.parallel_env, totNumMpiprocs: r.tot_num_mpiprocs };
  });

const lsfSchema = z
  .preprocess(
    toSnakeKeys,
    z
      .unknown()
      .superRefine(conflictGuard)
      .pipe(
        z.strictObject(
          {
            parallel_env: z.string({ error: '`parallel_env` must be a string' }).optional(),
            use_num_machines: z.boolean({ error: '`use_num_machines` must be a boolean' }).optional(),
            num_machines: optionalInteger('num_machines', '`num_machines` must be an integer'),
            default_mpiprocs_per_machine: z.unknown().optional(),
            tot_num_mpiprocs: optionalInteger(
              'tot_num_mpiprocs',
              '`tot_num_mpiprocs` must be specified and must be an integer',
            ),
          },
          unrecognized,
        ),
      ),
  )
  .transform((r, ctx): LsfJobResource => {
    const fail = (message: string, params?: Record<string, unknown>): never => {
      ctx.addIssue({ code: 'custom', message, ...(params ? { params } : {}) });
      return z.NEVER;
    };
    const useNumMachines = r.use_num_machines ?? false;
    if (r.default_mpiprocs_per_machine !== undefined && r.default_mpiprocs_per_machine !== null) {
      return fail('`default_mpiprocs_per_machine` cannot be set.', CONFIGURATION);
    }
    if (!useNumMachines && r.num_machines !== null) {
      return fail('`num_machines` cannot be set unless `use_num_machines` is `True`.', CONFIGURATION);
    }
    if (useNumMachines && r.num_machines === null) {
      return fail('must set `num_machines` when `use_num_machines` is `True`.', CONFIGURATION);
    }
    if (r.tot_num_mpiprocs === null)
      return fail('`tot_num_mpiprocs` must be specified and must be an integer');
    if (r.tot_num_mpiprocs <= 0) return fail('tot_num_mpiprocs must be >= 1');
    return {
      kind: 'lsf',
      parallelEnv: r.parallel_env ?? '',
      totNumMpiprocs: r.tot_num_mpiprocs,
      useNumMachines,
      numMachines: r.num_machines,
    };
  });

/** Run a resources schema, turning its issues into aiida-worded errors. */
function runSchema<R>(schema: z.ZodType<R>, className: string, resources: JobResourceInput): R {
  const result = schema.safeParse(resources);
  if (result.success) return result.data;
  const issues: ValidationIssue[] = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const message = `invalid resources for ${className}`;
  const isConfiguration = result.error.issues.some(
    (issue) =>
      issue.code === 'custom' && (issue.params as Record<string, unknown> | undefined)?.configuration,
  );
  if (isConfiguration) {
    throw new ConfigurationError(`${message}: ${issues.map((i) => i.message).join('; ')}`);
  }
  throw new ValidationError(message, issues);
}

function resourceClass<R extends JobResource>(
  name: string,
  schema: z.ZodType<R>,
  validKeys: readonly string[],
  flags: { acceptsDefaultMpiprocsPerMachine: boolean; acceptsDefaultMemoryPerMachine: boolean },
): JobResourceClass<R> {
  return {
    name,
    validKeys,
    ...flags,
    validate: (resources) => runSchema(schema, name, resources),
  };
}

const NODE_NUMBER_KEYS = [
  'num_machines',
  'num_mpiprocs_per_machine',
  'num_cores_per_machine',
  'num_cores_per_mpiproc',
  'tot_num_mpiprocs',
] as const;

/** aiida's `NodeNumberJobResource`. */
export const NodeNumberJobResourceClass: JobResourceClass<NodeNumberJobResource> = resourceClass(
  'NodeNumberJobResource',
  nodeNumberSchema,
  NODE_NUMBER_KEYS,
  { acceptsDefaultMpiprocsPerMachine: true, acceptsDefaultMemoryPerMachine: true },
);

/** aiida's `DirectJobResource`: node numbers; no memory default (the direct scheduler cannot limit memory). */
export const DirectJobResourceClass: JobResourceClass<NodeNumberJobResource> = resourceClass(
  'DirectJobResource',
  nodeNumberSchema.superRefine(positiveCores),
  NODE_NUMBER_KEYS,
  { acceptsDefaultMpiprocsPerMachine: true, acceptsDefaultMemoryPerMachine: false },
);

/** aiida's `SlurmJobResource`. */
export const SlurmJobResourceClass: JobResourceClass<NodeNumberJobResource> = resourceClass(
  'SlurmJobResource',
  slurmSchema,
  NODE_NUMBER_KEYS,
  { acceptsDefaultMpiprocsPerMachine: true, acceptsDefaultMemoryPerMachine: true },
);

/** aiida's `PbsJobResource` (PBSPro and Torque). */
export const PbsJobResourceClass: JobResourceClass<NodeNumberJobResource> = resourceClass(
  'PbsJobResource',
  pbsSchema,
  NODE_NUMBER_KEYS,
  { acceptsDefaultMpiprocsPerMachine: true, acceptsDefaultMemoryPerMachine: true },
);

/** aiida's `ParEnvJobResource`. */
export const ParEnvJobResourceClass: JobResourceClass<ParEnvJobResource> = resourceClass(
  'ParEnvJobResource',
  parEnvSchema,
  ['parallel_env', 'tot_num_mpiprocs'],
  { acceptsDefaultMpiprocsPerMachine: false, acceptsDefaultMemoryPerMachine: true },
);

/** aiida's `SgeJobResource` (a `ParEnvJobResource`). */
export const SgeJobResourceClass: JobResourceClass<ParEnvJobResource> = {
  ...ParEnvJobResourceClass,
  name: 'SgeJobResource',
  validate: (resources) => runSchema(parEnvSchema, 'SgeJobResource', resources),
};

/** aiida's `LsfJobResource`. */
export const LsfJobResourceClass: JobResourceClass<LsfJobResource> = resourceClass(
  'LsfJobResource',
  lsfSchema,
  ['parallel_env', 'tot_num_mpiprocs', 'default_mpiprocs_per_machine', 'num_machines', 'use_num_machines'],
  { acceptsDefaultMpiprocsPerMachine: false, acceptsDefaultMemoryPerMachine: true },
);

/** The total number of MPI processes a resource asks for (aiida's `get_tot_num_mpiprocs`). */
export function getTotNumMpiprocs(resource: JobResource): number {
  return resource.totNumMpiprocs;
}

/** The resource as aiida's dictionary, with aiida's keys (what `dict(job_resource)` gives in Python). */
export function jobResourceToAiidaDict(
  resource: JobResource,
): Record<string, string | number | boolean | null> {
  switch (resource.kind) {
    case 'node-number':
      return {
        num_machines: resource.numMachines,
        num_mpiprocs_per_machine: resource.numMpiprocsPerMachine,
        num_cores_per_machine: resource.numCoresPerMachine,
        num_cores_per_mpiproc: resource.numCoresPerMpiproc,
        tot_num_mpiprocs: resource.totNumMpiprocs,
      };
    case 'par-env':
      return { parallel_env: resource.parallelEnv, tot_num_mpiprocs: resource.totNumMpiprocs };
    case 'lsf':
      return {
        parallel_env: resource.parallelEnv,
        use_num_machines: resource.useNumMachines,
        ...(resource.useNumMachines ? { num_machines: resource.numMachines } : {}),
        tot_num_mpiprocs: resource.totNumMpiprocs,
      };
  }
}

/**
 * aiida's `Scheduler.preprocess_resources`: return a copy of `resources` with `num_mpiprocs_per_machine` set
 * to the computer's default when it is missing, cannot be derived from the other two counts, and the
 * resource class accepts that default.
 */
export function preprocessResources(
  resourceClass: JobResourceClass,
  resources: JobResourceInput,
  defaultMpiprocsPerMachine: number | null | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...resources };
  const read = (snake: string): unknown => out[snake] ?? out[SNAKE_TO_CAMEL[snake]!] ?? null;
  if (
    read('num_mpiprocs_per_machine') === null &&
    resourceClass.acceptsDefaultMpiprocsPerMachine &&
    (read('num_machines') === null || read('tot_num_mpiprocs') === null)
  ) {
    // aiida stores the default even when it is None; the validator then reports what is missing.
    delete out['numMpiprocsPerMachine'];
    out['num_mpiprocs_per_machine'] = defaultMpiprocsPerMachine ?? null;
  }
  return out;
}
