import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  IndexError,
  ModificationNotAllowedError,
  NotExistentError,
  ValidationError,
} from '../../src/errors.js';
import {
  ArrayData,
  Bool,
  Computer,
  Dict,
  EnumData,
  Float,
  FolderData,
  Int,
  JsonableData,
  KpointsData,
  LinkType,
  List,
  loadNode,
  NdArray,
  readNpy,
  RemoteData,
  SinglefileData,
  Str,
  StructureData,
  toAiidaType,
  writeNpy,
  XyData,
} from '../../src/orm.js';
import { openSqliteTemp, tempFolder } from '../storage/helpers.js';
import { useStorage } from './setup.js';

describe('npy files', () => {
  it('writes numpy 1.0 headers byte for byte and reads them back', () => {
    const matrix = NdArray.from(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      'float64',
    );
    const bytes = writeNpy(matrix);
    expect(bytes.length).toBe(176);
    expect(bytes.subarray(0, 10)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 118, 0]));
    expect(bytes.subarray(10, 128).toString('latin1')).toBe(
      `{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }${' '.repeat(58)}\n`,
    );
    expect(readNpy(bytes).equals(matrix)).toBe(true);
    const vector = NdArray.from([1, 2, 3, 4], 'int32');
    expect(writeNpy(vector).subarray(10, 128).toString('latin1')).toContain("'shape': (4,), }");
    expect(readNpy(writeNpy(vector)).toNested()).toEqual([1, 2, 3, 4]);
  });

  it('round-trips every dtype, scalars and empty arrays', () => {
    for (const dtype of [
      'float64',
      'float32',
      'int64',
      'int32',
      'int16',
      'int8',
      'uint64',
      'uint32',
      'uint16',
      'uint8',
      'bool',
    ] as const) {
      const source =
        dtype === 'bool'
          ? [
              [true, false],
              [false, true],
            ]
          : [
              [1, 2],
              [3, 4],
            ];
      const array = NdArray.from(source, dtype);
      const back = readNpy(writeNpy(array));
      expect(back.dtype).toBe(dtype);
      expect(back.toNested()).toEqual(source);
    }
    expect(readNpy(writeNpy(new NdArray(new Float64Array([3.5]), [], 'float64'))).toNested()).toBe(3.5);
    expect(readNpy(writeNpy(new NdArray(new Float64Array(0), [0, 3]))).shape).toEqual([0, 3]);
  });

  it('reads big-endian and Fortran-ordered files', () => {
    const header = (descr: string, fortran: boolean, shape: string): Buffer => {
      let text = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': ${shape}, }`;
      text += ' '.repeat(64 - ((10 + text.length + 1) % 64)) + '\n';
      const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
      prefix.writeUInt16LE(text.length, 8);
      return Buffer.concat([prefix, Buffer.from(text, 'latin1')]);
    };
    const be = Buffer.alloc(8);
    be.writeInt32BE(1, 0);
    be.writeInt32BE(-2, 4);
    expect(readNpy(Buffer.concat([header('>i4', false, '(2,)'), be])).toNested()).toEqual([1, -2]);
    // column-major [[1,2,3],[4,5,6]] is stored 1,4,2,5,3,6
    const fortran = Buffer.alloc(48);
    [1, 4, 2, 5, 3, 6].forEach((v, i) => fortran.writeDoubleLE(v, i * 8));
    expect(readNpy(Buffer.concat([header('<f8', true, '(2, 3)'), fortran])).toNested()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  it('refuses garbage, unknown dtypes and ragged arrays', () => {
    expect(() => readNpy(Buffer.from('not numpy'))).toThrow(ValidationError);
    expect(() => NdArray.from([[1, 2], [3]])).toThrow(/ragged/);
    expect(() => new NdArray(new Float64Array(3), [2, 2])).toThrow(ValidationError);
  });
});

describe('data types on core.sqlite_temp', () => {
  useStorage(openSqliteTemp);

  it('base types have defaults, values and value equality, and round-trip', async () => {
    expect([new Int().value, new Float().value, new Str().value, new Bool().value]).toEqual([
      0,
      0,
      '',
      false,
    ]);
    const nodes = [new Int(2 ** 40), new Float(-0.1), new Str('héllo wörld'), new Bool(true)];
    for (const node of nodes) await node.store();
    const loaded = await Promise.all(nodes.map((n) => loadNode(n.pk!)));
    expect(loaded.map((n) => (n as Int).value)).toEqual([2 ** 40, -0.1, 'héllo wörld', true]);
    expect(loaded.map((n) => n.nodeType)).toEqual([
      'data.core.int.Int.',
      'data.core.float.Float.',
      'data.core.str.Str.',
      'data.core.bool.Bool.',
    ]);
    expect(new Int(5).equals(5)).toBe(true);
    expect(new Int(5).equals(new Int(5))).toBe(true);
    expect(new Int(5).equals(new Float(5))).toBe(false);
    expect(() => new Int(1.5)).toThrow(ValidationError);
    expect(() => new Float(Number.NaN)).toThrow(ValidationError);
    expect(() => {
      (loaded[0] as Int).value = 3;
    }).toThrow(ModificationNotAllowedError);
  });

  it('Dict is mutable until stored and compares by content', async () => {
    const dict = new Dict({ a: 1, nested: { b: [1, 2] } });
    dict.set('c', 'x');
    expect(dict.has('c')).toBe(true);
    expect(dict.keys()).toEqual(['a', 'nested', 'c']);
    expect(dict.get('missing')).toBeNull();
    expect(() => dict.getItem('missing')).toThrow(NotExistentError);
    expect(dict.equals({ c: 'x', nested: { b: [1, 2] }, a: 1 })).toBe(true);
    expect(dict.equals(new Dict({ a: 1 }))).toBe(false);
    await dict.store();
    expect(() => dict.set('d', 1)).toThrow(ModificationNotAllowedError);
    expect((await loadNode<Dict>(dict.pk!)).getDict()).toEqual({ a: 1, nested: { b: [1, 2] }, c: 'x' });
  });

  it('List mirrors list operations and is immutable once stored', async () => {
    const list = new List([3, 1, 2]);
    list.append(4);
    list.extend([5, 6]);
    list.insert(0, 0);
    list.remove(6);
    expect(() => list.remove(42)).toThrow(/not in list/);
    expect(list.pop()).toBe(5);
    list.sort();
    expect(list.getList()).toEqual([0, 1, 2, 3, 4]);
    list.reverse();
    expect([list.index(4), list.count(1), list.length, list.get(-1)]).toEqual([0, 1, 5, 0]);
    const mixed = new List([1, 'a']);
    expect(() => mixed.sort()).toThrow(ValidationError);
    expect(() => new List().get(0)).toThrow(IndexError);
    await list.store();
    for (const mutate of [
      () => list.append(1),
      () => list.extend([1]),
      () => list.insert(0, 1),
      () => list.pop(),
      () => list.sort(),
      () => list.reverse(),
      () => list.remove(0),
    ]) {
      expect(mutate).toThrow(ModificationNotAllowedError);
    }
    expect((await loadNode<List>(list.pk!)).getList()).toEqual([4, 3, 2, 1, 0]);
    expect(list.equals([4, 3, 2, 1, 0])).toBe(true);
  });

  it('EnumData keeps name, value and identifier', async () => {
    const node = EnumData.fromObject(LinkType, 'CALL_CALC', 'aiida.common.links:LinkType');
    await node.store();
    const loaded = await loadNode<EnumData>(node.pk!);
    expect(loaded.getMember()).toEqual({
      name: 'CALL_CALC',
      value: 'call_calc',
      identifier: 'aiida.common.links:LinkType',
    });
    expect(loaded.attributes.all()).toEqual({
      name: 'CALL_CALC',
      value: 'call_calc',
      identifier: 'aiida.common.links:LinkType',
    });
    expect(loaded.equals(node)).toBe(true);
    expect(() => EnumData.fromObject(LinkType, 'NOPE', 'x:Y')).toThrow(ValidationError);
  });

  it('JsonableData keeps the fields with @class and @module', async () => {
    const node = new JsonableData({
      fields: { label: 'Gamma', coords: [0, 0, 0] },
      className: 'LatticePoint',
      module: 'fixture_defs',
    });
    await node.store();
    const loaded = await loadNode<JsonableData>(node.pk!);
    expect(loaded.getFields()).toEqual({ label: 'Gamma', coords: [0, 0, 0] });
    expect([loaded.className, loaded.module]).toEqual(['LatticePoint', 'fixture_defs']);
  });

  it('ArrayData stores each array as <name>.npy with its shape attribute', async () => {
    const node = new ArrayData({
      matrix: NdArray.from(
        [
          [1.5, 2.5, 3.5],
          [4.5, 5.5, 6.5],
        ],
        'float64',
      ),
      indices: NdArray.from([1, 2, 3, 4], 'int32'),
    });
    expect(node.getArrayNames()).toEqual(['matrix', 'indices']);
    await expect(node.getArray()).rejects.toThrow(ValidationError);
    await node.store();
    expect(node.attributes.all()).toEqual({ 'array|matrix': [2, 3], 'array|indices': [4] });
    expect(node.repository.listObjectNames()).toEqual(['indices.npy', 'matrix.npy']);
    const loaded = await loadNode<ArrayData>(node.pk!);
    expect((await loaded.getArray('matrix')).toNested()).toEqual([
      [1.5, 2.5, 3.5],
      [4.5, 5.5, 6.5],
    ]);
    expect((await loaded.getArray('indices')).dtype).toBe('int32');
    await expect(loaded.getArray('nope')).rejects.toBeInstanceOf(NotExistentError);
    expect(() => loaded.setArray('x', [1])).toThrow(ModificationNotAllowedError);
    expect(() => new ArrayData().setArray('bad name', [1])).toThrow(ValidationError);
    const single = new ArrayData(NdArray.from([1, 2]));
    expect((await single.getArray()).toNested()).toEqual([1, 2]);
  });

  it('XyData needs x and y of the same length and keeps names and units', async () => {
    const xy = new XyData({
      x: { array: [0, 1, 2], name: 'energy', units: 'eV' },
      y: [
        { array: [1, 2, 3], name: 'dos', units: 'states/eV' },
        { array: [0, 1, 3], name: 'idos', units: 'states' },
      ],
    });
    await xy.store();
    const loaded = await loadNode<XyData>(xy.pk!);
    const x = await loaded.getX();
    expect([x.name, x.units, x.array.toNested()]).toEqual(['energy', 'eV', [0, 1, 2]]);
    expect((await loaded.getY()).map((y) => [y.name, y.units, y.array.toNested()])).toEqual([
      ['dos', 'states/eV', [1, 2, 3]],
      ['idos', 'states', [0, 1, 3]],
    ]);
    const bad = new XyData();
    bad.setX([0, 1], 'x', 'u');
    expect(() => bad.setY([{ array: [1, 2, 3], name: 'y', units: 'u' }])).toThrow(ValidationError);
    await expect(new XyData().getX()).rejects.toBeInstanceOf(NotExistentError);
  });

  it('StructureData keeps cell, pbc, kinds and sites in aiida-core layout', async () => {
    const structure = new StructureData({
      cell: [
        [0, 2.715, 2.715],
        [2.715, 0, 2.715],
        [2.715, 2.715, 0],
      ],
    });
    structure.appendAtom({ position: [0, 0, 0], symbols: 'Si' });
    structure.appendAtom({ position: [1.3575, 1.3575, 1.3575], symbols: 'Si' });
    expect(() => structure.appendAtom({ position: [0, 0, 0], symbols: 'Si', mass: 30 })).toThrow(
      /different kind/,
    );
    expect(() => structure.appendAtom({ position: [0, 0, 0], symbols: 'Xx' })).toThrow(/not a valid element/);
    await structure.store();
    expect(structure.attributes.all()).toEqual({
      cell: [
        [0, 2.715, 2.715],
        [2.715, 0, 2.715],
        [2.715, 2.715, 0],
      ],
      pbc1: true,
      pbc2: true,
      pbc3: true,
      kinds: [{ symbols: ['Si'], weights: [1.0], mass: 28.0855, name: 'Si' }],
      sites: [
        { position: [0, 0, 0], kind_name: 'Si' },
        { position: [1.3575, 1.3575, 1.3575], kind_name: 'Si' },
      ],
    });
    const loaded = await loadNode<StructureData>(structure.pk!);
    expect(loaded.getFormula()).toBe('Si2');
    expect(loaded.getFormula('hill_compact')).toBe('Si');
    expect(loaded.getCellVolume()).toBeCloseTo(40.0258, 3);
    expect(() => loaded.appendAtom({ position: [0, 0, 0], symbols: 'Si' })).toThrow(
      ModificationNotAllowedError,
    );
    const organic = new StructureData();
    for (const symbol of ['O', 'H', 'C', 'H', 'H', 'H'])
      organic.appendAtom({ position: [0, 0, 0], symbols: symbol });
    expect(organic.getFormula()).toBe('CH4O');
    expect(organic.getFormula('count')).toBe('OHCH3');
  });

  it('KpointsData holds a mesh with offset or an explicit list with weights and cell', async () => {
    const mesh = new KpointsData();
    mesh.setKpointsMesh([4, 4, 2], [0.5, 0.5, 0]);
    await mesh.store();
    expect((await loadNode<KpointsData>(mesh.pk!)).getKpointsMesh()).toEqual({
      mesh: [4, 4, 2],
      offset: [0.5, 0.5, 0],
    });
    expect(() => new KpointsData().setKpointsMesh([0, 1, 1])).toThrow(ValidationError);

    const list = new KpointsData();
    list.setCell([
      [0, 2.715, 2.715],
      [2.715, 0, 2.715],
      [2.715, 2.715, 0],
    ]);
    list.setKpoints(
      [
        [0, 0, 0],
        [0.5, 0, 0],
        [0.5, 0.5, 0],
      ],
      { weights: [0.25, 0.5, 0.25] },
    );
    await list.store();
    const loaded = await loadNode<KpointsData>(list.pk!);
    expect(loaded.attributes.get('array|kpoints')).toEqual([3, 3]);
    expect(await loaded.getKpoints()).toEqual([
      [0, 0, 0],
      [0.5, 0, 0],
      [0.5, 0.5, 0],
    ]);
    expect(await loaded.getWeights()).toEqual([0.25, 0.5, 0.25]);
    const cartesian = await loaded.getKpoints({ cartesian: true });
    const rec = loaded.reciprocalCell;
    expect(cartesian[1]![0]).toBeCloseTo(0.5 * rec[0][0], 12);
    // reciprocal and direct cell are dual: a_i . b_j = 2π δ_ij
    const cell = loaded.cell;
    for (let i = 0; i < 3; i += 1) {
      for (let j = 0; j < 3; j += 1) {
        const dot = cell[i]![0] * rec[j]![0] + cell[i]![1] * rec[j]![1] + cell[i]![2] * rec[j]![2];
        expect(dot).toBeCloseTo(i === j ? 2 * Math.PI : 0, 10);
      }
    }
    const back = new KpointsData();
    back.setCell(cell);
    back.setKpoints(cartesian, { cartesian: true });
    const crystal = await back.getKpoints();
    crystal.flat().forEach((v, i) => expect(v).toBeCloseTo([0, 0, 0, 0.5, 0, 0, 0.5, 0.5, 0][i]!, 12));
  });

  it('SinglefileData holds exactly one file, from text, bytes or a local file', async () => {
    const node = await SinglefileData.fromString('line 1\nline 2 — ünïcode\n', 'notes.txt');
    await node.store();
    const loaded = await loadNode<SinglefileData>(node.pk!);
    expect(loaded.filename).toBe('notes.txt');
    expect(await loaded.getContent('utf8')).toBe('line 1\nline 2 — ünïcode\n');
    expect(loaded.repository.listObjectNames()).toEqual(['notes.txt']);
    const { folder, cleanup } = await tempFolder();
    try {
      await writeFile(path.join(folder, 'data.bin'), Buffer.from([0, 1, 2, 255]));
      const fromFile = await SinglefileData.fromFile(path.join(folder, 'data.bin'));
      expect(fromFile.filename).toBe('data.bin');
      expect(await fromFile.getContent()).toEqual(Buffer.from([0, 1, 2, 255]));
      const fromBytes = await SinglefileData.fromBytes(Buffer.from('x'));
      expect(fromBytes.filename).toBe('file.txt');
    } finally {
      await cleanup();
    }
    await expect(SinglefileData.fromString('x', 'a/b')).rejects.toThrow(ValidationError);
    await expect(new SinglefileData().store()).rejects.toThrow(/no file/);
    await expect(loaded.setFile('y', 'other.txt')).rejects.toThrow(ModificationNotAllowedError);
  });

  it('FolderData keeps nested files, shared content and empty directories', async () => {
    const { folder, cleanup } = await tempFolder();
    try {
      await mkdir(path.join(folder, 'sub', 'deeper'), { recursive: true });
      await mkdir(path.join(folder, 'empty_dir'));
      await writeFile(path.join(folder, 'README.txt'), 'top-level readme\n');
      await writeFile(path.join(folder, 'sub', 'deeper', 'same1.txt'), 'identical content\n');
      await writeFile(path.join(folder, 'sub', 'deeper', 'same2.txt'), 'identical content\n');
      const node = await FolderData.fromTree(folder);
      await node.store();
      const loaded = await loadNode<FolderData>(node.pk!);
      expect(loaded.repository.listObjectNames()).toEqual(['README.txt', 'empty_dir', 'sub']);
      expect(await loaded.repository.listFilePaths()).toEqual([
        'README.txt',
        'sub/deeper/same1.txt',
        'sub/deeper/same2.txt',
      ]);
      const meta = loaded.repositoryMetadata as { o: Record<string, { o?: Record<string, unknown> }> };
      expect(meta.o['empty_dir']).toEqual({});
      const keys = loaded.repository.getFileKeys();
      expect(new Set(keys).size).toBe(2);
      await expect(loaded.repository.putObjectFromBuffer('new.txt', 'x')).rejects.toBeInstanceOf(
        ModificationNotAllowedError,
      );
      const out = path.join(folder, 'copy');
      await loaded.repository.copyTree(out);
      expect(await readFile(path.join(out, 'sub', 'deeper', 'same2.txt'), 'utf8')).toBe(
        'identical content\n',
      );
    } finally {
      await cleanup();
    }
  });

  it('RemoteData needs a computer and an absolute path', async () => {
    const computer = await new Computer({
      label: `remote-host-${Date.now()}`,
      hostname: 'localhost',
      transportType: 'core.local',
      schedulerType: 'core.direct',
    }).store();
    const node = new RemoteData({ computer, remotePath: '/scratch/root/aiida_run/ab/cd/ef' });
    await node.store();
    const loaded = await loadNode<RemoteData>(node.pk!);
    expect(loaded.getRemotePath()).toBe('/scratch/root/aiida_run/ab/cd/ef');
    expect((await loaded.getComputer())!.label).toBe(computer.label);
    expect(() => new RemoteData({ computer, remotePath: 'relative' })).toThrow(ValidationError);
    const orphan = new RemoteData();
    orphan.setRemotePath('/tmp');
    await expect(orphan.store()).rejects.toThrow(/computer/);
  });

  it('toAiidaType maps plain values to data nodes', () => {
    expect(toAiidaType(true)).toBeInstanceOf(Bool);
    expect(toAiidaType(1)).toBeInstanceOf(Int);
    expect(toAiidaType(1.5)).toBeInstanceOf(Float);
    expect(toAiidaType('s')).toBeInstanceOf(Str);
    expect(toAiidaType([1])).toBeInstanceOf(List);
    expect(toAiidaType({ a: 1 })).toBeInstanceOf(Dict);
    expect(toAiidaType(NdArray.from([1]))).toBeInstanceOf(ArrayData);
    expect(() => toAiidaType(() => 1)).toThrow(ValidationError);
  });
});
