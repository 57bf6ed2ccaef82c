import { describe, expect, it } from 'vitest';
import { IntegrityError, ModificationNotAllowedError, ValidationError } from '../../src/errors.js';
import {
  CalcFunctionNode,
  CalcJobNode,
  CalculationNode,
  Data,
  Int,
  LinkType,
  loadNode,
  Node,
  validateLinkLabel,
  WorkChainNode,
  WorkflowNode,
} from '../../src/orm.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { BACKENDS } from '../storage/helpers.js';
import { useStorage } from './setup.js';

async function count(storage: StorageBackend, table: 'db_dbnode' | 'db_dblink'): Promise<number> {
  const row = await storage
    .executor()
    .selectFrom(table)
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  return storage.dialect.decodeInteger(row.n);
}

describe('link labels', () => {
  it.each([
    '_leading',
    'trailing_',
    'with space',
    'dash-ed',
    'dot.ted',
    'per%cent',
    'émoji✓',
    '1starts_with_digit',
    '',
  ])('refuses `%s`', (label) => {
    expect(() => validateLinkLabel(label)).toThrow(ValidationError);
  });
  it.each(['x', 'inner__sum', 'CamelCase', 'a1_b2'])('accepts `%s`', (label) => {
    expect(() => validateLinkLabel(label)).not.toThrow();
  });
});

