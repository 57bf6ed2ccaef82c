import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { ServiceMissingError } from './errors.js';

/** `execFile` as a promise of `{ stdout, stderr }`. */
export const run = promisify(execFile);

/** Throws a {@link ServiceMissingError} naming every missing binary and the Debian packages that install them. */
export function requireBinaries(service: string, binaries: readonly string[], debianPackages: string): void {
  const missing = binaries.filter((binary) => !existsSync(binary));
  if (missing.length > 0) {
    throw new ServiceMissingError(
      service,
      `needs ${missing.join(', ')}: apt-get install -y --no-install-recommends ${debianPackages}`,
    );
  }
}

/** The uid and gid of a system user, for running a server as it (as root, where the server refuses root). */
export interface SystemUser {
  readonly uid: number;
  readonly gid: number;
}

/** The ids of the system user `name` when we are root (who must drop privileges), undefined otherwise. */
export async function systemUserWhenRoot(name: string): Promise<SystemUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
    run('id', ['-u', name]),
    run('id', ['-g', name]),
  ]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}
