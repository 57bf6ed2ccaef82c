import type { CalcJob } from '../engine/processes/calcjobs/calcjob.js';
import type { LoadableClass } from 'plumpy-ts';
import { processClassRegistry } from '../engine/processes/process-type.js';
import { EntryPointGroup, loadEntryPoint, registerEntryPoint } from '../plugins/entry-points.js';

/** A calculation job class (a subclass of `CalcJob`). */
export type CalcJobClass = typeof CalcJob;

/**
 * Registers a calculation job class under an `aiida.calculations` entry point name: its nodes get the process type
 * `aiida.calculations:<name>`, and `CalculationFactory(name)` finds it.
 */
export function registerCalculation(
  name: string,
  cls: LoadableClass,
  options: { readonly replace?: boolean } = {},
): void {
  registerEntryPoint(EntryPointGroup.CALCULATIONS, name, { value: cls }, options);
  // Checkpoints name the class by its process type: any runner that imported the plugin can continue its jobs.
  processClassRegistry.register(cls);
}

/** The calculation job class of an `aiida.calculations` entry point (aiida's `CalculationFactory`). */
export async function CalculationFactory(name: string): Promise<CalcJobClass> {
  return (await loadEntryPoint(EntryPointGroup.CALCULATIONS, name)) as CalcJobClass;
}
