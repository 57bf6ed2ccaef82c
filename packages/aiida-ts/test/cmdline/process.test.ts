import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import {
  CalcFunctionNode,
  CalcJobNode,
  Group,
  Int,
  LinkType,
  Log,
  Str,
  WorkChainNode,
  WorkFunctionNode,
  type LogLevelName,
  type Node,
  type ProcessNode,
} from '../../src/orm.js';
import { getStorage } from '../../src/storage/context.js';
import { describeResult, verdiSandbox, type VerdiResult } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-process-');
const { configDir } = sandbox;
// Fixed time zone: report lines print local times.
const verdi = (args: readonly string[]): Promise<VerdiResult> => sandbox.verdi(args, { env: { TZ: 'UTC' } });
/** The pks `verdi process list` lists with these options, in its order. */
async function pks(args: readonly string[]): Promise<number[]> {
  const result = await verdi(['process', 'list', ...args, '-P', 'pk', '--json']);
  expect(result.code, describeResult(result)).toBe(0);
  return result.json<{ pk: number }[]>().map((row) => row.pk);
}

/** pks of the graph built below. */
const pk = {
  x: 0,
  y: 0,
  main: 0,
  add: 0,
  result: 0,
  sub: 0,
  multiply: 0,
  failed: 0,
  excepted: 0,
  killed: 0,
  paused: 0,
  created: 0,
  running: 0,
  calcjob: 0,
  ancient: 0,
  note: 0,
};
/** pks of the log records, by name. */
const log = { mainStart: 0, mainInfo: 0, subCompute: 0, multiplyHello: 0, mainWarn: 0, wf: 0, job: 0 };
const T = (second: number) => new Date(Date.UTC(2024, 4, 1, 10, 0, second));
const stateChange = new Date(Date.now() - 3 * 60_000);

interface ProcessInit {
  readonly label: string;
  readonly state: 'created' | 'waiting' | 'running' | 'finished' | 'excepted' | 'killed';
  readonly exitStatus?: number;
  readonly exitMessage?: string;
  readonly status?: string;
  readonly paused?: boolean;
  readonly exception?: string;
  readonly stepper?: string;
  readonly nodeLabel?: string;
  readonly seal?: boolean;
}

/** Sets what the engine would set on a process node after storing it. */
async function setProcess(node: ProcessNode, init: ProcessInit): Promise<void> {
  await node.setProcessLabel(init.label);
  await node.setProcessState(init.state);
  if (init.exitStatus !== undefined) await node.setExitStatus(init.exitStatus);
  if (init.exitMessage !== undefined) await node.setExitMessage(init.exitMessage);
  if (init.status !== undefined) await node.setProcessStatus(init.status);
  if (init.paused === true) await node.pause();
  if (init.exception !== undefined) await node.setException(init.exception);
  if (init.stepper !== undefined) await (node as WorkChainNode).setStepperStateInfo(init.stepper);
  if (init.nodeLabel !== undefined) await node.setLabel(init.nodeLabel);
  if (init.seal === true) await node.seal();
}

async function addLog(node: Node, levelname: LogLevelName, message: string, time: Date): Promise<number> {
  return (await Log.create({ node, levelname, message, time })).pk;
}

