/** Calculation jobs with faulty plugins, for the tests of bad input. */
import { CalcJob, nodeType, type CalcInfoInput, type Folder } from '../../src/engine.js';
import { SinglefileData } from '../../src/orm.js';

/** Counts the calls of `prepareForSubmission` of the faulty plugins. */
export const prepareCalls = { throwing: 0 };

/** A plugin whose `prepareForSubmission` throws. */
export class ThrowingPrepare extends CalcJob.define((spec) => spec) {
  override prepareForSubmission(): CalcInfoInput {
    prepareCalls.throwing += 1;
    throw new Error('the plugin cannot write its input');
  }
}

/** A plugin that asks to retrieve a file outside of the working directory. */
export class EscapingRetrieve extends CalcJob.define((spec) => spec) {
  override async prepareForSubmission(folder: Folder): Promise<CalcInfoInput> {
    await folder.writeFile('in.txt', 'x');
    const code = this.inputs.code;
    return { codesInfo: code === undefined ? [] : [{ codeUuid: code.uuid }], retrieveList: ['../../etc'] };
  }
}

/** A plugin that copies a file onto an absolute destination. */
export class EscapingCopy extends CalcJob.define((spec) =>
  spec.input('file', { validType: nodeType(SinglefileData, { serialize: false }) }),
) {
  override prepareForSubmission(): CalcInfoInput {
    const code = this.inputs.code;
    return {
      codesInfo: code === undefined ? [] : [{ codeUuid: code.uuid }],
      localCopyList: [[this.inputs.file.uuid, this.inputs.file.filename, '/tmp/aiida-ts-escaped']],
    };
  }
}

/** A plugin that writes into the sandbox outside of it. */
export class EscapingSandbox extends CalcJob.define((spec) => spec) {
  override async prepareForSubmission(folder: Folder): Promise<CalcInfoInput> {
    await folder.writeFile('../outside.txt', 'x');
    return { codesInfo: [] };
  }
}
