/**
 * The behaviours every transport must show (aiida's tests/transports/test_all_plugins.py), run against
 * `core.local` and against `core.ssh` on a private sshd. The "remote" computer is this machine in both
 * cases, so the tests prepare and check remote files with node's fs.
 */
import * as fc from 'fast-check';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidOperationError,
  TransportError,
  TransportInternalError,
  ValidationError,
} from '../../src/errors.js';
import { escapeForBash, type Transport } from '../../src/transports.js';

export interface ContractSetup {
  /** A new, closed transport. */
  create(): Transport | Promise<Transport>;
  /**
   * The home folder the transport's relative paths start from: `$HOME` for core.local (the tests' own, see
   * vitest.config.ts), the account's home for an SSH session. Default: `os.homedir()`.
   */
  home?(): string;
}

type Hierarchy = { readonly [name: string]: string | Hierarchy };

async function createHierarchy(hierarchy: Hierarchy, root: string): Promise<void> {
  await fsp.mkdir(root, { recursive: true });
  for (const [name, value] of Object.entries(hierarchy)) {
    if (typeof value === 'string') await fsp.writeFile(path.join(root, name), value);
    else await createHierarchy(value, path.join(root, name));
  }
}

async function serializeHierarchy(root: string): Promise<Hierarchy> {
  const out: Record<string, string | Hierarchy> = {};
  for (const entry of await fsp.readdir(root, { withFileTypes: true })) {
    const p = path.join(root, entry.name);
    out[entry.name] = entry.isDirectory() ? await serializeHierarchy(p) : await fsp.readFile(p, 'utf8');
  }
  return out;
}

const run = promisify(execFile);

