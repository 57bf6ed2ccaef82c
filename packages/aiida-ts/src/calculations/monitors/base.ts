import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ValidationError } from '../../errors.js';
import type { CalcJobNode } from '../../orm/nodes/process/calcjob.js';
import type { Transport } from '../../transports/transport.js';

/**
 * A demonstration monitor (aiida's `core.always_kill`): kills the job as soon as its submission script has content,
 * which is always.
 */
export async function alwaysKill(node: CalcJobNode, transport: Transport): Promise<string | null> {
  const workdir = node.getRemoteWorkdir();
  if (workdir === null) throw new ValidationError('The remote work directory cannot be None');
  const scratch = await mkdtemp(path.join(tmpdir(), 'aiida-ts-monitor-'));
  try {
    const local = path.join(scratch, 'script');
    await transport.getfile(path.posix.join(workdir, '_aiidasubmit.sh'), local);
    return (await readFile(local, 'utf8')) !== '' ? 'Detected a non-empty submission script' : null;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
