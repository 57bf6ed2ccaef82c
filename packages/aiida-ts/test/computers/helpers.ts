import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Computer, type ComputerInit } from '../../src/orm.js';
import { startPrivateSshd, type PrivateSshd } from '@aiida-ts/test-services';

let counter = 0;
/** A label no other test (or parallel run) uses. */
export const unique = (prefix: string): string => `${prefix}-${process.pid}-${Date.now()}-${(counter += 1)}`;

/** An unstored `core.local` + `core.direct` computer. */
export function localComputer(init: Partial<ComputerInit> = {}): Computer {
  return new Computer({
    label: unique('local'),
    hostname: 'localhost',
    transportType: 'core.local',
    schedulerType: 'core.direct',
    ...init,
  });
}

/**
 * A folder no one can create anything in, even root: sysfs refuses new entries (EPERM or EROFS), so a work
 * directory under it is never writable.
 */
export const UNWRITABLE_WORKDIR = '/sys/aiida-ts-unwritable/{username}/';

/** A private sshd plus a home folder whose `.ssh/known_hosts` trusts it (so nothing touches the real `~/.ssh`). */
export interface SshFixture {
  readonly sshd: PrivateSshd;
  /** Use as `HOME` for whatever connects. */
  readonly home: string;
  /** Auth params for `computer.configure` that log in to the private sshd with its client key. */
  readonly authParams: Record<string, unknown>;
  dispose(): Promise<void>;
}

export async function startSshFixture(): Promise<SshFixture> {
  const sshd = await startPrivateSshd();
  const home = await mkdtemp(path.join(tmpdir(), 'aiida-ts-ssh-home-'));
  await mkdir(path.join(home, '.ssh'), { mode: 0o700 });
  await copyFile(sshd.knownHostsFile, path.join(home, '.ssh', 'known_hosts'));
  return {
    sshd,
    home,
    authParams: {
      port: sshd.port,
      key_filename: sshd.clientKey,
      look_for_keys: false,
      allow_agent: false,
      use_login_shell: false,
      safe_interval: 0,
    },
    dispose: async () => {
      await sshd.dispose();
      await rm(home, { recursive: true, force: true });
    },
  };
}
