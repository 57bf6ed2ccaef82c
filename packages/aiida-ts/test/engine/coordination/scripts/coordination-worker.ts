/**
 * Child process of the multi-process coordination tests: opens the profile storages the test names, makes a
 * coordinator on each, and runs the commands the test sends over IPC, replying with what it recorded (times from
 * the database's clock). One worker serves several profiles, so the tests pay for starting it once.
 * Usage: coordination-worker.ts
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { createCoordinator, type Coordinator } from '../../../../src/engine/coordination/coordinator.js';
import type { StorageBackend } from '../../../../src/storage/backend.js';
import { openTestStorage } from '../../../storage/scripts/open-storage.js';

const profiles = new Map<string, { storage: StorageBackend; coordinator: Coordinator }>();

const Base = { id: z.number(), profile: z.string() };
const Command = z.discriminatedUnion('cmd', [
  z.object({
    ...Base,
    cmd: z.literal('open'),
    entryPoint: z.string(),
    config: z.unknown(),
    options: z.record(z.string(), z.number()),
  }),
  z.object({
    ...Base,
    cmd: z.literal('throttle'),
    key: z.string(),
    intervalMs: z.number(),
    count: z.number(),
  }),
  z.object({
    ...Base,
    cmd: z.literal('slots'),
    requests: z.array(z.object({ holder: z.number(), pools: z.array(z.string()) })),
    holdMs: z.number(),
  }),
  z.object({ ...Base, cmd: z.literal('wait'), holder: z.number(), pools: z.array(z.string()) }),
  z.object({ ...Base, cmd: z.literal('poll'), key: z.string(), intervalMs: z.number(), count: z.number() }),
  z.object({ ...Base, cmd: z.literal('close') }),
  z.object({ id: z.number(), cmd: z.literal('exit') }),
]);
type Command = z.infer<typeof Command>;

const send = (message: unknown) => process.send?.(message);

function coordinatorOf(profile: string): Coordinator {
  const opened = profiles.get(profile);
  if (opened === undefined) throw new Error(`no profile \`${profile}\` is open in this worker`);
  return opened.coordinator;
}

async function run(command: Command): Promise<unknown> {
  if (command.cmd === 'exit') {
    for (const { coordinator, storage } of profiles.values()) {
      await coordinator.close();
      await storage.close();
    }
    setImmediate(() => process.exit(0));
    return null;
  }
  if (command.cmd === 'open') {
    const storage = await openTestStorage(command.entryPoint, JSON.stringify(command.config));
    profiles.set(command.profile, { storage, coordinator: createCoordinator(storage, command.options) });
    return null;
  }
  const coordinator = coordinatorOf(command.profile);
  switch (command.cmd) {
    case 'throttle': {
      const times: number[] = [];
      for (let i = 0; i < command.count; i += 1) {
        times.push((await coordinator.throttle(command.key, command.intervalMs)).getTime());
      }
      return times;
    }
    case 'slots':
      return Promise.all(
        command.requests.map(async ({ holder, pools }) => {
          const grant = await coordinator.acquireSlots(holder, pools);
          // the job runs for a while (a random part, so releases interleave differently in each process)
          await sleep(command.holdMs * (0.5 + Math.random()));
          const released = await coordinator.releaseSlots(holder);
          return {
            holder,
            pools: grant.pools,
            requestId: grant.requestId,
            grantedAt: grant.grantedAt.getTime(),
            releasedAt: released?.getTime() ?? null,
          };
        }),
      );
    case 'wait': {
      const grant = await coordinator.acquireSlots(command.holder, command.pools, {
        onWait: (usage) => send({ id: command.id, event: 'waiting', usage }),
      });
      return { holder: grant.holder, requestId: grant.requestId };
    }
    case 'poll': {
      const ran: { polledAt: number; value: string }[] = [];
      const got: { polledAt: number; value: string }[] = [];
      let seq = 0;
      let notBefore: Date | undefined;
      for (let i = 0; i < command.count; i += 1) {
        let started = 0;
        const result = await coordinator.sharedPoll(
          command.key,
          command.intervalMs,
          () => {
            seq += 1;
            started = seq;
            return Promise.resolve(`${process.pid}/${seq}`);
          },
          notBefore === undefined ? {} : { notBefore },
        );
        if (started > 0) ran.push({ polledAt: result.polledAt.getTime(), value: result.value });
        got.push({ polledAt: result.polledAt.getTime(), value: result.value });
        // each call wants a newer result than the last one it saw
        notBefore = new Date(result.polledAt.getTime() + 1);
      }
      return { ran, got };
    }
    case 'close': {
      const { storage } = profiles.get(command.profile)!;
      profiles.delete(command.profile);
      await coordinator.close();
      await storage.close();
      return null;
    }
  }
}

process.on('message', (message: unknown) => {
  const command = Command.parse(message);
  run(command).then(
    (result) => send({ id: command.id, ok: true, result }),
    (error: unknown) => send({ id: command.id, ok: false, error: String((error as Error).stack ?? error) }),
  );
});
send({ ready: true });
