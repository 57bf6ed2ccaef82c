import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';

/** The daemon's pid file of a profile in a sandbox, parsed (undefined when there is none). */
export interface PidFileContent {
  supervisor: { host: string; pid: number; start: string };
  workers: { pid: number; workerId: string | null }[];
}

export function pidFilePath(configDir: string, profile: string): string {
  return join(configDir, 'daemon', `${profile}.pid`);
}

export function readPid(configDir: string, profile: string): PidFileContent | undefined {
  try {
    return JSON.parse(readFileSync(pidFilePath(configDir, profile), 'utf8')) as PidFileContent;
  } catch {
    return undefined;
  }
}

/** Whether a process runs (a zombie, ended but not yet reaped by whoever adopted it, does not). */
export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Polls `check` every 50 ms until it returns a value other than undefined (bounded, for a clear failure). */
export async function until<T>(what: string, check: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Every pid a test's daemons ever had, so that afterAll can SIGKILL what is left (a failed test must not leave a
 * supervisor or a worker running).
 */
export class DaemonPids {
  readonly #pids = new Set<number>();
  readonly #configDir: string;
  readonly #profiles: string[];

  constructor(configDir: string, profiles: string[]) {
    this.#configDir = configDir;
    this.#profiles = profiles;
  }

  /** Records the pids now in the pid files. */
  note(): void {
    for (const profile of this.#profiles) {
      const file = readPid(this.#configDir, profile);
      if (file === undefined) continue;
      this.#pids.add(file.supervisor.pid);
      for (const worker of file.workers) this.#pids.add(worker.pid);
    }
  }

  /** SIGKILLs every recorded pid that still runs; resolves to those it had to kill. */
  killLeft(): number[] {
    this.note();
    const killed: number[] = [];
    for (const pid of this.#pids) {
      if (!isAlive(pid)) continue;
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        // gone meanwhile
      }
    }
    return killed;
  }

  expectAllGone(): void {
    expect([...this.#pids].filter((pid) => isAlive(pid))).toEqual([]);
  }
}

/** The ```ts block of the README that starts with `// <file>` (the quick start's daemon example). */
export function readmeFile(file: string): string {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const start = readme.indexOf(`\`\`\`ts\n// ${file}\n`);
  if (start < 0) throw new Error(`the README has no block for ${file}`);
  const body = readme.slice(start + '```ts\n'.length);
  return body.slice(0, body.indexOf('\n```'));
}

/**
 * A folder as a user makes it from the README's quick start: `add-multiply.ts` (the work chain; the daemon's workers
 * import it) and `submit.ts` (submits it), both taken from the README; plus `slow.ts`, a work chain that naps in many
 * steps (to pause, play and kill), and `submit-slow.ts`, which submits one and prints its pk.
 */
export function writeWorkflowFiles(folder: string): { submit: string; submitSlow: string } {
  writeFileSync(join(folder, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(join(folder, 'add-multiply.ts'), readmeFile('add-multiply.ts'));
  const submit = join(folder, 'submit.ts');
  writeFileSync(submit, readmeFile('submit.ts'));
  writeFileSync(
    join(folder, 'slow.ts'),
    `import { nodeType, WorkChain } from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';
import { add } from './add-multiply.ts';

/** Naps \`ms\` in each of many steps, then returns x + 1. */
export class Slow extends WorkChain.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .input('ms', { validType: nodeType(Int) })
    .output('result', { validType: nodeType(Int) }),
) {
  static {
    this.outline(...Array.from({ length: 60 }, () => 'nap' as const), 'finish');
  }
  async nap(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, this.inputs.ms.value));
  }
  async finish(): Promise<void> {
    this.out('result', await add(this.inputs.x, new Int(1)));
  }
}
`,
  );
  const submitSlow = join(folder, 'submit-slow.ts');
  writeFileSync(
    submitSlow,
    `import { submit } from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';
import { Slow } from './slow.ts';

const node = await submit(Slow, { x: new Int(1), ms: new Int(1000) });
console.log(node.pk);
`,
  );
  return { submit, submitSlow };
}

/** The pk a submission script printed last (`Submitted AddMultiply<4>` or `4`). */
export function submittedPk(stdout: string): number {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const match = /(\d+)>?$/.exec(last);
  if (match === null) throw new Error(`no pk in the output of the script:\n${stdout}`);
  return Number(match[1]);
}
