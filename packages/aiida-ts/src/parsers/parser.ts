import type { ExitCode, ProcessSpec, SpecTypes } from 'plumpy-ts';
import { InvalidOperationError, NotExistentError } from '../errors.js';
import { FolderData } from '../orm/nodes/data/files.js';
import type { Node } from '../orm/nodes/node.js';
import type { CalcJobNode } from '../orm/nodes/process/calcjob.js';
import { getLogger, type EngineLogger } from '../engine/logging.js';

/** What a parser gets to parse (aiida's keyword arguments of `Parser.parse`). */
export interface ParserInputs {
  /** The `retrieved` output of the job: the files of the retrieve list. */
  readonly retrieved: FolderData;
  /**
   * A local folder holding the files of the temporary retrieve list, when the job has a non-empty one (and the folder
   * was not lost to a restart of the runner).
   */
  readonly retrievedTemporaryFolder?: string;
}

/** What `parse` may return: an exit code to fail the job with, or nothing for success. */
export type ParseResult = ExitCode | undefined | void;

/** A process class as a parser sees it: its spec (output ports and exit codes). */
export interface ParserProcessClass {
  readonly name: string;
  spec(): ProcessSpec<SpecTypes>;
}

/**
 * Reads the retrieved files of a finished calculation job and turns them into output nodes (aiida's `Parser`).
 * Subclass it, implement {@link parse} (record outputs with {@link out}, return an exit code of {@link exitCodes} to
 * fail the job) and register it under an `aiida.parsers` entry point with `registerParser`. The engine calls it after
 * the scheduler's own output was read; outputs that do not match the job's output ports fail the job with
 * `ERROR_INVALID_OUTPUT`.
 */
export abstract class Parser {
  /** Bump when the parser's outputs change, so that older jobs are not used as cache for newer ones. */
  static CACHE_VERSION: number | null = null;

  readonly node: CalcJobNode;
  readonly #processClass: ParserProcessClass | undefined;
  readonly #outputs: Record<string, Node> = {};
  #retrieved: FolderData | undefined;

  /** A parser of the job `node`; `processClass` is the job's class (its exit codes). */
  constructor(node: CalcJobNode, processClass?: ParserProcessClass) {
    this.node = node;
    this.#processClass = processClass;
  }

  /** Logs with the job's pk. */
  get logger(): EngineLogger {
    return getLogger('aiida');
  }

  /** The exit codes of the job's process class, by label. */
  get exitCodes(): Readonly<Record<string, ExitCode>> {
    if (this.#processClass === undefined)
      throw new InvalidOperationError('the process class of the job is not known to this parser');
    return this.#processClass.spec().exitCodes.toRecord();
  }

  /** The job's `retrieved` folder (set by the engine before `parse`). */
  get retrieved(): FolderData {
    if (this.#retrieved === undefined) throw new NotExistentError('the job has no `retrieved` output');
    return this.#retrieved;
  }

  /** The outputs recorded so far, by link label (`a.b` for namespaces). */
  get outputs(): Readonly<Record<string, Node>> {
    return this.#outputs;
  }

  /** Records an output of the job (aiida's `Parser.out`); a dotted label reaches into an output namespace. */
  out(linkLabel: string, node: Node): void {
    this.#outputs[linkLabel] = node;
  }

  /** Parses the retrieved files; return an exit code to fail the job. */
  abstract parse(inputs: ParserInputs): ParseResult | Promise<ParseResult>;

  /** Runs {@link parse} for the engine with the retrieved folder set; resolves to its result. */
  async parseRetrieved(inputs: ParserInputs): Promise<ParseResult> {
    this.#retrieved = inputs.retrieved;
    return await this.parse(inputs);
  }

  /** The `retrieved` output of the node, or undefined. */
  static async retrievedOf(node: CalcJobNode): Promise<FolderData | undefined> {
    const retrieved = await node.getRetrievedNode();
    return retrieved instanceof FolderData ? retrieved : undefined;
  }
}
