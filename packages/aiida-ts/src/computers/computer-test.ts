import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { AuthInfo, Computer } from '../orm/entities/computer.js';
import type { User } from '../orm/entities/user.js';
import type { Scheduler } from '../schedulers/scheduler.js';
import { createTransport } from '../transports/registry.js';
import type { Transport } from '../transports/transport.js';

/** The outcome of one check of {@link testComputer}. */
export interface ComputerCheckResult {
  /** Stable name (`connection`, `spurious_output`, `job_list`, `whoami`, `workdir_file`, `login_shell`). */
  readonly name: string;
  /** What was checked, as `verdi computer test` prints it. */
  readonly label: string;
  readonly ok: boolean;
  /** Details: why it failed, or what was found (the user name, the number of jobs). */
  readonly message?: string;
}

/** Options of {@link testComputer}. */
export interface TestComputerOptions {
  /** Whose configuration to test; default: the default user. */
  readonly user?: User;
  /** Told about each check as soon as it finishes (for printing progress). */
  readonly onCheck?: (result: ComputerCheckResult) => void;
  /** Compare command times with and without a login shell (opens six more connections); default true. */
  readonly checkLoginShell?: boolean;
}

/** Everything {@link testComputer} found. */
export interface ComputerTestReport {
  readonly checks: readonly ComputerCheckResult[];
  readonly failures: number;
}

interface CheckContext {
  readonly computer: Computer;
  readonly authInfo: AuthInfo;
  readonly transport: Transport;
  readonly scheduler: Scheduler;
}

type Check = (context: CheckContext) => Promise<{ ok: boolean; message?: string }>;

const spuriousOutput: Check = async ({ transport }) => {
  const { retval, stdout, stderr } = await transport.execCommandWait('echo -n');
  if (retval !== 0)
    return { ok: false, message: `The command \`echo -n\` returned a non-zero return code (${retval})` };
  for (const [stream, text] of [
    ['stdout', stdout],
    ['stderr', stderr],
  ] as const) {
    if (text !== '') {
      return {
        ok: false,
        message:
          `spurious output on ${stream} when connecting (from ~/.bash_profile, ~/.bashrc or similar; guard it ` +
          `for non-interactive shells):\n${text}`,
      };
    }
  }
  return { ok: true };
};

const jobList: Check = async ({ scheduler }) => {
  const jobs = await scheduler.getJobs({ asDict: true });
  return { ok: true, message: `${Object.keys(jobs).length} jobs found in the queue` };
};

const whoami: Check = async ({ transport }) => ({ ok: true, message: await transport.whoami() });

const workdirFile: Check = async ({ authInfo, transport }) => {
  const workdir = authInfo.getWorkdir().replaceAll('{username}', await transport.whoami());
  await transport.makedirs(workdir, { ignoreExisting: true });
  const content = `Test from 'verdi computer test' on ${new Date().toISOString()}`;
  const local = await mkdtemp(path.join(tmpdir(), 'aiida-ts-computer-test-'));
  const name = `aiida-ts-test-${randomBytes(6).toString('hex')}.txt`;
  const remote = path.posix.join(workdir, name);
  try {
    await writeFile(path.join(local, name), content);
    await transport.putfile(path.join(local, name), remote);
    if (!(await transport.pathExists(remote)))
      return { ok: false, message: `failed to create the file \`${remote}\` on the remote` };
    const back = path.join(local, 'back.txt');
    await transport.getfile(remote, back);
    const read = await readFile(back, 'utf8');
    await transport.remove(remote);
    if (read !== content) {
      return {
        ok: false,
        message: `retrieved file content is different from what was expected\n  Expected: ${content}\n  Retrieved: ${read}`,
      };
    }
    if (await transport.pathExists(remote)) return { ok: false, message: `could not delete \`${remote}\`` };
    return { ok: true, message: `wrote, read back and deleted a file in ${workdir}` };
  } finally {
    await rm(local, { recursive: true, force: true });
  }
};