beforeAll(async () => {
  const created = await sandbox.verdi(['presto']);
  expect(created.code, describeResult(created)).toBe(0);
  setConfigDir(configDir);
  await loadProfile();
  try {
    const x = await new Int(3).store();
    const y = await new Int(4).store();

    // main (a waiting work chain) calls the calcfunction `add` and the work chain `sub`, which calls `multiply`.
    const main = new WorkChainNode();
    main.processType = 'aiida.workflows:test.main';
    await main.links.addIncoming(x, LinkType.INPUT_WORK, 'x');
    await main.links.addIncoming(y, LinkType.INPUT_WORK, 'nested__y');
    await main.store();
    await setProcess(main, {
      label: 'MainWorkChain',
      state: 'waiting',
      status: 'Waiting for child processes: 2',
      stepper: '1:run_children',
      nodeLabel: 'main-run',
    });

    const add = new CalcFunctionNode();
    await add.links.addIncoming(x, LinkType.INPUT_CALC, 'x');
    await add.links.addIncoming(y, LinkType.INPUT_CALC, 'y');
    await add.links.addIncoming(main, LinkType.CALL_CALC, 'CALL');
    await add.store();
    const result = new Int(7);
    await result.links.addIncoming(add, LinkType.CREATE, 'result');
    await result.store();
    await result.links.addIncoming(main, LinkType.RETURN, 'result');
    await setProcess(add, { label: 'add', state: 'finished', exitStatus: 0, seal: true });

    const sub = new WorkChainNode();
    await sub.links.addIncoming(x, LinkType.INPUT_WORK, 'x');
    await sub.links.addIncoming(main, LinkType.CALL_WORK, 'sub_1');
    await sub.store();
    const multiply = new CalcFunctionNode();
    await multiply.links.addIncoming(y, LinkType.INPUT_CALC, 'y');
    await multiply.links.addIncoming(sub, LinkType.CALL_CALC, 'CALL');
    await multiply.store();
    await setProcess(multiply, { label: 'multiply', state: 'finished', exitStatus: 0, seal: true });
    await setProcess(sub, {
      label: 'SubWorkChain',
      state: 'finished',
      exitStatus: 0,
      stepper: '2:finalize',
      seal: true,
    });

    log.mainStart = await addLog(main, 'REPORT', 'main: launched add', T(0));
    log.mainInfo = await addLog(main, 'INFO', 'main: some detail', T(1));
    log.subCompute = await addLog(sub, 'REPORT', 'sub: computing 3 * 4', T(2));
    log.multiplyHello = await addLog(multiply, 'REPORT', 'multiply: hello', T(3));
    log.mainWarn = await addLog(main, 'WARNING', 'main: something odd', T(4));

    const failed = await new WorkChainNode().store();
    await setProcess(failed, {
      label: 'FailingWorkChain',
      state: 'finished',
      exitStatus: 400,
      exitMessage: 'the sum was negative',
      seal: true,
    });
    const excepted = await new CalcFunctionNode().store();
    await setProcess(excepted, {
      label: 'broken',
      state: 'excepted',
      exception: 'Traceback (most recent call last):\nValueError: boom',
      seal: true,
    });
    const killed = await new WorkChainNode().store();
    await setProcess(killed, {
      label: 'KilledWorkChain',
      state: 'killed',
      status: 'Killed through `verdi process kill`',
      seal: true,
    });
    const paused = await new WorkChainNode().store();
    await setProcess(paused, {
      label: 'PausedWorkChain',
      state: 'waiting',
      paused: true,
      status: 'Paused through `verdi process pause`',
    });
    const createdNode = await new CalcFunctionNode().store();
    await setProcess(createdNode, { label: 'pending', state: 'created' });
    const running = await new WorkFunctionNode().store();
    await setProcess(running, { label: 'wf', state: 'running' });
    log.wf = await addLog(running, 'REPORT', 'wf says hi', T(5));
    const calcjob = await new CalcJobNode().store();
    await setProcess(calcjob, { label: 'ArithmeticAddCalculation', state: 'waiting', nodeLabel: 'job-1' });
    await calcjob.setState('withscheduler');
    await calcjob.setSchedulerState('running');
    log.job = await addLog(calcjob, 'WARNING', 'line one\nline two', T(6));
    const ancient = await new CalcFunctionNode().store();
    await setProcess(ancient, { label: 'ancient', state: 'finished', exitStatus: 0, seal: true });
    const storage = getStorage();
    await storage
      .executor()
      .updateTable('db_dbnode')
      .set({ ctime: storage.dialect.encodeTimestamp(new Date(Date.now() - 10 * 86_400_000)) })
      .where('id', '=', ancient.pk!)
      .execute();
    const note = await new Str('not a process').store();

    const { group } = await Group.getOrCreate({ label: 'process-group' });
    await group.addNodes([failed, killed]);
    await storage.setGlobalVariable('process|state_change|work', stateChange.toISOString());

    Object.assign(pk, {
      x: x.pk!,
      y: y.pk!,
      main: main.pk!,
      add: add.pk!,
      result: result.pk!,
      sub: sub.pk!,
      multiply: multiply.pk!,
      failed: failed.pk!,
      excepted: excepted.pk!,
      killed: killed.pk!,
      paused: paused.pk!,
      created: createdNode.pk!,
      running: running.pk!,
      calcjob: calcjob.pk!,
      ancient: ancient.pk!,
      note: note.pk!,
    });
  } finally {
    await unloadProfile();
    setConfigDir(undefined);
  }
});

