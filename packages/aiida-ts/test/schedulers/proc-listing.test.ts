/**
 * The direct scheduler on the local machine reads its job list from `/proc` instead of running `ps`: for the same
 * processes — sleeping, stopped, a zombie, niced, a session leader, a multi-threaded one — it gives what `ps`
 * prints, line for line once parsed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DirectScheduler, type JobInfo } from '../../src/schedulers.js';
import { listProcessesLikePs } from '../../src/schedulers/plugins/proc-listing.js';
import { LocalTransport } from '../../src/transports.js';

const children: ChildProcess[] = [];
const pids: string[] = [];
const scheduler = new DirectScheduler({ transport: new LocalTransport({ useLoginShell: false }) });

function start(command: string, args: string[]): string {
  const child = spawn(command, args, { stdio: 'ignore' });
  children.push(child);
  return String(child.pid);
}

/** The parsed rows of `only`, in pid order. */
function rows(jobs: JobInfo[], only: readonly string[]): Record<string, unknown>[] {
  return jobs
    .filter((job) => only.includes(job.jobId))
    .map(({ jobId, jobState, jobSubstate, jobOwner, cpuTime }) => ({
      jobId,
      jobState,
      jobSubstate,
      jobOwner,
      cpuTime,
    }))
    .sort((a, b) => Number(a.jobId) - Number(b.jobId));
}

function ps(args: string[]): { retval: number; stdout: string; stderr: string } {
  try {
    return {
      retval: 0,
      stdout: execFileSync('ps', ['-o', 'pid,stat,user,time', ...args], { encoding: 'utf8' }),
      stderr: '',
    };
  } catch (error) {
    const failed = error as { status: number; stdout: string; stderr: string };
    return { retval: failed.status, stdout: failed.stdout, stderr: failed.stderr };
  }
}

beforeAll(async () => {
  pids.push(start('sleep', ['30']));
  const stopped = start('sleep', ['30']);
  process.kill(Number(stopped), 'SIGSTOP');
  pids.push(stopped);
  // the short sleep ends and is never reaped: a zombie under the long one
  const parent = start('bash', ['-c', 'sleep 0 & exec sleep 30']);
  pids.push(parent);
  pids.push(start('nice', ['-n', '5', 'sleep', '30']));
  // not detached: a process group leader would make setsid fork and exit, and the session leader get another pid
  pids.push(start('setsid', ['sleep', '30']));
  // a multi-threaded one; it says when its start-up is over, after which its main thread only sleeps
  const threaded = spawn(
    process.execPath,
    ['-e', "setTimeout(() => {}, 30_000); process.stdout.write('ready')"],
    {
      stdio: ['ignore', 'pipe', 'ignore'],
    },
  );
  children.push(threaded);
  pids.push(String(threaded.pid));
  await new Promise((resolve) => threaded.stdout.once('data', resolve));
  // wait for the zombie (and for the exec of each command, so both listings see the final process)
  for (let attempt = 0; ; attempt += 1) {
    const zombie = execFileSync('bash', ['-c', `ps -o pid=,stat= --ppid ${parent} || true`], {
      encoding: 'utf8',
    });
    if (/Z/.test(zombie)) {
      pids.push(zombie.trim().split(/\s+/)[0]!);
      break;
    }
    if (attempt === 1000) throw new Error(`no zombie appeared under ${parent}: ${zombie}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  // settled: each has exec'd its final command and sleeps (or is stopped), the node one with its threads. Until then
  // the two listings may see a process in different states, so not settling is a failure here, not a wait that ends
  let states = '';
  for (let attempt = 0; ; attempt += 1) {
    states = execFileSync('bash', ['-c', `ps -o stat=,comm= -p ${pids.join(',')} || true`], {
      encoding: 'utf8',
    });
    const lines = states.trim().split('\n');
    const settled =
      lines.length === pids.length &&
      lines.every((line) => /^(S|T|Z)/.test(line) && !/\b(nice|setsid)\b/.test(line)) &&
      // (multi-threaded: `l` among the flags, after `N` when the test runs niced)
      /^S\S*l\s/m.test(states);
    if (settled) break;
    if (attempt === 1000) throw new Error(`the test's processes did not settle:\n${states}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  // one that is gone: ps lists nothing for it
  const gone = spawn('true');
  await new Promise((resolve) => gone.once('exit', resolve));
  pids.push(String(gone.pid));
});

afterAll(() => {
  for (const child of children) {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      // gone already
    }
  }
});

describe.runIf(process.platform === 'linux')('the job list of the direct scheduler read from /proc', () => {
  it('lists the asked processes as ps -p does', () => {
    const ours = listProcessesLikePs(pids);
    expect(ours).toBeDefined();
    const theirs = ps(['-p', pids.join(',')]);
    expect(ours!.retval).toBe(theirs.retval);
    const listed = rows(scheduler.parseJoblistOutput(ours!), pids);
    expect(listed).toEqual(rows(scheduler.parseJoblistOutput(theirs), pids));
    // every kind of process named above was listed (flags only as far as they do not depend on how the test is run:
    // a terminal adds `+`, a niced runner `N` to all)
    const stats = listed.map(({ jobSubstate }) => String(jobSubstate));
    expect(stats.map((stat) => stat[0]).sort()).toEqual(['S', 'S', 'S', 'S', 'S', 'T', 'Z']);
    for (const flag of ['N', 's', 'l']) expect(stats.some((stat) => stat.includes(flag))).toBe(true);
  });

  it('prints only the header, with exit status 1, when nothing matches', () => {
    const gone = pids.at(-1)!;
    const ours = listProcessesLikePs([gone]);
    const theirs = ps(['-p', gone]);
    expect(ours!.retval).toBe(theirs.retval);
    expect(scheduler.parseJoblistOutput(ours!)).toEqual(scheduler.parseJoblistOutput(theirs));
  });
});
