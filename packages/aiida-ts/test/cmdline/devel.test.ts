/**
 * `verdi devel launch-add` and `launch-multiply-add` on a `verdi presto` profile (they set up `bash@localhost`, and
 * the computer, when missing), and `code.getBuilder()` behind them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { getManager, runGetNode } from '../../src/engine.js';
import { startDaemonWorker } from '../../src/engine/daemon/index.js';
import type { WorkChainNode } from '../../src/orm.js';
import {
  CalcJobNode,
  Computer,
  InstalledCode,
  Int,
  loadCode,
  loadNode,
  type ProcessNode,
} from '../../src/orm.js';
import { verdiInProcess as verdi } from './verdi-in-process.js';
import { verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-devel-');
const show = (result: { code: number; stdout: string; stderr: string }) =>
  `exit ${String(result.code)}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`;

/** The pk in `Label<pk> finished successfully.` */
function launchedPk(text: string, label: string): number {
  const match = new RegExp(`${label}<(\\d+)> finished successfully`).exec(text);
  if (match === null) throw new Error(`no success line for ${label} in:\n${text}`);
  return Number(match[1]);
}

/** The pk in aiida-core's `Submitted calculation|workflow \`uuid: … (pk: N) …\``. */
function submittedPk(text: string, kind: 'calculation' | 'workflow'): number {
  const match = new RegExp(`Submitted ${kind} \`uuid: [0-9a-f-]{36} \\(pk: (\\d+)\\)[^\`]*\``).exec(text);
  if (match === null) throw new Error(`no submission line for a ${kind} in:\n${text}`);
  return Number(match[1]);
}

/** Runs `body` with the profile loaded in this process (the commands load and unload it themselves). */
async function withProfile<T>(body: () => Promise<T>): Promise<T> {
  await loadProfile();
  try {
    return await body();
  } finally {
    await getManager().close();
    await unloadProfile();
  }
}

// The jobs run in login shells (the localhost of `verdi presto`): a HOME of the test's own keeps the machine user's
// start-up files out of them.
const previousHome = process.env['HOME'];

beforeAll(async () => {
  setConfigDir(sandbox.configDir);
  process.env['HOME'] = sandbox.base;
  const created = await verdi(['presto']);
  expect(created.code, show(created)).toBe(0);
  // the command must set the computer up itself: the presto one is renamed out of its way
  const relabelled = await verdi(['computer', 'relabel', 'localhost', 'presto-localhost']);
  expect(relabelled.code, show(relabelled)).toBe(0);
}, 60_000);
afterAll(() => {
  if (previousHome === undefined) delete process.env['HOME'];
  else process.env['HOME'] = previousHome;
  setConfigDir(undefined);
  sandbox.cleanup();
});

