/**
 * `verdi run` through the real executable: the log output a user sees (aiida-core's formats, JSON on request,
 * colour only on a terminal), auto-grouping, a step that never settles, and signals (Ctrl-C while a step is busy,
 * SIGHUP).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeResult, startVerdiRun, verdiSandbox } from './verdi-process.js';

const REPORTING = `
import { calcfunction, run, WorkChain } from 'aiida-ts/engine';
import { Int } from 'aiida-ts/orm';
const triple = calcfunction({ name: 'triple', inputs: { x: Int }, outputs: Int }, ({ x }) => new Int(3 * x.value));
class Talker extends WorkChain.define((spec) => spec) {
  static { this.outline('talk'); }
  async talk(): Promise<void> {
    this.report('hello from the step');
    await triple({ x: 2 });
  }
}
await run(Talker);
await new Int(7).store();
console.log('done');
`;

const NEVER_SETTLES = `
import { run, WorkChain } from 'aiida-ts/engine';
class Hang extends WorkChain.define((spec) => spec) {
  static { this.outline('hang'); }
  async hang(): Promise<void> {
    console.log('hanging', this.pk);
    await new Promise(() => {});
  }
}
await run(Hang);
`;

const BUSY = `
import { existsSync } from 'node:fs';
import { run, WorkChain } from 'aiida-ts/engine';
class Busy extends WorkChain.define((spec) => spec) {
  static { this.outline('busy', 'after'); }
  busy(): void {
    console.log('busy', this.pk);
    // Busy (not awaiting) until the test has sent its signal: the handler can only run once the step returns.
    const end = Date.now() + 120_000;
    while (Date.now() < end && !existsSync(process.argv[2])) {}
    console.log('step result: 42');
  }
  after(): void {}
}
await run(Busy);
`;

const BUSY_LAST = BUSY.replace("this.outline('busy', 'after')", "this.outline('busy')");

const SLEEPING = `
import { run, WorkChain } from 'aiida-ts/engine';
class Sleeper extends WorkChain.define((spec) => spec) {
  static { this.outline('sleep'); }
  async sleep(): Promise<void> {
    console.log('sleeping', this.pk);
    await new Promise((resolve) => setTimeout(resolve, 120_000));
  }
}
await run(Sleeper);
`;

describe('verdi run, through the executable', () => {
  const sandbox = verdiSandbox('aiida-ts-verdi-run-');
  const verdi = sandbox.verdi;
  const script = (name: string, text: string): string => {
    const file = join(sandbox.base, name);
    writeFileSync(file, text);
    return file;
  };
  beforeAll(async () => {
    const presto = await verdi(['presto']);
    expect(presto.code, describeResult(presto)).toBe(0);
  }, 60_000);
  afterAll(() => sandbox.cleanup());

  it('prints reports in aiida-core’s console format by default, `Report: …` with cli, JSON only when asked', async () => {
    const talker = script('talker.ts', REPORTING);
    // NO_COLOR wins over FORCE_COLOR; piped output without either is plain too (see the tests below).
    const plain = await verdi(['run', talker], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(plain.code, describeResult(plain)).toBe(0);
    expect(plain.stderr).not.toContain('{"level"');
    expect(plain.stderr).not.toContain('\u001b[');
    expect(plain.stderr).toMatch(
      /^\d\d\/\d\d\/\d{4} \d\d:\d\d:\d\d [AP]M <\d+> aiida\.orm\.nodes\.process\.workflow\.workchain\.WorkChainNode: \[REPORT\] \[\d+\|Talker\|talk\]: hello from the step$/m,
    );

    const cli = await verdi(['run', '--log-format', 'cli', talker], { env: { FORCE_COLOR: '1' } });
    const reportLine = cli.stderr.split('\n').find((line) => line.endsWith('hello from the step'));
    expect(reportLine, describeResult(cli)).toMatch(
      /^.\[1m.\[34mReport.\[39m.\[22m: \[\d+\|Talker\|talk\]: /,
    );
    expect(reportLine?.startsWith('\u001b[1m')).toBe(true);

    const json = await verdi(['run', talker], { env: { AIIDA_TS_LOG_FORMAT: 'json' } });
    const record = json.stderr
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((line) => String(line['msg']).endsWith('hello from the step'));
    expect(record, describeResult(json)).toMatchObject({ level: 35, name: 'aiida', process: 'Talker' });

    const wrong = await verdi(['run', talker], { env: { AIIDA_TS_LOG_FORMAT: 'pretty' } });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(
      "AIIDA_TS_LOG_FORMAT: 'pretty' is not a log format (choose halfverbose, cli, json)",
    );
  }, 180_000);

  it('puts the nodes the script stores in an auto group, with include and exclude filters', async () => {
    const talker = script('grouped.ts', REPORTING);
    const first = await verdi(['run', '--auto-group', '-l', 'talks', talker]);
    expect(first.code, describeResult(first)).toBe(0);
    const included = await verdi([
      'run',
      '--auto-group',
      '-l',
      'talks',
      '-i',
      'aiida.data:core.int',
      '--',
      talker,
    ]);
    expect(included.code, describeResult(included)).toBe(0);
    const excluded = await verdi([
      'run',
      '--auto-group',
      '-l',
      'talks',
      '-e',
      'aiida.data:core.%',
      '--',
      talker,
    ]);
    expect(excluded.code, describeResult(excluded)).toBe(0);

    const inspect = script(
      'inspect-groups.ts',
      `import { AutoGroup } from 'aiida-ts/orm';
const groups = await AutoGroup.all({ typeString: 'core.auto' });
const types = {};
for (const group of groups) types[group.label] = (await group.nodes()).map((node) => node.constructor.name).sort();
console.log(JSON.stringify(types));`,
    );
    const groups = await verdi(['run', inspect]);
    expect(groups.code, describeResult(groups)).toBe(0);
    // Talker, its calcfunction, the calcfunction's input and output, and the Int the script stores itself.
    expect(JSON.parse(groups.stdout)).toEqual({
      talks: ['CalcFunctionNode', 'Int', 'Int', 'Int', 'WorkChainNode'],
      talks_1: ['Int', 'Int', 'Int'],
      talks_2: ['CalcFunctionNode', 'WorkChainNode'],
    });

    const bad = await verdi(['run', '--auto-group', '-i', 'core.int', '--', talker]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('core.int: not a valid include/exclude filter');
  }, 180_000);

  it('marks a process whose step never settles excepted, says so and exits 1 (not a silent exit 13)', async () => {
    const result = await verdi(['run', script('hang.ts', NEVER_SETTLES)]);
    expect(result.code, describeResult(result)).toBe(1);
    expect(result.stderr).not.toContain('\u001b[');
    const pk = /hanging (\d+)/.exec(result.stdout)?.[1];
    expect(result.stderr).toContain(
      `Error: Hang<${pk}> never finished: nothing was left to run while it was still active`,
    );
    const list = await verdi(['process', 'list', '-a', '-P', 'pk', 'process_state']);
    expect(list.stdout).toMatch(new RegExp(`^\\s*${pk}\\s+Excepted`, 'm'));
    const report = await verdi(['process', 'report', String(pk)]);
    expect(report.stdout).toContain(
      `ProcessStalledError: Hang<${pk}> was still running when nothing was left to run`,
    );
  }, 120_000);

  it('on Ctrl-C during a busy step prints the kill line once and what became of the node', async () => {
    const release = join(sandbox.base, 'release-busy');
    const run = startVerdiRun(sandbox.base, [script('busy.ts', BUSY), release]);
    const pk = (await run.waitFor(/busy (\d+)/))[1];
    run.child.kill('SIGINT');
    // The signal is queued while the step is busy; let the step return.
    writeFileSync(release, '');
    expect(await run.exited, run.describe()).toBe(130);
    expect(run.out.stdout).toContain('step result: 42');
    expect(run.out.stderr.match(/killing/g), run.describe()).toHaveLength(1);
    expect(run.out.stderr).toContain(`Interrupted by SIGINT: Busy<${pk}> was killed.`);
    const list = await verdi(['process', 'list', '-a', '-P', 'pk', 'process_state']);
    expect(list.stdout).toMatch(new RegExp(`^\\s*${pk}\\s+Killed`, 'm'));
  }, 120_000);

  it('on Ctrl-C during a busy last step never says the finished node was killed', async () => {
    const release = join(sandbox.base, 'release-busy-last');
    const run = startVerdiRun(sandbox.base, [script('busy-last.ts', BUSY_LAST), release]);
    const pk = (await run.waitFor(/busy (\d+)/))[1];
    run.child.kill('SIGINT');
    // the signal is handled once the step returns: the process has finished by then, or finishes before the kill
    // takes effect; either way the output says so, and never that it was killed
    writeFileSync(release, '');
    expect(await run.exited, run.describe()).toBe(130);
    expect(run.out.stdout).toContain('step result: 42');
    expect(run.out.stderr, run.describe()).not.toMatch(/was killed|were killed/);
    expect(run.out.stderr.match(/killing/g)?.length ?? 0, run.describe()).toBeLessThanOrEqual(1);
    expect(run.out.stderr, run.describe()).toMatch(
      new RegExp(
        `Interrupted by SIGINT(?:\\.|: Busy<${pk}> finished \\[0\\] before the kill took effect\\.)\\n$`,
      ),
    );
    const list = await verdi(['process', 'list', '-a', '-P', 'pk', 'process_state']);
    expect(list.stdout).toMatch(new RegExp(`^\\s*${pk}\\s+Finished`, 'm'));
  }, 120_000);

  it('handles SIGHUP (terminal closed) like SIGTERM: the processes are killed, none is left running', async () => {
    const run = startVerdiRun(sandbox.base, [script('sleeping.ts', SLEEPING)]);
    const pk = (await run.waitFor(/sleeping (\d+)/))[1];
    run.child.kill('SIGHUP');
    expect(await run.exited, run.describe()).toBe(129);
    expect(run.out.stderr).toContain(`Interrupted by SIGHUP: Sleeper<${pk}> was killed.`);
    const list = await verdi(['process', 'list', '-a', '-P', 'pk', 'process_state', 'process_status']);
    expect(list.stdout).toMatch(new RegExp(`^\\s*${pk}\\s+Killed\\s+Killed by SIGHUP`, 'm'));
  }, 120_000);
});