afterAll(() => sandbox.cleanup());

/** The data lines of a table (after the header and its dashed rule), or of a `--raw` listing. */
function tableLines(stdout: string, raw = false): string[] {
  const lines = stdout.split('\n');
  if (raw) return lines.filter((line) => line !== '');
  const rule = lines.findIndex((line) => /^-+(\s+-+)*$/.test(line));
  const end = lines.indexOf('', rule);
  return lines.slice(rule + 1, end === -1 ? undefined : end);
}

const firstColumn = (lines: readonly string[]) => lines.map((line) => Number(line.trim().split(/\s+/)[0]));

describe('verdi process list', () => {
  it('shows the active processes by default with aiida columns, states, footer and hints', async () => {
    const result = await verdi(['process', 'list']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(
      /^ {2}PK {2}Created {4}Process label +Process State {4}Process status$/,
    );
    const lines = tableLines(result.stdout);
    expect(firstColumn(lines)).toEqual([pk.main, pk.paused, pk.created, pk.running, pk.calcjob]);
    const row = (id: number) => lines.find((line) => line.trim().startsWith(`${id} `)) ?? '';
    expect(row(pk.main)).toMatch(
      /^\s*\d+ {2}\d+s ago +MainWorkChain\s+⏵ Waiting\s+Waiting for child processes: 2$/,
    );
    expect(row(pk.paused)).toMatch(/PausedWorkChain\s+⏸ Waiting\s+Paused through `verdi process pause`$/);
    expect(row(pk.created)).toMatch(/pending\s+⏹ Created$/);
    expect(row(pk.running)).toMatch(/wf\s+⏵ Running$/);
    expect(result.stdout).toContain('\n\nTotal results: 5\n\n');
    expect(result.stdout).toMatch(
      /Report: Last time an entry changed state: 3m ago \(at \d\d:\d\d:\d\d on \d{4}-\d\d-\d\d\)/,
    );
    expect(result.stderr).toContain('Warning: The daemon is not running: start it with `verdi daemon start`');
  });

  it('-a shows every process with finished, failed, excepted and killed states, oldest first', async () => {
    const result = await verdi(['process', 'list', '-a']);
    expect(result.code, describeResult(result)).toBe(0);
    const lines = tableLines(result.stdout);
    expect(firstColumn(lines)).toEqual([
      pk.ancient,
      pk.main,
      pk.add,
      pk.sub,
      pk.multiply,
      pk.failed,
      pk.excepted,
      pk.killed,
      pk.paused,
      pk.created,
      pk.running,
      pk.calcjob,
    ]);
    const row = (id: number) => lines.find((line) => line.trim().startsWith(`${id} `)) ?? '';
    expect(row(pk.ancient)).toMatch(/^\s*\d+ {2}10D ago +ancient\s+⏹ Finished \[0\]$/);
    expect(row(pk.failed)).toMatch(/FailingWorkChain\s+⏹ Finished \[400\]$/);
    expect(row(pk.excepted)).toMatch(/broken\s+⨯ Excepted$/);
    expect(row(pk.killed)).toMatch(/KilledWorkChain\s+☠ Killed\s+Killed through `verdi process kill`$/);
    expect(result.stdout).toContain('Total results: 12');
  });

  // Three tests of a few `verdi` runs each rather than one of fifteen: every run is a process start, and fifteen
  // of them in a row outlast a test's time bound on a loaded machine.
  it('filters: state, failed, exit status and paused', async () => {
    expect(await pks(['-S', 'finished', 'killed'])).toEqual([
      pk.ancient,
      pk.add,
      pk.sub,
      pk.multiply,
      pk.failed,
      pk.killed,
    ]);
    expect(await pks(['-S', 'excepted'])).toEqual([pk.excepted]);
    expect(await pks(['--failed'])).toEqual([pk.failed]);
    expect(await pks(['-E', '0'])).toEqual([pk.ancient, pk.add, pk.sub, pk.multiply]);
    expect(await pks(['-F', '400'])).toEqual([pk.failed]);
    expect(await pks(['--paused'])).toEqual([pk.paused]);
  });

  it('filters: label and past days', async () => {
    expect(await pks(['-a', '-L', 'add'])).toEqual([pk.add]);
    expect(await pks(['-a', '-L', '%WorkChain'])).toEqual([pk.main, pk.sub, pk.failed, pk.killed, pk.paused]);
    expect(await pks(['-a', '-L', 'a_d'])).toEqual([pk.add]);
    expect(await pks(['-a', '-L', '%ent'])).toEqual([pk.ancient]);
    expect(await pks(['-a', '-p', '1', '-L', '%ent'])).toEqual([]);
    expect(await pks(['-a', '-p', '11', '-L', '%ent'])).toEqual([pk.ancient]);
  });

  it('filters: group, limit and order', async () => {
    expect(await pks(['-a', '-G', 'process-group'])).toEqual([pk.failed, pk.killed]);
    expect(await pks(['-a', '-O', 'id', '-D', 'desc', '-l', '3'])).toEqual([
      pk.ancient,
      pk.calcjob,
      pk.running,
    ]);
    expect(await pks(['-a', '-O', 'id', '--order-dir', 'desc', '-l', '1'])).toEqual([pk.ancient]);
  });

  it('--json and -P: every aiida projection with raw values', async () => {
    const result = await verdi([
      'process',
      'list',
      '-a',
      '-L',
      'FailingWorkChain',
      '-P',
      'pk',
      'uuid',
      'ctime',
      'mtime',
      'state',
      'process_state',
      'process_status',
      'exit_status',
      'exit_message',
      'sealed',
      'process_label',
      'label',
      'description',
      'node_type',
      'paused',
      'process_type',
      'job_state',
      'scheduler_state',
      'exception',
      '--json',
    ]);
    expect(result.code, describeResult(result)).toBe(0);
    const [row] = result.json<Record<string, unknown>[]>();
    expect(row).toMatchObject({
      pk: pk.failed,
      state: { process_state: 'finished', paused: false, exit_status: 400 },
      process_state: 'finished',
      process_status: null,
      exit_status: 400,
      exit_message: 'the sum was negative',
      sealed: true,
      process_label: 'FailingWorkChain',
      label: '',
      description: '',
      node_type: 'process.workflow.workchain.WorkChainNode.',
      paused: false,
      process_type: null,
      job_state: null,
      scheduler_state: null,
      exception: null,
    });
    expect(row?.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Date(row?.ctime as string).getTime()).toBeGreaterThan(Date.now() - 600_000);
    expect(result.stderr).not.toContain('Total results');
    const job = await verdi([
      'process',
      'list',
      '-L',
      'ArithmeticAddCalculation',
      '-P',
      'pk',
      'job_state',
      'scheduler_state',
      'label',
      '--json',
    ]);
    expect(job.json()).toEqual([
      { pk: pk.calcjob, job_state: 'withscheduler', scheduler_state: 'running', label: 'job-1' },
    ]);
  });

  it('-P formats as aiida does in the table; -r prints rows only', async () => {
    const table = await verdi([
      'process',
      'list',
      '-a',
      '-L',
      'broken',
      '-P',
      'pk',
      'process_state',
      'sealed',
      'paused',
      'exception',
    ]);
    expect(table.code, describeResult(table)).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ {2}PK {2}Process state {4}Sealed {4}Paused {4}Exception$/);
    expect(tableLines(table.stdout)[0]).toMatch(
      new RegExp(`^\\s*${pk.excepted} {2}Excepted\\s+True\\s+Traceback`),
    );
    const paused = await verdi(['process', 'list', '--paused', '-P', 'pk', 'paused', 'sealed', '-r']);
    expect(tableLines(paused.stdout, true)).toEqual([`${pk.paused}  True  False`]);
    const raw = await verdi(['process', 'list', '-r', '-P', 'pk', 'process_label']);
    expect(raw.code, describeResult(raw)).toBe(0);
    expect(tableLines(raw.stdout, true).map((line) => line.trim().split(/\s+/))).toEqual([
      [String(pk.main), 'MainWorkChain'],
      [String(pk.paused), 'PausedWorkChain'],
      [String(pk.created), 'pending'],
      [String(pk.running), 'wf'],
      [String(pk.calcjob), 'ArithmeticAddCalculation'],
    ]);
    expect(raw.stdout).not.toContain('Total results');
    expect(raw.stdout).not.toContain('PK');
  });

  it('refuses bad options with exit code 2', async () => {
    for (const args of [
      ['-S', 'sleeping'],
      ['-P', 'nope'],
      ['-l', 'many'],
      ['-E', 'x'],
      ['-p', '-1'],
      ['-O', 'label'],
    ]) {
      const result = await verdi(['process', 'list', ...args]);
      expect(result.code, describeResult(result)).toBe(2);
      expect(result.stderr).toMatch(/invalid|not an integer|Allowed choices/i);
    }
    const group = await verdi(['process', 'list', '-G', 'no-such-group']);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain('no-such-group');
  });
});

