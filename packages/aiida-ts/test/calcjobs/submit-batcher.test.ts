/**
 * Submissions that come together share one command (`SubmitBatcher`): each job is still submitted exactly once, in
 * its own directory, and gets its own job id or its own failure, as if it had been submitted alone.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SubmitBatcher } from '../../src/engine/processes/calcjobs/submit-batcher.js';
import { DirectScheduler } from '../../src/schedulers.js';
import { LocalTransport, type Transport } from '../../src/transports.js';
import { until } from './until.js';

let root: string;
let transport: Transport;

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'aiida-ts-submit-batcher-'));
  transport = new LocalTransport({ useLoginShell: false });
  await transport.open();
});

afterAll(async () => {
  await transport.close();
  await rm(root, { recursive: true, force: true });
});

/** A job directory whose script appends its own pid to `ran` (so a second submission would show). */
async function job(name: string): Promise<string> {
  const workdir = path.join(root, name);
  await mkdir(workdir, { recursive: true });
  await writeFile(path.join(workdir, 'submit.sh'), '#!/bin/bash\necho "$$" >> ran\n');
  return workdir;
}

describe('submissions that come together', () => {
  it('submits each job once, in its own directory, and answers each with its own pid', async () => {
    const scheduler = new DirectScheduler({ transport });
    const batcher = new SubmitBatcher();
    // odd directory names: the batch quotes each one as a single submission does
    const names = ['plain', "it's here", 'with space', '$(touch nope)', 'a;b', 'tab\there', 'ünïcode'];
    const workdirs = await Promise.all(names.map((name, i) => job(`${String(i)}-${name}`)));
    const ids = await Promise.all(workdirs.map((workdir) => batcher.submit(scheduler, workdir, 'submit.sh')));
    expect(ids.every((id) => typeof id === 'string' && /^\d+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    for (const workdir of workdirs) {
      const ran = path.join(workdir, 'ran');
      await until(
        `the job in ${workdir} to run`,
        async () => (await readFile(ran, 'utf8').catch(() => '')) !== '',
      );
      expect((await readFile(ran, 'utf8')).trim().split('\n')).toHaveLength(1);
    }
    await expect(readFile(path.join(root, 'nope'))).rejects.toThrow();
  });

  it('fails only the job whose submission failed', async () => {
    const scheduler = new DirectScheduler({ transport });
    const batcher = new SubmitBatcher();
    const good = await Promise.all([job('good-1'), job('good-2'), job('good-3')]);
    const missing = path.join(root, 'does-not-exist');
    const results = await Promise.allSettled([
      batcher.submit(scheduler, good[0], 'submit.sh'),
      batcher.submit(scheduler, good[1], 'submit.sh'),
      batcher.submit(scheduler, missing, 'submit.sh'),
      batcher.submit(scheduler, good[2], 'submit.sh'),
    ]);
    expect(results.map((result) => result.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    expect(String((results[2] as PromiseRejectedResult).reason)).toMatch(/does-not-exist|retval/);
  });
});
