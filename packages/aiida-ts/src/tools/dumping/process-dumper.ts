import { existsSync, lstatSync } from 'node:fs';
import { mkdir, symlink } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { ExportValidationError } from '../../errors.js';
import { LinkType } from '../../orm/links.js';
import type { LinkTriple, Node } from '../../orm/nodes/node.js';
import { CalculationNode, ProcessNode, WorkflowNode } from '../../orm/nodes/process/process.js';
import { FolderData, SinglefileData } from '../../orm/nodes/data/files.js';
import type { ProcessDumpConfig } from './config.js';
import { writeNodeMetadata } from './metadata.js';
import { DumpNames, prepareDirectory, safeDeleteDirectory } from './paths.js';
import { DumpTracker, type DumpRecord, type RegistryName } from './tracker.js';

/** What to do with a process, given the log (aiida-core's `NodeDumpAction`). */
type DumpAction = 'skip' | 'symlink' | 'primary' | 'duplicate' | 'update';

/** Folder names of the parts of a calculation; all `''` (the calculation's folder itself) with `flat`. */
function calculationFolders(flat: boolean) {
  return flat
    ? { repository: '', retrieved: '', inputs: '', outputs: '' }
    : { repository: 'inputs', retrieved: 'outputs', inputs: 'node_inputs', outputs: 'node_outputs' };
}

/** The log registry of a process: calculations or workflows. */
export function registryOf(process: ProcessNode): RegistryName {
  return process instanceof CalculationNode ? 'calculations' : 'workflows';
}

/**
 * `01-multiply-5`: the folder of the `index`th process called by a workflow, as `verdi process status` would name
 * it: index, call link label and process label (the default `CALL` label and a missing label left out), pk.
 */
export function childFolderName(index: number, link: LinkTriple<ProcessNode>): string {
  const parts = [String(index).padStart(2, '0'), link.linkLabel];
  const processLabel = link.node.processLabel ?? link.node.processType;
  if (processLabel !== null && processLabel !== link.linkLabel) parts.push(processLabel);
  parts.push(String(link.node.pk));
  return parts.join('-').replace('CALL-', '').replace('None-', '');
}

/**
 * Dumps one process into a folder (aiida-core's `ProcessDumpExecutor`): its metadata file, and for a calculation its
 * repository (`inputs/`), retrieved files (`outputs/`) and the files of its input and output data (`node_inputs/`,
 * `node_outputs/`); for a workflow, every process it called in a numbered subfolder, recursively. The log decides
 * whether a process dumped before is skipped (unchanged), written again (modified), linked or duplicated.
 */
export class ProcessDumpExecutor {
  readonly #config: ProcessDumpConfig;
  readonly #tracker: DumpTracker;

  constructor(config: ProcessDumpConfig, tracker: DumpTracker) {
    this.#config = config;
    this.#tracker = tracker;
  }

