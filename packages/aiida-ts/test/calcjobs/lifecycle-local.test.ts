/**
 * The life of calculation jobs on `core.local` + `core.direct`: the node's `state` and `process_status` along the way,
 * bad input (nothing uploaded or submitted), dry runs, imports, kills, monitors, caching and the exponential backoff
 * that pauses a job whose transport task keeps failing until `play`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ProcessClass } from 'plumpy-ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getConfig, resetConfig, setConfigDir } from '../../src/config/manager.js';
import {
  ArithmeticAddCalculation,
  enableCaching,
  getDryRunInfo,
  runGetNode,
  CACHED_FROM_KEY,
} from '../../src/engine.js';
import { loadNode } from '../../src/orm/loaders.js';
import type { CalcJobNode, Int, ProcessNode } from '../../src/orm.js';
import { Computer, Dict, InstalledCode, RemoteData, SinglefileData } from '../../src/orm.js';
import { openSqliteDos } from '../storage/helpers.js';
import { linkSummary, useEngine } from '../engine/helpers.js';
import { unique } from '../computers/helpers.js';
import {
  EscapingCopy,
  EscapingRetrieve,
  EscapingSandbox,
  ThrowingPrepare,
  prepareCalls,
} from './fixture-calcjobs.js';
import { setupComputer, type CodeFixture } from './helpers.js';
import { until } from './until.js';

/** Whether a process runs (and is not a zombie). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function fresh(pk: number): Promise<CalcJobNode> {
  return loadNode<CalcJobNode>(pk);
}

const engine = useEngine(openSqliteDos);
let fixture: CodeFixture;
let configDir: string;

beforeAll(async () => {
  configDir = await mkdtemp(path.join(tmpdir(), 'aiida-ts-calcjob-config-'));
  setConfigDir(configDir);
  // Short backoff in this test profile: 1 s then give up after 2 attempts.
  getConfig().setOption('transport.task_retry_initial_interval', 1);
  getConfig().setOption('transport.task_maximum_attempts', 2);
  fixture = await setupComputer(engine().storage);
});

afterAll(async () => {
  await fixture?.cleanup();
  resetConfig();
  setConfigDir(undefined);
  await rm(configDir, { recursive: true, force: true });
});

describe('the waiting states of a job', () => {
  it('records state and process_status as aiida does while the job is with the scheduler, and clears them at the end', async () => {
    const node = await engine().runner.submit(ArithmeticAddCalculation, {
      x: 4,
      y: 5,
      code: fixture.code,
      metadata: { options: { sleep: 2 } as never },
    });
    const pk = node.pk!;
    await until('the job to be with the scheduler', async () => {
      const job = await fresh(pk);
      return job.getState() === 'withscheduler' && job.processStatus?.startsWith('Monitoring') === true;
    });
    const running = await fresh(pk);
    expect(running.processState).toBe('waiting');
    expect(running.processStatus).toMatch(/^Monitoring scheduler: job state (UNKNOWN|RUNNING)$/);
    expect(running.getJobId()).toMatch(/^\d+$/);
    const checkpoint = JSON.parse(String(running.checkpoint)) as { state: { data: { command: string } } };
    expect(checkpoint.state.data.command).toBe('update');
    await until('the job to end', async () => (await fresh(pk)).isTerminated);
    const done = await fresh(pk);
    expect(done.exitStatus).toBe(0);
    expect(done.getState()).toBeNull();
    expect(done.processStatus).toBeNull();
    expect(done.getSchedulerState()).toBe('done');
    const outputs = await linkSummary(done, 'outgoing');
    expect(outputs).toContain('create sum Int');
  });

  it('fails with the parser’s exit code for a negative sum', async () => {
    const { node } = await runGetNode(ArithmeticAddCalculation, { x: 1, y: -5, code: fixture.code });
    expect(node.exitStatus).toBe(410);
    expect(node.exitMessage).toBe('The sum of the operands is a negative number.');
  });
});

describe('bad input excepts the job with a message naming the cause, with nothing uploaded or submitted', () => {
  const nothingUploaded = (node: ProcessNode): void => {
    const job = node as CalcJobNode;
    expect(job.getRemoteWorkdir()).toBeNull();
    expect(job.getJobId()).toBeNull();
    const uuid = job.uuid;
    expect(existsSync(path.join(fixture.workdir, uuid.slice(0, 2), uuid.slice(2, 4), uuid.slice(4)))).toBe(
      false,
    );
  };

  it('refuses resources the scheduler does not accept', async () => {
    const node = await runAndFind(ArithmeticAddCalculation, {
      x: 1,
      y: 2,
      code: fixture.code,
      metadata: {
        options: { resources: { num_machines: 1, tot_num_mpiprocs: 3, num_mpiprocs_per_machine: 2 } },
      },
    });
    expect(node.processState).toBe('excepted');
    expect(node.exception).toMatch(/metadata\.options\.resources.*core\.direct/s);
    nothingUploaded(node);
  });

  it('refuses a missing resources option at launch, before any node exists', async () => {
    await expect(runGetNode(ThrowingPrepare, { code: fixture.code } as never)).rejects.toThrow(
      /metadata\.options\.resources/,
    );
  });

  it('refuses an unknown parser', async () => {
    const job = await runAndFind(ArithmeticAddCalculation, {
      x: 1,
      y: 2,
      code: fixture.code,
      metadata: { options: { parser_name: 'core.no_such_parser' } },
    });
    expect(job.processState).toBe('excepted');
    expect(job.exception).toMatch(/invalid parser specified: Entry point 'core\.no_such_parser' not found/);
    nothingUploaded(job);
  });

  it('refuses a code on another computer', async () => {
    const other = await new Computer(
      {
        label: unique('other'),
        hostname: 'localhost',
        transportType: 'core.local',
        schedulerType: 'core.direct',
      },
      { storage: engine().storage },
    ).store();
    await other.configure({ safe_interval: 0 });
    const job = await runAndFind(ArithmeticAddCalculation, {
      x: 1,
      y: 2,
      code: fixture.code,
      metadata: { computer: other },
    });
    expect(job.processState).toBe('excepted');
    expect(job.exception).toMatch(/explicitly defined in `metadata\.computer` is different/);
    nothingUploaded(job);
  });

  it('excepts when prepareForSubmission throws, without retrying it', async () => {
    prepareCalls.throwing = 0;
    const job = await runAndFind(ThrowingPrepare, {
      code: fixture.code,
      metadata: { options: { resources: { num_machines: 1, num_mpiprocs_per_machine: 1 } } },
    });
    expect(job.processState).toBe('excepted');
    expect(job.exception).toMatch(/exception occurred in presubmit call: the plugin cannot write its input/);
    expect(prepareCalls.throwing).toBe(1);
    nothingUploaded(job);
  });

  it('refuses a retrieve pattern, a copy destination or a sandbox file that leaves the working directory', async () => {
    const retrieve = await runAndFind(EscapingRetrieve, {
      code: fixture.code,
      metadata: { options: { resources: { num_machines: 1, num_mpiprocs_per_machine: 1 } } },
    });
    expect(retrieve.processState).toBe('excepted');
    expect(retrieve.exception).toMatch(
      /must not leave the working directory \(`\.\.`\), got `\.\.\/\.\.\/etc`/,
    );
    const file = await SinglefileData.fromString('secret', 'a.txt');
    const copy = await runAndFind(EscapingCopy, {
      code: fixture.code,
      file,
      metadata: { options: { resources: { num_machines: 1, num_mpiprocs_per_machine: 1 } } },
    });
    expect(copy.processState).toBe('excepted');
    expect(copy.exception).toMatch(
      /must be a relative path inside the working directory, got `\/tmp\/aiida-ts-escaped`/,
    );
    expect(existsSync('/tmp/aiida-ts-escaped')).toBe(false);
    const sandbox = await runAndFind(EscapingSandbox, {
      code: fixture.code,
      metadata: { options: { resources: { num_machines: 1, num_mpiprocs_per_machine: 1 } } },
    });
    expect(sandbox.exception).toMatch(/must not leave the working directory/);
    for (const job of [retrieve, copy, sandbox]) nothingUploaded(job);
  });
});

/** Runs a job that may except and resolves to its node. */
async function runAndFind(cls: ProcessClass, inputs: Record<string, unknown>): Promise<CalcJobNode> {
  try {
    const { node } = await runGetNode(cls, inputs as never);
    return node as CalcJobNode;
  } catch {
    return lastJob();
  }
}

