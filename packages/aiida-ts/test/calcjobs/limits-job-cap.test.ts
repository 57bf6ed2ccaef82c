/**
 * The cap on queued jobs, seen from the scheduler: jobs submitted at once on a computer limited to a few never have
 * more than that many in the private Slurm's `squeue` (sampled all along), the waiting ones say so in their
 * `process_status`, and every job finishes. (Hundreds of jobs: `bench/calcjob.ts`.)
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startPrivateSlurm, type PrivateSlurm } from '@aiida-ts/test-services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArithmeticAddCalculation } from '../../src/engine.js';
import { loadNode } from '../../src/orm/loaders.js';
import type { CalcJobNode, ProcessNode } from '../../src/orm.js';
import { useEngine } from '../engine/helpers.js';
import { openSqliteDos } from '../storage/helpers.js';
import { setupComputer, type CodeFixture } from './helpers.js';

const run = promisify(execFile);
const engine = useEngine(openSqliteDos);
const JOBS = 9;
const CAP = 3;
let slurm: PrivateSlurm;
let fixture: CodeFixture;
let previousConf: string | undefined;

beforeAll(async () => {
  slurm = await startPrivateSlurm({ minJobAge: 2 });
  // the commands of the local transport inherit this process's environment, and find the cluster through it
  previousConf = process.env['SLURM_CONF'];
  process.env['SLURM_CONF'] = slurm.conf;
  fixture = await setupComputer(
    engine().storage,
    { schedulerType: 'core.slurm', workdir: slurm.workRoot },
    { safe_interval: 0, use_login_shell: false },
    { minimum_scheduler_poll_interval: 0.2 },
  );
  await fixture.computer.setJobLimit(CAP);
}, 120_000);

afterAll(async () => {
  await slurm?.stop();
  if (previousConf === undefined) delete process.env['SLURM_CONF'];
  else process.env['SLURM_CONF'] = previousConf;
  await fixture?.cleanup();
});

/** The names of the jobs Slurm has now (pending or running) that this file's computer submitted. */
async function queued(pks: ReadonlySet<number>): Promise<number> {
  const { stdout } = await run('squeue', ['-h', '-o', '%j'], {
    env: { ...process.env, SLURM_CONF: slurm.conf },
  });
  return stdout
    .split('\n')
    .map((name) => /^aiida-(\d+)$/.exec(name.trim()))
    .filter((match) => match !== null && pks.has(Number(match[1]))).length;
}

describe('a computer capped at 3 queued jobs', () => {
  it(
    `${JOBS} jobs at once: never more than ${CAP} in squeue, the others wait for a slot, all finish`,
    { timeout: 120_000 },
    async () => {
      const nodes = [];
      for (let i = 0; i < JOBS; i += 1) {
        nodes.push(
          await engine().runner.submit(ArithmeticAddCalculation, {
            x: i,
            y: 1,
            code: fixture.code,
            // no `--get-user-env`: slurmd would start a login shell of the machine user for it
            metadata: { options: { sleep: 1, import_sys_environment: false } as never },
          }),
        );
      }
      const pks = new Set(nodes.map((node) => node.pk!));
      const samples: number[] = [];
      const statuses = new Set<string>();
      const done = Promise.all([...pks].map((pk) => engine().runner.getProcessFuture(pk)));
      let finished = false;
      void done.finally(() => (finished = true));
      while (!finished) {
        samples.push(await queued(pks));
        for (const pk of pks) {
          const status = (await loadNode<ProcessNode>(pk)).processStatus;
          if (status !== null) statuses.add(status);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await done;
      // the scheduler held the cap's worth of jobs at some point, and never more
      expect(Math.max(...samples)).toBe(CAP);
      expect(samples.every((count) => count <= CAP)).toBe(true);
      expect([...statuses]).toContain(
        `Waiting for a free slot on ${fixture.computer.label}: ${CAP} of ${CAP} in use`,
      );
      for (const pk of pks) {
        const node = await loadNode<CalcJobNode>(pk);
        expect(node.exitStatus, `job ${pk}`).toBe(0);
        // no status left over from the waiting
        expect(node.processStatus ?? '').not.toMatch(/Waiting|Monitoring/);
      }
    },
  );
});
