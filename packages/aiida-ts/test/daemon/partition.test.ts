/**
 * A worker cut off by the network: it runs in its own network namespace (a veth pair to a private PostgreSQL
 * listening on the pair's address), its link is taken down in the middle of a step; another worker continues the
 * process once the lease has expired; when the link returns, the cut-off worker's late writes (the end of its step)
 * are refused by the fence: one calcfunction, one result, no duplicated node or link.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { appendFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPrivatePostgres, waitFor, type PrivatePostgres } from '@aiida-ts/test-services';
import { Runner } from '../../src/engine.js';
import { RunnerOwnership, startDaemonWorker } from '../../src/engine/daemon/index.js';
import { Int } from '../../src/orm/nodes/data/base.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { withAiidaTsTables } from '../../src/storage/aiida-ts-schema/schema.js';
import { Sleeper } from './fixtures.js';
import { openSharedStorage, spawnWorker, type SharedStorage, type SpawnedWorker } from './services.js';

const ip = (...args: string[]): void => void execFileSync('ip', args, { stdio: 'ignore' });

/** A failure with the workers' side of the story attached. */
class Explained extends Error {}

/** `promise`, or a failure naming what did not happen within `ms` (a bound, not a measurement). */
async function within<T>(ms: number, what: string, promise: PromiseLike<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
  }
}

