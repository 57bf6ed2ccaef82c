import path from 'node:path';
import readline from 'node:readline';
import repl from 'node:repl';
import { PassThrough } from 'node:stream';
import type { Context } from 'node:vm';
import { Command } from 'commander';
import { AiidaError } from '../../errors.js';
import { defineCommandGroup, type Cli } from '../cli.js';

/** The modules whose exports the shell puts in scope, in priority order (an earlier module wins a name). */
const AUTO_IMPORTS = {
  orm: () => import('../../orm.js'),
  engine: () => import('../../engine.js'),
  querybuilder: () => import('../../querybuilder.js'),
  tools: () => import('../../tools.js'),
  aiida: () => import('../../index.js'),
} as const;

/** The file keeping the shell's history, in the configuration folder (as IPython keeps aiida-core's). */
export const SHELL_HISTORY_FILE = 'verdi-shell-history';

/** TypeScript typed into `verdi shell` that does not compile. */
class ShellSyntaxError extends AiidaError {}

/**
 * One input compiled from TypeScript to the JavaScript Node's REPL evaluates; a `repl.Recoverable` when the input
 * is unfinished (the REPL then reads more lines), the compiler's error otherwise. Input wrapped in braces is read as
 * an object literal, as the REPL does for JavaScript.
 */
async function compileInput(code: string, file: string): Promise<string | Error> {
  const { transform } = await import('esbuild');
  const trimmed = code.trim();
  const source = /^\{[\s\S]*\}$/.test(trimmed) && !trimmed.endsWith(';}') ? `(${trimmed})` : code;
  try {
    const output = await transform(source, {
      loader: 'ts',
      sourcefile: file,
      // imports stay as written (a name imported for its value only is not a type to drop)
      tsconfigRaw: { compilerOptions: { verbatimModuleSyntax: true } },
    });
    return output.code;
  } catch (error) {
    const text = (error as { errors?: readonly { text: string }[] }).errors?.[0]?.text ?? String(error);
    // unfinished input: esbuild stops at the end of the file
    const failure = new ShellSyntaxError(text, { cause: error });
    if (/end of file|Unterminated/.test(text)) return new repl.Recoverable(failure);
    return failure;
  }
}

/** Input handed to the REPL line by line, on demand. */
interface FedInput {
  readonly stream: NodeJS.ReadableStream;
  /** Hands over the next line (once it is read), or ends the input after the last one. */
  next(): void;
}

/** Reads `source` by lines and hands them over one per `next()` call (a terminal is handed over as it is). */
function lineByLine(source: NodeJS.ReadableStream): FedInput {
  const stream = new PassThrough();
  const lines: string[] = [];
  let ended = false;
  let wanted = 0;
  const flush = (): void => {
    while (wanted > 0 && lines.length > 0) {
      wanted -= 1;
      stream.write(`${lines.shift() ?? ''}\n`);
    }
    if (wanted > 0 && lines.length === 0 && ended) stream.end();
  };
  const reader = readline.createInterface({ input: source, crlfDelay: Infinity });
  reader.on('line', (line) => {
    lines.push(line);
    flush();
  });
  reader.on('close', () => {
    ended = true;
    flush();
  });
  return {
    stream,
    next: () => {
      // one line per prompt: several prompts before a line is read ask for one line only
      wanted = 1;
      flush();
    },
  };
}

interface ShellOptions {
  readonly history?: boolean;
}

