import { formatHms } from '../time-formats.js';
import { positiveMemoryKb, positiveWallclockSeconds } from '../script-values.js';
import { PbsBaseScheduler, type PbsResourceRequest } from './pbs-base.js';

/**
 * `core.pbspro` (aiida's `PbsproScheduler`): PBS Professional / OpenPBS, which asks for resources with one
 * `select` statement (`#PBS -l select=2:mpiprocs=16:ncpus=32:mem=…kb`) and a separate walltime.
 */
export class PbsproScheduler extends PbsBaseScheduler {
  readonly entryPoint = 'core.pbspro';

  protected getResourceLines(request: PbsResourceRequest): string[] {
    const lines: string[] = [];
    let select = `select=${request.numMachines}`;
    if (request.numMpiprocsPerMachine) select += `:mpiprocs=${request.numMpiprocsPerMachine}`;
    if (request.numCoresPerMachine) select += `:ncpus=${request.numCoresPerMachine}`;
    if (request.maxWallclockSeconds !== null) {
      lines.push(`#PBS -l walltime=${formatHms(positiveWallclockSeconds(request.maxWallclockSeconds))}`);
    }
    if (request.maxMemoryKb !== null && request.maxMemoryKb !== 0)
      select += `:mem=${positiveMemoryKb(request.maxMemoryKb)}kb`;
    lines.push(`#PBS -l ${select}`);
    return lines;
  }
}
