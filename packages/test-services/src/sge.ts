/**
 * A private Grid Engine cell: its own SGE_ROOT (linking Debian's binaries), cell, berkeleydb spool, queue
 * `all.q`, parallel environment `smp` and free ports, all in a temporary folder, so it never touches a system
 * gridengine. Needs Debian's `gridengine-master gridengine-exec gridengine-client`. Only the daemons this
 * helper starts are signalled, by the pids they wrote.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { ServiceError } from './errors.js';
import { freePorts } from './ports.js';
import { readPidFile, terminate } from './processes.js';
import { requireBinaries, run } from './system.js';
import { waitFor } from './wait.js';

const SERVICE = 'sge';
const DEBIAN_ROOT = '/var/lib/gridengine';
const LIBEXEC = '/usr/lib/gridengine';
const BINARIES = [
  '/usr/sbin/sge_qmaster',
  '/usr/sbin/sge_execd',
  `${LIBEXEC}/spoolinit`,
  `${LIBEXEC}/qconf`,
  '/usr/bin/qsub',
];

/** A running private Grid Engine cell. */
export interface PrivateSge extends AsyncDisposable {
  readonly root: string;
  /** The environment the Grid Engine commands need. */
  readonly env: {
    readonly SGE_ROOT: string;
    readonly SGE_CELL: string;
    readonly SGE_QMASTER_PORT: string;
    readonly SGE_EXECD_PORT: string;
  };
  readonly queue: 'all.q';
  readonly parallelEnv: 'smp';
  /** A folder for job working directories. */
  readonly workRoot: string;
  /** Delete every job, stop the daemons and delete the folder. */
  stop(): Promise<void>;
}

