import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, runVerdi, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-maintain-');
afterAll(() => sandbox.cleanup());
const { verdi, base } = sandbox;

/** Polls `condition` until it holds; fails after a generous deadline (never a fixed sleep standing for an event). */
async function until(condition: () => boolean, what: string, deadlineMs = 60_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// A script storing files until told to stop: the user's script of the original report.
const STORING = `
import { existsSync, writeFileSync } from 'node:fs';
import { SinglefileData } from 'aiida-ts/orm';
import { getConfigDir, getProfile, ProfileAccessManager } from 'aiida-ts/config';
const [started, stop] = process.argv.slice(2);
const access = new ProfileAccessManager(getProfile().name, { configDir: getConfigDir() });
let i = 0;
for (;;) {
  const node = await SinglefileData.fromString('content ' + i);
  await node.store();
  i += 1;
  if (i === 1) writeFileSync(started, JSON.stringify(access.list()));
  if (existsSync(stop)) break;
}
console.log('stored ' + i);
`;

beforeAll(async () => {
  const created = await verdi(['presto', '--profile-name', 'maint']);
  expect(created.code, describeResult(created)).toBe(0);
});

describe('verdi storage maintain --full and the processes using the profile', () => {
  it('every process using the profile is recorded; full maintenance refuses while one runs, even with --force', async () => {
    const script = join(base, 'storing.ts');
    const started = join(base, 'started.json');
    const stop = join(base, 'stop');
    writeFileSync(script, STORING);
    const running = runVerdi(base, ['run', script, started, stop], { timeoutMs: 120_000 });
    await until(() => existsSync(started), 'the script to store its first node');

    // the running script is in the profile's access records, with its command line
    const records = JSON.parse(readFileSync(started, 'utf8')) as {
      pid: number;
      liveness: string;
      record: { command: string[] };
    }[];
    expect(records).toHaveLength(1);
    expect(records[0]?.liveness).toBe('alive');
    expect(records[0]?.record.command.join(' ')).toContain('storing.ts');

    const refused = await verdi(['storage', 'maintain', '--full', '--force']);
    expect(refused.code, describeResult(refused)).toBe(1);
    expect(refused.stderr).toContain('cannot lock profile `maint` because other processes are using it');
    expect(refused.stderr).toContain(`pid ${records[0]?.pid}`);
    expect(refused.stderr).toContain('storing.ts');
    expect(refused.stdout).not.toContain('Success');

    // a dry run changes nothing and needs no lock
    const dry = await verdi(['storage', 'maintain', '--full', '--dry-run']);
    expect(dry.code, describeResult(dry)).toBe(0);

    writeFileSync(stop, '');
    const run = await running;
    expect(run.code, describeResult(run)).toBe(0);
    const stored = Number(/stored (\d+)/.exec(run.stdout)?.[1]);

    const full = await verdi(['storage', 'maintain', '--full', '--force']);
    expect(full.code, describeResult(full)).toBe(0);
    expect(full.stdout).toContain(`Success: ${stored} loose objects were packed, 0 objects were deleted`);
  });
});
