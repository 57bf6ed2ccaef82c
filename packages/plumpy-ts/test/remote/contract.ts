import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  RemoteError,
  UnroutableError,
  silentLogger,
  type BroadcastMessage,
  type Communicator,
} from 'kiwipy-ts';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Continue,
  FilePersister,
  InMemoryPersister,
  KilledError,
  Process,
  ProcessLauncher,
  ProcessState,
  RemoteProcessController,
  ValidationError,
  Wait,
  createLaunchBody,
  findLiveProcess,
  type Persister,
} from '../../src/index.js';
import {
  DummyProcess,
  DummyProcessWithOutput,
  WaitForSignalProcess,
  runUntilWaiting,
  waitUntil,
} from '../../src/testing.js';

/** A broker namespace: each call to `connect` is a new communicator on the same namespace. */
export interface RemoteSetup {
  connect(): Promise<Communicator>;
  /** Whether two communicators of one setup are really separate connections. */
  readonly separateConnections: boolean;
}

/** Adds numbers; registered under a fixed name so launch tasks can name it. */
export class RemoteAdd extends Process.define((spec) =>
  spec
    .input('x', { validType: z.number() })
    .input('y', { validType: z.number(), default: 1 })
    .output('sum', { validType: z.number() }),
) {
  override run(): Continue {
    return new Continue('finish');
  }
  finish(): void {
    this.out('sum', this.inputs.x + this.inputs.y);
  }
}

/** Waits for `resume()`, then emits `done`. */
export class RemoteWaiter extends Process.define((spec) => spec.output('done', { validType: z.boolean() })) {
  override run(): Wait {
    return new Wait('finish');
  }
  finish(): void {
    this.out('done', true);
  }
}

