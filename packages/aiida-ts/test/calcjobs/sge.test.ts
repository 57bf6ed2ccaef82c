/** `core.arithmetic.add` on `core.local` + `core.sge`, against a private Grid Engine cell this file starts. */
import { startPrivateSge, type PrivateSge } from '@aiida-ts/test-services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArithmeticAddCalculation, runGetNode } from '../../src/engine.js';
import type { CalcJobNode, Int } from '../../src/orm.js';
import { linkSummary, useEngine } from '../engine/helpers.js';
import { openSqliteDos } from '../storage/helpers.js';
import { setupComputer, type CodeFixture } from './helpers.js';

const engine = useEngine(openSqliteDos);
let sge: PrivateSge;
let fixture: CodeFixture;
const previous: Record<string, string | undefined> = {};

beforeAll(async () => {
  sge = await startPrivateSge();
  // The commands run by the local transport inherit this process's environment.
  for (const [key, value] of Object.entries(sge.env)) {
    previous[key] = process.env[key];
    process.env[key] = value;
  }
  fixture = await setupComputer(
    engine().storage,
    { schedulerType: 'core.sge', workdir: sge.workRoot },
    { safe_interval: 0, use_login_shell: false },
    { minimum_scheduler_poll_interval: 0.2 },
  );
}, 120_000);

afterAll(async () => {
  await sge?.stop();
  for (const [key, value] of Object.entries(previous)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

describe('core.arithmetic.add on core.sge', () => {
  it('runs the job through Grid Engine and records its provenance', async () => {
    const { result, node } = await runGetNode(ArithmeticAddCalculation, {
      x: 40,
      y: 2,
      code: fixture.code,
      metadata: {
        options: { resources: { parallel_env: sge.parallelEnv, tot_num_mpiprocs: 1 }, queue_name: sge.queue },
      },
    });
    expect(node.exitStatus).toBe(0);
    expect((result as { sum: Int }).sum.value).toBe(42);
    expect((node as CalcJobNode).getJobId()).toMatch(/^\d+$/);
    expect(await linkSummary(node, 'outgoing')).toEqual([
      'create remote_folder RemoteData',
      'create retrieved FolderData',
      'create sum Int',
    ]);
    const script = await node.repository.getObjectContent('_aiidasubmit.sh', 'utf8');
    expect(script).toContain(`#$ -pe ${sge.parallelEnv} 1`);
    expect(script).toContain(`#$ -N aiida-${String(node.pk)}`);
  });
});