describe('verdi process show', () => {
  it('prints the summary, nested inputs, outputs, called processes and the log summary', async () => {
    const result = await verdi(['process', 'show', String(pk.main)]);
    expect(result.code, describeResult(result)).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/^Property +Value\n-+ {2}-+\n/);
    expect(out).toMatch(/^type {9}MainWorkChain$/m);
    expect(out).toMatch(/^state {8}Waiting$/m);
    expect(out).toMatch(new RegExp(`^pk {11}${pk.main}$`, 'm'));
    expect(out).toMatch(/^label {8}main-run$/m);
    expect(out).toMatch(/^ctime {8}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00$/m);
    const inputs = out.slice(out.indexOf('Inputs'));
    expect(inputs).toMatch(
      new RegExp(
        `^Inputs +PK {2}Type\\n-+ {2}-+ {2}-+\\nnested\\n {4}y +${pk.y} {2}Int\\nx +${pk.x} {2}Int\\n\\n`,
      ),
    );
    expect(out).toMatch(
      new RegExp(`^Outputs +PK {2}Type\\n-+ {2}-+ {2}-+\\nresult +${pk.result} {2}Int$`, 'm'),
    );
    expect(out).toMatch(
      new RegExp(
        `^Called +PK {2}Type\\n-+ {2}-+ {2}-+\\nCALL +${pk.add} {2}add\\nsub_1 +${pk.sub} {2}SubWorkChain$`,
        'm',
      ),
    );
    expect(out).not.toContain('Caller');
    expect(out).toContain(
      `Log messages\n---------------------------------------------\nThere are 3 log messages for this calculation\nRun 'verdi process report ${pk.main}' to see them\n`,
    );
  });

  it('shows the caller, the exit message of a failure, the exception of an excepted process', async () => {
    const result = await verdi(['process', 'show', String(pk.sub), String(pk.failed), String(pk.excepted)]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`^Caller +PK {2}Type\\n-+ {2}-+ {2}-+\\nsub_1 +${pk.main} {2}MainWorkChain$`, 'm'),
    );
    expect(result.stdout).toMatch(/^state {8}Finished \[0\]$/m);
    expect(result.stdout).toMatch(/^state {8}Finished \[400\] the sum was negative$/m);
    expect(result.stdout).toMatch(/^state {8}Excepted <Traceback \(most recent call last\):$/m);
    expect(result.stdout).toMatch(/^ {13}ValueError: boom>$/m);
    expect(result.stdout.match(/^Property/gm)).toHaveLength(3);
  });

  it('--json gives the properties and links; -M picks the most recent process', async () => {
    const result = await verdi(['process', 'show', String(pk.sub), '--json']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json()).toMatchObject([
      {
        pk: pk.sub,
        type: 'WorkChainNode',
        process_label: 'SubWorkChain',
        process_state: 'finished',
        exit_status: 0,
        sealed: true,
        paused: false,
        inputs: [{ link_label: 'x', link_type: 'input_work', pk: pk.x, type: 'Int' }],
        outputs: [],
        caller: { link_label: 'sub_1', pk: pk.main, process_label: 'MainWorkChain' },
        called: [
          { link_label: 'CALL', pk: pk.multiply, type: 'CalcFunctionNode', process_label: 'multiply' },
        ],
        log_messages: 1,
      },
    ]);
    const recent = await verdi(['process', 'show', '-M', '--json']);
    expect(recent.code, describeResult(recent)).toBe(0);
    expect(recent.json<{ pk: number }[]>().map((doc) => doc.pk)).toEqual([pk.calcjob]);
  });
});

