import { describe, expect, it } from 'vitest';
import { BaseRestartWorkChain, calcfunction, ExitCode, ProcessHandlerReport, while_ } from 'aiida-ts/engine';
import { InputValidationError, ValidationError } from 'aiida-ts';
import { Int, Log, type ProcessNode, Str } from 'aiida-ts/orm';
import { BACKENDS, linkSummary, useEngine } from './helpers.js';

/** Fails with 100 while `x` is below 3, with 200 in mode `other`, raises in mode `raise`. */
const flaky = calcfunction(
  { name: 'flaky', inputs: { x: Int, mode: { type: Str, default: 'normal' } }, outputs: { value: Int } },
  function flaky({ x, mode }) {
    if (mode.value === 'raise') throw new Error('the child broke');
    if (mode.value === 'other') return new ExitCode(200, { message: 'something else' });
    if (x.value < 3) return new ExitCode(100, { message: 'too small' });
    return { value: new Int(x.value * 10) };
  },
);

const TOO_SMALL = new ExitCode(100);

class Restart extends BaseRestartWorkChain.define((spec) =>
  spec.exposeInputs(flaky.processClass, { namespace: 'child' }).exposeOutputs(flaky.processClass),
) {
  static override processClass = flaky.processClass;

  static {
    this.outline('setup', while_('shouldRunProcess')('runProcess', 'inspectProcess'), 'results');
    this.processHandler('observe', { priority: 500 });
    this.processHandler('handleTooSmall', { priority: 100, exitCodes: [TOO_SMALL] });
    this.processHandler('neverCalled', { priority: 50, exitCodes: [] });
    this.processHandler('fatal', { priority: 10, enabled: false });
  }

  override setup(): void {
    super.setup();
    this.ctx.inputs = { ...this.exposedInputs(flaky.processClass, 'child') };
  }

  observe(_node: ProcessNode): undefined {
    return undefined;
  }

  handleTooSmall(_node: ProcessNode): ProcessHandlerReport {
    const x = this.ctx.inputs!['x'] as Int;
    this.ctx.inputs = { ...this.ctx.inputs, x: new Int(x.value + 1) };
    return new ProcessHandlerReport();
  }

  neverCalled(_node: ProcessNode): ProcessHandlerReport {
    return new ProcessHandlerReport({ exitCode: new ExitCode(999) });
  }

  fatal(_node: ProcessNode): ProcessHandlerReport {
    return new ProcessHandlerReport({
      doBreak: true,
      exitCode: new ExitCode(418, { message: 'I am a teapot' }),
    });
  }
}

