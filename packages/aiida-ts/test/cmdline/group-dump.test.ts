/** `verdi group copy|move-nodes|path ls|dump` on a profile the engine filled. */
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Group, loadNode } from '../../src/orm.js';
import { useEngineProfile } from './engine-profile.js';
import { verdiInProcess as verdi } from './verdi-in-process.js';

const { sandbox, made } = useEngineProfile('aiida-ts-group-dump-', async (made) => {
  const runs = await new Group({ label: 'runs' }).store();
  await runs.addNodes([await loadNode(made.workchain), await loadNode(made.add)]);
  for (const label of ['project/a', 'project/b/deep', 'other'])
    await new Group({ label, description: `about ${label}` }).store();
  return undefined;
});

const pks = (stdout: string) =>
  stdout
    .trim()
    .split(/\s+/)
    .map(Number)
    .sort((a, b) => a - b);

describe('verdi group copy and move-nodes', () => {
  it('copy adds the nodes to a new group, asks before filling a non-empty one', async () => {
    const copied = await verdi(['group', 'copy', 'runs', 'runs-copy']);
    expect(copied.code, copied.stderr).toBe(0);
    expect(copied.stdout).toContain('Success: Nodes copied from Group<runs> to Group<runs-copy>.');
    expect(pks((await verdi(['group', 'show', '-r', 'runs-copy'])).stdout)).toEqual(
      [made().workchain, made().add].sort((a, b) => a - b),
    );
    const declined = await verdi(['group', 'copy', 'runs', 'runs-copy'], {}, 'n\n');
    expect(declined.code).toBe(1);
    expect(declined.stderr).toContain(
      'Warning: Destination Group<runs-copy> already exists and is not empty.',
    );
    const unknown = await verdi(['group', 'copy', 'no-such-group', 'x']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/invalid value for SOURCE_GROUP: .*no-such-group/);
  });

  it('move-nodes moves the named nodes (or all with -a) after confirmation; refuses nonsense', async () => {
    await verdi(['group', 'create', 'moved']);
    const moved = await verdi([
      'group',
      'move-nodes',
      String(made().add),
      '-s',
      'runs-copy',
      '-t',
      'moved',
      '-f',
    ]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(pks((await verdi(['group', 'show', '-r', 'moved'])).stdout)).toEqual([made().add]);
    expect(pks((await verdi(['group', 'show', '-r', 'runs-copy'])).stdout)).toEqual([made().workchain]);
    const absent = await verdi([
      'group',
      'move-nodes',
      String(made().add),
      '-s',
      'runs-copy',
      '-t',
      'moved',
      '-f',
    ]);
    expect(absent.code).toBe(1);
    expect(absent.stderr).toContain('None of the specified nodes are in Group<runs-copy>.');
    const all = await verdi(['group', 'move-nodes', '-a', '-s', 'runs-copy', '-t', 'moved'], {}, 'y\n');
    expect(all.code, all.stderr).toBe(0);
    expect(pks((await verdi(['group', 'show', '-r', 'moved'])).stdout)).toEqual(
      [made().workchain, made().add].sort((a, b) => a - b),
    );
    const same = await verdi(['group', 'move-nodes', '-a', '-s', 'moved', '-t', 'moved']);
    expect(same.code).toBe(1);
    expect(same.stderr).toContain('Source and target group are the same: Group<moved>.');
    const nothing = await verdi(['group', 'move-nodes', '-s', 'moved', '-t', 'runs']);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain('Neither NODES or the `-a, --all` option was specified.');
    const missing = await verdi(['group', 'move-nodes', '-a', '-s', 'moved']);
    expect(missing.code).toBe(2);
    const unknown = await verdi(['group', 'move-nodes', '-a', '-s', 'moved', '-t', 'nope']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/invalid value for -t\/--target-group: .*nope/);
  });
});

describe('verdi group path ls', () => {
  it('lists the paths one level down, recursively, as a table with descriptions, without virtual ones', async () => {
    const top = await verdi(['group', 'path', 'ls']);
    expect(top.code, top.stderr).toBe(0);
    expect(top.stdout.split('\n')).toEqual(expect.arrayContaining(['moved', 'other', 'project', 'runs']));
    expect((await verdi(['group', 'path', 'ls', 'project'])).stdout).toBe('project/a\nproject/b\n');
    expect((await verdi(['group', 'path', 'ls', '-R', 'project'])).stdout).toBe(
      'project/a\nproject/b\nproject/b/deep\n',
    );
    expect((await verdi(['group', 'path', 'ls', '-R', '--no-virtual', 'project'])).stdout).toBe(
      'project/a\nproject/b/deep\n',
    );
    const table = await verdi(['group', 'path', 'ls', '-d', 'project']);
    expect(table.stdout).toMatch(/^Path\s+Sub-Groups\s+Description$/m);
    expect(table.stdout).toMatch(/^project\/a\s+0\s+about project\/a$/m);
    expect(table.stdout).toMatch(/^project\/b\s+1\s+-$/m);
    const bad = await verdi(['group', 'path', 'ls', 'bad//path']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('invalid group path');
  });
});

describe('verdi group dump', () => {
  it('writes the processes of the group in calculations/ and workflows/, incrementally', async () => {
    const target = join(sandbox.base, 'runs-dump');
    const result = await verdi(['group', 'dump', 'runs', '--path', target]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Report: Starting dump of group `runs`');
    expect(result.stdout).toContain('Success: Raw files for group `runs` dumped into folder `runs-dump`.');
    expect(readdirSync(join(target, 'workflows'))).toEqual([`MultiplyAddWorkChain-${made().workchain}`]);
    expect(readdirSync(join(target, 'calculations'))).toEqual([`ArithmeticAddCalculation-${made().add}`]);
    expect(
      existsSync(
        join(
          target,
          'workflows',
          `MultiplyAddWorkChain-${made().workchain}`,
          `02-ArithmeticAddCalculation-${made().add}`,
          'outputs',
          'aiida.out',
        ),
      ),
    ).toBe(true);
    expect(existsSync(join(target, 'aiida_dump_log.json'))).toBe(true);
    // Taken out of the group: its folder goes at the next dump.
    await verdi(['group', 'remove-nodes', '-G', 'runs', '-f', String(made().add)]);
    const again = await verdi(['group', 'dump', 'runs', '--path', target]);
    expect(again.code, again.stderr).toBe(0);
    expect(readdirSync(join(target, 'calculations'))).toEqual([]);
    await verdi(['group', 'add-nodes', '-G', 'runs', String(made().add)]);
  });

  it('--no-only-top-level-calcs gives called calculations their own folder, linked with --symlink-calcs', async () => {
    const target = join(sandbox.base, 'linked');
    const result = await verdi([
      'group',
      'dump',
      'runs',
      '--path',
      target,
      '--no-only-top-level-calcs',
      '--symlink-calcs',
    ]);
    expect(result.code, result.stderr).toBe(0);
    const multiply = readdirSync(join(target, 'calculations')).find((name) => name.startsWith('multiply-'));
    expect(multiply).toBeDefined();
    expect(lstatSync(join(target, 'calculations', multiply ?? '')).isSymbolicLink()).toBe(true);
  });

  it('default folder, dry run, unknown group, bad dates (exit 2)', async () => {
    const dry = await verdi(['group', 'dump', 'runs', '-n']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(
      `No output path specified. Using default: \`${join(process.cwd(), 'runs')}\``,
    );
    expect(dry.stdout).toContain('Success: Dry run completed.');
    expect(existsSync(join(process.cwd(), 'runs'))).toBe(false);
    const unknown = await verdi(['group', 'dump', 'no-such-group']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/invalid value for GROUP: .*no-such-group/);
    const date = await verdi(['group', 'dump', 'runs', '--start-date', 'yesterday-ish']);
    expect(date.code).toBe(2);
    expect(date.stderr).toContain('invalid value for --start-date');
    const both = await verdi(['group', 'dump', 'runs', '-p', '2', '--end-date', '2024-01-01']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('Cannot use `past_days` filter together with `start_date` or `end_date`.');
  });
});
