import { EntryPointGroup, loadEntryPoint, registerEntryPoint } from '../plugins/entry-points.js';
import type { Parser, ParserProcessClass } from './parser.js';
import type { CalcJobNode } from '../orm/nodes/process/calcjob.js';

/** A parser class (a subclass of {@link Parser}). */
export type ParserClass = (new (node: CalcJobNode, processClass?: ParserProcessClass) => Parser) & {
  readonly name: string;
  readonly CACHE_VERSION: number | null;
};

/** Registers a parser under an `aiida.parsers` entry point name (`core.arithmetic.add`). */
export function registerParser(
  name: string,
  cls: ParserClass,
  options: { readonly replace?: boolean } = {},
): void {
  registerEntryPoint(EntryPointGroup.PARSERS, name, { value: cls }, options);
}

/** The parser class of an `aiida.parsers` entry point (aiida's `ParserFactory`); `MissingEntryPointError` if none. */
export async function ParserFactory(name: string): Promise<ParserClass> {
  return (await loadEntryPoint(EntryPointGroup.PARSERS, name)) as ParserClass;
}