describe.each(BACKENDS)('BaseRestartWorkChain on %s', (_name, open) => {
  const engine = useEngine(open);

  it('restarts a failed child after a handler fixed its inputs, until it succeeds', async () => {
    const { runner } = engine();
    const { node, result } = await runner.runGetNode(Restart, { child: { x: 1 } });
    expect(node.isFinishedOk).toBe(true);
    expect((result as { value: Int }).value.value).toBe(30);
    expect(await linkSummary(node, 'outgoing')).toEqual([
      'call_calc iteration_01 CalcFunctionNode',
      'call_calc iteration_02 CalcFunctionNode',
      'call_calc iteration_03 CalcFunctionNode',
      'return value Int',
    ]);
    // Handlers by priority; `neverCalled` is filtered by exit code, `fatal` is disabled.
    expect(node.base.extras.get('considered_handlers')).toEqual([
      [
        ['observe', null],
        ['handleTooSmall', { do_break: false, exit_status: 0 }],
        ['neverCalled', null],
      ],
      [
        ['observe', null],
        ['handleTooSmall', { do_break: false, exit_status: 0 }],
        ['neverCalled', null],
      ],
      [
        ['observe', null],
        ['handleTooSmall', null],
        ['neverCalled', null],
      ],
    ]);
    const messages = (await Log.find({ nodeId: node.pk! })).map((log) =>
      log.message.replace(/^\[\d+\|Restart\|\w+\]: /, ''),
    );
    expect(messages[0]).toMatch(/^launching flaky<\d+> iteration #1$/);
    expect(messages[1]).toMatch(/^flaky<\d+> failed but a handler dealt with the problem, restarting$/);
    expect(messages.slice(-2)).toEqual([
      'work chain completed after 3 iterations',
      'remote folders will not be cleaned',
    ]);
  });

  it('stops with 401 when the iterations run out', async () => {
    const { runner } = engine();
    const { node } = await runner.runGetNode(Restart, { child: { x: -5 }, max_iterations: 2 });
    expect(node.exitStatus).toBe(401);
    expect(node.exitMessage).toBe('The maximum number of iterations was exceeded.');
    expect((await node.getCalled()).length).toBe(2);
  });

  it('aborts on an unhandled failure (402), or restarts once first with restart_once', async () => {
    const { runner } = engine();
    const abort = await runner.runGetNode(Restart, { child: { x: 5, mode: 'other' } });
    expect(abort.node.exitStatus).toBe(402);
    expect(abort.node.exitMessage).toBe('The process failed with an unhandled failure.');
    expect((await abort.node.getCalled()).length).toBe(1);
    const once = await runner.runGetNode(Restart, {
      child: { x: 5, mode: 'other' },
      on_unhandled_failure: 'restart_once',
    });
    expect(once.node.exitStatus).toBe(402);
    expect(once.node.exitMessage).toBe('The process failed for an unknown reason, twice in a row.');
    expect((await once.node.getCalled()).length).toBe(2);
  });

  it('ends with 301 when the child excepts', async () => {
    const { runner } = engine();
    const { node } = await runner.runGetNode(Restart, { child: { x: 5, mode: 'raise' } });
    expect(node.exitStatus).toBe(301);
    expect(node.exitMessage).toBe('The sub process excepted.');
  });

  it('honours handler_overrides (enable, priority) and rejects unknown handlers before storing anything', async () => {
    const { runner } = engine();
    const { node } = await runner.runGetNode(Restart, {
      child: { x: 1 },
      handler_overrides: { fatal: { enabled: true, priority: 1000 } },
    });
    expect(node.exitStatus).toBe(418);
    expect(node.exitMessage).toBe('I am a teapot');
    expect(node.base.extras.get('considered_handlers')).toEqual([
      [['fatal', { do_break: true, exit_status: 418 }]],
    ]);
    await expect(
      runner.run(Restart, { child: { x: 1 }, handler_overrides: { unknown: { enabled: true } } }),
    ).rejects.toThrow(InputValidationError);
    await expect(runner.run(Restart, { child: { x: 1 }, on_unhandled_failure: 'shrug' })).rejects.toThrow(
      /Must be one of/,
    );
  });

  it('pauses for inspection on an unhandled failure with on_unhandled_failure pause', async () => {
    const { runner } = engine();
    const process = await runner.instantiate(Restart, {
      child: { x: 5, mode: 'other' },
      on_unhandled_failure: 'pause',
    });
    const done = runner.executeProcess(process).catch((error: unknown) => error);
    await expect.poll(() => process.paused).toBe(true);
    await expect
      .poll(async () => {
        await process.node.refresh();
        return process.node.paused;
      })
      .toBe(true);
    expect(process.node.processStatus).toBe(
      `Paused for user inspection, see: 'verdi process report ${String(process.pk)}'`,
    );
    process.kill('inspected');
    expect(((await done) as Error).name).toBe('KilledError');
    await process.node.refresh();
    expect(process.node.processState).toBe('killed');
  });

  it('lists and checks its process handlers', () => {
    expect(Restart.getProcessHandlers().map((handler) => handler.name)).toEqual([
      'observe',
      'handleTooSmall',
      'neverCalled',
      'fatal',
    ]);
    expect(Restart.isProcessHandler('observe')).toBe(true);
    expect(Restart.isProcessHandler('setup')).toBe(false);
    expect(() => Restart.processHandler('missing')).toThrow(ValidationError);
    expect(() => Restart.processHandler('observe', { priority: 1.5 })).toThrow(ValidationError);
    expect(Restart.exitCodes.ERROR_MAXIMUM_ITERATIONS_EXCEEDED.status).toBe(401);
    expect(Restart.exitCodes.ERROR_SUB_PROCESS_KILLED.status).toBe(302);
  });
});
