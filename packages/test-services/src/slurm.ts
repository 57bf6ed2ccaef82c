/**
 * A private single-node Slurm cluster: its own munge key and socket, its own `slurm.conf`, state and spool
 * folders in a temporary directory, and free ports, so it never touches a system Slurm or munge. Needs
 * Debian's `slurm-wlm slurmctld slurmd slurm-client munge`. Only the daemons this helper starts are
 * signalled, by the pids they wrote.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServiceError } from './errors.js';
import { freePorts } from './ports.js';
import { readPidFile, terminate } from './processes.js';
import { requireBinaries, run } from './system.js';
import { waitFor } from './wait.js';

const SERVICE = 'slurm';
const BINARIES = [
  '/usr/sbin/munged',
  '/usr/sbin/slurmctld',
  '/usr/sbin/slurmd',
  '/usr/bin/sbatch',
  '/usr/bin/squeue',
];

/** Options of {@link startPrivateSlurm}. */
export interface PrivateSlurmOptions {
  /** Seconds slurmctld keeps a finished job for `scontrol show job` (Slurm's `MinJobAge`, default 300). */
  readonly minJobAge?: number;
}

/** A running private Slurm cluster. */
export interface PrivateSlurm extends AsyncDisposable {
  /** The temporary folder holding everything. */
  readonly dir: string;
  /** The `slurm.conf`; commands find the cluster through `SLURM_CONF`. */
  readonly conf: string;
  /** The environment the Slurm commands need (`SLURM_CONF`). */
  readonly env: { readonly SLURM_CONF: string };
  /** The jobcomp file Slurm appends every finished job to. */
  readonly jobcompFile: string;
  /** The only partition, which is the default. */
  readonly partition: 'debug';
  /** A folder for job working directories. */
  readonly workRoot: string;
  /** Cancel every job, stop the daemons and delete the folder. */
  stop(): Promise<void>;
}

/** Starts munged, slurmctld and slurmd; resolves once the node is idle and takes jobs. */
export async function startPrivateSlurm(options: PrivateSlurmOptions = {}): Promise<PrivateSlurm> {
  requireBinaries(SERVICE, BINARIES, 'slurm-wlm slurmctld slurmd slurm-client munge');
  const dir = mkdtempSync(path.join(tmpdir(), 'aiida-ts-slurm-'));
  // munged refuses a socket folder that others cannot traverse and a key others can read.
  chmodSync(dir, 0o755);
  const mungeKeyDir = path.join(dir, 'munge-key');
  const mungeRun = path.join(dir, 'munge-run');
  const workRoot = path.join(dir, 'work');
  for (const sub of ['state', 'spool', 'work']) mkdirSync(path.join(dir, sub));
  mkdirSync(mungeKeyDir, { mode: 0o700 });
  mkdirSync(mungeRun, { mode: 0o755 });
  chmodSync(workRoot, 0o777);
  const mungeKey = path.join(mungeKeyDir, 'munge.key');
  writeFileSync(mungeKey, randomBytes(1024), { mode: 0o600 });
  const mungeSocket = path.join(mungeRun, 'munge.socket');
  const mungePidFile = path.join(mungeRun, 'munged.pid');
  const conf = path.join(dir, 'slurm.conf');
  const jobcompFile = path.join(dir, 'jobcomp.log');
  const env = { SLURM_CONF: conf };
  const childEnv = { ...process.env, ...env };
  const wait = (what: string, probe: () => boolean | Promise<boolean>, timeoutMs: number) =>
    waitFor(what, probe, { timeoutMs, service: SERVICE });

  const stop = async (): Promise<void> => {
    if (existsSync(conf)) {
      try {
        const { stdout } = await run('squeue', ['-h', '-o', '%i'], { env: childEnv, timeout: 10_000 });
        const ids = stdout.split('\n').filter(Boolean);
        if (ids.length > 0) await run('scancel', ids, { env: childEnv, timeout: 10_000 });
      } catch {
        // The controller may already be down; the daemons are stopped below either way.
      }
    }
    for (const pidFile of [path.join(dir, 'slurmd.pid'), path.join(dir, 'slurmctld.pid'), mungePidFile]) {
      await terminate(readPidFile(pidFile), { service: SERVICE });
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await run(
      '/usr/sbin/munged',
      [
        `--socket=${mungeSocket}`,
        `--key-file=${mungeKey}`,
        `--pid-file=${mungePidFile}`,
        `--log-file=${path.join(mungeKeyDir, 'munged.log')}`,
        `--seed-file=${path.join(mungeKeyDir, 'munged.seed')}`,
      ],
      { timeout: 10_000 },
    );
    await wait('munged', () => existsSync(mungeSocket) && readPidFile(mungePidFile) !== undefined, 10_000);

    const [ctldPort, slurmdPort] = await freePorts(2);
    writeFileSync(
      conf,
      [
        'ClusterName=aiidats',
        'SlurmctldHost=localhost',
        'AuthType=auth/munge',
        `AuthInfo=socket=${mungeSocket}`,
        'CredType=cred/munge',
        'SlurmUser=root',
        'SlurmdUser=root',
        `SlurmctldPort=${ctldPort}`,
        `SlurmdPort=${slurmdPort}`,
        `StateSaveLocation=${path.join(dir, 'state')}`,
        `SlurmdSpoolDir=${path.join(dir, 'spool')}`,
        `SlurmctldPidFile=${path.join(dir, 'slurmctld.pid')}`,
        `SlurmdPidFile=${path.join(dir, 'slurmd.pid')}`,
        `SlurmctldLogFile=${path.join(dir, 'slurmctld.log')}`,
        `SlurmdLogFile=${path.join(dir, 'slurmd.log')}`,
        'ProctrackType=proctrack/linuxproc',
        'TaskPlugin=task/none',
        'JobAcctGatherType=jobacct_gather/none',
        'AccountingStorageType=accounting_storage/none',
        'JobCompType=jobcomp/filetxt',
        `JobCompLoc=${jobcompFile}`,
        `MinJobAge=${options.minJobAge ?? 300}`,
        'SchedulerType=sched/backfill',
        'SelectType=select/cons_tres',
        'SelectTypeParameters=CR_Core',
        'ReturnToService=2',
        'MpiDefault=none',
        'NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN',
        'PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP',
        '',
      ].join('\n'),
    );
    await run('/usr/sbin/slurmctld', [], { env: childEnv, timeout: 20_000 });
    await wait('slurmctld', () => readPidFile(path.join(dir, 'slurmctld.pid')) !== undefined, 10_000);
    // The host's name is not `localhost`, so slurmd is told which node it is.
    await run('/usr/sbin/slurmd', ['-N', 'localhost'], { env: childEnv, timeout: 20_000 });
    await wait(
      'the node to be idle',
      async () => {
        const { stdout } = await run('sinfo', ['-h', '-o', '%T'], { env: childEnv, timeout: 5_000 });
        return stdout.trim() === 'idle';
      },
      30_000,
    );
  } catch (error) {
    const logs = ['slurmctld.log', 'slurmd.log']
      .map((name) => path.join(dir, name))
      .filter((file) => existsSync(file))
      .map((file) => `--- ${path.basename(file)}\n${readFileSync(file, 'utf8').slice(-2000)}`)
      .join('\n');
    await stop();
    throw new ServiceError(SERVICE, `did not start: ${String(error)}\n${logs}`, { cause: error });
  }

  return { dir, conf, env, jobcompFile, partition: 'debug', workRoot, stop, [Symbol.asyncDispose]: stop };
}