async function lastJob(): Promise<CalcJobNode> {
  const storage = engine().storage;
  const row = await storage
    .executor()
    .selectFrom('db_dbnode')
    .select('id')
    .where('node_type', '=', 'process.calculation.calcjob.CalcJobNode.')
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirstOrThrow();
  return fresh(row.id);
}

describe('dry runs and imports', () => {
  it('writes the files and the submit script into a local folder on a dry run, submitting nothing', async () => {
    const cwd = process.cwd();
    const scratch = await mkdtemp(path.join(tmpdir(), 'aiida-ts-dry-run-'));
    process.chdir(scratch);
    try {
      const { result, node } = await runGetNode(ArithmeticAddCalculation, {
        x: 1,
        y: 2,
        code: fixture.code,
        metadata: { dry_run: true, options: { rerunnable: true } },
      });
      expect(result).toEqual({});
      const info = getDryRunInfo(node);
      expect(info?.script_filename).toBe('_aiidasubmit.sh');
      expect(info?.folder.startsWith(path.join(scratch, 'submit_test'))).toBe(true);
      const script = readFileSync(path.join(info!.folder, '_aiidasubmit.sh'), 'utf8');
      expect(script).toContain("'/bin/bash' < 'aiida.in' > 'aiida.out'");
      expect(readFileSync(path.join(info!.folder, 'aiida.in'), 'utf8')).toBe('echo $((1 + 2))\n');
      const template = JSON.parse(
        readFileSync(path.join(info!.folder, '.aiida', 'job_tmpl.json'), 'utf8'),
      ) as {
        rerunnable: boolean;
      };
      expect(template.rerunnable).toBe(true);
      expect((node as CalcJobNode).getJobId()).toBeNull();
    } finally {
      process.chdir(cwd);
      await rm(scratch, { recursive: true, force: true });
    }
  });

  it('imports a job that ran without aiida from a RemoteData, and fails to parse invalid output', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'aiida-ts-import-'));
    await writeFile(path.join(folder, 'aiida.in'), 'echo $((2 + 3))\n');
    await writeFile(path.join(folder, 'aiida.out'), '5\n');
    const remote = new RemoteData({ computer: fixture.computer, remotePath: folder });
    const { result, node } = await runGetNode(ArithmeticAddCalculation, {
      x: 2,
      y: 3,
      code: fixture.code,
      remote_folder: remote,
    });
    expect(node.exitStatus).toBe(0);
    expect(node.isSealed).toBe(true);
    expect(node.base.attributes.get('imported')).toBe(true);
    expect((result as { sum: Int }).sum.value).toBe(5);
    await writeFile(path.join(folder, 'aiida.out'), 'five\n');
    const bad = await runGetNode(ArithmeticAddCalculation, {
      x: 2,
      y: 3,
      code: fixture.code,
      remote_folder: new RemoteData({ computer: fixture.computer, remotePath: folder }),
    });
    expect(bad.node.exitStatus).toBe(320);
    await rm(folder, { recursive: true, force: true });
  });
});

