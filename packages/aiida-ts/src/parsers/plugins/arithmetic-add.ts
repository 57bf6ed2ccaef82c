import { Int } from '../../orm/nodes/data/base.js';
import { Parser, type ParseResult } from '../parser.js';
import { registerParser } from '../registry.js';

/** Reads the sum written by an `ArithmeticAddCalculation` (aiida's `ArithmeticAddParser`, `core.arithmetic.add`). */
export class ArithmeticAddParser extends Parser {
  override async parse(): Promise<ParseResult> {
    const filename = this.node.getOption('output_filename');
    let text: string;
    try {
      text = await this.retrieved.repository.getObjectContent(String(filename), 'utf8');
    } catch {
      return this.exitCodes['ERROR_READING_OUTPUT_FILE'];
    }
    const trimmed = text.trim();
    // Python's `int(text)`: an optional sign, digits, surrounding whitespace.
    if (!/^[+-]?\d+$/.test(trimmed)) return this.exitCodes['ERROR_INVALID_OUTPUT'];
    const result = Number(trimmed);
    this.out('sum', new Int(result));
    if (result < 0) return this.exitCodes['ERROR_NEGATIVE_NUMBER'];
    return undefined;
  }
}
registerParser('core.arithmetic.add', ArithmeticAddParser);

/** The simplest parser of an `ArithmeticAddCalculation` (aiida's `SimpleArithmeticAddParser`, for demonstrations). */
export class SimpleArithmeticAddParser extends Parser {
  override async parse(): Promise<ParseResult> {
    const filename = String(this.node.getOption('output_filename'));
    const text = await this.retrieved.repository.getObjectContent(filename, 'utf8');
    this.out('sum', new Int(Number.parseInt(text, 10)));
    return undefined;
  }
}
