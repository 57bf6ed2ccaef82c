import { z } from 'zod';
import { InputValidationError } from '../errors.js';
import { Dict } from '../orm/nodes/data/base.js';
import { SinglefileData } from '../orm/nodes/data/files.js';
import { RemoteData } from '../orm/nodes/data/remote.js';
import { nodeType } from '../engine/processes/ports.js';
import { CalcJob } from '../engine/processes/calcjobs/calcjob.js';
import type { CalcInfoInput } from '../engine/processes/calcjobs/calc-info.js';
import type { Folder } from '../engine/processes/calcjobs/folder.js';
import { getLogger } from '../engine/logging.js';
import { formatTemplate } from './format-template.js';
import { registerCalculation } from './registry.js';

const templateSchema = z.strictObject(
  {
    input_file_template: z.string().default(''),
    input_file_name: z.string().nullish(),
    output_file_name: z.string().nullish(),
    cmdline_params: z.array(z.string()).default([]),
    input_through_stdin: z.boolean().default(false),
    files_to_copy: z
      .array(z.tuple([z.string(), z.string()]), { error: 'invalid file_to_copy format' })
      .default([]),
    retrieve_temporary_files: z.array(z.string()).default([]),
  },
  {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `The following keys could not be used in the template node: ${issue.keys.join(', ')}`
        : undefined,
  },
);

/**
 * Writes an input file from a template and runs a code on it (aiida's `TemplatereplacerCalculation`, entry point
 * `core.templatereplacer`). The `template` Dict holds `input_file_template` (with `{name}` fields filled from
 * `parameters`), `input_file_name`, `output_file_name`, `cmdline_params`, `input_through_stdin`, `files_to_copy`
 * (`[files key, destination]` pairs of the `files` inputs) and `retrieve_temporary_files`.
 */
export class TemplatereplacerCalculation extends CalcJob.define((spec) =>
  spec
    .input('metadata.options.parser_name', { validType: z.string(), default: 'core.templatereplacer' })
    .input('template', { validType: nodeType(Dict), help: 'A template for the input file.' })
    .input('parameters', {
      validType: nodeType(Dict),
      required: false,
      help: 'Parameters used to replace placeholders in the template.',
    })
    .inputNamespace('files', {
      validType: nodeType(RemoteData, SinglefileData, { serialize: false }),
      required: false,
    })
    .output('output_parameters', { validType: nodeType(Dict), required: true })
    .exitCode(
      301,
      'ERROR_NO_TEMPORARY_RETRIEVED_FOLDER',
      'The temporary retrieved folder data node could not be accessed.',
      { invalidatesCache: true },
    )
    .exitCode(
      305,
      'ERROR_NO_OUTPUT_FILE_NAME_DEFINED',
      'The `template` input node did not specify the key `output_file_name`.',
      { invalidatesCache: true },
    )
    .exitCode(
      310,
      'ERROR_READING_OUTPUT_FILE',
      'The output file could not be read from the retrieved folder.',
      { invalidatesCache: true },
    )
    .exitCode(
      311,
      'ERROR_READING_TEMPORARY_RETRIEVED_FILE',
      'A temporary retrieved file could not be read from the temporary retrieved folder.',
      { invalidatesCache: true },
    )
    .exitCode(320, 'ERROR_INVALID_OUTPUT', 'The output file contains invalid output.', {
      invalidatesCache: true,
    }),
) {
  /** The output a parser of this class writes its results to (aiida's `default_output_node`). */
  static readonly defaultOutputNode = 'output_parameters';

  override async prepareForSubmission(folder: Folder): Promise<CalcInfoInput> {
    const code = this.inputs.code;
    if (code === undefined) throw new InputValidationError('the templatereplacer needs a `code`');
    const parsed = templateSchema.safeParse(this.inputs.template.getDict());
    if (!parsed.success)
      throw new InputValidationError(
        'invalid template',
        parsed.error.issues.map((issue) => ({
          path: issue.path.map(String).join('.'),
          message: issue.message,
        })),
      );
    const template = parsed.data;
    const parameters = this.inputs.parameters?.getDict() ?? {};
    const files = (this.inputs.files ?? {}) as Readonly<Record<string, RemoteData | SinglefileData>>;
    const localCopyList: [string, string, string][] = [];
    const remoteCopyList: [string, string, string][] = [];
    for (const [linkName, destination] of template.files_to_copy) {
      const file = files[linkName];
      if (file === undefined)
        throw new InputValidationError(
          `You are asking to copy a file link ${linkName}, but there is no input link with such a name`,
        );
      if (file instanceof SinglefileData) localCopyList.push([file.uuid, file.filename, destination]);
      else {
        const computer = await file.getComputer();
        remoteCopyList.push([computer?.uuid ?? '', file.getRemotePath(), destination]);
      }
    }
    const inputFileName = template.input_file_name ?? null;
    if (inputFileName !== null && template.input_file_template === '')
      throw new InputValidationError(
        'If you give an input_file_name, you must also specify a input_file_template',
      );
    if (template.input_through_stdin && inputFileName === null)
      throw new InputValidationError(
        'If you ask for input_through_stdin you have to specify a input_file_name',
      );
    const content = formatTemplate(template.input_file_template, parameters);
    if (inputFileName !== null) await folder.writeFile(inputFileName, content);
    else if (template.input_file_template !== '')
      getLogger('aiida').warn(
        { pk: this.pk },
        'No input file name passed, but a input file template is present',
      );
    const outputFileName = template.output_file_name ?? null;
    return {
      localCopyList,
      remoteCopyList,
      retrieveList: outputFileName === null ? [] : [outputFileName],
      retrieveTemporaryList: template.retrieve_temporary_files,
      codesInfo: [
        {
          codeUuid: code.uuid,
          cmdlineParams: template.cmdline_params.map((param) => formatTemplate(param, parameters)),
          ...(template.input_through_stdin && inputFileName !== null ? { stdinName: inputFileName } : {}),
          ...(outputFileName === null ? {} : { stdoutName: outputFileName }),
        },
      ],
    };
  }
}
registerCalculation('core.templatereplacer', TemplatereplacerCalculation);
