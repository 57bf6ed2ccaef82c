import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import {
  calcfunction,
  computeNodeHash,
  ExitCode,
  HASH_EXTRA_KEY,
  nodeType,
  run,
  runGetNode,
  workfunction,
} from 'aiida-ts/engine';
import { InputValidationError, InvalidOperationError, ProcessFailedError, ValidationError } from 'aiida-ts';
import {
  Bool,
  CalcFunctionNode,
  Dict,
  Float,
  Int,
  List,
  Log,
  type ProcessNode,
  Str,
  WorkFunctionNode,
} from 'aiida-ts/orm';
import { Repository } from 'aiida-ts/repository';
import type { StorageBackend } from 'aiida-ts/storage';
import { BACKENDS, linked, linkSummary, LinkType, useEngine } from './helpers.js';

const add = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function add({ x, y }) {
    return new Int(x.value + y.value);
  },
);
const mul = calcfunction(
  { inputs: { x: Int, y: Int }, outputs: Int, args: ['x', 'y'] },
  function mul({ x, y }) {
    return new Int(x.value * y.value);
  },
);
const addMulWf = workfunction(
  { name: 'addMulWf', inputs: { x: Int, y: Int, z: Int }, outputs: Int, args: ['x', 'y', 'z'] },
  async function addMulWf({ x, y, z }) {
    return mul(await add(x, y), z);
  },
);

const withDefaults = calcfunction(
  {
    inputs: {
      a: Int,
      b: { type: Int, default: 10 },
      c: { type: Int, default: () => new Int(100) },
      d: { type: Str, required: false },
    },
    outputs: Int,
  },
  function withDefaults({ a, b, c, d }) {
    return new Int(a.value + b.value + c.value + (d === undefined ? 0 : d.value.length));
  },
);

const sumAll = calcfunction(
  { inputs: { first: Int }, outputs: Int, args: ['first'], variadic: { name: 'args', type: Int } },
  function sumAll({ first, args }) {
    return new Int(args.reduce((total, item) => total + item.value, first.value));
  },
);

const keywords = calcfunction({ inputs: {}, dynamic: Int }, function keywords(inputs) {
  return { count: new Int(Object.keys(inputs).length) };
});

const divmod = calcfunction(
  { inputs: { a: Int, b: Int }, outputs: { quotient: Int, remainder: Int }, args: ['a', 'b'] },
  function divmod({ a, b }) {
    return { quotient: new Int(Math.floor(a.value / b.value)), remainder: new Int(a.value % b.value) };
  },
);

const nested = calcfunction({ inputs: { x: Int } }, function nested({ x }) {
  return { nested: { output: new Int(x.value * 2) }, plain: new Str('s') };
});

const transformTypes = calcfunction(
  { name: 'transform_types', inputs: { f: Float, s: Str, b: Bool, d: Dict, l: List } },
  function transformTypes({ f, s, b, d, l }) {
    return {
      scaled: new Float(f.value * 2.5),
      shout: new Str(`${s.value.toUpperCase()}!`),
      negated: new Bool(!b.value),
      merged: new Dict({ ...d.getDict(), added: { n: l.getList().length } }),
      reversed: new List([...l.getList()].reverse()),
      count: new Int(l.getList().length),
    };
  },
);

const teapot = calcfunction({ inputs: { x: Int }, outputs: Int }, function teapot() {
  return new ExitCode(418, { message: 'I am a teapot' });
});

const explode = calcfunction({ inputs: { x: Int }, outputs: Int }, function explode({ x }) {
  throw new RangeError(`cannot handle ${x.value}`);
});

const returnsNew = workfunction({ inputs: { x: Int } }, function returnsNew({ x }) {
  return new Int(x.value + 1);
});

const returnsInput = calcfunction({ inputs: { x: Int } }, function returnsInput({ x }) {
  return x;
});

