/** `verdi profile dump` on a profile the engine filled: groups as folders, ungrouped processes, the selection rules. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { calcfunction } from '../../src/engine.js';
import { Group, Int, loadNode } from '../../src/orm.js';
import { useEngineProfile } from './engine-profile.js';
import { verdiInProcess as verdi } from './verdi-in-process.js';

const negate = calcfunction({ inputs: { x: Int }, outputs: Int, args: ['x'] }, function negate({ x }) {
  return new Int(-x.value);
});

const { sandbox, made } = useEngineProfile('aiida-ts-profile-dump-', async (made) => {
  const workflows = await new Group({ label: 'workflows' }).store();
  await workflows.addNodes(await loadNode(made.workchain));
  const jobs = await new Group({ label: 'jobs' }).store();
  await jobs.addNodes(await loadNode(made.add));
  // A top-level process in no group.
  return (await negate.runGetNode({ x: new Int(5) })).node.pk!;
});

describe('verdi profile dump', () => {
  it('--all writes every group in groups/<label>/, with the log at the top', async () => {
    const target = join(sandbox.base, 'all');
    const result = await verdi(['profile', 'dump', '--all', '--path', target]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Success: Raw files for profile `presto');
    expect(readdirSync(join(target, 'groups')).sort()).toEqual(['jobs', 'workflows']);
    expect(readdirSync(join(target, 'groups', 'workflows', 'workflows'))).toEqual([
      `MultiplyAddWorkChain-${made().workchain}`,
    ]);
    expect(readdirSync(join(target, 'groups', 'jobs', 'calculations'))).toEqual([
      `ArithmeticAddCalculation-${made().add}`,
    ]);
    expect(existsSync(join(target, 'aiida_dump_log.json'))).toBe(true);
    expect(existsSync(join(target, 'ungrouped'))).toBe(false);
  });

  it('-G selects groups; --also-ungrouped adds the top-level processes in no group; --no-organize-by-groups flattens', async () => {
    const target = join(sandbox.base, 'some');
    const some = await verdi(['profile', 'dump', '-G', 'jobs', '--also-ungrouped', '--path', target]);
    expect(some.code, some.stderr).toBe(0);
    expect(readdirSync(join(target, 'groups'))).toEqual(['jobs']);
    // The top-level calcfunction in no group; not the multiply calcfunction the work chain called.
    expect(readdirSync(join(target, 'ungrouped', 'calculations'))).toEqual([`negate-${made().extra ?? 0}`]);
    const flat = join(sandbox.base, 'flat');
    const flattened = await verdi([
      'profile',
      'dump',
      '--all',
      '--no-organize-by-groups',
      '--no-relabel-groups',
      '--path',
      flat,
    ]);
    expect(flattened.code, flattened.stderr).toBe(0);
    expect(
      readdirSync(flat)
        .filter((name) => !name.startsWith('.'))
        .sort(),
    ).toEqual(['aiida_dump_log.json', 'calculations', 'workflows']);
  });

  it('-Y/-X/-u filter the processes of every group: by computer, code and user', async () => {
    const byComputer = join(sandbox.base, 'computer');
    const result = await verdi(['profile', 'dump', '-Y', 'localhost', '--path', byComputer]);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(join(byComputer, 'groups', 'jobs', 'calculations'))).toEqual([
      `ArithmeticAddCalculation-${made().add}`,
    ]);
    // The work chain ran on no computer.
    expect(existsSync(join(byComputer, 'groups', 'workflows', 'workflows'))).toBe(false);
    const byCode = join(sandbox.base, 'code');
    expect((await verdi(['profile', 'dump', '-X', 'bash', '--path', byCode])).code).toBe(0);
    expect(readdirSync(join(byCode, 'groups', 'workflows', 'workflows'))).toEqual([
      `MultiplyAddWorkChain-${made().workchain}`,
    ]);
    const byUser = join(sandbox.base, 'user');
    expect((await verdi(['profile', 'dump', '-u', 'aiida@localhost', '--path', byUser])).code).toBe(0);
    expect(readdirSync(join(byUser, 'groups')).sort()).toEqual(['jobs', 'workflows']);
    const computer = await verdi(['profile', 'dump', '-Y', 'nowhere']);
    expect(computer.code).toBe(2);
    expect(computer.stderr).toMatch(/invalid value for -Y\/--computers: .*nowhere/);
    const user = await verdi(['profile', 'dump', '-u', 'nobody@nowhere']);
    expect(user.code).toBe(2);
  });

  it('a relabelled group moves its folder at the next dump', async () => {
    const target = join(sandbox.base, 'relabel');
    expect((await verdi(['profile', 'dump', '--all', '--path', target])).code).toBe(0);
    expect((await verdi(['group', 'relabel', 'jobs', 'finished-jobs'])).code).toBe(0);
    const again = await verdi(['profile', 'dump', '--all', '--path', target]);
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(join(target, 'groups')).sort()).toEqual(['finished-jobs', 'workflows']);
    expect(readdirSync(join(target, 'groups', 'finished-jobs', 'calculations'))).toEqual([
      `ArithmeticAddCalculation-${made().add}`,
    ]);
    await verdi(['group', 'relabel', 'finished-jobs', 'jobs']);
  });

  it('nothing selected is a warning, not a dump; bad combinations and unknown groups are refused', async () => {
    const nothing = await verdi(['profile', 'dump', '--path', join(sandbox.base, 'nothing')]);
    expect(nothing.code).toBe(0);
    expect(nothing.stderr).toContain('No profile data explicitly selected. No dump will be performed.');
    expect(existsSync(join(sandbox.base, 'nothing'))).toBe(false);
    const relabel = await verdi(['profile', 'dump', '--all', '--no-organize-by-groups']);
    expect(relabel.code).toBe(0);
    expect(relabel.stderr).toContain('`relabel_groups` is True, but `organize_by_groups` is False.');
    const both = await verdi(['profile', 'dump', '--all', '-n', '-o']);
    expect(both.stderr).toContain('Overwrite operation will NOT be performed.');
    const unknown = await verdi(['profile', 'dump', '-G', 'no-such-group']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/invalid value for -G\/--groups: .*no-such-group/);
    const days = await verdi(['profile', 'dump', '-p', 'many']);
    expect(days.code).toBe(2);
    expect(days.stderr).toContain("invalid value for -p/--past-days: 'many' is not a valid integer.");
  });
});