/** Entry names of an archive, read with the local `tar` (as aiida's tests use shutil). */
async function listArchive(file: string): Promise<string[]> {
  const { stdout } = await run('tar', ['-tf', file]);
  return stdout
    .split('\n')
    .map((n) => n.replace(/^\.\//u, '').replace(/\/$/u, ''))
    .filter((n) => n !== '' && n !== '.')
    .sort();
}

const sorted = (values: Iterable<string>): string[] => [...values].sort();

export function describeTransportContract(label: string, setup: ContractSetup): void {
  describe(`${label}: transport contract`, () => {
    let transport: Transport;
    let base: string;
    let remote: string;
    let local: string;

    beforeAll(async () => {
      transport = await setup.create();
      await transport.open();
    });

    afterAll(async () => {
      await transport.close();
    });

    beforeEach(async () => {
      base = await fsp.mkdtemp(path.join(os.tmpdir(), 'aiida-ts-transport-'));
      remote = path.join(base, 'remote');
      local = path.join(base, 'local');
      await fsp.mkdir(remote);
      await fsp.mkdir(local);
    });

    afterEach(async () => {
      // Tests lower permissions on purpose; restore them so the folder can go.
      await fsp.chmod(base, 0o755).catch(() => undefined);
      for (const p of await fsp.readdir(base, { recursive: true }).catch(() => [] as string[])) {
        await fsp.chmod(path.join(base, p), 0o755).catch(() => undefined);
      }
      await fsp.rm(base, { recursive: true, force: true });
    });

    describe('lifecycle', () => {
      it('is open only between open and close; a closed transport refuses operations', async () => {
        const t = await setup.create();
        expect(t.isOpen).toBe(false);
        await expect(t.isdir(remote)).rejects.toBeInstanceOf(TransportInternalError);
        await expect(t.execCommandWait('true')).rejects.toBeInstanceOf(TransportInternalError);
        await t.open();
        expect(t.isOpen).toBe(true);
        await expect(t.open()).rejects.toBeInstanceOf(InvalidOperationError);
        expect(await t.isdir(remote)).toBe(true);
        await t.close();
        expect(t.isOpen).toBe(false);
        await t.close();
        await expect(t.isdir(remote)).rejects.toBeInstanceOf(TransportInternalError);
      });

      it('closes itself at the end of an await using block', async () => {
        const t = await setup.create();
        {
          await using scoped = t;
          await scoped.open();
          expect(scoped.isOpen).toBe(true);
        }
        expect(t.isOpen).toBe(false);
      });

      it('reports its entry point and a non-negative safe interval', () => {
        expect(['core.local', 'core.ssh']).toContain(transport.transportType);
        expect(transport.getSafeOpenInterval()).toBeGreaterThanOrEqual(0);
      });
    });

    describe('directories', () => {
      it('mkdir creates one level, makedirs creates parents, both refuse an existing directory', async () => {
        await transport.mkdir(path.join(remote, 'sampledir'));
        expect(fs.statSync(path.join(remote, 'sampledir')).isDirectory()).toBe(true);
        await transport.makedirs(path.join(remote, 'sampledir2', 'subdir'));
        expect(fs.statSync(path.join(remote, 'sampledir2', 'subdir')).isDirectory()).toBe(true);
        await expect(transport.makedirs(path.join(remote, 'sampledir2'))).rejects.toMatchObject({
          errno: 'EEXIST',
        });
        await expect(transport.mkdir(path.join(remote, 'sampledir'))).rejects.toBeInstanceOf(TransportError);
        await transport.mkdir(path.join(remote, 'sampledir'), { ignoreExisting: true });
        await transport.makedirs(path.join(remote, 'sampledir2'), { ignoreExisting: true });
        await expect(transport.mkdir(path.join(remote, 'no', 'parent'))).rejects.toBeInstanceOf(
          TransportError,
        );
      });

      it('isdir is true only for existing directories', async () => {
        await transport.mkdir(path.join(remote, 'sampledir'));
        expect(await transport.isdir(path.join(remote, 'sampledir'))).toBe(true);
        expect(await transport.isdir(path.join(remote, 'sampledir', 'does_not_exist'))).toBe(false);
      });

      it('rmtree removes a full tree, rmdir refuses a full directory, remove deletes a file', async () => {
        await createHierarchy({ sampledir: { a: 'x', sub: { b: 'y' } } }, remote);
        await transport.rmtree(path.join(remote, 'sampledir'));
        expect(fs.existsSync(path.join(remote, 'sampledir'))).toBe(false);
        await transport.rmtree(path.join(remote, 'sampledir'));

        await transport.mkdir(path.join(remote, 'sampledir'));
        await fsp.writeFile(path.join(remote, 'sampledir', 'samplefile_remote'), '');
        await expect(transport.rmdir(path.join(remote, 'sampledir'))).rejects.toBeInstanceOf(TransportError);
        await expect(transport.remove(path.join(remote, 'sampledir'))).rejects.toMatchObject({
          errno: 'EISDIR',
        });
        await transport.remove(path.join(remote, 'sampledir', 'samplefile_remote'));
        expect(fs.existsSync(path.join(remote, 'sampledir', 'samplefile_remote'))).toBe(false);
        await expect(transport.remove(path.join(remote, 'sampledir', 'gone'))).rejects.toMatchObject({
          errno: 'ENOENT',
        });
        await transport.rmdir(path.join(remote, 'sampledir'));
        expect(fs.existsSync(path.join(remote, 'sampledir'))).toBe(false);
      });

      it('listdir lists odd names and filters with fnmatch patterns', async () => {
        const dirs = ['1', '-f', 'as', 'a2', 'a4f'];
        const files = ['a', 'b', '.hidden'];
        for (const d of dirs) await transport.mkdir(path.join(remote, d));
        for (const f of files) await fsp.writeFile(path.join(remote, f), '');
        expect(sorted(await transport.listdir(remote))).toEqual(sorted([...dirs, ...files]));
        expect(sorted(await transport.listdir(remote, 'a*'))).toEqual(['a', 'a2', 'a4f', 'as']);
        expect(sorted(await transport.listdir(remote, 'a?'))).toEqual(['a2', 'as']);
        expect(sorted(await transport.listdir(remote, 'a[2-4]*'))).toEqual(['a2', 'a4f']);
        expect(sorted(await transport.listdir(remote, 'a[!2-4]'))).toEqual(['as']);
        expect(sorted(await transport.listdir(remote, '.*'))).toEqual(['.hidden']);
        await expect(transport.listdir(path.join(remote, 'missing'))).rejects.toMatchObject({
          errno: 'ENOENT',
        });
      });

      it('listdirWithAttributes tells directories from files and carries stat fields', async () => {
        for (const d of ['1', '-f', 'as', 'a2', 'a4f']) await transport.mkdir(path.join(remote, d));
        await fsp.writeFile(path.join(remote, 'a'), 'abc');
        await fsp.writeFile(path.join(remote, 'b'), '');
        await fsp.symlink(path.join(remote, 'as'), path.join(remote, 'link-to-dir'));
        const simplify = (entries: readonly { name: string; isdir: boolean }[]) =>
          Object.fromEntries(entries.map((e) => [e.name, e.isdir]));
        expect(simplify(await transport.listdirWithAttributes(remote))).toEqual({
          '1': true,
          '-f': true,
          as: true,
          a2: true,
          a4f: true,
          a: false,
          b: false,
          'link-to-dir': true,
        });
        expect(simplify(await transport.listdirWithAttributes(remote, 'a?'))).toEqual({ as: true, a2: true });
        const entries = await transport.listdirWithAttributes(remote, 'a');
        const stats = fs.statSync(path.join(remote, 'a'));
        expect(entries[0]?.attributes).toMatchObject({ stSize: 3, stUid: stats.uid, stGid: stats.gid });
        expect(entries[0]?.attributes.stMode).toBe(stats.mode);
        expect(Math.abs((entries[0]?.attributes.stMtime ?? 0) - stats.mtimeMs / 1000)).toBeLessThan(1.01);
      });

      it('isfile and isdir are false for empty and missing paths and never confuse the two', async () => {
        expect(await transport.isdir('')).toBe(false);
        expect(await transport.isfile('')).toBe(false);
        expect(await transport.isfile(path.join(remote, 'does_not_exist'))).toBe(false);
        expect(await transport.isdir(path.join(remote, 'does_not_exist'))).toBe(false);
        await fsp.writeFile(path.join(remote, 'samplefile'), '');
        expect(await transport.isfile(path.join(remote, 'samplefile'))).toBe(true);
        expect(await transport.isdir(path.join(remote, 'samplefile'))).toBe(false);
        await transport.mkdir(path.join(remote, 'sampledir'));
        expect(await transport.isdir(path.join(remote, 'sampledir'))).toBe(true);
        expect(await transport.isfile(path.join(remote, 'sampledir'))).toBe(false);
        expect(await transport.pathExists(path.join(remote, 'sampledir'))).toBe(true);
        expect(await transport.pathExists(path.join(remote, 'nothing'))).toBe(false);
        expect(await transport.pathExists('')).toBe(false);
      });

      it('normalize resolves dots and symlinks; relative paths are relative to the home directory', async () => {
        await fsp.mkdir(path.join(remote, 'real'));
        await fsp.symlink(path.join(remote, 'real'), path.join(remote, 'alias'));
        const real = fs.realpathSync(path.join(remote, 'real'));
        expect(await transport.normalize(path.join(remote, 'alias', '..', 'alias'))).toBe(real);
        expect(await transport.normalize()).toBe(fs.realpathSync(setup.home?.() ?? os.homedir()));
      });
    });

    describe('permissions and attributes', () => {
      it('chmod and getMode round-trip; chmod of an empty or missing path fails', async () => {
        const directory = path.join(remote, 'test');
        await transport.makedirs(directory);
        for (const mode of [0o777, 0o511, 0]) {
          await transport.chmod(directory, mode);
          expect(await transport.getMode(directory)).toBe(mode);
        }
        await expect(transport.chmod('', 0o777)).rejects.toBeInstanceOf(TransportError);
        await expect(transport.chmod(path.join(remote, 'pippo'), 0o777)).rejects.toMatchObject({
          errno: 'ENOENT',
        });
        await expect(transport.chmod(directory, -1)).rejects.toBeInstanceOf(ValidationError);
      });

      it('chown changes the owner', async () => {
        const file = path.join(remote, 'owned');
        await fsp.writeFile(file, '');
        const { uid, gid } = fs.statSync(file);
        await transport.chown(file, uid, gid);
        expect(await transport.getAttribute(file)).toMatchObject({ stUid: uid, stGid: gid });
        if (process.getuid?.() === 0) {
          await transport.chown(file, 65534, 65534);
          expect(fs.statSync(file)).toMatchObject({ uid: 65534, gid: 65534 });
        }
      });

      it('getAttribute describes a symlink itself and fails for a missing path', async () => {
        await fsp.writeFile(path.join(remote, 'target'), 'data');
        await fsp.symlink(path.join(remote, 'target'), path.join(remote, 'link'));
        const attributes = await transport.getAttribute(path.join(remote, 'link'));
        expect(attributes.stMode & 0o170000).toBe(0o120000);
        await expect(transport.getAttribute(path.join(remote, 'missing'))).rejects.toMatchObject({
          errno: 'ENOENT',
        });
      });
    });

    describe('put and get', () => {
      it('put/get and putfile/getfile move files', async () => {
        await fsp.mkdir(path.join(local, 'tmp_try'));
        await transport.mkdir(path.join(remote, 'tmp_try'));
        const localFile = path.join(local, 'tmp_try', 'file.txt');
        const retrieved = path.join(local, 'tmp_try', 'file_retrieved.txt');
        const remoteFile = path.join(remote, 'tmp_try', 'file_remote.txt');
        await fsp.writeFile(localFile, 'Viva Verdi\n');
        await transport.put(localFile, remoteFile);
        await transport.get(remoteFile, retrieved);
        expect(await fsp.readFile(retrieved, 'utf8')).toBe('Viva Verdi\n');
        expect(await transport.listdir(path.join(remote, 'tmp_try'))).toEqual(['file_remote.txt']);
        await transport.putfile(localFile, `${remoteFile}2`);
        await transport.getfile(`${remoteFile}2`, `${retrieved}2`);
        expect(await fsp.readFile(`${retrieved}2`, 'utf8')).toBe('Viva Verdi\n');
        // No temporary names are left behind.
        expect(sorted(await fsp.readdir(path.join(remote, 'tmp_try')))).toEqual([
          'file_remote.txt',
          'file_remote.txt2',
        ]);
      });

      it('handles names with spaces, quotes, ;, $, backticks and newlines without a shell reading them', async () => {
        const names = [
          'file with spaces.txt',
          "file'with'quotes.txt",
          'file"double".txt',
          'file;semicolon.txt',
          'file$dollar.txt',
          'file`backtick`.txt',
          'file\nnewline.txt',
          '-leading-dash',
          'file$(touch pwned).txt',
        ];
        const source = path.join(local, 'source.txt');
        await fsp.writeFile(source, 'test content');
        for (const name of names) {
          const remoteFile = path.join(remote, name);
          await transport.put(source, remoteFile);
          expect(await transport.isfile(remoteFile)).toBe(true);
          await transport.get(remoteFile, path.join(local, 'retrieved.txt'));
          expect(await fsp.readFile(path.join(local, 'retrieved.txt'), 'utf8')).toBe('test content');
          await transport.copy(remoteFile, `${remoteFile}.copy`);
          expect(fs.readFileSync(`${remoteFile}.copy`, 'utf8')).toBe('test content');
          const { retval, stdout } = await transport.execCommandWait(`cat -- ${escapeForBash(name)}`, {
            workdir: remote,
          });
          expect([retval, stdout]).toEqual([0, 'test content']);
          await transport.remove(remoteFile);
          await transport.remove(`${remoteFile}.copy`);
          expect(await transport.pathExists(remoteFile)).toBe(false);
        }
        expect(fs.existsSync(path.join(setup.home?.() ?? os.homedir(), 'pwned'))).toBe(false);
        expect(await fsp.readdir(remote)).toEqual([]);
      });

      it('refuses relative or empty local paths and reports missing sources', async () => {
        await fsp.mkdir(path.join(local, 'tmp_try'));
        await transport.mkdir(path.join(remote, 'tmp_try'));
        const retrieved = path.join(local, 'tmp_try', 'file_retrieved.txt');
        const remoteFile = path.join(remote, 'tmp_try', 'file_remote.txt');
        const localFile = path.join(local, 'file.txt');
        await fsp.writeFile(localFile, 'x');
        for (const op of ['put', 'putfile', 'puttree'] as const) {
          await expect(transport[op]('file.txt', remoteFile)).rejects.toBeInstanceOf(ValidationError);
          await expect(transport[op]('', remoteFile)).rejects.toBeInstanceOf(ValidationError);
          await expect(transport[op](retrieved, remoteFile)).rejects.toMatchObject({ errno: 'ENOENT' });
          await expect(transport[op](localFile, '')).rejects.toBeInstanceOf(TransportError);
        }
        for (const op of ['get', 'getfile', 'gettree'] as const) {
          await expect(transport[op](remoteFile, retrieved)).rejects.toBeInstanceOf(TransportError);
          await expect(transport[op](remoteFile, 'delete_me.txt')).rejects.toBeInstanceOf(ValidationError);
          await expect(transport[op](remoteFile, '')).rejects.toBeInstanceOf(ValidationError);
          await expect(transport[op]('', retrieved)).rejects.toBeInstanceOf(TransportError);
        }
        await transport.put(localFile, path.join(remote, 'missing'), { ignoreNonexisting: true });
        await transport.put(path.join(local, 'nothing'), remoteFile, { ignoreNonexisting: true });
        expect(fs.existsSync(remoteFile)).toBe(false);
        await transport.get(remoteFile, retrieved, { ignoreNonexisting: true });
        expect(fs.existsSync(retrieved)).toBe(false);
      });

      it('getfile overwrites an existing file (fresh mtime) unless overwrite is false', async () => {
        const remoteFile = path.join(remote, 'f.txt');
        const retrieved = path.join(local, 'f.txt');
        await fsp.writeFile(remoteFile, 'new');
        await fsp.writeFile(retrieved, 'old');
        const past = new Date(Date.now() - 3600_000);
        await fsp.utimes(retrieved, past, past);
        await expect(transport.getfile(remoteFile, retrieved, { overwrite: false })).rejects.toMatchObject({
          errno: 'EEXIST',
        });
        await transport.getfile(remoteFile, retrieved);
        expect(await fsp.readFile(retrieved, 'utf8')).toBe('new');
        expect(fs.statSync(retrieved).mtimeMs).toBeGreaterThan(past.getTime() + 1000);
        await expect(transport.putfile(retrieved, remoteFile, { overwrite: false })).rejects.toMatchObject({
          errno: 'EEXIST',
        });
      });

      it('puttree and gettree copy directory trees', async () => {
        const localSub = path.join(local, 'tmp_try', 'tmp1');
        const remoteSub = path.join(remote, 'tmp2');
        const retrievedSub = path.join(local, 'tmp_try', 'tmp3');
        await createHierarchy({ 'file.txt': 'Viva Verdi\n', deeper: { 'x.bin': 'xx', empty: {} } }, localSub);
        await transport.puttree(localSub, remoteSub);
        await transport.gettree(remoteSub, retrievedSub);
        expect(await serializeHierarchy(remoteSub)).toEqual(await serializeHierarchy(localSub));
        expect(await serializeHierarchy(retrievedSub)).toEqual(await serializeHierarchy(localSub));
      });

      it('gettree recreates nested remote directories', async () => {
        await createHierarchy({ sub: { path: { 'filename.txt': 'dummy\ncontent' } } }, remote);
        await transport.gettree(remote, path.join(local, 'copy'));
        expect(await fsp.readFile(path.join(local, 'copy', 'sub', 'path', 'filename.txt'), 'utf8')).toBe(
          'dummy\ncontent',
        );
      });

      const overwriteCases: [string, Hierarchy, Hierarchy, [string, string], Hierarchy][] = [
        ['. onto .', { 'file.txt': 'Viva verdi' }, {}, ['.', '.'], { 'file.txt': 'Viva verdi' }],
        [
          'local onto . (merges)',
          { local: { 'file.txt': 'New verdi' } },
          { local: { 'file.txt': 'Old verdi' } },
          ['local', '.'],
          { local: { 'file.txt': 'New verdi' } },
        ],
        [
          'local onto existing local (nests)',
          { local: { 'file.txt': 'Viva verdi' } },
          { local: { 'file.txt': 'Viva verdi' } },
          ['local', 'local'],
          { local: { 'file.txt': 'Viva verdi', local: { 'file.txt': 'Viva verdi' } } },
        ],
        [
          'nested into missing parents',
          { local: { sub: { 'file.txt': 'Viva verdi' } } },
          {},
          ['local/sub', 'local/sub'],
          { local: { sub: { 'file.txt': 'Viva verdi' } } },
        ],
      ];
      it.each(overwriteCases)(
        'overwrite semantics: %s',
        async (_label, localH, targetH, [src, dst], expected) => {
          const localFolder = path.join(base, 'l');
          const remoteFolder = path.join(base, 'r');
          const retrievedFolder = path.join(base, 'g');
          await createHierarchy(localH, localFolder);
          if (Object.keys(targetH).length > 0) {
            await createHierarchy(targetH, remoteFolder);
            await createHierarchy(targetH, retrievedFolder);
          }
          const join = (root: string, rel: string): string =>
            path.posix.normalize(`${root}/${rel}`).replace(/\/$/u, '');
          await transport.puttree(join(localFolder, src), join(remoteFolder, dst));
          await transport.gettree(join(localFolder, src), join(retrievedFolder, dst));
          expect(await serializeHierarchy(remoteFolder)).toEqual(expected);
          expect(await serializeHierarchy(retrievedFolder)).toEqual(expected);
          await expect(
            transport.put(join(localFolder, src), join(remoteFolder, dst), { overwrite: false }),
          ).rejects.toBeInstanceOf(TransportError);
          await expect(
            transport.get(join(remoteFolder, src), join(retrievedFolder, dst), { overwrite: false }),
          ).rejects.toBeInstanceOf(TransportError);
          await expect(
            transport.puttree(join(localFolder, src), join(remoteFolder, dst), { overwrite: false }),
          ).rejects.toMatchObject({ errno: 'EEXIST' });
          await expect(
            transport.gettree(join(remoteFolder, src), join(retrievedFolder, dst), { overwrite: false }),
          ).rejects.toMatchObject({ errno: 'EEXIST' });
        },
      );

      it('put follows aiida glob and destination rules', async () => {
        const workdir = path.join(remote, 'tmp_try');
        await transport.mkdir(workdir);
        const origin = path.join(local, 'origin');
        await createHierarchy({ 'a.txt': 'A', 'b.tmp': 'B', 'c.txt': 'C' }, origin);

        await transport.put(path.join(origin, '*.txt'), workdir);
        expect(sorted(await transport.listdir(workdir))).toEqual(['a.txt', 'c.txt']);
        await transport.remove(path.join(workdir, 'a.txt'));
        await transport.remove(path.join(workdir, 'c.txt'));

        await transport.put(origin, path.join(workdir, 'prova'));
        expect(await transport.listdir(workdir)).toEqual(['prova']);
        expect(sorted(await transport.listdir(path.join(workdir, 'prova')))).toEqual([
          'a.txt',
          'b.tmp',
          'c.txt',
        ]);
        await transport.rmtree(path.join(workdir, 'prova'));

        await transport.put(path.join(origin, '*.tmp'), path.join(workdir, 'prova'));
        expect(await transport.isfile(path.join(workdir, 'prova'))).toBe(true);
        await transport.remove(path.join(workdir, 'prova'));

        await expect(
          transport.put(path.join(origin, '*.txt'), path.join(workdir, 'prova')),
        ).rejects.toBeInstanceOf(TransportError);
        await expect(
          transport.put(path.join(origin, '*.txt'), path.join(workdir, '*')),
        ).rejects.toBeInstanceOf(ValidationError);

        await fsp.writeFile(path.join(workdir, 'existing.txt'), 'E');
        await expect(transport.put(origin, path.join(workdir, 'existing.txt'))).rejects.toMatchObject({
          errno: 'ENOTDIR',
        });
        await transport.remove(path.join(workdir, 'existing.txt'));

        await transport.mkdir(path.join(workdir, 'prova'));
        await transport.put(path.join(origin, 'a.txt'), path.join(workdir, 'prova'));
        expect(await transport.listdir(path.join(workdir, 'prova'))).toEqual(['a.txt']);
        await transport.rmtree(path.join(workdir, 'prova'));

        await transport.put(path.join(origin, 'a.txt'), path.join(workdir, 'prova'));
        expect(await transport.isfile(path.join(workdir, 'prova'))).toBe(true);
        await transport.remove(path.join(workdir, 'prova'));

        await transport.mkdir(path.join(workdir, 'prova'));
        await transport.put(origin, path.join(workdir, 'prova'));
        expect(await transport.listdir(path.join(workdir, 'prova'))).toEqual(['origin']);
        expect(sorted(await transport.listdir(path.join(workdir, 'prova', 'origin')))).toEqual([
          'a.txt',
          'b.tmp',
          'c.txt',
        ]);
      });

      it('get follows aiida glob and destination rules', async () => {
        const workdir = path.join(local, 'tmp_try');
        await fsp.mkdir(workdir);
        const origin = path.join(remote, 'origin');
        await createHierarchy({ 'a.txt': 'A', 'b.tmp': 'B', 'c.txt': 'C' }, origin);
        const names = async (p: string) => sorted(await fsp.readdir(p));

        await transport.get(path.join(origin, '*.txt'), workdir);
        expect(await names(workdir)).toEqual(['a.txt', 'c.txt']);
        await fsp.rm(path.join(workdir, 'a.txt'));
        await fsp.rm(path.join(workdir, 'c.txt'));

        await transport.get(origin, path.join(workdir, 'prova'));
        expect(await names(path.join(workdir, 'prova'))).toEqual(['a.txt', 'b.tmp', 'c.txt']);
        await fsp.rm(path.join(workdir, 'prova'), { recursive: true });

        await fsp.mkdir(path.join(workdir, 'prova'));
        await transport.get(origin, path.join(workdir, 'prova'));
        expect(await names(path.join(workdir, 'prova'))).toEqual(['origin']);
        expect(await names(path.join(workdir, 'prova', 'origin'))).toEqual(['a.txt', 'b.tmp', 'c.txt']);
        await fsp.rm(path.join(workdir, 'prova'), { recursive: true });

        await transport.get(path.join(origin, '*.tmp'), path.join(workdir, 'prova'));
        expect(fs.statSync(path.join(workdir, 'prova')).isFile()).toBe(true);
        await fsp.rm(path.join(workdir, 'prova'));

        await expect(
          transport.get(path.join(origin, '*.txt'), path.join(workdir, 'prova')),
        ).rejects.toBeInstanceOf(TransportError);
        await fsp.writeFile(path.join(workdir, 'existing.txt'), 'E');
        await expect(transport.get(origin, path.join(workdir, 'existing.txt'))).rejects.toMatchObject({
          errno: 'ENOTDIR',
        });
        await fsp.rm(path.join(workdir, 'existing.txt'));

        await fsp.mkdir(path.join(workdir, 'prova'));
        await transport.get(path.join(origin, 'a.txt'), path.join(workdir, 'prova'));
        expect(await names(path.join(workdir, 'prova'))).toEqual(['a.txt']);
        await fsp.rm(path.join(workdir, 'prova'), { recursive: true });

        await transport.get(path.join(origin, 'a.txt'), path.join(workdir, 'prova'));
        expect(await fsp.readFile(path.join(workdir, 'prova'), 'utf8')).toBe('A');
      });

      it('tree transfers keep or follow symlinks as asked', async () => {
        await createHierarchy({ tree: { 'target.txt': 'T' } }, local);
        await fsp.symlink('target.txt', path.join(local, 'tree', 'link.txt'));
        await transport.puttree(path.join(local, 'tree'), path.join(remote, 'followed'));
        expect(fs.lstatSync(path.join(remote, 'followed', 'link.txt')).isSymbolicLink()).toBe(false);
        expect(fs.readFileSync(path.join(remote, 'followed', 'link.txt'), 'utf8')).toBe('T');
        await transport.puttree(path.join(local, 'tree'), path.join(remote, 'kept'), { dereference: false });
        expect(fs.readlinkSync(path.join(remote, 'kept', 'link.txt'))).toBe('target.txt');
        await transport.gettree(path.join(remote, 'kept'), path.join(local, 'back'), { dereference: false });
        expect(fs.readlinkSync(path.join(local, 'back', 'link.txt'))).toBe('target.txt');
        await transport.gettree(path.join(remote, 'kept'), path.join(local, 'back2'));
        expect(fs.lstatSync(path.join(local, 'back2', 'link.txt')).isSymbolicLink()).toBe(false);
      });

      it('copyFromRemoteToRemote copies between two transports', async () => {
        const other = await setup.create();
        await other.open();
        try {
          await createHierarchy({ src: { 'f.txt': 'F', sub: { 'g.txt': 'G' } } }, remote);
          await transport.copyFromRemoteToRemote(other, path.join(remote, 'src'), path.join(remote, 'dst'));
          expect(await serializeHierarchy(path.join(remote, 'dst'))).toEqual({
            'f.txt': 'F',
            sub: { 'g.txt': 'G' },
          });
        } finally {
          await other.close();
        }
      });
    });

    describe('remote copy, rename and links', () => {
      it('copy follows aiida glob and destination rules', async () => {
        const workdir = path.join(remote, 'tmp_try');
        const origin = path.join(workdir, 'origin');
        await createHierarchy({ 'a.txt': 'A', 'b.tmp': 'B', 'c.txt': 'C' }, origin);

        await transport.copy(path.join(origin, '*.txt'), workdir);
        expect(sorted(await transport.listdir(workdir))).toEqual(['a.txt', 'c.txt', 'origin']);
        await transport.remove(path.join(workdir, 'a.txt'));
        await transport.remove(path.join(workdir, 'c.txt'));

        await transport.copy(origin, path.join(workdir, 'prova'));
        expect(sorted(await transport.listdir(workdir))).toEqual(['origin', 'prova']);
        expect(sorted(await transport.listdir(path.join(workdir, 'prova')))).toEqual([
          'a.txt',
          'b.tmp',
          'c.txt',
        ]);
        await transport.rmtree(path.join(workdir, 'prova'));

        await transport.copy(path.join(origin, '*.tmp'), path.join(workdir, 'prova'));
        expect(await transport.isfile(path.join(workdir, 'prova'))).toBe(true);
        await transport.remove(path.join(workdir, 'prova'));

        await expect(
          transport.copy(path.join(origin, '*.txt'), path.join(workdir, 'prova')),
        ).rejects.toBeInstanceOf(TransportError);

        await transport.mkdir(path.join(workdir, 'prova'));
        await transport.copy(path.join(origin, 'a.txt'), path.join(workdir, 'prova'));
        expect(await transport.listdir(path.join(workdir, 'prova'))).toEqual(['a.txt']);
        await transport.rmtree(path.join(workdir, 'prova'));

        await transport.copy(path.join(origin, 'a.txt'), path.join(workdir, 'prova'));
        expect(await transport.isfile(path.join(workdir, 'prova'))).toBe(true);
        await transport.remove(path.join(workdir, 'prova'));

        await transport.mkdir(path.join(workdir, 'prova'));
        await transport.copy(origin, path.join(workdir, 'prova'));
        expect(await transport.listdir(path.join(workdir, 'prova'))).toEqual(['origin']);
        expect(sorted(await transport.listdir(path.join(workdir, 'prova', 'origin')))).toEqual([
          'a.txt',
          'b.tmp',
          'c.txt',
        ]);

        await expect(transport.copy(origin, '')).rejects.toBeInstanceOf(ValidationError);
        await expect(transport.copy('', origin)).rejects.toBeInstanceOf(ValidationError);
        await expect(
          transport.copy(path.join(workdir, 'none'), path.join(workdir, 'x')),
        ).rejects.toMatchObject({
          errno: 'ENOENT',
        });
        await expect(
          transport.copy(origin, path.join(workdir, 'flat'), { recursive: false }),
        ).rejects.toMatchObject({
          errno: 'EISDIR',
        });
      });

      it('copyfile and copytree copy, keeping symlinks unless dereference is set', async () => {
        await createHierarchy({ d: { 'f.txt': 'F' } }, remote);
        await fsp.symlink('f.txt', path.join(remote, 'd', 'l.txt'));
        await transport.copyfile(path.join(remote, 'd', 'l.txt'), path.join(remote, 'kept-link'));
        expect(fs.lstatSync(path.join(remote, 'kept-link')).isSymbolicLink()).toBe(true);
        await transport.copyfile(path.join(remote, 'd', 'l.txt'), path.join(remote, 'deref'), {
          dereference: true,
        });
        expect(fs.readFileSync(path.join(remote, 'deref'), 'utf8')).toBe('F');
        await transport.copytree(path.join(remote, 'd'), path.join(remote, 'd2'));
        expect(fs.readlinkSync(path.join(remote, 'd2', 'l.txt'))).toBe('f.txt');
        await transport.copytree(path.join(remote, 'd'), path.join(remote, 'd3'), { dereference: true });
        expect(fs.lstatSync(path.join(remote, 'd3', 'l.txt')).isSymbolicLink()).toBe(false);
        await expect(
          transport.copyfile(path.join(remote, 'none'), path.join(remote, 'x')),
        ).rejects.toMatchObject({
          errno: 'ENOENT',
        });
      });

      it('rename moves and refuses an existing destination', async () => {
        const oldFile = path.join(remote, 'oldfile.txt');
        const newFile = path.join(remote, 'newfile.txt');
        const another = path.join(remote, 'anotherfile.txt');
        await fsp.writeFile(oldFile, '');
        await fsp.writeFile(another, '');
        await transport.rename(oldFile, newFile);
        expect(fs.existsSync(oldFile)).toBe(false);
        expect(fs.existsSync(newFile)).toBe(true);
        await expect(transport.rename(newFile, another)).rejects.toThrow(/already exist/u);
        await expect(transport.rename(oldFile, another)).rejects.toMatchObject({ errno: 'ENOENT' });
        await expect(transport.rename('', another)).rejects.toBeInstanceOf(ValidationError);
      });

      it('symlink links one path, or every glob match into a directory', async () => {
        await createHierarchy({ a: 'A', b: 'B', links: {} }, remote);
        await transport.symlink(path.join(remote, 'a'), path.join(remote, 'link-a'));
        expect(fs.readlinkSync(path.join(remote, 'link-a'))).toBe(path.join(remote, 'a'));
        await transport.symlink(path.join(remote, '[ab]'), path.join(remote, 'links'));
        expect(sorted(fs.readdirSync(path.join(remote, 'links')))).toEqual(['a', 'b']);
        expect(fs.readFileSync(path.join(remote, 'links', 'b'), 'utf8')).toBe('B');
      });
    });

    describe('commands', () => {
      it('runs in a working directory whose name needs quoting', async () => {
        const sub = path.join(remote, `_'s f"#$x;\`y\``);
        await transport.mkdir(sub);
        const result = await transport.execCommandWait('pwd', { workdir: sub });
        expect(result).toEqual({ retval: 0, exitCode: 0, stdout: `${fs.realpathSync(sub)}\n`, stderr: '' });
        const missing = await transport.execCommandWait('pwd', { workdir: path.join(remote, 'missing') });
        expect(missing.retval).not.toBe(0);
        expect(missing.stderr).toContain('missing');
      });

      it('returns exit status and both streams', async () => {
        const result = await transport.execCommandWait('echo out; echo err >&2; exit 3');
        expect(result).toEqual({ retval: 3, exitCode: 3, stdout: 'out\n', stderr: 'err\n' });
      });

      it('feeds stdin from a string, bytes and streams, and keeps bytes undecoded', async () => {
        expect((await transport.execCommandWait('cat', { stdin: 'some_test String' })).stdout).toBe(
          'some_test String',
        );
        const bytes = Buffer.from('some_test bytes with non-unicode -> \xfa', 'latin1');
        const raw = await transport.execCommandWaitBytes('cat', { stdin: bytes });
        expect(raw.retval).toBe(0);
        expect(Buffer.compare(raw.stdout, bytes)).toBe(0);
        expect(raw.stderr.length).toBe(0);
        const fromStream = await transport.execCommandWaitBytes('cat', {
          stdin: Readable.from([bytes, bytes]),
        });
        expect(Buffer.compare(fromStream.stdout, Buffer.concat([bytes, bytes]))).toBe(0);
        async function* lines(): AsyncGenerator<string> {
          await Promise.resolve();
          yield 'a\n';
          yield 'b\n';
        }
        expect((await transport.execCommandWait('wc -l', { stdin: lines() })).stdout.trim()).toBe('2');
        await expect(transport.execCommandWait('cat', { stdin: bytes })).rejects.toMatchObject({
          errno: 'EILSEQ',
        });
        expect((await transport.execCommandWait('cat', { stdin: bytes, encoding: 'latin1' })).stdout).toBe(
          bytes.toString('latin1'),
        );
        await expect(
          transport.execCommandWait('cat', { stdin: 1 as unknown as string }),
        ).rejects.toBeInstanceOf(ValidationError);
      });

      it('transfers large stdout and stderr, also interleaved, without deadlock', async () => {
        const line = 'This is a Unicødê štring\n';
        const reps = Math.ceil((5 * 1024 * 1024) / Buffer.byteLength(line)) + 1;
        const content = line.repeat(reps);
        const dir = path.join(remote, 'big');
        await fsp.mkdir(dir);
        await fsp.writeFile(path.join(dir, 'test.dat'), content);
        const out = await transport.execCommandWait('cat test.dat ; sleep 0.5 ; cat test.dat', {
          workdir: dir,
        });
        expect(out.retval).toBe(0);
        expect(out.stderr).toBe('');
        expect(out.stdout.length).toBe(content.length * 2);
        expect(out.stdout === content + content).toBe(true);
        const err = await transport.execCommandWait('cat test.dat >&2 ; sleep 0.5 ; cat test.dat >&2', {
          workdir: dir,
        });
        expect(err.stdout).toBe('');
        expect(err.stderr === content + content).toBe(true);
        const both = await transport.execCommandWait(
          `perl -CS -e 'my $l = "This is a Unic\\x{f8}d\\x{ea} \\x{161}tring\\n"; for (1..${reps}) { print STDOUT $l; print STDERR $l }'`,
        );
        expect(both.retval).toBe(0);
        expect(both.stdout === content).toBe(true);
        expect(both.stderr === content).toBe(true);
      });

      it('streams output while the command runs', async () => {
        const running = await transport.exec('echo first; sleep 0.3; echo second');
        const firstChunk = await new Promise<string>((resolve) =>
          running.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())),
        );
        expect(firstChunk).toBe('first\n');
        const rest: string[] = [];
        running.stdout.on('data', (chunk: Buffer) => rest.push(chunk.toString()));
        running.stderr.resume();
        expect(await running.done).toEqual({ retval: 0, signal: null });
        expect(rest.join('')).toBe('second\n');
      });

      it('accepts stdin written while the command runs', async () => {
        const running = await transport.exec('cat', { keepStdinOpen: true });
        const out: Buffer[] = [];
        running.stdout.on('data', (chunk: Buffer) => out.push(chunk));
        running.stderr.resume();
        running.stdin.write('hello ');
        running.stdin.end('world');
        await running.done;
        expect(Buffer.concat(out).toString()).toBe('hello world');
      });

      it('kills a command that outlives its timeout', async () => {
        const marker = path.join(remote, 'finished');
        // The command would run for a minute, longer than the test may take: the rejection comes from the timeout.
        await expect(
          transport.execCommandWait(`sleep 60; touch ${escapeForBash(marker)}`, { timeoutMs: 300 }),
        ).rejects.toMatchObject({ errno: 'ETIMEDOUT' });
        const check = await transport.execCommandWait('echo alive');
        expect(check.stdout).toBe('alive\n');
      });

      it('stops a command when its AbortSignal fires', async () => {
        const controller = new AbortController();
        const pending = transport.execCommandWait('sleep 5', { signal: controller.signal });
        setTimeout(() => controller.abort(new Error('user gave up')), 200);
        await expect(pending).rejects.toThrow('user gave up');
      });

      it('whoami returns the remote user', async () => {
        expect(await transport.whoami()).toBe(os.userInfo().username);
      });

      it('quotes any string so bash reads it back unchanged (property)', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => !s.includes('\0')),
            async (s) => {
              const { stdout, retval } = await transport.execCommandWait(`printf '%s' ${escapeForBash(s)}`);
              expect(retval).toBe(0);
              expect(stdout).toBe(s);
            },
          ),
          { numRuns: 25 },
        );
      });

      it('creates, lists and removes files with arbitrary names (property)', async () => {
        const nameArb = fc
          .string({ unit: 'binary', minLength: 1, maxLength: 24 })
          .filter((s) => !s.includes('/') && !s.includes('\0') && s !== '.' && s !== '..')
          .filter((s) => Buffer.byteLength(s) < 200);
        const source = path.join(local, 'payload');
        await fsp.writeFile(source, 'payload');
        await fc.assert(
          fc.asyncProperty(nameArb, async (name) => {
            const target = path.join(remote, name);
            await transport.putfile(source, target);
            expect(await transport.listdir(remote)).toContain(name);
            const { stdout } = await transport.execCommandWait(`cat -- ${escapeForBash(target)}`);
            expect(stdout).toBe('payload');
            await transport.remove(target);
            expect(await transport.pathExists(target)).toBe(false);
          }),
          { numRuns: 20 },
        );
      });
    });

    describe('archives', () => {
      it('compress reports aiida errors', async () => {
        await expect(
          transport.compress({
            format: 'zip' as 'tar',
            sources: remote,
            destination: path.join(remote, 'archive.tar'),
            rootDir: '/',
          }),
        ).rejects.toThrow('Unsupported compression format');
        await expect(
          transport.compress({
            format: 'tar',
            sources: path.join(remote, 'non_existing'),
            destination: path.join(remote, 'archive.tar'),
            rootDir: '/',
          }),
        ).rejects.toThrow(`${path.join(remote, 'non_existing')} does not exist`);
        await expect(
          transport.compress({
            format: 'tar',
            sources: path.join(remote, 'non_existing*'),
            destination: path.join(remote, 'archive.tar'),
            rootDir: '/',
          }),
        ).rejects.toThrow('does not exist, or a matching file/folder not found');
        await fsp.writeFile(path.join(remote, 'already_exist.tar'), '');
        await expect(
          transport.compress({
            format: 'tar',
            sources: remote,
            destination: path.join(remote, 'already_exist.tar'),
            rootDir: '/',
            overwrite: false,
          }),
        ).rejects.toThrow(`The remote destination ${path.join(remote, 'already_exist.tar')} already exists.`);
        await expect(
          transport.compress({ format: 'tar', sources: remote, destination: remote, rootDir: '/' }),
        ).rejects.toThrow(' is a directory, should include a filename.');
        await expect(
          transport.compress({
            format: 'tar',
            sources: remote,
            destination: path.join(remote, 'archive.tar'),
            rootDir: path.join(remote, 'non_existing_folder'),
          }),
        ).rejects.toThrow(
          `The relative root ${path.join(remote, 'non_existing_folder')} does not exist, or is not a directory.`,
        );
        await expect(
          transport.compress({
            format: 'tar',
            sources: remote,
            destination: path.join(local, 'a.tar'),
            rootDir: local,
          }),
        ).rejects.toBeInstanceOf(ValidationError);
        // A dangling symlink followed with dereference makes tar itself fail.
        await fsp.mkdir(path.join(remote, 'broken'));
        await fsp.symlink(path.join(remote, 'nowhere'), path.join(remote, 'broken', 'dangling'));
        await expect(
          transport.compress({
            format: 'tar',
            sources: path.join(remote, 'broken'),
            destination: path.join(remote, 'broken.tar'),
            rootDir: remote,
            dereference: true,
          }),
        ).rejects.toThrow('Error while creating the tar archive.');
      });

      for (const format of ['tar', 'tar.gz', 'tar.bz2', 'tar.xz'] as const) {
        it(`compress writes a ${format} archive relative to the root, with or without dereferencing`, async () => {
          const root = path.join(remote, 'root');
          await createHierarchy({ 'file.txt': 'file', folder: { file_1: '1' } }, root);
          await fsp.symlink(path.join(root, 'file.txt'), path.join(root, 'symlink'));
          for (const dereference of [false, true]) {
            const archive = path.join(remote, 'out', `archive-${dereference}.${format}`);
            await transport.compress({
              format,
              sources: root,
              destination: archive,
              rootDir: root,
              dereference,
            });
            const fetched = path.join(local, `archive-${dereference}.${format}`);
            await transport.get(archive, fetched);
            expect(await listArchive(fetched)).toEqual(['file.txt', 'folder', 'folder/file_1', 'symlink']);
            const extracted = path.join(local, `x-${dereference}`);
            await fsp.mkdir(extracted);
            await run('tar', ['-xf', fetched, '-C', extracted]);
            expect(fs.readFileSync(path.join(extracted, 'folder', 'file_1'), 'utf8')).toBe('1');
            if (dereference) {
              expect(fs.lstatSync(path.join(extracted, 'symlink')).isSymbolicLink()).toBe(false);
              expect(fs.readFileSync(path.join(extracted, 'symlink'), 'utf8')).toBe('file');
            } else {
              expect(fs.readlinkSync(path.join(extracted, 'symlink'))).toBe(path.join(root, 'file.txt'));
            }
          }
          const globArchive = path.join(remote, `glob.${format}`);
          const globRoot = path.join(remote, 'groot');
          await createHierarchy(
            {
              'file.txt': 'file',
              folder_1: { file_1: '1', file_11: '11', file_2: '2' },
              folder_2: { file_1: '1', file_11: '11', file_2: '2' },
            },
            globRoot,
          );
          await transport.compress({
            format,
            sources: path.join(globRoot, 'folder*', 'file_1*'),
            destination: globArchive,
            rootDir: globRoot,
          });
          await transport.getfile(globArchive, path.join(local, `glob.${format}`));
          expect(await listArchive(path.join(local, `glob.${format}`))).toEqual([
            'folder_1/file_1',
            'folder_1/file_11',
            'folder_2/file_1',
            'folder_2/file_11',
          ]);
        });

        it(`extract unpacks a ${format} archive`, async () => {
          const src = path.join(local, 'root');
          await createHierarchy({ 'file.txt': 'file', folder_1: { file_1: '1' } }, src);
          const archive = path.join(local, `archive.${format}`);
          const flag = { tar: '', 'tar.gz': 'z', 'tar.bz2': 'j', 'tar.xz': 'J' }[format];
          await run('tar', [`-c${flag}f`, archive, '-C', src, 'file.txt', 'folder_1']);
          let remoteArchive = path.join(remote, `archive.${format}`);
          await transport.put(archive, remoteArchive);
          await transport.extract({ source: remoteArchive, destination: path.join(remote, 'extracted') });
          expect(await serializeHierarchy(path.join(remote, 'extracted'))).toEqual({
            'file.txt': 'file',
            folder_1: { file_1: '1' },
          });
          await transport.extract({
            source: remoteArchive,
            destination: path.join(remote, 'stripped'),
            stripComponents: 1,
          });
          expect(await serializeHierarchy(path.join(remote, 'stripped'))).toEqual({ file_1: '1' });
          await expect(
            transport.extract({
              source: path.join(remote, 'non_existing'),
              destination: path.join(remote, 'e'),
            }),
          ).rejects.toThrow('does not exist');
          remoteArchive = path.join(remote, 'not-an-archive');
          await fsp.writeFile(remoteArchive, 'garbage');
          await expect(
            transport.extract({ source: remoteArchive, destination: path.join(remote, 'e2') }),
          ).rejects.toThrow('Error while extracting the tar archive.');
        });
      }
    });

    describe('glob', () => {
      it('matches per path component, tolerates missing folders and special characters', async () => {
        for (const sub of [
          'i.txt',
          'j.txt',
          'folder1/a/b.txt',
          'folder1/a/c.txt',
          'folder1/a/c.in',
          'folder1/c.txt',
          'folder1/e/f/g.txt',
          'folder2/x',
          'folder2/y/z',
          'folder2/aiida.pdos_atm#2(Al)_wfc#2(p)',
        ]) {
          await fsp.mkdir(path.dirname(path.join(remote, sub)), { recursive: true });
          await fsp.writeFile(path.join(remote, sub), 'touch');
        }
        const at = (...subs: string[]) => sorted(subs.map((s) => path.join(remote, s)));
        expect(await transport.glob(`${remote}/non_existing/*.txt`)).toEqual([]);
        expect(sorted(await transport.glob(`${remote}/*.txt`))).toEqual(at('i.txt', 'j.txt'));
        expect(sorted(await transport.glob(`${remote}/folder1/*.txt`))).toEqual(at('folder1/c.txt'));
        expect(sorted(await transport.glob(`${remote}/folder1/*/*.txt`))).toEqual(
          at('folder1/a/b.txt', 'folder1/a/c.txt'),
        );
        expect(sorted(await transport.glob(`${remote}/folder*/*`))).toEqual(
          at(
            'folder1/a',
            'folder1/c.txt',
            'folder2/x',
            'folder2/y',
            'folder1/e',
            'folder2/aiida.pdos_atm#2(Al)_wfc#2(p)',
          ),
        );
        expect(sorted(await transport.glob(`${remote}/folder1/*/*/*.txt`))).toEqual(at('folder1/e/f/g.txt'));
        expect(await transport.glob(`${remote}/folder2/aiida.pdos*`)).toEqual(
          at('folder2/aiida.pdos_atm#2(Al)_wfc#2(p)'),
        );
        expect(await transport.glob(`${remote}/i.txt`)).toEqual(at('i.txt'));
      });
    });

    describe('gotocomputer', () => {
      it('builds a one-liner that enters the directory or says it is gone', () => {
        const command = transport.gotocomputerCommand("/tmp/it's here");
        expect(command).toContain('seems to have been deleted');
        expect(command).toContain('bash -l');
      });
    });
  });
}