async function startShell(cli: Cli, options: ShellOptions): Promise<void> {
  const config = await cli.config();
  const profile = await cli.profile();
  await cli.storage();
  const logging = await import('../../engine/logging.js');
  logging.configureLogging();
  const { getManager } = await import('../../engine/manager.js');
  const manager = getManager();
  cli.defer(() => manager.close());

  // What the prompt has in scope: every export of the ORM, engine, query builder and tools by its name (`Int`,
  // `loadNode`, `run`, `QueryBuilder`, …), each module as a namespace (`orm.Int`), and the profile.
  const scope: Record<string, unknown> = {};
  const namespaces: Record<string, unknown> = {};
  for (const [name, load] of Object.entries(AUTO_IMPORTS)) {
    const module = (await load()) as Record<string, unknown>;
    namespaces[name] = module;
    for (const [key, value] of Object.entries(module)) if (!(key in scope)) scope[key] = value;
  }

  const terminal = process.stdin.isTTY && process.stdout.isTTY;
  if (terminal)
    cli.out.echo(
      `aiida-ts shell on profile '${profile.name}': the ORM, engine and query builder are imported ` +
        '(`await loadNode(1)`, `new Int(2)`, `orm.`, `engine.`); `.exit` or Ctrl-D to leave.',
    );
  const input: FedInput = terminal
    ? { stream: process.stdin, next: () => undefined }
    : lineByLine(process.stdin);
  const server = repl.start({
    prompt: `${profile.name}> `,
    input: input.stream,
    output: process.stdout,
    terminal,
    useGlobal: false,
    ignoreUndefined: true,
    preview: false,
  });
  Object.assign(server.context, scope, namespaces, { profile });
  // Every input is compiled from TypeScript, then evaluated by Node's own evaluator (which keeps top-level `await`
  // and multi-line input), one at a time and in order: lines piped in arrive faster than they are evaluated.
  const evaluate: repl.REPLEval = server.eval;
  let queue = Promise.resolve();
  let evaluated: (() => void) | undefined;
  const typescript = function (
    this: repl.REPLServer,
    code: string,
    context: Context,
    file: string,
    callback: (error: Error | null, result: unknown) => void,
  ): void {
    queue = queue.then(async () => {
      const compiled = await compileInput(code, file);
      if (compiled instanceof Error) {
        callback(compiled, undefined);
        return;
      }
      await new Promise<void>((done) => {
        // an error thrown by the input is handled by the REPL without the callback: the prompt shown after it
        // settles the evaluation as well
        evaluated = done;
        evaluate.call(this, compiled, context, file, (error: Error | null, result: unknown) => {
          callback(error, result);
          done();
        });
      });
    });
  };
  Object.assign(server, { eval: typescript });
  // Piped input goes in one line at a time, each once the previous one is done (the prompt shows again), so that an
  // unfinished line is continued by the next one and evaluations keep their order.
  const displayPrompt = server.displayPrompt.bind(server);
  server.displayPrompt = (preserveCursor?: boolean): void => {
    displayPrompt(preserveCursor);
    evaluated?.();
    evaluated = undefined;
    input.next();
  };
  input.next();
  const closed = new Promise<void>((resolve) => server.once('exit', resolve)).then(() => queue);
  if (options.history !== false) {
    const file = process.env['AIIDA_TS_SHELL_HISTORY'] ?? path.join(config.dirpath, SHELL_HISTORY_FILE);
    server.setupHistory(file, (error) => {
      if (error !== null) cli.out.warning(`the shell history is not kept: ${error.message}`);
    });
  }
  await closed;
}

export default defineCommandGroup({
  name: 'shell',
  description: 'Start an interactive TypeScript shell with the profile loaded.',
  build(cli: Cli): Command {
    return new Command('shell')
      .summary('Start an interactive TypeScript shell with the profile loaded.')
      .description(
        'Start an interactive TypeScript shell (a Node.js REPL) with the profile loaded and aiida-ts imported: the ' +
          'exports of aiida-ts/orm, aiida-ts/engine, aiida-ts/querybuilder and aiida-ts/tools by name, each module as ' +
          '`orm`, `engine`, `querybuilder`, `tools`, `aiida`, and `profile`. Type annotations are accepted, `await` ' +
          'works at the top level, and the history is kept in the configuration folder (AIIDA_TS_SHELL_HISTORY ' +
          'names another file). Input that is not a terminal is evaluated line by line.',
      )
      .option('--no-history', 'Neither read nor write the history file.')
      .action(async (opts: ShellOptions) => {
        await startShell(cli, opts);
      });
  },
});