async function timeWhoami(
  computer: Computer,
  authParams: Record<string, unknown>,
  iterations: number,
): Promise<number> {
  let total = 0;
  for (let i = 0; i < iterations; i += 1) {
    const start = performance.now();
    const transport = createTransport(computer.transportType, authParams, { machine: computer.hostname });
    await transport.open();
    try {
      await transport.whoami();
    } finally {
      await transport.close();
    }
    total += performance.now() - start;
  }
  return total / iterations / 1000;
}

const loginShell: Check = async ({ computer, authInfo }) => {
  const params = authInfo.getAuthParams();
  if (params['use_login_shell'] === false) return { ok: true };
  const plain = await timeWhoami(computer, { ...params, use_login_shell: false, safe_interval: 0 }, 3);
  const login = await timeWhoami(computer, { ...params, use_login_shell: true, safe_interval: 0 }, 3);
  // aiida warns when the login shell is slower by more than a factor two and 100 ms.
  if (login - plain > Math.max(0.1, 0.5 * Math.max(login, plain))) {
    return {
      ok: true,
      message:
        `Warning: the login shell is slower (${login.toFixed(3)} s versus ${plain.toFixed(3)} s per command); ` +
        `unless it is needed, disable it with: verdi computer configure ${computer.transportType} ${computer.label} ` +
        '-n --no-use-login-shell',
    };
  }
  return { ok: true };
};

const CHECKS: readonly { readonly name: string; readonly label: string; readonly run: Check }[] = [
  { name: 'spurious_output', label: 'Checking for spurious output', run: spuriousOutput },
  { name: 'job_list', label: 'Getting number of jobs from scheduler', run: jobList },
  { name: 'whoami', label: 'Determining remote user name', run: whoami },
  { name: 'workdir_file', label: 'Creating and deleting temporary file', run: workdirFile },
  { name: 'login_shell', label: 'Checking for possible delay from using login shell', run: loginShell },
];

/**
 * Checks that a configured computer works for a user, as `verdi computer test` does: opens a transport, looks
 * for spurious shell output, lists the scheduler's jobs, asks the remote user name, writes, reads back and
 * deletes a file in the work directory, and compares command times with and without a login shell. A failing
 * check does not stop the others; when the connection cannot be opened only that check is reported.
 *
 * @throws NotExistentError when the computer is not configured for the user.
 */
export async function testComputer(
  computer: Computer,
  options: TestComputerOptions = {},
): Promise<ComputerTestReport> {
  const authInfo = await computer.getAuthInfo(options.user);
  const checks: ComputerCheckResult[] = [];
  const record = (result: ComputerCheckResult): void => {
    checks.push(result);
    options.onCheck?.(result);
  };
  let transport: Transport;
  let scheduler: Scheduler;
  try {
    transport = await authInfo.getTransport();
    scheduler = await computer.getScheduler({ transport });
    await transport.open();
  } catch (error) {
    record({
      name: 'connection',
      label: 'Opening connection',
      ok: false,
      message: `Error while trying to connect to the computer: ${(error as Error).message}`,
    });
    return { checks, failures: 1 };
  }
  record({ name: 'connection', label: 'Opening connection', ok: true });
  try {
    for (const check of CHECKS) {
      if (check.name === 'login_shell' && options.checkLoginShell === false) continue;
      try {
        const outcome = await check.run({ computer, authInfo, transport, scheduler });
        record({
          name: check.name,
          label: check.label,
          ok: outcome.ok,
          ...(outcome.message === undefined ? {} : { message: outcome.message }),
        });
      } catch (error) {
        const reason = error as Error;
        record({
          name: check.name,
          label: check.label,
          ok: false,
          message: `${reason.name}: ${reason.message}`,
        });
      }
    }
  } finally {
    await transport.close();
  }
  return { checks, failures: checks.filter((check) => !check.ok).length };
}
