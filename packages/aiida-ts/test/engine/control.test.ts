import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { nonDb, Runner, ToContext, WorkChain } from 'aiida-ts/engine';
import { loadNode, type ProcessNode } from 'aiida-ts/orm';
import { BACKENDS, useEngine } from './helpers.js';

/** Named gates a step waits at; a test opens one whether or not a step reached it yet. */
const gates = new Map<string, { readonly promise: Promise<void>; readonly resolve: () => void }>();
function gateNamed(name: string): { readonly promise: Promise<void>; readonly resolve: () => void } {
  let entry = gates.get(name);
  if (entry === undefined) {
    let resolve = (): void => undefined;
    const promise = new Promise<void>((done) => {
      resolve = done;
    });
    entry = { promise, resolve };
    gates.set(name, entry);
  }
  return entry;
}
const gate = (name: string): Promise<void> => gateNamed(name).promise;
const openGate = (name: string): void => gateNamed(name).resolve();

class Waiter extends WorkChain.define((spec) => spec.input('gate', { validType: nonDb(z.string()) })) {
  static {
    this.outline('hold');
  }
  async hold(): Promise<void> {
    await gate(this.inputs.gate);
  }
}

class Holder extends WorkChain.define((spec) => spec.input('gate', { validType: nonDb(z.string()) })) {
  static {
    this.outline('start', 'end');
  }
  async start(): Promise<ToContext> {
    return new ToContext({ child: await this.submit(Waiter, { gate: this.inputs.gate }) });
  }
  end(): void {
    this.report('the child is done');
  }
}

async function fresh(pk: number): Promise<ProcessNode> {
  return loadNode<ProcessNode>(pk);
}

describe.each(BACKENDS)('remote control by pk on %s', (_name, open) => {
  const engine = useEngine(open);

  it('pauses, reports the status of, plays and kills processes through the controller', async () => {
    const { runner } = engine();
    const name = `${_name}-pause`;
    const process = await runner.instantiate(Holder, { gate: name });
    const done = runner.executeProcess(process);
    await expect.poll(() => process.state).toBe('waiting');
    const pk = process.pk!;
    expect(await runner.controller.pauseProcess(pk, 'paused by the test')).toBe(true);
    const paused = await fresh(pk);
    expect(paused.paused).toBe(true);
    expect(paused.processStatus).toBe('paused by the test');
    const status = await runner.controller.getStatus(pk);
    expect(status).toMatchObject({ paused: true, state: 'ProcessState.WAITING' });
    // The child ends while the parent is paused: the parent does not move on until played.
    openGate(name);
    await expect
      .poll(async () => (await fresh((await process.node.getCalled())[0]!.pk!)).processState)
      .toBe('finished');
    expect(process.state).toBe('waiting');
    expect(await runner.controller.playProcess(pk)).toBe(true);
    await done;
    const finished = await fresh(pk);
    expect(finished.isFinishedOk).toBe(true);
    expect(finished.paused).toBe(false);
    expect(finished.base.attributes.has('paused')).toBe(false);

    const second = await runner.instantiate(Holder, { gate: `${name}-2` });
    const killed = runner.executeProcess(second).catch((error: unknown) => error);
    await expect.poll(() => second.state).toBe('waiting');
    expect(await runner.controller.killProcess(second.pk!, { message: 'stop it' })).toBe(true);
    expect(((await killed) as Error).name).toBe('KilledError');
    openGate(`${name}-2`);
    const child = (await second.node.getCalled())[0]!;
    await runner.getProcessFuture(child.pk!);
    expect((await fresh(second.pk!)).processStatus).toBe('stop it');
    expect((await fresh(child.pk!)).processState).toBe('killed');
  });
  it('closing a runner kills its processes, at once when a step does not return in time', async () => {
    const { storage } = engine();
    const runner = new Runner({ storage, pollInterval: 0.05 });
    const name = `${_name}-close`;
    const process = await runner.instantiate(Waiter, { gate: name });
    const done = runner.executeProcess(process).catch((error: unknown) => error);
    await expect.poll(() => process.state).toBe('running');
    // The step waits at a gate opened only at the end of the test: close() returning proves it did not wait for it.
    await runner.close();
    expect(((await done) as Error).name).toBe('KilledError');
    const node = await fresh(process.pk!);
    expect(node.processState).toBe('killed');
    expect(node.isSealed).toBe(true);
    openGate(name);
  });
});