describe.each(BACKENDS)('links on $name', ({ open }) => {
  const storage = useStorage(open);

  it('refuses self links, wrong classes and wrong link types', async () => {
    const data = await new Data().store();
    const other = await new Data().store();
    const calc = new CalculationNode();
    await expect(calc.links.addIncoming(calc, LinkType.INPUT_CALC, 'x')).rejects.toThrow(ValidationError);
    await expect(other.links.addIncoming(data, LinkType.INPUT_CALC, 'x')).rejects.toThrow(
      /cannot add a input_calc link/,
    );
    const calc2 = await new CalculationNode().store();
    await expect(calc.links.addIncoming(calc2, LinkType.INPUT_CALC, 'x')).rejects.toThrow(ValidationError);
    await expect(calc.links.addIncoming(data, 'not_a_type' as LinkType, 'x')).rejects.toThrow(
      ValidationError,
    );
    await expect(calc.links.addIncoming(data, LinkType.INPUT_CALC, '_bad')).rejects.toThrow(
      /invalid link label/,
    );
  });

  it('lets a data node have one creator only, whatever the label', async () => {
    const calcA = await new CalculationNode().store();
    const calcB = await new CalculationNode().store();
    const output = new Data();
    await output.links.addIncoming(calcA, LinkType.CREATE, 'result');
    await expect(output.links.addIncoming(calcB, LinkType.CREATE, 'other')).rejects.toThrow(
      /already has an incoming create link/,
    );
  });

  it('lets a process have one caller only', async () => {
    const workA = await new WorkflowNode().store();
    const workB = await new WorkflowNode().store();
    const child = new CalcFunctionNode();
    await child.links.addIncoming(workA, LinkType.CALL_CALC, 'call');
    await expect(child.links.addIncoming(workB, LinkType.CALL_CALC, 'call2')).rejects.toThrow(
      /incoming call_calc link/,
    );
    const sub = new WorkChainNode();
    await sub.links.addIncoming(workA, LinkType.CALL_WORK, 'sub');
    await expect(sub.links.addIncoming(workB, LinkType.CALL_WORK, 'sub')).rejects.toThrow(ValidationError);
  });

  it('keeps input labels unique per target but allows one source under several labels', async () => {
    const x = await new Int(1).store();
    const y = await new Int(2).store();
    const calc = new CalcFunctionNode();
    await calc.links.addIncoming(x, LinkType.INPUT_CALC, 'x');
    await expect(calc.links.addIncoming(y, LinkType.INPUT_CALC, 'x')).rejects.toThrow(/with label "x"/);
    await calc.links.addIncoming(x, LinkType.INPUT_CALC, 'also_x');
    await calc.store();
    const inputs = await calc.links.getIncoming({ linkType: LinkType.INPUT_CALC });
    expect(inputs.allLinkLabels().sort()).toEqual(['also_x', 'x']);
    // the same data may feed many calculations under the same label
    const other = new CalcFunctionNode();
    await other.links.addIncoming(x, LinkType.INPUT_CALC, 'x');
    await other.store();
  });

  it('allows the same label with different link types into one node', async () => {
    const work = await new WorkflowNode().store();
    const data = await new Int(1).store();
    const calc = new CalcFunctionNode();
    await calc.links.addIncoming(work, LinkType.CALL_CALC, 'call');
    await calc.links.addIncoming(data, LinkType.INPUT_CALC, 'call');
    await calc.store();
    expect((await calc.links.getIncoming()).length).toBe(2);
  });

  it('returns: the same label from different workflows is fine, twice from one is not', async () => {
    const data = await new Int(3).store();
    const w1 = await new WorkflowNode().store();
    const w2 = await new WorkflowNode().store();
    await data.links.addIncoming(w1, LinkType.RETURN, 'result');
    await data.links.addIncoming(w2, LinkType.RETURN, 'result');
    await expect(data.links.addIncoming(w1, LinkType.RETURN, 'result')).rejects.toThrow(ValidationError);
    const other = await new Int(4).store();
    await expect(other.links.addIncoming(w1, LinkType.RETURN, 'result')).rejects.toThrow(
      /outgoing return link with label "result"/,
    );
  });

  it('refuses a workflow returning unstored data', async () => {
    const work = await new WorkflowNode().store();
    await expect(new Int(1).links.addIncoming(work, LinkType.RETURN, 'result')).rejects.toThrow(
      /calcfunction/,
    );
  });

  it('refuses links that would close a cycle of data provenance', async () => {
    const d1 = await new Int(1).store();
    const c1 = new CalcFunctionNode();
    await c1.links.addIncoming(d1, LinkType.INPUT_CALC, 'x');
    await c1.store();
    const d2 = new Int(2);
    await d2.links.addIncoming(c1, LinkType.CREATE, 'out');
    await d2.store();
    const c2 = new CalcFunctionNode();
    await c2.links.addIncoming(d2, LinkType.INPUT_CALC, 'x');
    await c2.store();
    // c2 -> d1 (create) would close d1 -> c1 -> d2 -> c2 -> d1; d1 already has no creator, so only the cycle stops it
    await expect(d1.links.addIncoming(c2, LinkType.CREATE, 'loop')).rejects.toThrow(/cycle/);
  });

  it('caches links of unstored nodes, visible through getIncoming, and stores them with the node', async () => {
    const x = await new Int(1).store();
    const calc = new CalcFunctionNode();
    await calc.links.addIncoming(x, LinkType.INPUT_CALC, 'x');
    expect(calc.links.incomingCache).toHaveLength(1);
    expect((await calc.links.getIncoming()).allNodes()[0]!.uuid).toBe(x.uuid);
    await calc.store();
    expect(calc.links.incomingCache).toHaveLength(0);
    const stored = await (await loadNode(calc.pk!)).links.getStoredLinkTriples();
    expect(stored.map((t) => [t.node.uuid, t.linkType, t.linkLabel])).toEqual([[x.uuid, 'input_calc', 'x']]);
  });

  it('refuses store() with unstored sources; storeAll() stores them atomically', async () => {
    const x = new Int(1);
    const y = new Int(2);
    const calc = new CalcFunctionNode();
    await calc.links.addIncoming(x, LinkType.INPUT_CALC, 'x');
    await calc.links.addIncoming(y, LinkType.INPUT_CALC, 'y');
    await expect(calc.store()).rejects.toBeInstanceOf(ModificationNotAllowedError);
    expect(x.isStored).toBe(false);
    await calc.storeAll();
    expect([x.isStored, y.isStored, calc.isStored]).toEqual([true, true, true]);
    const inputs = await (await loadNode(calc.pk!)).links.getIncoming({ linkType: LinkType.INPUT_CALC });
    expect(inputs.allLinkLabels().sort()).toEqual(['x', 'y']);
    await expect(calc.storeAll()).rejects.toBeInstanceOf(ModificationNotAllowedError);
  });

  it('storeAll() refuses unstored grandparents (as aiida-core) and stores nothing', async () => {
    const grand = new Int(1);
    const creator = new CalcFunctionNode();
    await creator.links.addIncoming(grand, LinkType.INPUT_CALC, 'x');
    const parent = new Int(2);
    await parent.links.addIncoming(creator, LinkType.CREATE, 'result');
    const child = new CalcFunctionNode();
    await child.links.addIncoming(parent, LinkType.INPUT_CALC, 'x');
    const before = await count(storage(), 'db_dbnode');
    await expect(parent.storeAll()).rejects.toBeInstanceOf(ModificationNotAllowedError);
    await expect(child.storeAll()).rejects.toBeInstanceOf(ModificationNotAllowedError);
    expect(await count(storage(), 'db_dbnode')).toBe(before);
  });

  it('Node.storeMany stores a whole unstored graph with its links in one transaction', async () => {
    const x = new Int(1);
    const calc = new CalcFunctionNode();
    await calc.links.addIncoming(x, LinkType.INPUT_CALC, 'x');
    const out = new Int(2);
    await out.links.addIncoming(calc, LinkType.CREATE, 'result');
    await Node.storeMany([out, calc, x]);
    expect(((await (await loadNode<Int>(out.pk!)).getCreator()) as Node).uuid).toBe(calc.uuid);
    const inputs = await calc.links.getIncoming();
    expect(inputs.one().node.uuid).toBe(x.uuid);
  });

  it('Node.storeMany stores a node given twice once, and refuses a link from an unstored node outside the batch', async () => {
    const x = new Int(3);
    const before = await count(storage(), 'db_dbnode');
    const stored = await Node.storeMany([x, x]);
    expect(stored).toEqual([x, x]);
    expect(await count(storage(), 'db_dbnode')).toBe(before + 1);
    // a node of an earlier batch that failed is no member of a later one
    const outside = new Int(4);
    const bad = new Data();
    bad.attributes.set('f', () => 1);
    await expect(Node.storeMany([outside, bad])).rejects.toBeInstanceOf(ValidationError);
    const calc = new CalcFunctionNode();
    await calc.links.addIncoming(outside, LinkType.INPUT_CALC, 'x');
    await expect(Node.storeMany([calc])).rejects.toBeInstanceOf(ModificationNotAllowedError);
    await Node.storeMany([outside, calc]);
    expect((await calc.links.getIncoming()).one().node.uuid).toBe(outside.uuid);
  });

  it('navigates creator, caller, called, and filters by type, label pattern and class', async () => {
    const work = await new WorkChainNode().store();
    const x = await new Int(1).store();
    const calc = new CalcFunctionNode();
    await calc.links.addIncoming(work, LinkType.CALL_CALC, 'step_one');
    await calc.links.addIncoming(x, LinkType.INPUT_CALC, 'input_x');
    await calc.store();
    const result = new Int(2);
    await result.links.addIncoming(calc, LinkType.CREATE, 'result');
    await result.store();
    await result.links.addIncoming(work, LinkType.RETURN, 'result');
    expect((await result.creator()).uuid).toBe(calc.uuid);
    expect((await calc.getCaller())!.uuid).toBe(work.uuid);
    expect((await work.getCalled()).map((n) => n.uuid)).toEqual([calc.uuid]);
    expect(await work.getCaller()).toBeNull();
    const labelled = await calc.links.getIncoming({ linkLabelFilter: 'input%' });
    expect(labelled.allLinkLabels()).toEqual(['input_x']);
    const workflows = await calc.links.getIncoming({ nodeClass: WorkflowNode });
    expect(workflows.allNodes().map((n) => n.uuid)).toEqual([work.uuid]);
    const outgoing = await work.links.getOutgoing({ linkType: [LinkType.RETURN] });
    expect(outgoing.getNodeByLabel('result').uuid).toBe(result.uuid);
    expect(() => outgoing.getNodeByLabel('missing')).toThrow();
  });

  it('refuses inputs into a stored process and any link into or out of a sealed one', async () => {
    const x = await new Int(1).store();
    const calc = await new CalcJobNode().store();
    await expect(calc.links.addIncoming(x, LinkType.INPUT_CALC, 'x')).rejects.toThrow(/already stored/);
    await calc.seal();
    await expect(new Int(2).links.addIncoming(calc, LinkType.CREATE, 'late')).rejects.toBeInstanceOf(
      ModificationNotAllowedError,
    );
  });

  it('leaves nothing stored when storeAll fails in the database half-way', async () => {
    const existing = await new Int(1).store();
    const parentA = new Int(10);
    const parentB = new Int(11);
    // parentB gets the uuid of a stored node: the insert of the batch violates the unique uuid
    (Node as unknown as { internalState(n: Node): { uuid: string } }).internalState(parentB).uuid =
      existing.uuid;
    await parentA.repository.putObjectFromBuffer('blob.bin', Buffer.from('written before the transaction'));
    const calc = new CalcFunctionNode();
    await calc.links.addIncoming(parentA, LinkType.INPUT_CALC, 'a');
    await calc.links.addIncoming(parentB, LinkType.INPUT_CALC, 'b');
    const nodesBefore = await count(storage(), 'db_dbnode');
    const linksBefore = await count(storage(), 'db_dblink');
    await expect(calc.storeAll()).rejects.toBeInstanceOf(IntegrityError);
    expect(await count(storage(), 'db_dbnode')).toBe(nodesBefore);
    expect(await count(storage(), 'db_dblink')).toBe(linksBefore);
    expect([parentA.isStored, parentB.isStored, calc.isStored]).toEqual([false, false, false]);
    expect(calc.links.incomingCache).toHaveLength(2);
    // the repository object is there but unreferenced: harmless, removed by maintenance
    expect(
      await storage().repository.hasObject(
        (await import('node:crypto'))
          .createHash('sha256')
          .update('written before the transaction')
          .digest('hex'),
      ),
    ).toBe(true);
  });

  it('leaves nothing stored when one node of a batch cannot be stored', async () => {
    const good = new Int(1);
    const bad = new Data();
    bad.attributes.set('f', () => 1);
    const calc = new CalcFunctionNode();
    await calc.links.addIncoming(good, LinkType.INPUT_CALC, 'good');
    await calc.links.addIncoming(bad, LinkType.INPUT_CALC, 'bad');
    const before = await count(storage(), 'db_dbnode');
    await expect(calc.storeAll()).rejects.toThrow(/attributes\.f/);
    await expect(Node.storeMany([good, bad])).rejects.toBeInstanceOf(ValidationError);
    expect(await count(storage(), 'db_dbnode')).toBe(before);
    expect(good.isStored).toBe(false);
  });
});