/** Starts sge_qmaster and sge_execd; resolves once the queue takes jobs. */
export async function startPrivateSge(): Promise<PrivateSge> {
  requireBinaries(SERVICE, BINARIES, 'gridengine-master gridengine-exec gridengine-client');
  const root = mkdtempSync(path.join(tmpdir(), 'aiida-ts-sge-'));
  chmodSync(root, 0o755);
  const cell = 'aiidats';
  const host = hostname();
  const user = userInfo().username;
  const spool = path.join(root, 'spool');
  const workRoot = path.join(root, 'work');
  for (const sub of ['bin', 'lib', 'util', 'utilbin'])
    symlinkSync(path.join(DEBIAN_ROOT, sub), path.join(root, sub));
  mkdirSync(path.join(root, cell, 'common'), { recursive: true });
  for (const sub of ['db', 'qmaster', 'execd']) mkdirSync(path.join(spool, sub), { recursive: true });
  mkdirSync(workRoot, { mode: 0o777 });
  const [qmasterPort, execdPort] = await freePorts(2);
  const env = {
    SGE_ROOT: root,
    SGE_CELL: cell,
    SGE_QMASTER_PORT: String(qmasterPort),
    SGE_EXECD_PORT: String(execdPort),
  };
  const childEnv = { ...process.env, ...env };
  const common = path.join(root, cell, 'common');
  const qconf = (...args: string[]) => run(`${LIBEXEC}/qconf`, args, { env: childEnv, timeout: 20_000 });

  const stop = async (): Promise<void> => {
    try {
      await run('/usr/bin/qdel', ['-u', user], { env: childEnv, timeout: 10_000 });
    } catch {
      // No jobs, or the master is already down; the daemons are stopped below either way.
    }
    const execdSpool = path.join(spool, 'execd');
    const execdPids = existsSync(execdSpool)
      ? readdirSync(execdSpool).map((name) => readPidFile(path.join(execdSpool, name, 'execd.pid')))
      : [];
    // Both daemons shut down slowly (sge_qmaster's controlled shutdown takes ~10 s) and this cell's spool is
    // thrown away anyway: stop them together with a short grace.
    await Promise.all(
      [...execdPids, readPidFile(path.join(spool, 'qmaster', 'qmaster.pid'))].map((pid) =>
        terminate(pid, { graceMs: 3_000, service: SERVICE }),
      ),
    );
    rmSync(root, { recursive: true, force: true });
  };

  try {
    writeFileSync(
      path.join(common, 'bootstrap'),
      [
        `admin_user              ${user}`,
        'default_domain          none',
        'ignore_fqdn             true',
        'spooling_method         berkeleydb',
        'spooling_lib            libspoolb',
        `spooling_params         ${path.join(spool, 'db')}`,
        'binary_path             /usr/sbin',
        `qmaster_spool_dir       ${path.join(spool, 'qmaster')}`,
        'security_mode           none',
        'listener_threads        2',
        'worker_threads          2',
        'scheduler_threads       1',
        '',
      ].join('\n'),
    );
    writeFileSync(path.join(common, 'act_qmaster'), `${host}\n`);
    // 127.0.0.1 reverse-resolves to `localhost` while the host calls itself something else; without the
    // alias the master refuses its own clients ("access denied (client IP resolved to host name …)").
    if (host !== 'localhost') writeFileSync(path.join(common, 'host_aliases'), `${host} localhost\n`);

    await run(`${LIBEXEC}/spoolinit`, ['berkeleydb', 'libspoolb', path.join(spool, 'db'), 'init'], {
      env: childEnv,
      timeout: 20_000,
    });
    const configuration = readFileSync('/usr/share/gridengine/default-configuration', 'utf8')
      .replace(/^execd_spool_dir\s+.*$/m, `execd_spool_dir        ${path.join(spool, 'execd')}`)
      // The tests run as root; jobs of users below min_uid are refused.
      .replace(/^min_uid\s+.*$/m, 'min_uid                0')
      .replace(/^min_gid\s+.*$/m, 'min_gid                0')
      .replace(/^load_report_time\s+.*$/m, 'load_report_time       00:00:05')
      // Jobs run `-S /bin/bash` as a plain shell: a login shell would read the user's profile, whose
      // side effects (version managers taking locks, …) do not belong in a test.
      .replace(/^login_shells\s+.*$/m, 'login_shells           sh')
      // qacct reads the accounting file, which is flushed every 15 s by default.
      .replace(/flush_time=\S+/, 'flush_time=00:00:01');
    const confFile = path.join(root, 'configuration');
    writeFileSync(confFile, configuration);
    const spooldefaults = (...args: string[]) =>
      run(`${LIBEXEC}/spooldefaults`, args, { env: childEnv, timeout: 20_000 });
    await spooldefaults('configuration', confFile);
    await spooldefaults('complexes', '/usr/share/gridengine/util/resources/centry');
    await spooldefaults('usersets', '/usr/share/gridengine/util/resources/usersets');
    await spooldefaults('managers', user);

    await run('/usr/sbin/sge_qmaster', [], { env: childEnv, cwd: root, timeout: 20_000 });
    await waitFor(
      'sge_qmaster',
      async () => {
        await qconf('-sh');
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 200, service: SERVICE },
    );
    await qconf('-as', host);

    const { stdout: schedulerConf } = await qconf('-ssconf');
    const fastScheduler = path.join(root, 'sched.conf');
    writeFileSync(
      fastScheduler,
      schedulerConf
        .replace(/^schedule_interval\s+.*$/m, 'schedule_interval                 0:0:1')
        .replace(/^flush_submit_sec\s+.*$/m, 'flush_submit_sec                  1')
        .replace(/^flush_finish_sec\s+.*$/m, 'flush_finish_sec                  1'),
    );
    await qconf('-Msconf', fastScheduler);

    const peFile = path.join(root, 'pe.conf');
    writeFileSync(
      peFile,
      [
        'pe_name            smp',
        'slots              99',
        'user_lists         NONE',
        'xuser_lists        NONE',
        'start_proc_args    NONE',
        'stop_proc_args     NONE',
        'allocation_rule    $pe_slots',
        'control_slaves     TRUE',
        'job_is_first_task  TRUE',
        'urgency_slots      min',
        'accounting_summary FALSE',
        'qsort_args         NONE',
        '',
      ].join('\n'),
    );
    await qconf('-Ap', peFile);

    const { stdout: queueTemplate } = await qconf('-sq');
    const queueFile = path.join(root, 'queue.conf');
    writeFileSync(
      queueFile,
      queueTemplate
        .replace(/^qname\s+.*$/m, 'qname all.q')
        .replace(/^hostlist\s+.*$/m, `hostlist ${host}`)
        .replace(/^slots\s+.*$/m, 'slots 2')
        .replace(/^pe_list\s+.*$/m, 'pe_list smp')
        .replace(/^shell\s+.*$/m, 'shell /bin/bash')
        // The machine is shared: a busy neighbour must not put the queue in alarm state (no scheduling).
        .replace(/^load_thresholds\s+.*$/m, 'load_thresholds NONE'),
    );
    await qconf('-Aq', queueFile);

    await run('/usr/sbin/sge_execd', [], { env: childEnv, cwd: root, timeout: 20_000 });
    await waitFor(
      'the execution host to report',
      async () => {
        const { stdout } = await run(`${LIBEXEC}/qstat`, ['-f', '-q', 'all.q'], {
          env: childEnv,
          timeout: 5_000,
        });
        // Ready when the queue instance has no state letter (`u` until its host reports, `a`, `E`, …).
        const line = stdout.split('\n').find((l) => l.startsWith('all.q@'));
        return line !== undefined && line.trim().split(/\s+/).length === 5;
      },
      { timeoutMs: 60_000, intervalMs: 200, service: SERVICE },
    );
  } catch (error) {
    const messages = path.join(spool, 'qmaster', 'messages');
    const log = existsSync(messages) ? readFileSync(messages, 'utf8').slice(-2000) : '';
    await stop();
    throw new ServiceError(SERVICE, `did not start: ${String(error)}\n${log}`, { cause: error });
  }

  return { root, env, queue: 'all.q', parallelEnv: 'smp', workRoot, stop, [Symbol.asyncDispose]: stop };
}