describe('verdi devel launch-add', () => {
  it('sets up localhost and bash@localhost when missing, runs 1 + 1, then reuses them', async () => {
    const first = await verdi(['devel', 'launch-add']);
    expect(first.code, show(first)).toBe(0);
    expect(first.stdout).toContain('Set up the computer `localhost`.');
    expect(first.stdout).toContain('Set up the code `bash@localhost`.');
    const pk = launchedPk(first.stdout, 'ArithmeticAddCalculation');
    const second = await verdi(['devel', 'launch-add', '-s', '1']);
    expect(second.code, show(second)).toBe(0);
    expect(second.stdout).not.toContain('Set up');
    const slept = launchedPk(second.stdout, 'ArithmeticAddCalculation');
    await withProfile(async () => {
      const node = await loadNode<CalcJobNode>(pk);
      expect(node).toBeInstanceOf(CalcJobNode);
      const sum = (await node.base.links.getOutgoing({ linkLabelFilter: 'sum' })).first()?.node;
      expect((sum as Int).value).toBe(2);
      expect((await loadNode<CalcJobNode>(slept)).getOption('sleep')).toBe(1);
      expect((await node.getComputer())?.transportType).toBe('core.local');
    });
  });

  it('runs with a given code, and names a code that is missing or runs another plugin', async () => {
    const given = await verdi(['devel', 'launch-add', '-c', 'bash@localhost']);
    expect(given.code, show(given)).toBe(0);
    const missing = await verdi(['devel', 'launch-add', '-c', 'nope@nowhere']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('invalid value for -c/--code');
    await withProfile(async () => {
      const computer = await Computer.get({ label: 'localhost' });
      await new InstalledCode(
        { computer, filepathExecutable: '/bin/cat', defaultCalcJobPlugin: 'core.templatereplacer' },
        { label: 'cat' },
      ).store();
    });
    const other = await verdi(['devel', 'launch-add', '-c', 'cat@localhost']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('runs `core.templatereplacer`, not `core.arithmetic.add`');
    const badSleep = await verdi(['devel', 'launch-add', '-s', 'long']);
    expect(badSleep.code).toBe(2);
    expect(badSleep.stderr).toContain('invalid value for -s/--sleep: `long` is not a whole number');
  });
});

describe('verdi devel launch-multiply-add', () => {
  it('runs (1 × 1) + 1 through a work chain calling the add job', async () => {
    const result = await verdi(['devel', 'launch-multiply-add']);
    expect(result.code, show(result)).toBe(0);
    const pk = launchedPk(result.stdout, 'MultiplyAddWorkChain');
    await withProfile(async () => {
      const node = await loadNode<WorkChainNode>(pk);
      expect(node.isFinishedOk).toBe(true);
      const called = (await node.base.links.getOutgoing()).all().map((t) => t.node);
      expect(called.some((n) => n instanceof CalcJobNode && (n as ProcessNode).isFinishedOk)).toBe(true);
      const returned = (await node.base.links.getOutgoing({ linkLabelFilter: 'result' })).first()?.node;
      expect((returned as Int).value).toBe(2);
    });
  });
});

describe('verdi devel launch-add|launch-multiply-add --daemon', () => {
  it('submit to the daemon instead of running, as aiida-core; a daemon worker then runs them', async () => {
    const add = await verdi(['devel', 'launch-add', '--daemon']);
    expect(add.code, show(add)).toBe(0);
    const addPk = submittedPk(add.stdout, 'calculation');
    const multiplyAdd = await verdi(['devel', 'launch-multiply-add', '-d']);
    expect(multiplyAdd.code, show(multiplyAdd)).toBe(0);
    const workflowPk = submittedPk(multiplyAdd.stdout, 'workflow');
    await withProfile(async () => {
      // nothing ran in the command: the processes wait for a daemon worker
      for (const pk of [addPk, workflowPk])
        expect((await loadNode<ProcessNode>(pk)).processState).toBe('created');
    });
    const worker = await startDaemonWorker(undefined, { slots: 4, handleSignals: false });
    try {
      const runner = worker.worker.runner;
      const [addNode, workflowNode] = await Promise.all(
        [addPk, workflowPk].map((pk) => runner.getProcessFuture(pk)),
      );
      expect(addNode).toBeInstanceOf(CalcJobNode);
      expect(addNode?.isFinishedOk).toBe(true);
      expect(workflowNode?.isFinishedOk).toBe(true);
      const sum = (await addNode!.base.links.getOutgoing({ linkLabelFilter: 'sum' })).first()?.node;
      expect((sum as Int).value).toBe(2);
    } finally {
      await worker.stop();
    }
  });
});

describe('code.getBuilder()', () => {
  it('gives a builder of the default plugin with the code set, and names a code without one', async () => {
    await withProfile(async () => {
      const code = await loadCode('bash@localhost');
      const builder = await code.getBuilder();
      expect(builder.processClass.name).toBe('ArithmeticAddCalculation');
      expect(builder._inputs()['code']).toBe(code);
      builder._update({ x: new Int(20), y: new Int(22) });
      const { node } = await runGetNode(builder);
      const sum = (await node.base.links.getOutgoing({ linkLabelFilter: 'sum' })).first()?.node;
      expect((sum as Int).value).toBe(42);
      const computer = await Computer.get({ label: 'localhost' });
      const bare = await new InstalledCode(
        { computer, filepathExecutable: '/bin/true' },
        { label: 'bare' },
      ).store();
      await expect(bare.getBuilder()).rejects.toThrow('has no default calculation job plugin');
    });
  });
});
