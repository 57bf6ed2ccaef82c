/** `verdi plugin list`: the entry point groups, the plugins of a group, and what one process plugin takes and gives. */
import { afterAll, describe, expect, it } from 'vitest';
import { describeResult, verdiSandbox } from './verdi-process.js';

describe('verdi plugin list', () => {
  const sandbox = verdiSandbox('aiida-ts-plugin-');
  afterAll(() => sandbox.cleanup());

  it('lists the groups, then the entry points of a group', async () => {
    const groups = await sandbox.verdi(['plugin', 'list']);
    expect(groups.code, describeResult(groups)).toBe(0);
    for (const group of [
      'aiida.calculations',
      'aiida.data',
      'aiida.parsers',
      'aiida.schedulers',
      'aiida.transports',
    ])
      expect(groups.stdout).toContain(`* ${group}\n`);
    const schedulers = await sandbox.verdi(['plugin', 'list', 'aiida.schedulers']);
    expect(schedulers.code, describeResult(schedulers)).toBe(0);
    expect(schedulers.stdout).toMatch(/^\* core\.direct\n(\* .*\n)*\* core\.slurm\n/m);
    const data = await sandbox.verdi(['plugin', 'list', 'aiida.data']);
    expect(data.stdout).toContain('* core.int\n');
    expect(data.stdout).toContain('* core.structure\n');
  });

  it("shows a process plugin's inputs, outputs and exit codes", async () => {
    const add = await sandbox.verdi(['plugin', 'list', 'aiida.calculations', 'core.arithmetic.add']);
    expect(add.code, describeResult(add)).toBe(0);
    expect(add.stdout).toContain('ArithmeticAddCalculation');
    expect(add.stdout).toMatch(/^Inputs:\n(.*\n)*\s+x:\s+required\s+Int \| Float\s+The left operand\./m);
    expect(add.stdout).toMatch(/^Outputs:\n(.*\n)*\s+sum:\s+required/m);
    expect(add.stdout).toMatch(
      /^Exit codes:\n(.*\n)*\s+410:\s+The sum of the operands is a negative number\./m,
    );
  });

  it('refuses a group or an entry point that does not exist, naming it (exit code 2)', async () => {
    const group = await sandbox.verdi(['plugin', 'list', 'aiida.nope']);
    expect(group.code, describeResult(group)).toBe(2);
    expect(group.stderr).toContain("'aiida.nope' is not one of");
    const entry = await sandbox.verdi(['plugin', 'list', 'aiida.transports', 'core.nope']);
    expect(entry.code, describeResult(entry)).toBe(2);
    expect(entry.stderr).toContain("no entry point 'core.nope' in the group 'aiida.transports'");
  });
});
