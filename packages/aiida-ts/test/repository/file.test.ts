import { describe, expect, it } from 'vitest';
import { RepositoryError } from '../../src/errors.js';
import { File, FileType } from '../../src/repository.js';

const KEY = 'a'.repeat(64);

describe('File (repository entry)', () => {
  it('defaults to an empty, unnamed directory', () => {
    const file = new File();
    expect(file.name).toBe('');
    expect(file.fileType).toBe(FileType.DIRECTORY);
    expect(file.key).toBeNull();
    expect(file.objects.size).toBe(0);
    expect(file.isDir()).toBe(true);
  });

  it('rejects a directory with a key, a file with children and wrong types', () => {
    expect(() => new File({ key: KEY })).toThrow('an object of type `directory` cannot define a key');
    expect(() => new File({ fileType: FileType.FILE, key: KEY, objects: {} })).toThrow(
      /cannot define any objects/,
    );
    expect(() => new File({ name: 1 as unknown as string })).toThrow(RepositoryError);
    expect(() => new File({ fileType: 'link' as FileType })).toThrow(/fileType/);
    expect(() => new File({ objects: { a: 'b' as unknown as File } })).toThrow(/File instances/);
  });

  it('serialises files as {k}, directories as {o} and empty directories as {}', () => {
    const tree = new File({
      objects: {
        'a.txt': new File({ name: 'a.txt', fileType: FileType.FILE, key: KEY }),
        empty: new File({ name: 'empty' }),
        sub: new File({
          name: 'sub',
          objects: { 'b.txt': new File({ name: 'b.txt', fileType: FileType.FILE, key: KEY }) },
        }),
      },
    });
    const serialized = tree.serialize();
    expect(serialized).toEqual({
      o: { 'a.txt': { k: KEY }, empty: {}, sub: { o: { 'b.txt': { k: KEY } } } },
    });
    expect(new File().serialize()).toEqual({});
    const back = File.fromSerialized(serialized);
    expect(back.equals(tree)).toBe(true);
    expect(JSON.stringify(back.serialize())).toBe(JSON.stringify(serialized));
  });

  it('compares structurally, whatever the order of children', () => {
    const a = File.fromSerialized({ o: { x: { k: KEY }, y: {} } });
    const b = File.fromSerialized({ o: { y: {}, x: { k: KEY } } });
    const c = File.fromSerialized({ o: { y: {}, x: { k: 'b'.repeat(64) } } });
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
    expect(a.equals({})).toBe(false);
  });

  it('rejects malformed metadata with the path of the problem', () => {
    expect(() => File.fromSerialized({ o: { 'a/b': { k: KEY } } })).toThrow(/o\.a\/b/);
    expect(() => File.fromSerialized({ o: { x: { k: '' } } })).toThrow(/key cannot be empty/);
    expect(() => File.fromSerialized({ o: { x: { k: KEY, o: {} } } })).toThrow(RepositoryError);
    expect(() => File.fromSerialized({ o: { '..': {} } })).toThrow(
      'invalid repository metadata: o...: Invalid key in record',
    );
  });

  it('keeps a file named __proto__ as a plain entry', () => {
    const tree = File.fromSerialized(JSON.parse(`{"o": {"__proto__": {"k": "${KEY}"}}}`));
    expect([...tree.objects.keys()]).toEqual(['__proto__']);
    expect(JSON.stringify(tree.serialize())).toBe(`{"o":{"__proto__":{"k":"${KEY}"}}}`);
  });
});