describe('a daemon worker cut off by the network', () => {
  const suffix = randomBytes(3).toString('hex');
  const namespace = `aiidad${suffix}`;
  const hostSide = `vh${suffix}`;
  const nsSide = `vn${suffix}`;
  const subnet = `10.231.${randomInt(2, 250)}`;
  let postgres: PrivatePostgres;
  let shared: SharedStorage;
  let cutOff: SpawnedWorker | undefined;

  beforeAll(async () => {
    ip('netns', 'add', namespace);
    ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide);
    ip('link', 'set', nsSide, 'netns', namespace);
    ip('addr', 'add', `${subnet}.1/24`, 'dev', hostSide);
    ip('link', 'set', hostSide, 'up');
    ip('netns', 'exec', namespace, 'ip', 'addr', 'add', `${subnet}.2/24`, 'dev', nsSide);
    ip('netns', 'exec', namespace, 'ip', 'link', 'set', nsSide, 'up');
    ip('netns', 'exec', namespace, 'ip', 'link', 'set', 'lo', 'up');
    postgres = await startPrivatePostgres({ listenAddress: `${subnet}.1` });
    // initdb trusts 127.0.0.1 only: trust the pair's subnet too
    await appendFile(path.join(postgres.dir, 'data', 'pg_hba.conf'), `host all all ${subnet}.0/24 trust\n`);
    process.kill(postgres.pid!, 'SIGHUP');
    await waitFor('the subnet to be trusted', () => postgres.psql('SELECT 1').then(() => true), {
      timeoutMs: 20_000,
      intervalMs: 50,
    });
    shared = await openSharedStorage('psql', { host: postgres.host, port: postgres.port });
    setDefaultStorage(shared.storage);
  }, 90_000);
  afterAll(async () => {
    try {
      ip('netns', 'exec', namespace, 'ip', 'link', 'set', nsSide, 'up');
    } catch {
      // already gone
    }
    await cutOff?.kill();
    setDefaultStorage(null);
    await shared?.cleanup().catch(() => undefined);
    await postgres?.dispose();
    try {
      ip('link', 'del', hostSide);
    } catch {
      // already gone
    }
    try {
      ip('netns', 'del', namespace);
    } catch {
      // already gone
    }
  });

  it(
    'is fenced off: its process is continued elsewhere and its late writes are refused',
    // The bound of the whole sequence: each wait inside has its own (spawning the worker in the namespace, 20 s for
    // its claim, 30 s for the takeover, 20 s for its refused writes), and under a full CI run they added up to more
    // than the 60 s this had (14 s alone).
    { timeout: 150_000 },
    async () => {
      const { storage } = shared;
      const tasks = withAiidaTsTables(storage.executor());
      cutOff = spawnWorker({ storage: shared.spec, broker: null, slots: 2, leaseTtlMs: 2_000 }, {}, [
        'ip',
        'netns',
        'exec',
        namespace,
      ]);
      const cutOffId = await cutOff.ready;
      const runner = new Runner({ storage, pollInterval: 0.1, ownership: new RunnerOwnership(storage) });
      let pk: number | undefined;
      let survivorStats: (() => unknown) | undefined;
      // What the workers did is the story of a failure here (the cut-off worker logs in its own OS process); it is
      // read while the survivor still runs (its disposal finishes the step first).
      const explain = async (error: unknown): Promise<Error> => {
        if (error instanceof Explained) return error;
        const row =
          pk === undefined
            ? undefined
            : await tasks
                .selectFrom('aiida_ts_task')
                .selectAll()
                .where('process_id', '=', pk)
                .executeTakeFirst();
        return new Explained(
          `${String(error)}\n--- task row ---\n${JSON.stringify(row)}\n--- survivor ---\n` +
            `${JSON.stringify(survivorStats?.())}\n--- cut-off worker (${cutOffId}) output ---\n${cutOff?.output() ?? ''}`,
          { cause: error },
        );
      };
      try {
        const node = await runner.submit(Sleeper, { ms: 8_000, x: new Int(41) });
        pk = node.pk ?? undefined;
        const owner = async (): Promise<string | null | undefined> =>
          (
            await tasks
              .selectFrom('aiida_ts_task')
              .select('owner')
              .where('process_id', '=', node.pk!)
              .executeTakeFirst()
          )?.owner;
        await expect.poll(owner, { timeout: 20_000, interval: 20 }).toBe(cutOffId);
        ip('netns', 'exec', namespace, 'ip', 'link', 'set', nsSide, 'down');
        // The survivor's own lease is long: it runs in this test process, which a loaded machine can stall for seconds,
        // and the cut-off worker (back on the network) would then take the process back and start its step again.
        await using survivor = await startDaemonWorker(undefined, {
          storage,
          communicator: null,
          slots: 2,
          leaseTtlMs: 10_000,
        });
        survivorStats = () => survivor.stats();
        try {
          // taken over once the cut-off worker's lease has expired
          await expect.poll(owner, { timeout: 30_000, interval: 50 }).toBe(survivor.id);
          // the link returns while both run the step: the cut-off worker ends its step first, and its writes are refused
          ip('netns', 'exec', namespace, 'ip', 'link', 'set', nsSide, 'up');
          const done = await within(60_000, 'the process to finish', runner.getProcessFuture(node.pk!));
          const worker = cutOff;

          await expect
            .poll(() => worker.output(), { timeout: 20_000, interval: 50 })
            .toMatch(
              new RegExp(
                `process<${node.pk!}> is no longer leased|lease of process<${node.pk!}> lost|presumed dead`,
              ),
            );
          expect(done.processState).toBe('finished');
          const calls = (await done.base.links.getOutgoing({ linkType: 'call_calc' })).all();
          expect(calls).toHaveLength(1);
          const returned = (await done.base.links.getOutgoing({ linkType: 'return' })).all();
          expect(returned.map((link) => [link.linkLabel, (link.node as Int).value])).toEqual([
            ['result', 42],
          ]);
          const addOnes = await storage
            .executor()
            .selectFrom('db_dbnode')
            .select((eb) => eb.fn.countAll<number | string>().as('n'))
            .where('process_type', '=', 'fixtures.addOne')
            .executeTakeFirst();
          expect(Number(addOnes?.n)).toBe(1);
          expect(survivor.stats().claimed).toBe(1);
        } catch (error) {
          throw await explain(error);
        }
      } catch (error) {
        throw await explain(error);
      } finally {
        await runner.close();
      }
    },
  );
});
