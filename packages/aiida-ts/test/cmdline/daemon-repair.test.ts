import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DaemonPids, isAlive, writeWorkflowFiles } from './daemon-helpers.js';
import { describeResult, VERDI_ARGV, verdiSandbox } from './verdi-process.js';

// A process left "running" forever by a script that died (aiida-core #1712, #4289): `verdi process list` says its
// script is gone, `verdi process repair` hands it to the daemon, which finishes it from its last checkpoint.
const sandbox = verdiSandbox('aiida-ts-daemon-repair-');
const { verdi, base, configDir } = sandbox;
const pids = new DaemonPids(configDir, ['presto']);
writeWorkflowFiles(base);
const script = join(base, 'run-slow.ts');
writeFileSync(
  script,
  `import { run } from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';
import { Slow } from './slow.ts';

await run(Slow, { x: new Int(1), ms: new Int(100) });
`,
);
let scriptPid = 0;

afterAll(() => {
  if (scriptPid > 0 && isAlive(scriptPid)) process.kill(scriptPid, 'SIGKILL');
  const left = pids.killLeft();
  sandbox.cleanup();
  expect(left, 'processes a test left running').toEqual([]);
});

interface Row {
  pk: number;
  owner: string | null;
}

describe('verdi process repair', () => {
  let pk = 0;

  it('names the dead script of a process that nothing runs any more', async () => {
    expect((await verdi(['presto'])).code).toBe(0);
    const child = spawn(process.execPath, [...VERDI_ARGV, 'run', script], {
      cwd: base,
      env: { ...process.env, AIIDA_TS_PATH: base },
      stdio: 'ignore',
    });
    scriptPid = child.pid ?? 0;
    let row: Row | undefined;
    for (let attempt = 0; attempt < 60 && row === undefined; attempt += 1) {
      const list = await verdi(['process', 'list', '-P', 'pk', 'owner', '--json']);
      row = list.json<Row[]>().find((candidate) => candidate.owner === `script ${scriptPid}`);
    }
    expect(row).toBeDefined();
    pk = row?.pk ?? 0;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(scriptPid, 'SIGKILL');
    await exited;
    const list = await verdi(['process', 'list', '-P', 'pk', 'owner', '--json']);
    expect(list.json()).toEqual([{ pk, owner: `script ${scriptPid} (gone)` }]);
  });

  it('hands it to the daemon, which finishes it', async () => {
    const dry = await verdi(['process', 'repair', '--dry-run']);
    expect(dry.code, describeResult(dry)).toBe(0);
    expect(dry.stdout).toContain(
      `Process<${pk}>: orphaned-script: would be handed to the daemon (its script is gone)`,
    );
    const repair = await verdi(['process', 'repair']);
    expect(repair.code, describeResult(repair)).toBe(0);
    expect(repair.stdout).toContain(
      `Process<${pk}>: orphaned-script: handed to the daemon (its script is gone)`,
    );
    const start = await verdi(['daemon', 'start', '1']);
    pids.note();
    expect(start.code, describeResult(start)).toBe(0);
    const watch = await verdi(['process', 'watch', String(pk)]);
    expect(watch.code, describeResult(watch)).toBe(0);
    const state = await verdi(['process', 'list', '-a', '-P', 'pk', 'state', '--json']);
    expect(state.json()).toContainEqual({
      pk,
      state: { process_state: 'finished', paused: false, exit_status: 0 },
    });
    const again = await verdi(['process', 'repair', '--json']);
    expect(again.json()).toEqual([]);
    const stop = await verdi(['daemon', 'stop']);
    expect(stop.code, describeResult(stop)).toBe(0);
    pids.expectAllGone();
  });
});
