/**
 * A daemon worker SIGKILLed in the middle of a calculation job — while uploading, while the job is with the
 * scheduler, while retrieving: another worker continues the job from its checkpoint; the job finishes with the
 * provenance of an undisturbed one, and the scheduler ran exactly one job.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArithmeticAddCalculation, Runner } from '../../src/engine.js';
import { RunnerOwnership, startDaemonWorker } from '../../src/engine/daemon/index.js';
import { loadNode } from '../../src/orm/loaders.js';
import type { CalcJobNode, Int } from '../../src/orm.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { setupComputer, type CodeFixture } from '../calcjobs/helpers.js';
import { linkSummary } from '../engine/helpers.js';
import { openSharedStorage, spawnWorker, type SharedStorage } from './services.js';

const FAULTS = [
  ['while uploading', 'upload:file', 0],
  ['while the job is with the scheduler', 'update:poll', 2],
  ['while retrieving', 'retrieve:files', 0],
] as const;

describe('a daemon worker SIGKILLed in the middle of a calculation job', () => {
  let shared: SharedStorage;
  let fixture: CodeFixture;

  beforeAll(async () => {
    shared = await openSharedStorage('sqlite');
    setDefaultStorage(shared.storage);
    fixture = await setupComputer(shared.storage);
  }, 60_000);
  afterAll(async () => {
    await fixture?.cleanup();
    setDefaultStorage(null);
    await shared?.cleanup();
  });

  for (const [when, fault, sleep] of FAULTS) {
    it(`is continued by another worker ${when}, with one scheduler job`, { timeout: 60_000 }, async () => {
      const { storage } = shared;
      const runs = path.join(fixture.workdir, `runs-${fault.replace(':', '-')}.log`);
      const doomed = spawnWorker(
        { storage: shared.spec, broker: null, slots: 2 },
        { AIIDA_TS_FAULT_INJECT: fault },
      );
      await doomed.ready;
      const runner = new Runner({ storage, pollInterval: 0.05, ownership: new RunnerOwnership(storage) });
      try {
        const submitted = await runner.submit(ArithmeticAddCalculation, {
          x: 20,
          y: 22,
          code: fixture.code,
          metadata: { options: { sleep, prepend_text: `echo ran >> '${runs}'` } as never },
        });
        expect((await doomed.exited).signal).toBe('SIGKILL');
        const interrupted = await loadNode<CalcJobNode>(submitted.pk!);
        expect(interrupted.isTerminated).toBe(false);

        await using survivor = await startDaemonWorker(undefined, {
          storage,
          communicator: null,
          slots: 2,
          leaseTtlMs: 2_000,
        });
        const node = (await runner.getProcessFuture(submitted.pk!)) as CalcJobNode;
        expect(node.processState, String(node.exception)).toBe('finished');
        expect(node.exitStatus).toBe(0);
        expect(survivor.stats().claimed).toBeGreaterThanOrEqual(1);
        expect(await linkSummary(node, 'outgoing')).toEqual([
          'create remote_folder RemoteData',
          'create retrieved FolderData',
          'create sum Int',
        ]);
        const sum = (await node.base.links.getOutgoing({ linkLabelFilter: 'sum' })).first()?.node as Int;
        expect(sum.value).toBe(42);
        // the job script ran once: one scheduler job
        expect(existsSync(runs)).toBe(true);
        expect(readFileSync(runs, 'utf8')).toBe('ran\n');
      } finally {
        await runner.close();
        await doomed.kill();
      }
    });
  }
});
