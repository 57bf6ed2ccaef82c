import { z } from 'zod';
import { Float, Int } from '../../orm/nodes/data/base.js';
import { nodeType } from '../../engine/processes/ports.js';
import { CalcJob } from '../../engine/processes/calcjobs/calcjob.js';
import type { CalcInfoInput } from '../../engine/processes/calcjobs/calc-info.js';
import type { Folder } from '../../engine/processes/calcjobs/folder.js';
import { registerCalculation } from '../registry.js';

/**
 * Adds two numbers with bash (aiida's `ArithmeticAddCalculation`, entry point `core.arithmetic.add`): writes
 * `echo $((x + y))` into the input file, runs the code (any bash) with it on stdin and retrieves the output file,
 * which the `core.arithmetic.add` parser reads into `sum`. `metadata.options.sleep` makes the job sleep first.
 */
export class ArithmeticAddCalculation extends CalcJob.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int, Float), help: 'The left operand.' })
    .input('y', { validType: nodeType(Int, Float), help: 'The right operand.' })
    .output('sum', { validType: nodeType(Int, Float), help: 'The sum of the left and right operand.' })
    .input('metadata.options.sleep', { validType: z.number().int(), required: false })
    .input('metadata.options.parser_name', { validType: z.string(), default: 'core.arithmetic.add' })
    .input('metadata.options.input_filename', { validType: z.string(), default: 'aiida.in' })
    .input('metadata.options.output_filename', { validType: z.string(), default: 'aiida.out' })
    .input('metadata.options.resources', {
      validType: z.record(z.string(), z.unknown()),
      default: (): Record<string, unknown> => ({ num_machines: 1, num_mpiprocs_per_machine: 1 }),
    })
    .exitCode(310, 'ERROR_READING_OUTPUT_FILE', 'The output file could not be read.', {
      invalidatesCache: true,
    })
    .exitCode(320, 'ERROR_INVALID_OUTPUT', 'The output file contains invalid output.', {
      invalidatesCache: true,
    })
    .exitCode(410, 'ERROR_NEGATIVE_NUMBER', 'The sum of the operands is a negative number.'),
) {
  override async prepareForSubmission(folder: Folder): Promise<CalcInfoInput> {
    const options = this.options;
    const inputFilename = options.input_filename ?? 'aiida.in';
    const outputFilename = options.output_filename ?? 'aiida.out';
    const sleep = options['sleep'];
    let script = '';
    if (typeof sleep === 'number') script += `sleep ${sleep}\n`;
    script += `echo $((${String(this.inputs.x.value)} + ${String(this.inputs.y.value)}))\n`;
    await folder.writeFile(inputFilename, script);
    const code = this.inputs.code;
    return {
      codesInfo:
        code === undefined
          ? []
          : [{ codeUuid: code.uuid, stdinName: inputFilename, stdoutName: outputFilename }],
      retrieveList: [outputFilename],
    };
  }
}
registerCalculation('core.arithmetic.add', ArithmeticAddCalculation);
