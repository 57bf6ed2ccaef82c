import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Computer, InstalledCode, type ComputerInit } from '../../src/orm.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { unique } from '../computers/helpers.js';

/** A stored computer with a `bash` code on it, its work directory in a temporary folder. */
export interface CodeFixture {
  readonly computer: Computer;
  readonly code: InstalledCode;
  /** The work directory of the computer (jobs run under it). */
  readonly workdir: string;
  cleanup(): Promise<void>;
}

/**
 * A `core.local` + `core.direct` computer (or another transport and scheduler) with a work directory of its own, polled
 * often, configured for the default user, and `/bin/bash` installed on it as a code.
 */
export async function setupComputer(
  storage: StorageBackend,
  init: Partial<ComputerInit> = {},
  authParams: Record<string, unknown> = { safe_interval: 0, use_login_shell: false },
  properties: Record<string, unknown> = {},
): Promise<CodeFixture> {
  const workdir = await mkdtemp(path.join(tmpdir(), 'aiida-ts-calcjob-work-'));
  const computer = await new Computer(
    {
      label: unique('computer'),
      hostname: 'localhost',
      transportType: 'core.local',
      schedulerType: 'core.direct',
      workdir,
      ...init,
    },
    { storage },
  ).store();
  await computer.setProperties({ minimum_scheduler_poll_interval: 0.05, ...properties });
  await computer.configure(authParams);
  const code = await new InstalledCode(
    { computer, filepathExecutable: '/bin/bash', defaultCalcJobPlugin: 'core.arithmetic.add' },
    { storage, label: 'bash' },
  ).store();
  return { computer, code, workdir, cleanup: () => rm(workdir, { recursive: true, force: true }) };
}