describe('kill, monitors and caching', () => {
  it('kills a running job: the scheduler job is cancelled, the node ends killed, the working directory stays', async () => {
    const node = await engine().runner.submit(ArithmeticAddCalculation, {
      x: 1,
      y: 1,
      code: fixture.code,
      metadata: { options: { sleep: 60 } as never },
    });
    const pk = node.pk!;
    await until('the job to run', async () => {
      const job = await fresh(pk);
      return job.getState() === 'withscheduler' && job.getJobId() !== null;
    });
    const jobId = Number((await fresh(pk)).getJobId());
    expect(alive(jobId)).toBe(true);
    const live = engine().runner.getLiveProcess(pk);
    await live?.kill('killed by the test');
    await until('the node to be killed', async () => (await fresh(pk)).isTerminated);
    const killed = await fresh(pk);
    expect(killed.processState).toBe('killed');
    expect(killed.processStatus).toBe('killed by the test');
    expect(killed.getSchedulerState()).toBe('done');
    await until('the job to stop', () => !alive(jobId));
    expect(existsSync(String(killed.getRemoteWorkdir()))).toBe(true);
  });

  it('lets a monitor kill the job (aiida’s core.always_kill) and ends with STOPPED_BY_MONITOR', async () => {
    const { node } = await runGetNode(ArithmeticAddCalculation, {
      x: 1,
      y: 1,
      code: fixture.code,
      monitors: { always_kill: new Dict({ entry_point: 'core.always_kill' }) },
      metadata: { options: { sleep: 30 } },
    });
    expect(node.exitStatus).toBe(150);
    expect(node.exitMessage).toBe('Detected a non-empty submission script');
    expect(await linkSummary(node, 'outgoing')).toContain('create retrieved FolderData');
  });

  it('refuses an unknown monitor at launch', async () => {
    await expect(
      runGetNode(ArithmeticAddCalculation, {
        x: 1,
        y: 1,
        code: fixture.code,
        monitors: { bad: new Dict({ entry_point: 'core.nope' }) },
      }),
    ).rejects.toThrow(
      /`monitors.bad` is invalid: .*Entry point 'core.nope' not found in group 'aiida.calculations.monitors'/,
    );
  });

  it('takes a finished job from the cache with aiida’s hash rules', async () => {
    const inputs = { x: 7, y: 8, code: fixture.code };
    const first = await runGetNode(ArithmeticAddCalculation, inputs);
    const second = await enableCaching({ identifier: 'aiida.calculations:core.arithmetic.add' }, () =>
      runGetNode(ArithmeticAddCalculation, {
        ...inputs,
        // Scheduler settings that do not change the result do not change the hash.
        metadata: { options: { max_wallclock_seconds: 3600 } },
      }),
    );
    expect(second.node.base.extras.get(CACHED_FROM_KEY)).toBe(first.node.uuid);
    expect((second.result as { sum: Int }).sum.value).toBe(15);
    expect((second.node as CalcJobNode).getJobId()).toBe((first.node as CalcJobNode).getJobId());
  });
});