const createsTwice = calcfunction(
  { inputs: { x: Int }, outputs: { first: Int, second: Int } },
  function createsTwice({ x }) {
    const twice = new Int(x.value * 2);
    return { first: twice, second: twice };
  },
);

const callsAnother = calcfunction(
  { inputs: { x: Int, quiet: Bool } },
  async function callsAnother({ x, quiet }) {
    const inner = await add.run({ x, y: 1, metadata: { store_provenance: !quiet.value } });
    return new Int(inner.value);
  },
);

const labelled = workfunction({ inputs: { x: Int }, outputs: Int }, async function labelled({ x }) {
  return add.run({ x, y: 2, metadata: { call_link_label: 'first_addition' } });
});

async function nodeCount(storage: StorageBackend): Promise<number> {
  const result = await sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM db_dbnode`.execute(
    storage.executor(),
  );
  return Number(result.rows[0]!.n);
}

describe.each(BACKENDS)('process functions on %s', (_name, open) => {
  const engine = useEngine(open);

  it('runs the classic addMulWf(3, 4, 5) = 35: a workfunction calling two calcfunctions, linked link by link', async () => {
    const { runner } = engine();
    const { result, node } = await runner.runGetNode(addMulWf, { x: 3, y: 4, z: 5 });
    expect((result as Int).value).toBe(35);
    expect(node).toBeInstanceOf(WorkFunctionNode);
    expect(node.isFinishedOk).toBe(true);
    expect(node.isSealed).toBe(true);
    expect(await linkSummary(node, 'incoming')).toEqual([
      'input_work x Int',
      'input_work y Int',
      'input_work z Int',
    ]);
    expect(await linkSummary(node, 'outgoing')).toEqual([
      'call_calc CALL CalcFunctionNode',
      'call_calc CALL CalcFunctionNode',
      'return result Int',
    ]);
    const [first, second] = (await node.getCalled()).sort((a, b) => a.pk! - b.pk!) as [
      ProcessNode,
      ProcessNode,
    ];
    expect(first.processLabel).toBe('add');
    expect(second.processLabel).toBe('mul');
    expect(await linkSummary(first, 'incoming')).toEqual([
      'call_calc CALL WorkFunctionNode',
      'input_calc x Int',
      'input_calc y Int',
    ]);
    expect(await linkSummary(first, 'outgoing')).toEqual(['create result Int']);
    expect(await linkSummary(second, 'incoming')).toEqual([
      'call_calc CALL WorkFunctionNode',
      'input_calc x Int',
      'input_calc y Int',
    ]);
    // The inputs of the workfunction are the inputs of the calcfunctions; the sum feeds the product.
    expect((await linked(first, 'incoming', LinkType.INPUT_CALC, 'x')).uuid).toBe(
      (await linked(node, 'incoming', LinkType.INPUT_WORK, 'x')).uuid,
    );
    const sum = await linked(first, 'outgoing', LinkType.CREATE, 'result');
    expect((await linked(second, 'incoming', LinkType.INPUT_CALC, 'x')).uuid).toBe(sum.uuid);
    expect((await linked(second, 'incoming', LinkType.INPUT_CALC, 'y')).uuid).toBe(
      (await linked(node, 'incoming', LinkType.INPUT_WORK, 'z')).uuid,
    );
    const product = await linked(second, 'outgoing', LinkType.CREATE, 'result');
    expect((await linked(node, 'outgoing', LinkType.RETURN, 'result')).uuid).toBe(product.uuid);
    expect((await first.getCaller())?.uuid).toBe(node.uuid);
  });

  it('records aiida’s attributes, process type and the source code of the function', async () => {
    const { runner } = engine();
    const { node } = await runner.runGetNode(add, { x: 1, y: 2 });
    expect(node).toBeInstanceOf(CalcFunctionNode);
    expect(node.processType).toBe('process_functions_test.add');
    expect(node.label).toBe('add');
    expect(node.description).toBe('');
    const attributes = node.base.attributes.all();
    expect(attributes).toMatchObject({
      process_state: 'finished',
      process_label: 'add',
      metadata_inputs: null,
      function_name: 'add',
      function_namespace: 'process_functions_test',
      exit_status: 0,
      sealed: true,
    });
    expect(attributes['version']).toEqual({ core: expect.any(String) as string });
    expect(typeof attributes['function_starting_line_number']).toBe('number');
    expect(attributes['function_number_of_lines']).toBe(3);
    expect(attributes).not.toHaveProperty('checkpoints');
    const source = await node.repository.getObjectContent('source_file', 'utf8');
    expect(source.replace(/\s+/g, ' ')).toContain('x.value + y.value');
    expect(node.base.extras.get(HASH_EXTRA_KEY)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes the source once and has every node reference it, as a node holding its own copy would', async () => {
    const { runner, storage } = engine();
    const first = (await runner.runGetNode(add, { x: 1, y: 2 })).node;
    const second = (await runner.runGetNode(add, { x: 3, y: 4 })).node;
    const source = await first.repository.getObjectContent('source_file');
    const key = createHash('sha256').update(source).digest('hex');
    // aiida's hierarchy: one file, by content key, the same for every call
    for (const node of [first, second]) {
      const row = await storage
        .executor()
        .selectFrom('db_dbnode')
        .select('repository_metadata')
        .where('id', '=', node.pk!)
        .executeTakeFirstOrThrow();
      const metadata: unknown = row.repository_metadata;
      expect(typeof metadata === 'string' ? JSON.parse(metadata) : metadata).toEqual({
        o: { source_file: { k: key } },
      });
    }
    expect(await storage.repository.hasObjects([key])).toEqual([true]);
    // the node's hash is the one of the same node whose file went through a sandbox of its own
    const copy = new Repository();
    await copy.putObjectFromBuffer('source_file', source);
    expect(await first.repository.hash()).toBe(await copy.hash());
    expect(await computeNodeHash(first)).toBe(first.base.extras.get(HASH_EXTRA_KEY));
    // erasing the files of an unstored node that shares the object leaves the object to the others
    const unstored = new CalcFunctionNode(undefined, { storage });
    await unstored.repository.putSharedObject('source_file', source);
    await unstored.repository.erase();
    expect(unstored.repository.isEmpty()).toBe(true);
    expect(await storage.repository.hasObjects([key])).toEqual([true]);
    expect(await second.repository.getObjectContent('source_file')).toEqual(source);
  });

  it('takes label and description from metadata, and the call link label', async () => {
    const { runner } = engine();
    const { node } = await runner.runGetNode(add, {
      x: 1,
      y: 2,
      metadata: { label: 'my-add', description: 'adds' },
    });
    expect(node.label).toBe('my-add');
    expect(node.description).toBe('adds');
    const outer = await runner.runGetNode(labelled, { x: 1 });
    expect(await linkSummary(outer.node, 'outgoing')).toEqual([
      'call_calc first_addition CalcFunctionNode',
      'return result Int',
    ]);
    const child = (await outer.node.getCalled())[0]!;
    expect(child.metadataInputs).toEqual({ metadata: { call_link_label: 'first_addition' } });
  });

  it('fills defaults (values and functions), leaves optional inputs out and converts plain values', async () => {
    const { runner } = engine();
    const plain = await runner.runGetNode(withDefaults, { a: 1 });
    expect((plain.result as Int).value).toBe(111);
    expect(await linkSummary(plain.node, 'incoming')).toEqual([
      'input_calc a Int',
      'input_calc b Int',
      'input_calc c Int',
    ]);
    const given = await runner.run(withDefaults, { a: new Int(1), b: 2, c: 3, d: 'four' });
    expect((given as Int).value).toBe(10);
  });

  it('links variadic arguments as args_0, args_1, … and accepts extra keyword inputs', async () => {
    const { runner } = engine();
    expect((await sumAll(1, 2, 3, 4)).value).toBe(10);
    const { node } = await runner.runGetNode(sumAll, { first: 1, args: [new Int(2), new Int(3)] });
    expect(await linkSummary(node, 'incoming')).toEqual([
      'input_calc args_0 Int',
      'input_calc args_1 Int',
      'input_calc first Int',
    ]);
    const kw = await runner.runGetNode(keywords, { alpha: new Int(1), beta: new Int(2) });
    expect((kw.result as { count: Int }).count.value).toBe(2);
    expect(await linkSummary(kw.node, 'incoming')).toEqual(['input_calc alpha Int', 'input_calc beta Int']);
    await expect(runner.run(keywords, { gamma: new Str('not an int') })).rejects.toThrow(
      InputValidationError,
    );
  });

  it('returns single, namespaced and nested outputs', async () => {
    const { runner } = engine();
    const result = await divmod(17, 5);
    expect(result.quotient.value).toBe(3);
    expect(result.remainder.value).toBe(2);
    const { node, result: out } = await runner.runGetNode(nested, { x: 4 });
    expect((out as { nested: { output: Int } }).nested.output.value).toBe(8);
    expect(await linkSummary(node, 'outgoing')).toEqual(['create nested__output Int', 'create plain Str']);
  });

  it('reproduces the transform_types calcfunction of the fixture archive (every base type in and out)', async () => {
    const { runner } = engine();
    const { node } = await runner.runGetNode(transformTypes, {
      f: 1.5,
      s: 'héllo wörld',
      b: true,
      d: { a: null, nested: { empty: {} } },
      l: [1, 'two', 3.5, [4], { five: 5 }],
      metadata: { label: 'fixture-transform_types' },
    });
    expect(await linkSummary(node, 'incoming')).toEqual([
      'input_calc b Bool',
      'input_calc d Dict',
      'input_calc f Float',
      'input_calc l List',
      'input_calc s Str',
    ]);
    expect(await linkSummary(node, 'outgoing')).toEqual([
      'create count Int',
      'create merged Dict',
      'create negated Bool',
      'create reversed List',
      'create scaled Float',
      'create shout Str',
    ]);
    expect(((await linked(node, 'outgoing', LinkType.CREATE, 'shout')) as Str).value).toBe('HÉLLO WÖRLD!');
  });

  it('finishes with the exit code the function returns; a direct call rejects with ProcessFailedError', async () => {
    const { runner } = engine();
    const { node, result } = await runner.runGetNode(teapot, { x: 1 });
    expect(node.isFinished).toBe(true);
    expect(node.isFailed).toBe(true);
    expect(node.exitStatus).toBe(418);
    expect(node.exitMessage).toBe('I am a teapot');
    expect(result).toEqual({});
    const error = await teapot({ x: 1 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProcessFailedError);
    expect((error as ProcessFailedError).exitStatus).toBe(418);
  });

  it('leaves an excepted node with the error, its stack and a report when the function throws', async () => {
    const { runner } = engine();
    await expect(explode({ x: 7 })).rejects.toThrow('cannot handle 7');
    const [node] = (await runner.storage
      .executor()
      .selectFrom('db_dbnode')
      .select('id')
      .where('process_type', '=', 'process_functions_test.explode')
      .execute()) as [{ id: number }];
    const { loadNode } = await import('../../src/orm/loaders.js');
    const excepted = await loadNode<ProcessNode>(node.id);
    expect(excepted.isExcepted).toBe(true);
    expect(excepted.isSealed).toBe(true);
    expect(excepted.exception).toContain('RangeError: cannot handle 7');
    expect(excepted.exception).toContain('process-functions.test.ts');
    const logs = await Log.find({ nodeId: excepted.pk! });
    expect(
      logs.some((log) => log.levelname === 'REPORT' && log.message.includes('RangeError: cannot handle 7')),
    ).toBe(true);
  });

  it('refuses a workfunction that returns data it created (use a calcfunction)', async () => {
    await expect(returnsNew({ x: 1 })).rejects.toThrow(/use a `calcfunction`/);
    await expect(returnsInput({ x: 1 })).rejects.toThrow(ValidationError);
  });

  it('refuses a calcfunction creating one node under two labels (a node has one creator)', async () => {
    await expect(createsTwice({ x: 1 })).rejects.toThrow(/already has an incoming create link/);
  });

  it('refuses a calcfunction calling another process, unless that one stores no provenance', async () => {
    const { runner } = engine();
    await expect(callsAnother({ x: 1, quiet: false })).rejects.toThrow(InvalidOperationError);
    const { node } = await runner.runGetNode(callsAnother, { x: 1, quiet: true });
    expect(node.isFinishedOk).toBe(true);
    expect(await linkSummary(node, 'outgoing')).toEqual(['create result Int']);
  });

  it('stores nothing with store_provenance false', async () => {
    const { runner, storage } = engine();
    const before = await nodeCount(storage);
    const { result, node } = await runner.runGetNode(add, {
      x: 20,
      y: 22,
      metadata: { store_provenance: false },
    });
    expect((result as Int).value).toBe(42);
    expect(node.isStored).toBe(false);
    expect((result as Int).isStored).toBe(false);
    expect(await nodeCount(storage)).toBe(before);
  });

  it('rejects bad inputs before storing anything, naming every failing port', async () => {
    const { runner, storage } = engine();
    const before = await nodeCount(storage);
    const error = await runner
      .run(add, { x: 'one', metadata: { label: 5 as never } })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InputValidationError);
    const paths = (error as InputValidationError).issues.map((issue) => issue.path).sort();
    expect(paths).toEqual(['inputs.metadata.label', 'inputs.x', 'inputs.y']);
    expect(await nodeCount(storage)).toBe(before);
    await expect(runner.run(add, { x: 1, y: 2, z: 3 })).rejects.toThrow(/Unexpected ports \["z"\]/);
  });

  it('hashes equal runs equally and different inputs differently', async () => {
    const { runner } = engine();
    const a = await runner.runGetNode(add, { x: 2, y: 3 });
    const b = await runner.runGetNode(add, { x: 2, y: 3 });
    const c = await runner.runGetNode(add, { x: 2, y: 4 });
    expect(a.node.base.extras.get(HASH_EXTRA_KEY)).toBe(b.node.base.extras.get(HASH_EXTRA_KEY));
    expect(a.node.base.extras.get(HASH_EXTRA_KEY)).not.toBe(c.node.base.extras.get(HASH_EXTRA_KEY));
  });

  it('runs many processes concurrently; one that excepts does not stop the others', async () => {
    const results = await Promise.allSettled([add(1, 1), explode({ x: 1 }), mul(3, 3), addMulWf(1, 1, 2)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[3] as PromiseFulfilledResult<Int>).value.value).toBe(4);
  });

  it('runs through the launch API with the manager’s runner', async () => {
    expect((await run(add, { x: 5, y: 6 })).value).toBe(11);
    const { node } = await runGetNode(add, { x: 5, y: 6 });
    expect(node.isFinishedOk).toBe(true);
  });
});

describe('process function declarations', () => {
  it('accept explicit schemas and need a name', () => {
    const identity = calcfunction(
      { name: 'identity', inputs: { x: nodeType(Int, Float) }, outputs: nodeType(Int, Float) },
      ({ x }) => x,
    );
    expect(identity.processClass.spec().inputs.has('x')).toBe(true);
    expect(() => calcfunction({ inputs: { x: Int } }, ({ x }) => x)).toThrow(/needs a name/);
    expect(() =>
      calcfunction(
        { name: 'clash', inputs: { args_0: Int }, variadic: { name: 'args', type: Int } },
        () => undefined,
      ),
    ).toThrow(/already the name of an input/);
  });
});
