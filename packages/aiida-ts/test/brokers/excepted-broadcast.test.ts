/**
 * The state broadcasts of a process that excepts are aiida-core's: `state_changed.<from>.excepted` is not sent
 * (aiida-core's `Process.on_entered` returns before plumpy broadcasts it: in the recorded trace, the FailingWorkChain's
 * broadcasts stop at `created.running`); a runner opts in with `broadcastExcepted`.
 */
import { LocalCommunicator, type BroadcastSendOptions } from 'kiwipy-ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runner, WorkChain } from '../../src/engine.js';
import { ForwardingCommunicator } from '../../src/engine/forwarding-communicator.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { openSqliteDos, type TestStorage } from '../storage/helpers.js';
import { recordedBroadcastSubjects } from './wire-fixtures.js';

/** Records the subject of every broadcast as it is handed to the broker. */
class SubjectSpy extends ForwardingCommunicator {
  readonly subjects: string[] = [];

  override broadcastSend(body: unknown, options: BroadcastSendOptions = {}): Promise<boolean> {
    this.subjects.push(String(options.subject));
    return super.broadcastSend(body, options);
  }
}

class FailingWorkChain extends WorkChain.define((spec) => spec) {
  static {
    this.outline('explode');
  }
  explode(): void {
    throw new Error('deliberate failure in FailingWorkChain.fail');
  }
}

/** Runs a FailingWorkChain; the subjects its runner handed to the broker once every write and send has happened. */
async function subjectsOfFailure(handle: TestStorage, broadcastExcepted?: boolean): Promise<string[]> {
  const spy = new SubjectSpy(new LocalCommunicator());
  const runner = new Runner({
    storage: handle.storage,
    communicator: spy,
    pollInterval: 0.05,
    ...(broadcastExcepted === undefined ? {} : { broadcastExcepted }),
  });
  try {
    const submitted = await runner.submit(FailingWorkChain, {});
    expect((await runner.getProcessFuture(submitted.pk!)).processState).toBe('excepted');
    await runner.awaitIdle();
    // a terminal broadcast waits for the node's writes (done once the runner is idle), then a few promise turns
    await new Promise((resolve) => setImmediate(resolve));
    return spy.subjects;
  } finally {
    await runner.close();
  }
}

describe('state broadcasts of an excepted process', () => {
  let handle: TestStorage;
  beforeAll(async () => {
    handle = await openSqliteDos();
    setDefaultStorage(handle.storage);
  });
  afterAll(async () => {
    setDefaultStorage(null);
    await handle?.cleanup();
  });

  it('are those aiida-core sends: none for the excepted state', async () => {
    const subjects = await subjectsOfFailure(handle);
    expect(subjects).toEqual(['state_changed.None.created', 'state_changed.created.running']);
    // the recorded failing work chain (trace.json, phases create-failing and continue-failing)
    expect(subjects).toEqual(recordedBroadcastSubjects(['create-failing', 'continue-failing']));
  });

  it('include the excepted state when the runner opts in', async () => {
    expect(await subjectsOfFailure(handle, true)).toEqual([
      'state_changed.None.created',
      'state_changed.created.running',
      'state_changed.running.excepted',
    ]);
  });
});
