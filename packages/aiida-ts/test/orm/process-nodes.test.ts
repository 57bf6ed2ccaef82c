import { describe, expect, it } from 'vitest';
import { ModificationNotAllowedError, ValidationError } from '../../src/errors.js';
import {
  CalcFunctionNode,
  CalcJobNode,
  CalcJobState,
  CalculationNode,
  FolderData,
  LinkType,
  loadNode,
  ProcessState,
  WorkChainNode,
  WorkFunctionNode,
} from '../../src/orm.js';
import { BACKENDS } from '../storage/helpers.js';
import { useStorage } from './setup.js';

describe.each(BACKENDS)('process nodes on $name', ({ open }) => {
  useStorage(open);

  it('start with no state and every predicate false', () => {
    const node = new CalculationNode();
    expect([
      node.isTerminated,
      node.isExcepted,
      node.isKilled,
      node.isFinished,
      node.isFinishedOk,
      node.isFailed,
    ]).toEqual([false, false, false, false, false, false]);
    expect(node.processState).toBeNull();
    expect(node.exitCode).toBeNull();
  });

  it('change only updatable attributes after storing, and nothing once sealed', async () => {
    const node = new CalcJobNode();
    node.attributes.set('resources', { num_machines: 1 });
    node.processType = 'aiida.calculations:core.arithmetic.add';
    await node.setProcessLabel('ArithmeticAddCalculation');
    await node.store();
    await node.setProcessState(ProcessState.RUNNING);
    await node.setProcessStatus('Waiting for transport task: upload');
    await node.setState(CalcJobState.WITHSCHEDULER);
    await node.setJobId(15381);
    await node.setCheckpoint('{"checkpoint": 1}');
    await node.pause();
    await expect(node.setAttribute('resources', { num_machines: 2 })).rejects.toBeInstanceOf(
      ModificationNotAllowedError,
    );
    expect(() => node.attributes.set('process_state', 'finished')).toThrow(ModificationNotAllowedError);
    await node.unpause();
    await node.setProcessStatus(null);
    await node.deleteCheckpoint();
    await node.setProcessState(ProcessState.FINISHED);
    await node.setExitStatus(0);
    await node.seal();
    await expect(node.setProcessState(ProcessState.KILLED)).rejects.toThrow(/sealed/);
    await expect(node.repository.putObjectFromBuffer('late.txt', 'x')).rejects.toBeInstanceOf(
      ModificationNotAllowedError,
    );

    const loaded = await loadNode<CalcJobNode>(node.pk!);
    expect(loaded).toBeInstanceOf(CalcJobNode);
    expect(loaded.attributes.all()).toEqual({
      resources: { num_machines: 1 },
      process_label: 'ArithmeticAddCalculation',
      process_state: 'finished',
      state: 'withscheduler',
      job_id: '15381',
      exit_status: 0,
      sealed: true,
    });
    expect([
      loaded.isSealed,
      loaded.isFinishedOk,
      loaded.isFailed,
      loaded.paused,
      loaded.processType,
    ]).toEqual([true, true, false, false, 'aiida.calculations:core.arithmetic.add']);
  });

  it('keep the repository writable while stored and unsealed, saving its metadata', async () => {
    const node = await new CalcJobNode().store();
    await node.repository.putObjectFromBuffer('_aiidasubmit.sh', '#!/bin/bash\n');
    await node.repository.putObjectFromBuffer('.aiida/calcinfo.json', '{}');
    const loaded = await loadNode(node.pk!);
    expect(await loaded.repository.listFilePaths()).toEqual(['.aiida/calcinfo.json', '_aiidasubmit.sh']);
    expect(await loaded.repository.getObjectContent('_aiidasubmit.sh', 'utf8')).toBe('#!/bin/bash\n');
  });

  it('report failure, exception and exit code as aiida-core does', async () => {
    const failed = await new WorkChainNode().store();
    await failed.setProcessState(ProcessState.FINISHED);
    await failed.setExitStatus(410);
    await failed.setExitMessage('the inner workchain failed with exit status 400');
    expect([failed.isFailed, failed.isFinishedOk]).toEqual([true, false]);
    expect(failed.exitCode).toEqual({
      status: 410,
      message: 'the inner workchain failed with exit status 400',
    });
    const excepted = await new WorkFunctionNode().store();
    expect(excepted.exception).toBeNull();
    await excepted.setProcessState(ProcessState.EXCEPTED);
    expect(excepted.exception).toBe('');
    await excepted.setException('Traceback: boom');
    expect(excepted.exception).toBe('Traceback: boom');
    expect(excepted.isTerminated).toBe(true);
    await expect(failed.setExitStatus(1.5)).rejects.toBeInstanceOf(ValidationError);
    await expect(failed.setProcessState('sleeping' as ProcessState)).rejects.toBeInstanceOf(ValidationError);
    await failed.setStepperStateInfo('3:finalize');
    expect((await loadNode<WorkChainNode>(failed.pk!)).stepperStateInfo).toBe('3:finalize');
  });

  it('validate calcjob retrieve lists and read scheduler output from the retrieved folder', async () => {
    const job = new CalcJobNode();
    await expect(job.setRetrieveList('aiida.out' as never)).rejects.toThrow(ValidationError);
    await expect(job.setRetrieveList([['remote', 'local']] as never)).rejects.toThrow(ValidationError);
    await job.setRetrieveList(['aiida.out', ['sub/*', '.', 2]]);
    job.setOption('scheduler_stdout', '_scheduler-stdout.txt');
    job.setOption('scheduler_stderr', '_scheduler-stderr.txt');
    await job.store();
    expect(await job.getSchedulerStdout()).toBeNull();
    const retrieved = new FolderData();
    await retrieved.repository.putObjectFromBuffer('_scheduler-stdout.txt', 'hello from the scheduler');
    await retrieved.links.addIncoming(job, LinkType.CREATE, 'retrieved');
    await retrieved.store();
    expect(await job.getSchedulerStdout()).toBe('hello from the scheduler');
    expect(await job.getSchedulerStderr()).toBeNull();
    expect(job.getRetrieveList()).toEqual(['aiida.out', ['sub/*', '.', 2]]);
    await expect(job.setState('INVALID' as CalcJobState)).rejects.toBeInstanceOf(ValidationError);
    expect(job.getDescription()).toBe('');
  });

  it('navigate the call tree', async () => {
    const outer = await new WorkChainNode().store();
    const inner = new WorkChainNode();
    await inner.links.addIncoming(outer, LinkType.CALL_WORK, 'inner_iteration_1');
    await inner.store();
    const add = new CalcFunctionNode();
    await add.links.addIncoming(inner, LinkType.CALL_CALC, 'add');
    await add.store();
    expect((await outer.getCalledDescendants()).map((n) => n.uuid)).toEqual([inner.uuid, add.uuid]);
    expect((await add.getCaller())!.uuid).toBe(inner.uuid);
    expect(await (await inner.getCaller())!.getCaller()).toBeNull();
  });

  it('log reports only for stored nodes, in order', async () => {
    const node = new WorkChainNode();
    expect(await node.logs.report('not kept')).toBeNull();
    await node.store();
    await node.logs.report('[1|OuterWorkChain|setup]: starting');
    await node.logs.report('[1|OuterWorkChain|finalize]: done');
    expect(await node.logs.info('below REPORT: dropped')).toBeNull();
    const logs = await node.logs.all();
    expect(logs.map((l) => [l.levelname, l.message, l.loggername])).toEqual([
      [
        'REPORT',
        '[1|OuterWorkChain|setup]: starting',
        'aiida.orm.nodes.process.workflow.workchain.WorkChainNode',
      ],
      [
        'REPORT',
        '[1|OuterWorkChain|finalize]: done',
        'aiida.orm.nodes.process.workflow.workchain.WorkChainNode',
      ],
    ]);
    expect(logs[0]!.metadata['levelno']).toBe(23);
  });
});
