import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ValidationError } from '../../errors.js';
import { Int } from '../../orm/nodes/data/base.js';
import type { RemoteData } from '../../orm/nodes/data/remote.js';
import type { Node } from '../../orm/nodes/node.js';
import { CalcJobImporter } from '../../engine/processes/calcjobs/importer.js';
import { EntryPointGroup, registerEntryPoint } from '../../plugins/entry-points.js';

/** Reads `x` and `y` of an `ArithmeticAddCalculation` from its `aiida.in` (aiida's importer of `core.arithmetic.add`). */
export class ArithmeticAddCalculationImporter extends CalcJobImporter {
  override async parseRemoteData(remoteData: RemoteData): Promise<Record<string, Node>> {
    const computer = await remoteData.getComputer();
    if (computer === null) throw new ValidationError('the remote folder has no computer');
    const scratch = await mkdtemp(path.join(tmpdir(), 'aiida-ts-import-'));
    try {
      const local = path.join(scratch, 'aiida.in');
      const transport = await computer.openTransport();
      try {
        await transport.getfile(path.posix.join(remoteData.getRemotePath(), 'aiida.in'), local);
      } finally {
        await transport.close();
      }
      const data = (await readFile(local, 'utf8')).trim();
      const match = /^echo \$\(\(([0-9]+) \+ ([0-9]+)\)\)/.exec(data);
      if (match === null)
        throw new ValidationError(
          `failed to parse the integers \`x\` and \`y\` from the input content: ${data}`,
        );
      return { x: new Int(Number(match[1])), y: new Int(Number(match[2])) };
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }
}
registerEntryPoint(EntryPointGroup.CALCULATION_IMPORTERS, 'core.arithmetic.add', {
  value: ArithmeticAddCalculationImporter,
});
