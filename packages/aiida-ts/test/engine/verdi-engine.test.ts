import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, VERDI_SOURCE, verdiSandbox } from '../cmdline/verdi-process.js';

const EXAMPLE = join(import.meta.dirname, '..', '..', '..', '..', 'examples', 'arithmetic-workflow.ts');

const FAILING = `
import { calcfunction } from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';
const add = calcfunction({ name: 'add', inputs: { x: Int, y: Int }, outputs: Int }, ({ x, y }) => new Int(x.value + y.value));
console.log('args:', JSON.stringify(process.argv.slice(2)));
await add({ x: 'one', y: new Int(2) } as never);
`;

const SUBMITTING = `
import { calcfunction, submit, WorkChain } from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';
const double = calcfunction({ name: 'double', inputs: { x: Int }, outputs: Int }, ({ x }) => new Int(2 * x.value));
class Late extends WorkChain.define((spec) => spec) {
  static { this.outline('wait', 'compute'); }
  async wait(): Promise<void> { await new Promise((resolve) => setTimeout(resolve, 300)); }
  async compute(): Promise<void> { await double({ x: 21 }); }
}
const node = await submit(Late);
console.log(node.pk);
`;

const SLEEPING = `
import { calcfunction, runGetNode, ToContext, WorkChain } from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';
class Sleeper extends WorkChain.define((spec) => spec) {
  static { this.outline('sleep'); }
  async sleep(): Promise<void> {
    console.log('sleeping', this.pk);
    await new Promise((resolve) => setTimeout(resolve, 60_000));
  }
}
class Parent extends WorkChain.define((spec) => spec) {
  static { this.outline('start', 'after'); }
  async start(): Promise<ToContext> {
    return new ToContext({ child: await this.submit(Sleeper) });
  }
  after(): void {}
}
console.log('parent', (await runGetNode(Parent)).node.pk);
`;

