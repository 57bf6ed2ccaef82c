import { InvalidOperationError, MissingEntryPointError, ValidationError } from '../errors.js';
import { DirectScheduler } from './plugins/direct.js';
import { LsfScheduler } from './plugins/lsf.js';
import { PbsproScheduler } from './plugins/pbspro.js';
import { SgeScheduler } from './plugins/sge.js';
import { SlurmScheduler } from './plugins/slurm.js';
import { TorqueScheduler } from './plugins/torque.js';
import type { Scheduler, SchedulerOptions } from './scheduler.js';

/** Makes a scheduler of one plugin. */
export type SchedulerFactory = (options?: SchedulerOptions) => Scheduler;

/** The entry point names of the schedulers aiida ships (group `aiida.schedulers`). */
export const CORE_SCHEDULERS = {
  'core.direct': (options?: SchedulerOptions) => new DirectScheduler(options),
  'core.lsf': (options?: SchedulerOptions) => new LsfScheduler(options),
  'core.pbspro': (options?: SchedulerOptions) => new PbsproScheduler(options),
  'core.sge': (options?: SchedulerOptions) => new SgeScheduler(options),
  'core.slurm': (options?: SchedulerOptions) => new SlurmScheduler(options),
  'core.torque': (options?: SchedulerOptions) => new TorqueScheduler(options),
} as const satisfies Record<string, SchedulerFactory>;
export type CoreSchedulerEntryPoint = keyof typeof CORE_SCHEDULERS;

const registry = new Map<string, SchedulerFactory>(Object.entries(CORE_SCHEDULERS));

/**
 * Register a scheduler plugin under an entry point name (a plugin package's `aiida.schedulers` entry).
 * Registering a taken name fails unless `replace` is set.
 */
export function registerScheduler(entryPoint: string, factory: SchedulerFactory, replace = false): void {
  if (!/^[a-z0-9_]+(\.[a-z0-9_]+)*$/i.test(entryPoint)) {
    throw new ValidationError(`'${entryPoint}' is not a valid scheduler entry point name`);
  }
  if (registry.has(entryPoint) && !replace) {
    throw new InvalidOperationError(`the scheduler entry point '${entryPoint}' is already registered`);
  }
  registry.set(entryPoint, factory);
}

/** The registered scheduler entry point names, sorted. */
export function listSchedulerEntryPoints(): string[] {
  return [...registry.keys()].sort();
}

/**
 * Make a scheduler by entry point name (aiida's `SchedulerFactory(entry_point)()`); an unknown name fails
 * with `MissingEntryPointError` listing the known ones.
 */
export function loadScheduler(entryPoint: string, options?: SchedulerOptions): Scheduler {
  const factory = registry.get(entryPoint);
  if (factory === undefined) {
    throw new MissingEntryPointError(
      `Entry point '${entryPoint}' not found in group 'aiida.schedulers'; known: ${listSchedulerEntryPoints().join(', ')}`,
    );
  }
  return factory(options);
}