describe('exponential backoff', () => {
  it('pauses a job whose transport task keeps failing with aiida’s message, and play retries the same step', async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'aiida-ts-blocked-'));
    const blocker = path.join(base, 'blocker');
    await writeFile(blocker, 'a file where the work directory should be');
    const computer = await new Computer(
      {
        label: unique('blocked'),
        hostname: 'localhost',
        transportType: 'core.local',
        schedulerType: 'core.direct',
        workdir: path.join(blocker, 'work'),
      },
      { storage: engine().storage },
    ).store();
    await computer.setProperties({ minimum_scheduler_poll_interval: 0.05 });
    await computer.configure({ safe_interval: 0, use_login_shell: false });
    const code = await new InstalledCode(
      { computer, filepathExecutable: '/bin/bash' },
      { label: 'bash' },
    ).store();
    const node = await engine().runner.submit(ArithmeticAddCalculation, { x: 2, y: 2, code });
    const pk = node.pk!;
    await until('the job to pause', async () => (await fresh(pk)).paused, 60_000);
    const paused = await fresh(pk);
    expect(paused.processState).toBe('waiting');
    expect(paused.processStatus).toMatch(
      /^Pausing after failed transport task: upload_calculation failed 2 times consecutively: unable to create the remote directory/,
    );
    expect(paused.checkpoint).not.toBeNull();
    await rm(blocker);
    await mkdir(blocker);
    engine().runner.getLiveProcess(pk)?.play();
    await until('the job to end', async () => (await fresh(pk)).isTerminated, 60_000);
    const done = await fresh(pk);
    expect(done.exitStatus).toBe(0);
    expect(done.paused).toBe(false);
    expect(done.processStatus).toBeNull();
    // the failed attempts stored the sandbox beside their transfers; the one that worked left the inputs on the node
    expect(done.repository.listObjectNames().sort()).toEqual(['.aiida', '_aiidasubmit.sh', 'aiida.in']);
    await rm(base, { recursive: true, force: true });
  });
});