describe('verdi process report', () => {
  const width = () => String(Math.max(log.mainStart, log.subCompute, log.mainWarn, log.mainInfo)).length;
  const line = (
    second: number,
    id: number,
    level: string,
    levelWidth: number,
    indent: string,
    message: string,
  ) =>
    `2024-05-01 10:00:0${second} [${String(id).padEnd(width())} | ${level.padStart(levelWidth)}]:${indent} ${message}`;

  it('a work chain: its records and those of the work chains below, by time, indented by depth', async () => {
    const result = await verdi(['process', 'report', String(pk.main)]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toBe(
      [
        line(0, log.mainStart, 'REPORT', 7, '', 'main: launched add'),
        line(2, log.subCompute, 'REPORT', 7, '  ', 'sub: computing 3 * 4'),
        line(4, log.mainWarn, 'WARNING', 7, '', 'main: something odd'),
        '',
      ].join('\n'),
    );
    expect(result.stdout).not.toContain('multiply: hello');
  });

  it('-l, -i and -m select the level, the indentation and the depth', async () => {
    const info = await verdi(['process', 'report', String(pk.main), '-l', 'INFO', '-i', '4']);
    expect(info.stdout).toBe(
      [
        line(0, log.mainStart, 'REPORT', 7, '', 'main: launched add'),
        line(1, log.mainInfo, 'INFO', 7, '', 'main: some detail'),
        line(2, log.subCompute, 'REPORT', 7, '    ', 'sub: computing 3 * 4'),
        line(4, log.mainWarn, 'WARNING', 7, '', 'main: something odd'),
        '',
      ].join('\n'),
    );
    const warning = await verdi(['process', 'report', String(pk.main), '-l', 'WARNING']);
    expect(warning.stdout).toBe(`${line(4, log.mainWarn, 'WARNING', 7, '', 'main: something odd')}\n`);
    const shallow = await verdi(['process', 'report', String(pk.main), '-m', '1']);
    expect(shallow.stdout).not.toContain('sub: computing');
    expect(shallow.stdout.trim().split('\n')).toHaveLength(2);
    const none = await verdi(['process', 'report', String(pk.failed)]);
    expect(none.stdout).toBe('No log messages recorded for this entry\n');
    const bad = await verdi(['process', 'report', String(pk.main), '-l', 'LOUD']);
    expect(bad.code).toBe(2);
  });

  it('a process function: its records; a calculation job: state, scheduler output and records', async () => {
    const wf = await verdi(['process', 'report', String(pk.running)]);
    expect(wf.stdout).toBe(`2024-05-01 10:00:05 [${log.wf}]: wf says hi\n`);
    const calc = await verdi(['process', 'report', String(pk.multiply)]);
    expect(calc.stdout).toBe(`2024-05-01 10:00:03 [${log.multiplyHello}]: multiply: hello\n`);
    const job = await verdi(['process', 'report', String(pk.calcjob)]);
    expect(job.code, describeResult(job)).toBe(0);
    expect(job.stdout).toBe(
      [
        `*** ${pk.calcjob} [job-1]: CalcJobState.WITHSCHEDULER, scheduler state: running`,
        '*** Scheduler output: N/A',
        '*** Scheduler errors: N/A',
        '*** 1 LOG MESSAGES:',
        '+-> WARNING at 2024-05-01 10:00:06+00:00',
        ' | line one',
        ' | line two',
        '',
      ].join('\n'),
    );
  });

  it('--json lists the records with their depth', async () => {
    const result = await verdi(['process', 'report', String(pk.main), String(pk.running), '--json']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.json()).toMatchObject([
      {
        pk: pk.main,
        kind: 'workchain',
        logs: [
          {
            pk: log.mainStart,
            node_pk: pk.main,
            depth: 0,
            levelname: 'REPORT',
            time: '2024-05-01T10:00:00.000Z',
          },
          { pk: log.subCompute, node_pk: pk.sub, depth: 1, message: 'sub: computing 3 * 4' },
          { pk: log.mainWarn, depth: 0, levelname: 'WARNING' },
        ],
      },
      { pk: pk.running, kind: 'process_function', logs: [{ pk: log.wf, message: 'wf says hi' }] },
    ]);
  });
});

describe('verdi process status', () => {
  it('draws the call tree with states, exit statuses and stepper states', async () => {
    const result = await verdi(['process', 'status', String(pk.main)]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toBe(
      [
        `MainWorkChain<${pk.main}> Waiting [1:run_children]`,
        `    ├── add<${pk.add}> Finished [0]`,
        `    └── SubWorkChain<${pk.sub}> Finished [0] [2:finalize]`,
        `        └── multiply<${pk.multiply}> Finished [0]`,
        '',
      ].join('\n'),
    );
  });

  it('-c adds call link labels other than CALL; -m limits the depth', async () => {
    const labelled = await verdi(['process', 'status', '-c', String(pk.main), String(pk.sub)]);
    expect(labelled.stdout).toBe(
      [
        `MainWorkChain<${pk.main}> Waiting [1:run_children]`,
        `    ├── add<${pk.add}> Finished [0]`,
        `    └── SubWorkChain<${pk.sub} | sub_1> Finished [0] [2:finalize]`,
        `        └── multiply<${pk.multiply}> Finished [0]`,
        `SubWorkChain<${pk.sub} | sub_1> Finished [0] [2:finalize]`,
        `    └── multiply<${pk.multiply}> Finished [0]`,
        '',
      ].join('\n'),
    );
    const one = await verdi(['process', 'status', '-m', '1', String(pk.main)]);
    expect(one.stdout).toBe(`MainWorkChain<${pk.main}> Waiting [1:run_children]\n`);
    const two = await verdi(['process', 'status', '-m', '2', String(pk.main)]);
    expect(two.stdout.trim().split('\n')).toHaveLength(3);
    const zero = await verdi(['process', 'status', '-m', '0', String(pk.main)]);
    expect(zero.stdout).toBe('\n');
    const excepted = await verdi(['process', 'status', String(pk.excepted)]);
    expect(excepted.stdout).toBe(`broken<${pk.excepted}> Excepted\n`);
  });

  it('--json gives the nested tree', async () => {
    const result = await verdi(['process', 'status', String(pk.main), '--json', '-c']);
    expect(result.json()).toEqual([
      {
        pk: pk.main,
        process_label: 'MainWorkChain',
        process_state: 'waiting',
        exit_status: null,
        stepper_state_info: '1:run_children',
        call_link_label: null,
        called: [
          expect.objectContaining({ pk: pk.add, call_link_label: 'CALL', called: [] }),
          expect.objectContaining({
            pk: pk.sub,
            call_link_label: 'sub_1',
            called: [expect.objectContaining({ pk: pk.multiply, exit_status: 0 })],
          }),
        ],
      },
    ]);
  });
});

describe('verdi process call-root', () => {
  it('prints the root of the call stack, or says there is none', async () => {
    const result = await verdi([
      'process',
      'call-root',
      String(pk.multiply),
      String(pk.add),
      String(pk.main),
    ]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toBe(`${pk.main}\n${pk.main}\nNo callers found for Process<${pk.main}>\n`);
    const json = await verdi(['process', 'call-root', String(pk.multiply), String(pk.failed), '--json']);
    expect(json.json()).toEqual([
      { pk: pk.multiply, root: pk.main },
      { pk: pk.failed, root: null },
    ]);
  });
});

describe('bad process arguments', () => {
  it('an unknown pk or uuid is a usage error (exit code 2, as in aiida-core and verdi node), for every command', async () => {
    for (const command of ['show', 'report', 'status', 'call-root']) {
      const result = await verdi(['process', command, '987654']);
      expect(result.code, describeResult(result)).toBe(2);
      expect(result.stderr).toContain(
        'invalid value for PROCESSES: no node has pk 987654 or a uuid starting with `987654`',
      );
    }
    const uuid = await verdi(['process', 'show', '00000000-0000-4000-8000-000000000000']);
    expect(uuid.code).toBe(2);
    expect(uuid.stderr).toContain('00000000-0000-4000-8000-000000000000');
  });

  it('a node that is not a process is refused, naming it', async () => {
    for (const command of ['show', 'report', 'status', 'call-root']) {
      const result = await verdi(['process', command, String(pk.main), String(pk.note)]);
      expect(result.code, describeResult(result)).toBe(2);
      expect(result.stderr).toContain(`\`${pk.note}\` is node<${pk.note}> (Str), not a process`);
      expect(result.stdout).toBe('');
    }
  });

  it('no process and no -M is a usage error; so is both', async () => {
    const none = await verdi(['process', 'show']);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Please specify one or multiple processes by their identifier');
    const both = await verdi(['process', 'status', '-M', String(pk.main)]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('-M/--most-recent-node');
  });
});

describe('verdi node show on process nodes', () => {
  it("shows aiida-core's layout: the state, nested links, caller, called and logs", async () => {
    const result = await verdi(['node', 'show', String(pk.sub)]);
    expect(result.code, describeResult(result)).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/^type +SubWorkChain\nstate +Finished \[0\]\npk /m);
    expect(out).toMatch(new RegExp(`^Inputs +PK {2}Type\\n-+ {2}-+ {2}-+\\nx +${pk.x} {2}Int$`, 'm'));
    expect(out).toMatch(
      new RegExp(`^Caller +PK {2}Type\\n-+ {2}-+ {2}-+\\nsub_1 +${pk.main} {2}MainWorkChain$`, 'm'),
    );
    expect(out).toMatch(
      new RegExp(`^Called +PK {2}Type\\n-+ {2}-+ {2}-+\\nCALL +${pk.multiply} {2}multiply$`, 'm'),
    );
    expect(out).toContain('There are 1 log messages for this calculation');
    const json = await verdi(['node', 'show', String(pk.main), '--json']);
    expect(json.json()).toMatchObject([
      {
        pk: pk.main,
        type: 'MainWorkChain',
        state: 'Waiting',
        caller: null,
        called: [{ pk: pk.add }, { pk: pk.sub, link_label: 'sub_1' }],
        log_messages: 3,
      },
    ]);
    const data = await verdi(['node', 'show', String(pk.x)]);
    expect(data.stdout).not.toContain('Caller');
    expect(data.stdout).toMatch(/^type +Int$/m);
  });
});

describe('daemon hints', () => {
  it('with a broker configured, process list says the daemon is not running', async () => {
    const configured = await verdi(['profile', 'configure-rabbitmq']);
    expect(configured.code, describeResult(configured)).toBe(0);
    const result = await verdi(['process', 'list']);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stderr).toContain('Warning: The daemon is not running');
    expect(result.stderr).not.toContain('does not have a broker');
  });
});
