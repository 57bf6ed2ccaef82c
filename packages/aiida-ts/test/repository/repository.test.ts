import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FileNotFoundError,
  IsADirectoryError,
  ModificationNotAllowedError,
  NotADirectoryError,
  RepositoryError,
  RepositoryPathError,
} from '../../src/errors.js';
import {
  DiskObjectStoreRepositoryBackend,
  FileType,
  Repository,
  SandboxRepositoryBackend,
} from '../../src/repository.js';
import type { RepositoryBackend, WalkEntry } from '../../src/repository.js';
import { collect, readAll } from './backend-contract.js';

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

const backends: [string, (dir: string) => Promise<RepositoryBackend>][] = [
  ['SandboxRepositoryBackend', () => Promise.resolve(new SandboxRepositoryBackend())],
  [
    'DiskObjectStoreRepositoryBackend',
    async (dir) => {
      const backend = new DiskObjectStoreRepositoryBackend({ folder: join(dir, 'container') });
      await backend.initialise();
      return backend;
    },
  ],
];

describe.each(backends)('Repository over %s', (_, makeBackend) => {
  let dir: string;
  let backend: RepositoryBackend;
  let repository: Repository;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiida-ts-repo-'));
    backend = await makeBackend(dir);
    repository = new Repository({ backend });
  });

  afterEach(async () => {
    await backend.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('starts empty, with metadata {}', async () => {
    expect(repository.isEmpty()).toBe(true);
    expect(repository.serialize()).toEqual({});
    expect(repository.listObjectNames()).toEqual([]);
    expect(await collect(repository.walk())).toEqual([{ path: '.', dirnames: [], filenames: [] }]);
  });

  it('creates implicit directories and lists names sorted', async () => {
    await repository.putObjectFromBuffer('relative/path', 'content');
    await repository.putObjectFromBuffer('b.txt', Buffer.from('b'));
    await repository.putObjectFromBuffer('a.txt', Buffer.from('a'));
    expect(repository.listObjectNames()).toEqual(['a.txt', 'b.txt', 'relative']);
    expect(repository.listObjectNames('relative')).toEqual(['path']);
    const [entry] = repository.listObjects('relative');
    expect(entry).toMatchObject({ name: 'path', fileType: FileType.FILE, key: sha('content') });
    expect(repository.getObject('relative').fileType).toBe(FileType.DIRECTORY);
    expect(repository.serialize()).toEqual({
      o: {
        relative: { o: { path: { k: sha('content') } } },
        'b.txt': { k: sha('b') },
        'a.txt': { k: sha('a') },
      },
    });
  });

  it('creates nested directories in one call and keeps empty ones', () => {
    repository.createDirectory('x/y/z');
    expect(repository.listObjectNames('x/y')).toEqual(['z']);
    expect(repository.serialize()).toEqual({ o: { x: { o: { y: { o: { z: {} } } } } } });
    expect(Repository.flatten(repository.serialize())).toEqual({ 'x/': null, 'x/y/': null, 'x/y/z/': null });
  });

  it('rejects absolute paths, .. escapes and empty names with a clear error', async () => {
    for (const bad of ['/etc/passwd', '../outside', 'a/../../b', 'a//b', '']) {
      await expect(repository.putObjectFromBuffer(bad, 'x')).rejects.toBeInstanceOf(RepositoryPathError);
    }
    await expect(repository.putObjectFromBuffer('/abs', 'x')).rejects.toThrow(
      'path `/abs` is not a relative path',
    );
    await expect(repository.putObjectFromBuffer('a/../b', 'x')).rejects.toThrow(/escapes its folder/);
    await expect(repository.putObjectFromBuffer('a//b', 'x')).rejects.toThrow(/empty name/);
    expect(() => repository.createDirectory(undefined as unknown as string)).toThrow(RepositoryPathError);
    expect(() => repository.getObject(42 as unknown as string)).toThrow(/must be a string/);
    // Nothing was written for a rejected path.
    expect(await collect(backend.listObjects())).toEqual([]);
    // `.` parts and a trailing slash are harmless, as with pathlib.
    await repository.putObjectFromBuffer('./dir/./file', 'ok');
    expect(repository.hasObject('dir/')).toBe(true);
    expect(repository.hasObject('dir/file')).toBe(true);
  });

  it('raises aiida’s errors for missing objects and wrong kinds', async () => {
    await repository.putObjectFromBuffer('dir/file', 'x');
    expect(() => repository.getObject('nope')).toThrow(FileNotFoundError);
    expect(() => repository.getObject('nope')).toThrow('object with path `nope` does not exist.');
    expect(() => repository.getObject('dir/file/deeper')).toThrow(FileNotFoundError);
    expect(() => repository.getDirectory('dir/file')).toThrow(NotADirectoryError);
    expect(() => repository.getFile('dir')).toThrow(IsADirectoryError);
    expect(() => repository.listObjects('dir/file')).toThrow(NotADirectoryError);
    expect(() => repository.listObjects('missing')).toThrow(FileNotFoundError);
    await expect(repository.open('missing')).rejects.toBeInstanceOf(FileNotFoundError);
    await expect(repository.putObjectFromBuffer('dir/file/sub', 'x')).rejects.toBeInstanceOf(
      NotADirectoryError,
    );
    await expect(repository.putObjectFromBuffer('dir', 'x')).rejects.toBeInstanceOf(IsADirectoryError);
    expect(() => repository.createDirectory('dir/file')).toThrow(NotADirectoryError);
    expect(repository.hasObject('missing')).toBe(false);
  });

  it('stores from a buffer, a stream and a file, and reads back', async () => {
    await repository.putObjectFromBuffer('bytes', new Uint8Array([1, 2, 3]));
    await repository.putObjectFromStream('stream', Readable.from([Buffer.from('str'), Buffer.from('eam')]));
    const local = join(dir, 'local.txt');
    await writeFile(local, 'from file');
    await repository.putObjectFromFile('sub/file.txt', local);
    expect(await repository.getObjectContent('bytes')).toEqual(Buffer.from([1, 2, 3]));
    expect(await repository.getObjectContent('stream', 'utf8')).toBe('stream');
    expect((await readAll(await repository.open('sub/file.txt'))).toString()).toBe('from file');
    expect(await repository.getObjectSize('sub/file.txt')).toBe(9);
    await expect(repository.putObjectFromFile('x', join(dir, 'absent'))).rejects.toBeInstanceOf(
      FileNotFoundError,
    );
    await expect(repository.putObjectFromFile('x', dir)).rejects.toBeInstanceOf(IsADirectoryError);
  });

  it('overwrites a file at the same path', async () => {
    await repository.putObjectFromBuffer('f', 'one');
    await repository.putObjectFromBuffer('f', 'two');
    expect(await repository.getObjectContent('f', 'utf8')).toBe('two');
    expect(repository.listObjectNames()).toEqual(['f']);
  });

  it('imports a local tree with nested and empty folders, optionally under a prefix', async () => {
    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'sub', 'deeper'), { recursive: true });
    await mkdir(join(tree, 'empty'));
    await writeFile(join(tree, 'top.txt'), 'top');
    await writeFile(join(tree, 'sub', 'deeper', 'leaf.txt'), 'leaf');
    await repository.putObjectFromTree(tree);
    expect(repository.listObjectNames()).toEqual(['empty', 'sub', 'top.txt']);
    expect(await repository.getObjectContent('sub/deeper/leaf.txt', 'utf8')).toBe('leaf');
    await repository.putObjectFromTree(tree, 'prefix/here');
    expect(repository.listObjectNames('prefix/here')).toEqual(['empty', 'sub', 'top.txt']);
    await expect(repository.putObjectFromTree('relative/dir')).rejects.toThrow(/is not an absolute path/);
    await symlink(join(tree, 'top.txt'), join(tree, 'link.txt'));
    await repository.putObjectFromTree(tree, 'with-link');
    expect(await repository.getObjectContent('with-link/link.txt', 'utf8')).toBe('top');
    await symlink(join(dir, 'absent'), join(tree, 'broken'));
    await expect(repository.putObjectFromTree(tree, 'broken-link')).rejects.toThrow(/points nowhere/);
    const empty = join(dir, 'nothing');
    await mkdir(empty);
    await repository.putObjectFromTree(empty, 'only-dir');
    expect(repository.getObject('only-dir').isDir()).toBe(true);
  });

  it('walks bottom-up like os.walk, including empty directories', async () => {
    await repository.putObjectFromBuffer('a/b/file1', '1');
    await repository.putObjectFromBuffer('a/file2', '2');
    repository.createDirectory('a/empty');
    await repository.putObjectFromBuffer('top', 't');
    const steps: WalkEntry[] = await collect(repository.walk());
    expect(steps).toEqual([
      { path: 'a/b', dirnames: [], filenames: ['file1'] },
      { path: 'a/empty', dirnames: [], filenames: [] },
      { path: 'a', dirnames: ['b', 'empty'], filenames: ['file2'] },
      { path: '.', dirnames: ['a'], filenames: ['top'] },
    ]);
    expect(await collect(repository.walk('a/b'))).toEqual([
      { path: 'a/b', dirnames: [], filenames: ['file1'] },
    ]);
    expect(() => repository.walk('top')).toThrow(NotADirectoryError);
  });

  it('copies the tree to a local folder, whole or from a sub-path', async () => {
    await repository.putObjectFromBuffer('a/b/file1', 'one');
    await repository.putObjectFromBuffer('a/file2', 'two');
    repository.createDirectory('a/empty');
    const whole = join(dir, 'out-whole');
    await repository.copyTree(whole);
    expect(await readFile(join(whole, 'a', 'b', 'file1'), 'utf8')).toBe('one');
    expect((await stat(join(whole, 'a', 'empty'))).isDirectory()).toBe(true);
    const part = join(dir, 'out-part');
    await repository.copyTree(part, 'a');
    expect((await readdir(part)).sort()).toEqual(['b', 'empty', 'file2']);
    await expect(repository.copyTree('relative')).rejects.toThrow(/not an absolute path/);
    await expect(repository.copyTree(part, 'a/file2')).rejects.toBeInstanceOf(NotADirectoryError);
  });

  it('soft-deletes by default and hard-deletes on request', async () => {
    await repository.putObjectFromBuffer('soft', 'soft content');
    await repository.putObjectFromBuffer('hard', 'hard content');
    await repository.deleteObject('soft');
    expect(repository.hasObject('soft')).toBe(false);
    expect(await backend.hasObject(sha('soft content'))).toBe(true);
    await repository.deleteObject('hard', { hardDelete: true });
    expect(await backend.hasObject(sha('hard content'))).toBe(false);
    repository.createDirectory('dir');
    await expect(repository.deleteObject('dir')).rejects.toBeInstanceOf(IsADirectoryError);
    await expect(repository.deleteObject('missing')).rejects.toBeInstanceOf(FileNotFoundError);
    expect(repository.isEmpty()).toBe(false);
  });

  it('erases all its files from the backend, also content used twice', async () => {
    await repository.putObjectFromBuffer('one', 'same');
    await repository.putObjectFromBuffer('two', 'same');
    await repository.putObjectFromBuffer('three', 'other');
    await repository.erase();
    expect(repository.isEmpty()).toBe(true);
    expect(await backend.hasObjects([sha('same'), sha('other')])).toEqual([false, false]);
  });

  it('round-trips through repository_metadata', async () => {
    await repository.putObjectFromBuffer('x/y', 'why');
    repository.createDirectory('empty');
    const metadata = repository.serialize();
    const loaded = Repository.fromSerialized(backend, JSON.parse(JSON.stringify(metadata)));
    expect(loaded.serialize()).toEqual(metadata);
    expect(await loaded.getObjectContent('x/y', 'utf8')).toBe('why');
    expect(await loaded.hash()).toBe(await repository.hash());
    expect(Repository.fromSerialized(backend, {}).isEmpty()).toBe(true);
    expect(Repository.fromSerialized(backend, null).isEmpty()).toBe(true);
    expect(() => Repository.fromSerialized(backend, { k: sha('x') })).toThrow(RepositoryError);
    expect(() => Repository.fromSerialized(backend, { o: { bad: { x: 1 } } })).toThrow(
      /invalid repository metadata: o\.bad/,
    );
  });

  it('clones another repository, empty folders included, into an independent copy', async () => {
    await repository.putObjectFromBuffer('dir/file', 'original');
    repository.createDirectory('dir/empty');
    const other = new Repository({ backend: new SandboxRepositoryBackend() });
    await other.clone(repository);
    expect(other.serialize()).toEqual(repository.serialize());
    expect(await other.hash()).toBe(await repository.hash());
    await other.putObjectFromBuffer('dir/file', 'changed');
    expect(await repository.getObjectContent('dir/file', 'utf8')).toBe('original');
    const sameBackend = new Repository({ backend });
    await sameBackend.clone(repository);
    expect(sameBackend.serialize()).toEqual(repository.serialize());
    await expect(sameBackend.clone({} as Repository)).rejects.toThrow('source is not a Repository');
  });

  it('hashes the content tree: stable, order-independent for files, sensitive to content and names', async () => {
    await repository.putObjectFromBuffer('a', '1');
    await repository.putObjectFromBuffer('b', '2');
    const first = await repository.hash();
    const reordered = new Repository();
    await reordered.putObjectFromBuffer('b', '2');
    await reordered.putObjectFromBuffer('a', '1');
    expect(await reordered.hash()).toBe(first);
    await reordered.putObjectFromBuffer('a', 'changed');
    expect(await reordered.hash()).not.toBe(first);
    const renamed = new Repository();
    await renamed.putObjectFromBuffer('a2', '1');
    await renamed.putObjectFromBuffer('b', '2');
    expect(await renamed.hash()).not.toBe(first);
    expect(await new Repository().hash()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses every change once frozen, but still reads', async () => {
    await repository.putObjectFromBuffer('kept', 'stay');
    repository.freeze();
    expect(repository.isFrozen).toBe(true);
    await expect(repository.putObjectFromBuffer('new', 'x')).rejects.toBeInstanceOf(
      ModificationNotAllowedError,
    );
    await expect(
      repository.putObjectFromStream('new', Readable.from([Buffer.from('x')])),
    ).rejects.toBeInstanceOf(ModificationNotAllowedError);
    await expect(repository.putObjectFromFile('new', '/etc/hostname')).rejects.toBeInstanceOf(
      ModificationNotAllowedError,
    );
    await expect(repository.putObjectFromTree(dir)).rejects.toBeInstanceOf(ModificationNotAllowedError);
    await expect(repository.deleteObject('kept')).rejects.toBeInstanceOf(ModificationNotAllowedError);
    await expect(repository.erase()).rejects.toBeInstanceOf(ModificationNotAllowedError);
    await expect(repository.clone(new Repository())).rejects.toBeInstanceOf(ModificationNotAllowedError);
    expect(() => repository.createDirectory('d')).toThrow(ModificationNotAllowedError);
    expect(() => repository.reset()).toThrow(
      'cannot reset the repository: the repository is frozen (the node is stored)',
    );
    expect(await repository.getObjectContent('kept', 'utf8')).toBe('stay');
    const loaded = Repository.fromSerialized(backend, repository.serialize(), { frozen: true });
    await expect(loaded.putObjectFromBuffer('x', 'y')).rejects.toBeInstanceOf(ModificationNotAllowedError);
  });

  it('lists file keys and flattens metadata as aiida', async () => {
    await repository.putObjectFromBuffer('x/one', '1');
    await repository.putObjectFromBuffer('two', '2');
    repository.createDirectory('x/empty');
    expect(repository.getFileKeys().sort()).toEqual([sha('1'), sha('2')].sort());
    expect(Repository.flatten(repository.serialize())).toEqual({
      'x/': null,
      'x/one': sha('1'),
      'x/empty/': null,
      two: sha('2'),
    });
    expect(Repository.flatten(null)).toEqual({});
  });
});

describe('Repository storing', () => {
  it('keeps its hash when files move from an in-memory sandbox to a disk container (storing a node)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aiida-ts-repo-'));
    try {
      const unstored = new Repository();
      await unstored.putObjectFromBuffer('relative/path', 'content');
      const container = new DiskObjectStoreRepositoryBackend({ folder: join(dir, 'container') });
      await container.initialise();
      const stored = new Repository({ backend: container });
      await stored.clone(unstored);
      stored.freeze();
      expect(await stored.hash()).toBe(await unstored.hash());
      const reloaded = Repository.fromSerialized(container, JSON.parse(JSON.stringify(stored.serialize())), {
        frozen: true,
      });
      expect(await reloaded.getObjectContent('relative/path', 'utf8')).toBe('content');
      expect(await reloaded.hash()).toBe(await unstored.hash());
      expect(reloaded.uuid).toBe(container.uuid);
      await container.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