describe('verdi run and the engine commands, through the executable', () => {
  const sandbox = verdiSandbox('aiida-ts-verdi-engine-');
  const verdi = sandbox.verdi;
  beforeAll(async () => {
    const presto = await verdi(['presto']);
    expect(presto.code, describeResult(presto)).toBe(0);
  }, 60_000);
  afterAll(() => sandbox.cleanup());

  it('runs the example workflow; process status, node show, list and report describe it', async () => {
    const result = await verdi(['run', EXAMPLE, '3'], { timeoutMs: 120_000 });
    expect(result.code, describeResult(result)).toBe(0);
    const lines = result.stdout.trim().split('\n');
    const pk = lines.at(-1)!;
    expect(lines).toContain('total: 14, halved: 7');
    expect(result.stderr).toContain(`[${pk}|SumOfSquares|setup]: summing the squares of 1..3`);

    const status = await verdi(['process', 'status', pk]);
    expect(status.code, describeResult(status)).toBe(0);
    expect(status.stdout).toContain(`SumOfSquares<${pk}> Finished [0]`);
    expect(status.stdout.match(/Square<\d+> Finished \[0\]/g)).toHaveLength(3);
    expect(status.stdout.match(/multiply<\d+> Finished \[0\]/g)).toHaveLength(3);
    expect(status.stdout).toMatch(/add<\d+> Finished \[0\]/);

    const show = await verdi(['node', 'show', pk, '--details']);
    expect(show.code, describeResult(show)).toBe(0);
    expect(show.stdout).toMatch(/process_type\s+arithmetic_workflow\.SumOfSquares/);
    expect(show.stdout).toMatch(/\bn\s+\d+\s+Int\s+input_work/);
    expect(show.stdout).toMatch(/\btotal\s+\d+\s+Int\s+return/);
    expect(show.stdout).toMatch(/square_1\s+\d+\s+Square/);

    const list = await verdi(['process', 'list', '-a']);
    expect(list.code, describeResult(list)).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`\\b${pk}\\s+.*SumOfSquares\\s+.*Finished \\[0\\]`));
    const report = await verdi(['process', 'report', pk]);
    expect(report.stdout).toContain('done: the sum of the squares of 1..3 is 14');
  }, 180_000);

  it('hands arguments to the script and fails with its error (bad inputs name every port)', async () => {
    const script = join(sandbox.base, 'failing.ts');
    writeFileSync(script, FAILING);
    const result = await verdi(['run', script, 'a', '--b']);
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.stdout).toContain('args: ["a","--b"]');
    expect(result.stderr).toContain('InputValidationError');
    expect(result.stderr).toContain('inputs.x');
    const missing = await verdi(['run', join(sandbox.base, 'missing.ts')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('does not exist');
  }, 120_000);

  it('waits for processes the script submitted before exiting', async () => {
    const script = join(sandbox.base, 'submitting.ts');
    writeFileSync(script, SUBMITTING);
    const result = await verdi(['run', script], { timeoutMs: 120_000 });
    expect(result.code, describeResult(result)).toBe(0);
    const pk = result.stdout.trim().split('\n').at(-1)!;
    const status = await verdi(['process', 'status', pk]);
    expect(status.stdout, describeResult(status)).toMatch(new RegExp(`Late<${pk}> Finished \\[0\\]`));
    expect(status.stdout).toMatch(/double<\d+> Finished \[0\]/);
  }, 120_000);

  it('kills the running processes on Ctrl-C: none is left running', async () => {
    const script = join(sandbox.base, 'sleeping.ts');
    writeFileSync(script, SLEEPING);
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', VERDI_SOURCE, 'run', script],
      {
        env: { ...process.env, AIIDA_TS_PATH: sandbox.base },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await expect.poll(() => stdout.includes('sleeping'), { timeout: 60_000, interval: 100 }).toBe(true);
    child.kill('SIGINT');
    const code = await exited;
    expect(code, `stdout: ${stdout}\nstderr: ${stderr}`).toBe(130);
    expect(stderr).toMatch(
      /Interrupted by SIGINT: (Parent|Sleeper)<\d+> and (Parent|Sleeper)<\d+> were killed\./,
    );
    const list = await verdi(['process', 'list', '-a', '-P', 'pk', 'process_label', 'process_state']);
    expect(list.code, describeResult(list)).toBe(0);
    const rows = list.stdout.split('\n').filter((line) => /Parent|Sleeper/.test(line));
    expect(rows).toHaveLength(2);
    for (const row of rows) expect(row).toMatch(/Killed/);
  }, 120_000);

  it('lists the process types caching is enabled for, and rehashes nodes', async () => {
    const set = await verdi(['config', 'set', 'caching.enabled_for', 'arithmetic_workflow.*']);
    expect(set.code, describeResult(set)).toBe(0);
    const enabled = await verdi(['config', 'caching']);
    expect(enabled.code, describeResult(enabled)).toBe(0);
    expect(enabled.stdout.split('\n').filter(Boolean).sort()).toEqual(
      [
        'arithmetic_workflow.SumOfSquares',
        'arithmetic_workflow.Square',
        'arithmetic_workflow.add',
        'arithmetic_workflow.halve',
        'arithmetic_workflow.multiply',
      ].sort(),
    );
    const disabled = await verdi(['config', 'caching', '--disabled']);
    expect(disabled.stdout).toContain('submitting.double');
    expect(disabled.stdout).not.toContain('arithmetic_workflow');
    const rehash = await verdi(['node', 'rehash', '-f']);
    expect(rehash.code, describeResult(rehash)).toBe(0);
    expect(rehash.stdout + rehash.stderr).toMatch(/All done! \d+ node\(s\) rehashed\./);
    const one = await verdi(['node', 'rehash', '1']);
    expect(one.stdout + one.stderr).toContain('All done! 1 node(s) rehashed.');
    const wrong = await verdi(['node', 'rehash', '-e', 'aiida.data:core.nothing', '-f']);
    expect(wrong.code).toBe(2);
  }, 120_000);
});