  /** Dumps `process` into `outputPath` (absolute). Unsealed processes are refused unless `dumpUnsealed`. */
  async dump(process: ProcessNode, outputPath: string): Promise<void> {
    if (!process.isSealed && !this.#config.dumpUnsealed)
      throw new ExportValidationError(
        `Process ${String(process.pk)} must be sealed before it can be dumped, or \`--dump-unsealed\` set to True.`,
      );
    if (this.#config.dryRun) return;
    const existing = this.#tracker.get(process.uuid);
    const action = this.#action(process, outputPath, existing);
    const primary = action === 'primary';
    try {
      if (existing === undefined || primary) await this.#dumpPrimary(process, outputPath);
      else if (action === 'symlink') await this.#symlink(outputPath, existing);
      else if (action === 'update') {
        await safeDeleteDirectory(outputPath);
        await prepareDirectory(outputPath, { overwrite: false, leaf: false });
        await this.#dumpContent(process, outputPath);
        DumpTracker.updateStats(existing, outputPath);
      } else if (action === 'duplicate') {
        await prepareDirectory(outputPath, { overwrite: false, leaf: false });
        existing.duplicates.push(resolve(outputPath));
        await this.#dumpContent(process, outputPath);
      }
    } catch (error) {
      // A half-written folder is removed (only ours: it has the safeguard file), and a new log entry forgotten.
      if (action !== 'skip' && action !== 'symlink') {
        await safeDeleteDirectory(outputPath);
        if (primary) this.#tracker.delete(process.uuid);
      }
      throw error;
    }
  }

  #action(process: ProcessNode, outputPath: string, existing: DumpRecord | undefined): DumpAction {
    if (existing === undefined) return 'primary';
    if (resolve(outputPath) === resolve(existing.path)) {
      const mtime = process.mtime ?? process.ctime;
      return existing.dirMtime === null || mtime > existing.dirMtime ? 'update' : 'skip';
    }
    if (this.#config.symlinkCalcs && process instanceof CalculationNode) return 'symlink';
    return 'duplicate';
  }

  async #dumpPrimary(process: ProcessNode, outputPath: string): Promise<void> {
    await prepareDirectory(outputPath, { overwrite: false, leaf: false });
    const record = this.#tracker.add(registryOf(process), process.uuid, resolve(outputPath));
    await this.#dumpContent(process, outputPath);
    DumpTracker.updateStats(record, outputPath);
  }

  async #symlink(outputPath: string, existing: DumpRecord): Promise<void> {
    const exists = existsSync(outputPath) || lstatExists(outputPath);
    if (!exists && existsSync(existing.path)) {
      await mkdir(dirname(outputPath), { recursive: true });
      await symlink(relative(dirname(outputPath), existing.path), outputPath, 'dir');
    }
    if (!existing.symlinks.includes(resolve(outputPath))) existing.symlinks.push(resolve(outputPath));
  }

  async #dumpContent(process: ProcessNode, outputPath: string): Promise<void> {
    await writeNodeMetadata(process, outputPath, this.#config);
    if (process instanceof CalculationNode) await this.#dumpCalculation(process, outputPath);
    else if (process instanceof WorkflowNode) await this.#dumpCalled(process, outputPath);
  }

  async #dumpCalculation(calculation: CalculationNode, outputPath: string): Promise<void> {
    const folders = calculationFolders(this.#config.flat);
    await calculation.base.repository.copyTree(join(outputPath, folders.repository));
    const created = (await calculation.base.links.getOutgoing({ linkType: LinkType.CREATE })).all();
    const retrieved = created.find((link) => link.linkLabel === 'retrieved');
    if (retrieved !== undefined)
      await retrieved.node.base.repository.copyTree(join(outputPath, folders.retrieved));
    if (this.#config.includeInputs) {
      const inputs = (await calculation.base.links.getIncoming({ linkType: LinkType.INPUT_CALC })).all();
      await this.#dumpLinkedFiles(join(outputPath, folders.inputs), inputs);
    }
    if (this.#config.includeOutputs) {
      const outputs = created.filter((link) => link.linkLabel !== 'retrieved');
      // As aiida-core: only when some output is a file or folder node (the types whose files matter).
      if (outputs.some((link) => link.node instanceof SinglefileData || link.node instanceof FolderData)) {
        const target = join(outputPath, folders.outputs);
        await mkdir(target, { recursive: true });
        await this.#dumpLinkedFiles(target, outputs);
      }
    }
  }

  /** The repository of each linked node with files, in `<parent>/<link label split at __>` (or `parent` if flat). */
  async #dumpLinkedFiles(parent: string, links: readonly LinkTriple<Node>[]): Promise<void> {
    for (const link of links) {
      if (link.node.base.repository.listObjectNames().length === 0) continue;
      const target = this.#config.flat ? parent : join(parent, ...link.linkLabel.split('__'));
      await link.node.base.repository.copyTree(target);
    }
  }

  async #dumpCalled(workflow: WorkflowNode, outputPath: string): Promise<void> {
    const links = (
      await workflow.base.links.getOutgoing({ linkType: [LinkType.CALL_CALC, LinkType.CALL_WORK] })
    ).all();
    const called = links
      .filter((link): link is LinkTriple<ProcessNode> => link.node instanceof ProcessNode)
      .sort((a, b) => a.node.ctime.getTime() - b.node.ctime.getTime() || (a.node.pk ?? 0) - (b.node.pk ?? 0));
    for (const [index, link] of called.entries())
      await this.dump(link.node, join(outputPath, childFolderName(index + 1, link)));
  }
}

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Re-exported for the collection dumps. */
export { DumpNames };