/** A run step that holds until `release()`; checks pause and kill while a step runs. */
class Gated extends Process {
  static #releases = new Map<string, () => void>();
  static release(pid: string): void {
    Gated.#releases.get(pid)?.();
  }
  override async run(): Promise<Continue> {
    await new Promise<void>((resolve) => Gated.#releases.set(String(this.pid), resolve));
    return new Continue('after');
  }
  after(): void {}
}

export function describeRemoteControl(name: string, setup: () => RemoteSetup): void {
  describe(`remote control over ${name}`, () => {
    const cleanups: (() => Promise<unknown>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    });

    async function communicator(s: RemoteSetup): Promise<Communicator> {
      const c = await s.connect();
      cleanups.push(() => c.close());
      return c;
    }

    async function started<P extends Process>(process: P): Promise<P> {
      const loop = process.stepUntilTerminated();
      cleanups.push(async () => {
        if (!process.hasTerminated()) process.kill('test over', { forceKill: true });
        await loop;
      });
      await process.ready();
      return process;
    }

    async function tempPersister(): Promise<FilePersister> {
      const directory = await mkdtemp(join(tmpdir(), 'plumpy-ts-remote-'));
      cleanups.push(() => rm(directory, { recursive: true, force: true }));
      return new FilePersister({ directory, fsync: false });
    }

    it('pauses a waiting process', async () => {
      const s = setup();
      const comm = await communicator(s);
      const controller = new RemoteProcessController(comm);
      const process = await started(new WaitForSignalProcess({ communicator: comm }));
      await runUntilWaiting(process);
      expect(await controller.pauseProcess(process.pid, 'wait a moment')).toBe(true);
      expect(process.paused).toBe(true);
      expect(process.status).toBe('wait a moment');
    });

    it('plays a paused process', async () => {
      const s = setup();
      const comm = await communicator(s);
      const controller = new RemoteProcessController(comm);
      const process = await started(new WaitForSignalProcess({ communicator: comm }));
      expect(process.pause()).toBe(true);
      expect(await controller.playProcess(process.pid)).toBe(true);
      expect(process.paused).toBe(false);
      await runUntilWaiting(process);
      expect(process.state).toBe(ProcessState.WAITING);
    });

    it('kills a waiting process, and a running one when its step returns, or at once with force', async () => {
      const s = setup();
      const comm = await communicator(s);
      const controller = new RemoteProcessController(comm);
      const waiting = await started(new WaitForSignalProcess({ communicator: comm }));
      await runUntilWaiting(waiting);
      expect(await controller.killProcess(waiting.pid, { message: 'bye' })).toBe(true);
      expect(waiting.state).toBe(ProcessState.KILLED);
      expect(waiting.killedMsg()?.message).toBe('bye');
      await expect(waiting.future()).rejects.toThrow(KilledError);

      const running = await started(new Gated({ communicator: comm }));
      await waitUntil(() => running.state === ProcessState.RUNNING);
      const reply = controller.killProcess(running.pid);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(running.state).toBe(ProcessState.RUNNING);
      Gated.release(String(running.pid));
      expect(await reply).toBe(true);
      expect(running.state).toBe(ProcessState.KILLED);

      const forced = await started(new Gated({ communicator: comm }));
      await waitUntil(() => forced.state === ProcessState.RUNNING);
      expect(await controller.killProcess(forced.pid, { message: 'now', forceKill: true })).toBe(true);
      expect(forced.killedMsg()).toEqual({ intent: 'kill', message: 'now', force_kill: true });
      Gated.release(String(forced.pid));
    });

    it('pauses a running process when its step returns', async () => {
      const s = setup();
      const comm = await communicator(s);
      const controller = new RemoteProcessController(comm);
      const process = await started(new Gated({ communicator: comm }));
      await waitUntil(() => process.state === ProcessState.RUNNING);
      const reply = controller.pauseProcess(process.pid);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(process.paused).toBe(false);
      Gated.release(String(process.pid));
      expect(await reply).toBe(true);
      expect(process.paused).toBe(true);
      await controller.playProcess(process.pid);
      await process.future();
    });

    it('reports its status', async () => {
      const s = setup();
      const comm = await communicator(s);
      const controller = new RemoteProcessController(comm);
      const process = await started(new WaitForSignalProcess({ communicator: comm }));
      await runUntilWaiting(process);
      const status = await controller.getStatus(process.pid);
      expect(status).toEqual({
        ctime: process.creationTime,
        paused: false,
        process_string: '<WaitForSignalProcess> (ProcessState.WAITING)',
        state: 'ProcessState.WAITING',
      });
    });

    it('answers an unknown intent with an error and carries on', async () => {
      const s = setup();
      const comm = await communicator(s);
      const process = await started(new WaitForSignalProcess({ communicator: comm }));
      await runUntilWaiting(process);
      const error = await Promise.resolve(comm.rpcSend(String(process.pid), { intent: 'dance' })).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RemoteError);
      expect((error as RemoteError).remoteMessage).toContain('Unknown intent');
      const malformed = await Promise.resolve(comm.rpcSend(String(process.pid), 'not a message')).catch(
        (e: unknown) => e,
      );
      expect(malformed).toBeInstanceOf(RemoteError);
      expect(process.state).toBe(ProcessState.WAITING);
      process.resume();
      await process.future();
      expect(process.state).toBe(ProcessState.FINISHED);
    });

    it('cannot reach a process that does not exist, or has terminated', async () => {
      const s = setup();
      const comm = await communicator(s);
      const controller = new RemoteProcessController(comm);
      await expect(controller.getStatus('no-such-pid')).rejects.toThrow(UnroutableError);
      const process = new DummyProcess({ communicator: comm });
      await process.execute();
      await process.close();
      await expect(controller.getStatus(process.pid)).rejects.toThrow(UnroutableError);
    });

    it('broadcasts every state change with its pid as sender', async () => {
      const s = setup();
      const comm = await communicator(s);
      const messages: BroadcastMessage[] = [];
      await comm.addBroadcastSubscriber((message) => {
        if (typeof message.subject === 'string' && message.subject.startsWith('state_changed'))
          messages.push(message);
      });
      const process = new DummyProcess({ communicator: comm });
      await process.execute();
      await waitUntil(() => messages.length === 3);
      expect(messages.map((m) => m.subject)).toEqual([
        'state_changed.None.created',
        'state_changed.created.running',
        'state_changed.running.finished',
      ]);
      expect(messages.map((m) => m.sender)).toEqual([process.pid, process.pid, process.pid]);
    });

    it('pauses, plays and kills all processes', async () => {
      const s = setup();
      const comm = await communicator(s);
      const controller = new RemoteProcessController(comm);
      const processes = await Promise.all(
        Array.from({ length: 10 }, () => started(new WaitForSignalProcess({ communicator: comm }))),
      );
      await controller.pauseAll("Slow yo' roll");
      await waitUntil(() => processes.every((p) => p.paused));
      expect(processes.every((p) => p.status === "Slow yo' roll")).toBe(true);
      await controller.playAll();
      await waitUntil(() => processes.every((p) => !p.paused));
      await controller.killAll('bang bang, I shot you down');
      await waitUntil(() => processes.every((p) => p.killed()));
      expect(processes.every((p) => p.killedMsg()?.message === 'bang bang, I shot you down')).toBe(true);
    });

    it('launches processes through a launcher: waiting for the outputs, or just the pid', async () => {
      const s = setup();
      const worker = await communicator(s);
      const client = s.separateConnections ? await communicator(s) : worker;
      const launcher = new ProcessLauncher({ persister: new InMemoryPersister(), logger: silentLogger });
      await launcher.subscribe(worker);
      cleanups.push(() => launcher.close());
      const controller = new RemoteProcessController(client);
      expect(await controller.launchProcess(DummyProcess)).toEqual({});
      expect(await controller.launchProcess(RemoteAdd, { inputs: { x: 2, y: 3 } })).toEqual({ sum: 5 });
      const pids = await Promise.all(
        Array.from({ length: 10 }, () => controller.launchProcess(DummyProcessWithOutput, { nowait: true })),
      );
      for (const pid of pids) expect(pid).toMatch(/^[0-9a-f-]{36}$/);
      await launcher.whenIdle();
    });

    it('controls a process it launched without waiting', async () => {
      const s = setup();
      const worker = await communicator(s);
      const client = s.separateConnections ? await communicator(s) : worker;
      const launcher = new ProcessLauncher({ logger: silentLogger });
      await launcher.subscribe(worker);
      cleanups.push(() => launcher.close());
      const controller = new RemoteProcessController(client);
      const pid = (await controller.launchProcess(RemoteWaiter, { nowait: true })) as string;
      await waitUntil(() => launcher.runningCount === 1);
      expect(await controller.pauseProcess(pid)).toBe(true);
      expect((await controller.getStatus(pid)).paused).toBe(true);
      expect(await controller.killProcess(pid, { message: 'enough' })).toBe(true);
      await launcher.whenIdle();
    });

    it('reports a launch that fails', async () => {
      const s = setup();
      const comm = await communicator(s);
      const launcher = new ProcessLauncher({ logger: silentLogger });
      await launcher.subscribe(comm);
      cleanups.push(() => launcher.close());
      const controller = new RemoteProcessController(comm);
      await expect(controller.launchProcess('NoSuchProcessClass')).rejects.toThrow(RemoteError);
      await expect(controller.launchProcess(RemoteAdd, { inputs: { x: 'one' } as never })).rejects.toThrow(
        'ValidationError',
      );
      await expect(
        Promise.resolve(
          comm.taskSend({
            ...createLaunchBody('RemoteAdd'),
            args: { process_class: 'RemoteAdd', init_args: [1] },
          }),
        ),
      ).rejects.toThrow('positional arguments are not supported');
    });

    it('creates, then continues a process from its checkpoint (execute)', async () => {
      const s = setup();
      const comm = await communicator(s);
      const persister = await tempPersister();
      const launcher = new ProcessLauncher({ persister, logger: silentLogger });
      await launcher.subscribe(comm);
      cleanups.push(() => launcher.close());
      const controller = new RemoteProcessController(comm);
      expect(await controller.executeProcess(RemoteAdd, { inputs: { x: 40, y: 2 } })).toEqual({ sum: 42 });
      const pid = await controller.executeProcess(DummyProcessWithOutput, { nowait: true });
      expect(typeof pid).toBe('string');
      await launcher.whenIdle();
      expect((await persister.loadCheckpoint(pid as string))['state']).toMatchObject({ label: 'finished' });
    });

    it('continues a checkpointed process in another communicator and launcher', async () => {
      const s = setup();
      const persister: Persister = await tempPersister();
      // A first worker makes the process and checkpoints it, then goes away.
      const first = await communicator(s);
      const firstLauncher = new ProcessLauncher({ persister, logger: silentLogger });
      await firstLauncher.subscribe(first);
      const controller = new RemoteProcessController(first);
      const pid = (await controller.launchProcess(RemoteWaiter, { persist: true, nowait: true })) as string;
      await waitUntil(() => firstLauncher.runningCount === 1);
      const saved = await (async () => {
        for (;;) {
          const checkpoint = await persister.loadCheckpoint(pid);
          if ((checkpoint['state'] as { label: string }).label === 'waiting') return checkpoint;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })();
      expect(saved['class_name']).toBe('RemoteWaiter');
      // The first worker goes away: its process ends (which checkpoints it as killed), so put the waiting
      // checkpoint back, as if the worker had died while the process waited.
      await controller.killProcess(pid, { forceKill: true });
      await firstLauncher.close();
      await persister.saveCheckpoint({ pid, save: () => saved });

      // A second worker, on another communicator, continues it from the checkpoint.
      const second = s.separateConnections ? await communicator(s) : first;
      const secondLauncher = new ProcessLauncher({ persister, logger: silentLogger });
      await secondLauncher.subscribe(second);
      cleanups.push(() => secondLauncher.close());
      const client = new RemoteProcessController(s.separateConnections ? await communicator(s) : second);
      const continuing = client.continueProcess(pid);
      await waitUntil(() => secondLauncher.runningCount === 1);
      // The continued process answers under the same pid; resuming is not a remote intent, so the test
      // resumes it where it runs.
      await waitUntil(() => findLiveProcess(pid)?.state === ProcessState.WAITING);
      await findLiveProcess(pid)?.ready();
      expect((await client.getStatus(pid)).state).toBe('ProcessState.WAITING');
      findLiveProcess(pid)?.resume();
      expect(await continuing).toEqual({ done: true });
    });

    it('rejects tasks it cannot do, so that another subscriber takes them', async () => {
      const launcher = new ProcessLauncher({ logger: silentLogger });
      await expect(launcher.handle({ task: 'dance' })).rejects.toThrow('not a process task');
      await expect(launcher.handle({ task: 'continue', args: { pid: 'x' } })).rejects.toThrow('no persister');
      await expect(launcher.handle(createLaunchBody('RemoteAdd', { persist: true }))).rejects.toThrow(
        'no persister',
      );
      await expect(launcher.handle({ task: 'launch', args: {} })).rejects.toThrow(ValidationError);
      await expect(
        launcher.handle(
          createLaunchBody('RemoteAdd', { initKwargs: { inputs: { x: 1 }, communicator: {} } }),
        ),
      ).rejects.toThrow('args.init_kwargs');
    });
  });
}
