/** `verdi node repo cat|ls|dump` on a profile the engine filled: what they print and write, and the bad input. */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BLOB, useEngineProfile } from './engine-profile.js';
import { verdiInProcess as verdi } from './verdi-in-process.js';

const { sandbox, made } = useEngineProfile('aiida-ts-node-repo-');

const lines = (text: string) => text.split('\n').filter(Boolean);

describe('verdi node repo ls', () => {
  it('lists the top of the repository, a subfolder, folders bold and blue with -c', async () => {
    const top = await verdi(['node', 'repo', 'ls', String(made().folder)]);
    expect(top.code, top.stderr).toBe(0);
    expect(lines(top.stdout)).toEqual(['bin', 'sub', 'top.txt']);
    expect(lines((await verdi(['node', 'repo', 'ls', String(made().folder), 'sub'])).stdout)).toEqual([
      'inner.txt',
    ]);
    // The job's own inputs, as the engine wrote them.
    const job = await verdi(['node', 'repo', 'ls', String(made().add)]);
    expect(lines(job.stdout)).toEqual(['.aiida', '_aiidasubmit.sh', 'aiida.in']);
    const coloured = await verdi(['node', 'repo', 'ls', '-c', String(made().folder)], { FORCE_COLOR: '1' });
    expect(coloured.stdout).toContain('\u001b[34mbin');
    expect(coloured.stdout).toMatch(/^top\.txt$/m);
  });

  it('names a missing path (exit 1), an unknown node (exit 2) and an unknown option (exit 2)', async () => {
    const missing = await verdi(['node', 'repo', 'ls', String(made().folder), 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('the path `nope` does not exist for the given node');
    const unknown = await verdi(['node', 'repo', 'ls', '987654']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/invalid value for NODE: .*987654/);
    const option = await verdi(['node', 'repo', 'ls', '--bogus', String(made().folder)]);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--bogus'");
  });
});

describe('verdi node repo cat', () => {
  it('prints a file byte for byte, and the file of a SinglefileData without a path', async () => {
    const text = await verdi(['node', 'repo', 'cat', String(made().folder), 'sub/inner.txt']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe('inner\n');
    const single = await verdi(['node', 'repo', 'cat', String(made().singlefile)]);
    expect(single.stdout).toBe('first line\nsecond line\n');
    const script = await verdi(['node', 'repo', 'cat', String(made().add), 'aiida.in']);
    expect(script.stdout).toBe('echo $((6 + 4))\n');
  });

  it('writes binary content unchanged through the real executable', async () => {
    const { spawnSync } = await import('node:child_process');
    const { VERDI_ARGV } = await import('./verdi-process.js');
    const result = spawnSync(
      process.execPath,
      [...VERDI_ARGV, 'node', 'repo', 'cat', String(made().folder), 'bin/blob.bin'],
      {
        env: { ...process.env, AIIDA_TS_PATH: sandbox.base },
        cwd: join(import.meta.dirname, '..', '..'),
      },
    );
    expect(result.status, result.stderr.toString()).toBe(0);
    expect(Buffer.compare(result.stdout, BLOB)).toBe(0);
  });

  it('refuses a missing path argument, a missing file and a folder', async () => {
    const noPath = await verdi(['node', 'repo', 'cat', String(made().folder)]);
    expect(noPath.code).toBe(2);
    expect(noPath.stderr).toContain("Missing argument 'RELATIVE_PATH'.");
    const missing = await verdi(['node', 'repo', 'cat', String(made().folder), 'nope.txt']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('failed to get the content of file `nope.txt`');
    const folder = await verdi(['node', 'repo', 'cat', String(made().folder), 'sub']);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toContain('failed to get the content of file `sub`');
    const unknown = await verdi(['node', 'repo', 'cat', 'no-such-label']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/invalid value for NODE: .*no-such-label/);
  });
});

describe('verdi node repo dump', () => {
  it('copies the repository tree into a new folder (parents created), binary files unchanged', async () => {
    const target = join(sandbox.base, 'dumps', 'folder');
    const result = await verdi(['node', 'repo', 'dump', String(made().folder), target]);
    expect(result.code, result.stderr).toBe(0);
    expect(readdirSync(target).sort()).toEqual(['bin', 'sub', 'top.txt']);
    expect(readFileSync(join(target, 'sub', 'inner.txt'), 'utf8')).toBe('inner\n');
    expect(Buffer.compare(readFileSync(join(target, 'bin', 'blob.bin')), BLOB)).toBe(0);
    const job = join(sandbox.base, 'dumps', 'job');
    expect((await verdi(['node', 'repo', 'dump', String(made().add), job])).code).toBe(0);
    expect(existsSync(join(job, '.aiida', 'calcinfo.json'))).toBe(true);
  });

  it('refuses an existing folder and leaves it alone; an unknown node is a usage error', async () => {
    const existing = join(sandbox.base, 'existing');
    mkdirSync(existing);
    const result = await verdi(['node', 'repo', 'dump', String(made().folder), existing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`Invalid value for "OUTPUT_DIRECTORY": Path "${existing}" exists.`);
    expect(readdirSync(existing)).toEqual([]);
    const unknown = await verdi(['node', 'repo', 'dump', '987654', join(sandbox.base, 'never')]);
    expect(unknown.code).toBe(2);
    expect(existsSync(join(sandbox.base, 'never'))).toBe(false);
    const missingArg = await verdi(['node', 'repo', 'dump', String(made().folder)]);
    expect(missingArg.code).toBe(2);
    expect(missingArg.stderr).toContain("missing required argument 'output_directory'");
  });
});
