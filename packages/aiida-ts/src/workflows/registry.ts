import { EntryPointGroup, loadEntryPoint } from '../plugins/entry-points.js';

/** The workflow (work chain class or workfunction) of an `aiida.workflows` entry point (aiida's `WorkflowFactory`). */
export async function WorkflowFactory(name: string): Promise<unknown> {
  return loadEntryPoint(EntryPointGroup.WORKFLOWS, name);
}
