/**
 * A runner OS process SIGKILLed in the middle of a calculation job — while uploading, right after the scheduler took
 * the job (before its id was recorded), while the job is with the scheduler, while retrieving — and a new runner that
 * continues the job from its checkpoint: the job finishes with the same provenance as an undisturbed one, and the
 * scheduler ran exactly one job.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadNode } from '../../src/orm/loaders.js';
import type { CalcJobNode, Int } from '../../src/orm.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { SqliteDosStorage } from '../../src/storage/sqlite/sqlite-dos.js';
import { wirePlugins } from '../../src/config/plugin-wiring.js';
import { linkSummary } from '../engine/helpers.js';
import { sqliteDosConfig, TEST_USER_EMAIL } from '../storage/helpers.js';
import { setupComputer, type CodeFixture } from './helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsxLoader = createRequire(import.meta.url).resolve('tsx');

let storage: StorageBackend;
let filepath: string;
let cleanupStorage: () => Promise<void>;
let fixture: CodeFixture;
let configDir: string;

interface RunnerOutcome {
  readonly lines: Record<string, unknown>[];
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
  readonly stderr: string;
}

/** Runs the runner script to its end (or its death) and gives what it printed. */
function runRunner(args: readonly string[], fault?: string): Promise<RunnerOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', tsxLoader, path.join(here, 'scripts', 'job-runner.ts'), ...args],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          ...process.env,
          AIIDA_TS_PATH: configDir,
          ...(fault === undefined ? {} : { AIIDA_TS_FAULT_INJECT: fault }),
        },
      },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      resolve({
        lines: out
          .split('\n')
          .filter((line) => line.startsWith('{'))
          .map((line) => JSON.parse(line) as Record<string, unknown>),
        signal,
        code,
        stderr: err,
      }),
    );
  });
}

beforeAll(async () => {
  configDir = await mkdtemp(path.join(tmpdir(), 'aiida-ts-crash-config-'));
  const plugin = new SqliteDosStorage();
  const made = await sqliteDosConfig();
  filepath = made.config.filepath;
  cleanupStorage = made.cleanup;
  await plugin.initialise(made.config);
  storage = await plugin.open(made.config, { defaultUserEmail: TEST_USER_EMAIL });
  setDefaultStorage(storage);
  wirePlugins(); // as loadProfile does: the computer reaches the transport and scheduler registries
  fixture = await setupComputer(storage);
}, 60_000);

afterAll(async () => {
  await fixture?.cleanup();
  setDefaultStorage(null);
  await storage?.close();
  await cleanupStorage?.();
  await rm(configDir, { recursive: true, force: true });
});

/** `[when, fault point, seconds the job sleeps, whether the job waits for the test's gate]`. */
const FAULTS = [
  ['while uploading', 'upload:file', 0, false],
  // The job still runs when the new runner looks for it (it waits for the gate, which the test opens once the new
  // runner has recorded the job's id): the runner finds it by its working directory and records its id.
  ['right after the scheduler took the job, before its id was recorded', 'submit:scheduler', 0, true],
  ['while the job is with the scheduler', 'update:poll', 2, false],
  // The poll found the job done; the wait to retrieve is written with the retrieve's write, so the new runner polls
  // again from the checkpoint before and finds the job done.
  ['right after the poll that found the job done', 'update:done', 0, false],
  ['while retrieving', 'retrieve:files', 0, false],
] as const;

describe('a runner SIGKILLed in the middle of a job', () => {
  for (const [when, fault, sleep, gated] of FAULTS) {
    it(
      `is continued by a new runner ${when}, with one scheduler job and the same provenance`,
      { timeout: 120_000 },
      async () => {
        const runs = path.join(fixture.workdir, `runs-${fault.replace(':', '-')}.log`);
        const gate = path.join(fixture.workdir, `gate-${fault.replace(':', '-')}`);
        const waitForGate = gated ? `; while [ ! -e '${gate}' ]; do sleep 0.05; done` : '';
        const first = await runRunner(
          [
            'submit',
            filepath,
            String(fixture.code.pk),
            '20',
            '22',
            String(sleep),
            `echo ran >> '${runs}'${waitForGate}`,
          ],
          fault,
        );
        expect(first.signal, first.stderr).toBe('SIGKILL');
        const pk = Number(first.lines.find((line) => 'pk' in line)?.['pk']);
        expect(Number.isInteger(pk)).toBe(true);
        const interrupted = await loadNode<CalcJobNode>(pk);
        expect(interrupted.isTerminated).toBe(false);
        expect(interrupted.checkpoint).not.toBeNull();

        const continued = runRunner(['continue', filepath, String(pk)]);
        if (gated) {
          // The job holds until the new runner has found it and recorded its id; then it may end.
          await vi.waitFor(
            async () => expect((await loadNode<CalcJobNode>(pk)).getJobId()).toMatch(/^\d+$/),
            {
              timeout: 90_000,
              interval: 50,
            },
          );
          await writeFile(gate, '');
        }
        const second = await continued;
        expect(second.code, second.stderr).toBe(0);
        expect(second.lines.at(-1)).toEqual({ done: 0 });

        const node = await loadNode<CalcJobNode>(pk);
        expect(node.processState).toBe('finished');
        expect(node.exitStatus).toBe(0);
        expect(node.getState()).toBeNull();
        expect(node.processStatus).toBeNull();
        expect(await linkSummary(node, 'incoming')).toEqual([
          'input_calc code InstalledCode',
          'input_calc x Int',
          'input_calc y Int',
        ]);
        expect(await linkSummary(node, 'outgoing')).toEqual([
          'create remote_folder RemoteData',
          'create retrieved FolderData',
          'create sum Int',
        ]);
        const sum = (await node.base.links.getOutgoing({ linkLabelFilter: 'sum' })).first()?.node as Int;
        expect(sum.value).toBe(42);
        expect(node.getJobId()).toMatch(/^\d+$/);
        // The job script ran once: one scheduler job.
        expect(existsSync(runs)).toBe(true);
        expect(readFileSync(runs, 'utf8')).toBe('ran\n');
      },
    );
  }
});
