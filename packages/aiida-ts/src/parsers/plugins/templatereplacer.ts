import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Dict } from '../../orm/nodes/data/base.js';
import { Parser, type ParseResult, type ParserInputs } from '../parser.js';
import { registerParser } from '../registry.js';

/**
 * Reads the output of a `TemplatereplacerCalculation` (aiida's `TemplatereplacerParser`, `core.templatereplacer`):
 * `output_parameters` gets the output file's text as `value` and the stripped content of each temporary retrieved file.
 */
export class TemplatereplacerParser extends Parser {
  override async parse(inputs: ParserInputs): Promise<ParseResult> {
    const links = await this.node.base.links.getIncoming({ linkLabelFilter: 'template' });
    const template = links.first()?.node;
    const settings = template instanceof Dict ? template.getDict() : {};
    const outputFile = settings['output_file_name'];
    if (typeof outputFile !== 'string') return this.exitCodes['ERROR_NO_OUTPUT_FILE_NAME_DEFINED'];
    let value: string;
    try {
      value = await this.retrieved.repository.getObjectContent(outputFile, 'utf8');
    } catch {
      this.logger.error(
        { pk: this.node.pk },
        `unable to parse the output for CalcJobNode<${String(this.node.pk)}>`,
      );
      return this.exitCodes['ERROR_READING_OUTPUT_FILE'];
    }
    const temporaryFiles: [string, string][] = [];
    const wanted = settings['retrieve_temporary_files'];
    // An empty list retrieves nothing, and the engine makes no folder for it.
    if (Array.isArray(wanted) && wanted.length > 0) {
      const folder = inputs.retrievedTemporaryFolder;
      if (folder === undefined) return this.exitCodes['ERROR_NO_TEMPORARY_RETRIEVED_FOLDER'];
      for (const file of wanted as string[]) {
        const filePath = path.join(folder, file);
        if (!(await stat(filePath).catch(() => undefined))?.isFile()) {
          this.logger.error(
            { pk: this.node.pk },
            `the file ${file} was not found in the temporary retrieved folder ${folder}`,
          );
          return this.exitCodes['ERROR_READING_TEMPORARY_RETRIEVED_FILE'];
        }
        temporaryFiles.push([file, (await readFile(filePath, 'utf8')).trim()]);
      }
    }
    this.out('output_parameters', new Dict({ value, retrieved_temporary_files: temporaryFiles }));
    return undefined;
  }
}
registerParser('core.templatereplacer', TemplatereplacerParser);
