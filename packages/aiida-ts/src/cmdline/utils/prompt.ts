import { createInterface, type Interface } from 'node:readline';
import { printable } from '../../utils/printable.js';
import { CliExit, ExitCode } from '../exit-codes.js';

/** Where prompts read answers and write questions. */
export interface PrompterOptions {
  readonly input?: NodeJS.ReadStream;
  readonly output?: NodeJS.WriteStream;
}

/** Options of {@link Prompter.ask}. */
export interface AskOptions<T> {
  /** Shown in brackets and used when the answer is empty. */
  readonly default?: string;
  /** Turn the answer into a value or throw an Error whose message is shown before asking again. */
  readonly parse?: (answer: string) => T;
  /** Accept an empty answer when there is no default (the result is then `''` parsed). */
  readonly allowEmpty?: boolean;
}

/**
 * Questions on the terminal. Confirmations read a line from stdin even when it is not a terminal (so that
 * `echo y | verdi … delete` works, as with click); value prompts are only used when {@link Prompter.interactive}.
 * End of input while a question waits aborts the command with exit code 1 (`Aborted!`).
 */
export class Prompter {
  readonly #input: NodeJS.ReadStream | undefined;
  readonly output: NodeJS.WriteStream;
  #lines: string[] = [];
  #waiters: ((line: string | undefined) => void)[] = [];
  #ended = false;
  #reader: Interface | undefined;

  constructor(options: PrompterOptions = {}) {
    this.#input = options.input;
    this.output = options.output ?? process.stderr;
  }

  /**
   * Where answers are read: the given stream, else stdin, which Node makes only when first asked for (opening it is a
   * few milliseconds of every command's start when stdin is a file or a pipe; most commands ask nothing).
   */
  get input(): NodeJS.ReadStream {
    return this.#input ?? process.stdin;
  }

  /** True when both stdin and the prompt stream are terminals, so a person can answer. */
  get interactive(): boolean {
    return this.input.isTTY === true && this.output.isTTY === true;
  }

  #start(): void {
    if (this.#reader !== undefined) return;
    this.#reader = createInterface({ input: this.input, terminal: false });
    this.#reader.on('line', (line) => {
      const waiter = this.#waiters.shift();
      if (waiter) waiter(line);
      else this.#lines.push(line);
    });
    this.#reader.on('close', () => {
      this.#ended = true;
      for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    });
  }

  async #readLine(): Promise<string | undefined> {
    this.#start();
    const buffered = this.#lines.shift();
    if (buffered !== undefined) return buffered;
    if (this.#ended) return undefined;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  async #question(text: string): Promise<string> {
    // a question may name a label or a path: shown, never obeyed by the terminal
    this.output.write(printable(text));
    const line = await this.#readLine();
    if (line === undefined) {
      this.output.write('\nAborted!\n');
      throw new CliExit(ExitCode.CRITICAL, 'Aborted!');
    }
    if (!this.interactive) this.output.write('\n');
    return line;
  }

  /** Ask a yes/no question; an empty answer gives `defaultValue`. */
  async confirm(question: string, defaultValue = false): Promise<boolean> {
    for (;;) {
      const answer = (await this.#question(`${question} [${defaultValue ? 'Y/n' : 'y/N'}]: `))
        .trim()
        .toLowerCase();
      if (answer === '') return defaultValue;
      if (['y', 'yes'].includes(answer)) return true;
      if (['n', 'no'].includes(answer)) return false;
      this.output.write('Error: invalid input\n');
    }
  }

  /** Ask for a value until it parses. */
  async ask<T = string>(question: string, options: AskOptions<T> = {}): Promise<T> {
    const parse = options.parse ?? ((answer: string) => answer as T);
    for (;;) {
      const suffix = options.default !== undefined && options.default !== '' ? ` [${options.default}]` : '';
      let answer = (await this.#question(`${question}${suffix}: `)).trim();
      if (answer === '' && options.default !== undefined) answer = options.default;
      if (answer === '' && options.allowEmpty !== true) {
        this.output.write('Error: a value is required\n');
        continue;
      }
      try {
        return parse(answer);
      } catch (error) {
        this.output.write(`Error: ${(error as Error).message}\n`);
      }
    }
  }

  /** Stop reading stdin so the process can end. */
  close(): void {
    this.#reader?.close();
  }
}
