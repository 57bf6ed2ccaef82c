/**
 * `core.arithmetic.add` end to end on `core.local` + `core.direct`: the job is uploaded, submitted with bash, polled,
 * retrieved and parsed; the provenance is checked link by link.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArithmeticAddCalculation, runGetNode } from '../../src/engine.js';
import { CalcJobNode, FolderData, RemoteData, type Int } from '../../src/orm.js';
import { BACKENDS, linkSummary, useEngine } from '../engine/helpers.js';
import { setupComputer, type CodeFixture } from './helpers.js';

for (const [backend, open] of BACKENDS) {
  describe(`core.arithmetic.add on core.local + core.direct (${backend})`, () => {
    const engine = useEngine(open);
    let fixture: CodeFixture;
    beforeAll(async () => {
      fixture = await setupComputer(engine().storage);
    });
    afterAll(async () => {
      await fixture?.cleanup();
    });

    it('runs the job and records its provenance link by link', async () => {
      const { result, node } = await runGetNode(ArithmeticAddCalculation, {
        x: 1,
        y: 2,
        code: fixture.code,
      });
      expect(node).toBeInstanceOf(CalcJobNode);
      expect(node.processState).toBe('finished');
      expect(node.exitStatus).toBe(0);
      expect(node.processType).toBe('aiida.calculations:core.arithmetic.add');
      const outputs = result as Record<string, unknown>;
      expect((outputs['sum'] as Int).value).toBe(3);
      expect(outputs['remote_folder']).toBeInstanceOf(RemoteData);
      expect(outputs['retrieved']).toBeInstanceOf(FolderData);
      expect(await linkSummary(node, 'incoming')).toEqual([
        'input_calc code InstalledCode',
        'input_calc x Int',
        'input_calc y Int',
      ]);
      expect(await linkSummary(node, 'outgoing')).toEqual([
        'create remote_folder RemoteData',
        'create retrieved FolderData',
        'create sum Int',
      ]);
      const job = node as CalcJobNode;
      expect(job.getState()).toBeNull();
      expect(job.processStatus).toBeNull();
      expect(job.getJobId()).toMatch(/^\d+$/);
      expect(job.getSchedulerState()).toBe('done');
      expect(job.isSealed).toBe(true);
      expect(job.repository.listObjectNames().sort()).toEqual(['.aiida', '_aiidasubmit.sh', 'aiida.in']);
      const retrieved = outputs['retrieved'] as FolderData;
      expect(retrieved.repository.listObjectNames().sort()).toEqual([
        '_scheduler-stderr.txt',
        '_scheduler-stdout.txt',
        'aiida.out',
      ]);
    });
  });
}
