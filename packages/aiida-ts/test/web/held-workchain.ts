import { z } from 'zod';
import { nonDb, ToContext, WorkChain } from 'aiida-ts/engine';

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

/** Lets the work chain waiting at gate `name` go on. */
export const openGate = (name: string): void => gateNamed(name).resolve();

/** A work chain that holds in its step at a named gate. */
export class GateWorkChain extends WorkChain.define((spec) =>
  spec.input('gate', { validType: nonDb(z.string()) }),
) {
  static {
    this.outline('hold');
  }
  async hold(): Promise<void> {
    await gateNamed(this.inputs.gate).promise;
  }
}

/**
 * A work chain that reports, then waits for a child held at a named gate: a test sees it appear, wait (where it can
 * be paused and played), and finish once the gate opens.
 */
export class HeldWorkChain extends WorkChain.define((spec) =>
  spec.input('gate', { validType: nonDb(z.string()) }),
) {
  static {
    this.outline('start', 'end');
  }
  async start(): Promise<ToContext> {
    this.report('held: waiting for the child at the gate');
    return new ToContext({ child: await this.submit(GateWorkChain, { gate: this.inputs.gate }) });
  }
  end(): void {
    this.report('held: the child is through the gate');
  }
}
