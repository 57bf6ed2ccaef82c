import { formatHms } from '../time-formats.js';
import { positiveMemoryKb, positiveWallclockSeconds } from '../script-values.js';
import { PbsBaseScheduler, type PbsResourceRequest } from './pbs-base.js';

/**
 * `core.torque` (aiida's `TorqueScheduler`): PBS/Torque, which asks for resources in one `nodes` statement
 * (`#PBS -l nodes=2:ppn=16,walltime=…,mem=…kb`); `ppn` is the cores per node when given, else the processes.
 */
export class TorqueScheduler extends PbsBaseScheduler {
  readonly entryPoint = 'core.torque';

  protected getResourceLines(request: PbsResourceRequest): string[] {
    let select = `nodes=${request.numMachines}`;
    if (request.numCoresPerMachine) select += `:ppn=${request.numCoresPerMachine}`;
    else if (request.numMpiprocsPerMachine) select += `:ppn=${request.numMpiprocsPerMachine}`;
    if (request.maxWallclockSeconds !== null) {
      select += `,walltime=${formatHms(positiveWallclockSeconds(request.maxWallclockSeconds))}`;
    }
    if (request.maxMemoryKb !== null && request.maxMemoryKb !== 0)
      select += `,mem=${positiveMemoryKb(request.maxMemoryKb)}kb`;
    return [`#PBS -l ${select}`];
  }
}
