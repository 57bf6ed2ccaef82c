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

/**
 * A folder with a workflow module and submission scripts, as a user writes them: `add-multiply.ts` defines the work
 * chains (the daemon's workers import it), `submit.ts` submits them and prints the pks.
 */
export function writeWorkflowFiles(folder: string): { submit: string } {
  writeFileSync(join(folder, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(folder, 'add-multiply.ts'),
    `import { calcfunction, nodeType, WorkChain } from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';

export const add = calcfunction({ inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] }, function add({ x, y }) {
  return new Int(x.value + y.value);
});

export const multiply = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function multiply({ x, y }) {
    return new Int(x.value * y.value);
  },
);

/** (x + y) * z in two steps. */
export class AddMultiply extends WorkChain.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .input('y', { validType: nodeType(Int) })
    .input('z', { validType: nodeType(Int) })
    .output('result', { validType: nodeType(Int) })
    .context<{ sum: Int }>(),
) {
  static {
    this.outline('addStep', 'multiplyStep');
  }
  async addStep(): Promise<void> {
    this.ctx.sum = await add(this.inputs.x, this.inputs.y);
  }
  async multiplyStep(): Promise<void> {
    this.out('result', await multiply(this.ctx.sum!, this.inputs.z));
  }
}

/** Naps \`ms\` in each of many steps (a process to pause, play and kill), then returns x + 1. */
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
  const submit = join(folder, 'submit.ts');
  writeFileSync(
    submit,
    `import { submit } from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';
import { AddMultiply, Slow } from './add-multiply.ts';

const quick = await submit(AddMultiply, { x: new Int(2), y: new Int(3), z: new Int(4) });
const slow = await submit(Slow, { x: new Int(1), ms: new Int(1000) });
console.log(JSON.stringify({ quick: quick.pk, slow: slow.pk }));
`,
  );
  return { submit };
}
