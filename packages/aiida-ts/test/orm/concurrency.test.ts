import { describe, expect, it } from 'vitest';
import { MissingConfigurationError } from '../../src/errors.js';
import { CalcFunctionNode, Int, LinkType, loadNode, WorkChainNode } from '../../src/orm.js';
import { getStorage, setDefaultStorage, withStorage } from '../../src/storage/context.js';
import { BACKENDS, openSqliteTemp } from '../storage/helpers.js';
import { useStorage } from './setup.js';

describe.each(BACKENDS)('many processes of one event loop writing at once on $name', ({ open }) => {
  const storage = useStorage(open);

  it('stores every node, link and updatable attribute of 40 concurrent "processes"', async () => {
    const runProcess = async (i: number): Promise<WorkChainNode> => {
      const x = await new Int(i).store();
      const work = new WorkChainNode(undefined, { label: `concurrent-${i}` });
      await work.links.addIncoming(x, LinkType.INPUT_WORK, 'x');
      await work.store();
      await work.setProcessState('running');
      const calc = new CalcFunctionNode();
      await calc.links.addIncoming(work, LinkType.CALL_CALC, 'add');
      await calc.links.addIncoming(x, LinkType.INPUT_CALC, 'x');
      await calc.store();
      const result = new Int(i + 1);
      await result.links.addIncoming(calc, LinkType.CREATE, 'result');
      await result.store();
      await result.links.addIncoming(work, LinkType.RETURN, 'result');
      await work.logs.report(`step ${i}`);
      await work.setProcessState('finished');
      await work.setExitStatus(0);
      await work.seal();
      return work;
    };
    const works = await Promise.all(Array.from({ length: 40 }, (_, i) => runProcess(i)));
    for (const [i, work] of works.entries()) {
      const loaded = await loadNode<WorkChainNode>(work.pk!);
      expect(loaded.isFinishedOk).toBe(true);
      expect(loaded.isSealed).toBe(true);
      const outputs = await loaded.links.getOutgoing({ linkType: LinkType.RETURN });
      expect((outputs.one().node as Int).value).toBe(i + 1);
      expect(await loaded.getCalled()).toHaveLength(1);
      expect((await loaded.logs.all()).map((l) => l.message)).toEqual([`step ${i}`]);
    }
    expect(storage().inTransaction()).toBe(false);
  });
});

describe('the current storage', () => {
  it('is the default one, or the one of withStorage, or the one passed explicitly', async () => {
    setDefaultStorage(null);
    expect(() => getStorage()).toThrow(MissingConfigurationError);
    await expect(new Int(1).store()).rejects.toBeInstanceOf(MissingConfigurationError);
    const a = await openSqliteTemp();
    const b = await openSqliteTemp();
    try {
      setDefaultStorage(a.storage);
      const inA = await new Int(1).store();
      const inB = await withStorage(b.storage, async () => {
        await Promise.resolve();
        return new Int(2).store();
      });
      const explicit = await new Int(3).store({ storage: b.storage });
      expect(inA.storage).toBe(a.storage);
      expect(inB.storage).toBe(b.storage);
      expect(explicit.storage).toBe(b.storage);
      expect((await b.storage.getInfo()).entities.Nodes.count).toBe(2);
      await a.storage.close();
      expect(() => getStorage()).toThrow(/closed/);
    } finally {
      setDefaultStorage(null);
      await a.cleanup();
      await b.cleanup();
    }
  });
});
