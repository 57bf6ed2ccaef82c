import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BroadcastFilter } from '../broadcast-filter.js';
import { defineBroadcast, defineRpc, defineTask } from '../channels.js';
import type { BroadcastMessage, Communicator } from '../communicator.js';
import {
  CommunicatorClosedError,
  DuplicateSubscriberIdentifierError,
  RemoteError,
  TaskRejectedError,
  UnknownSubscriberError,
  UnroutableError,
  ValidationError,
} from '../errors.js';
import { deferred, type Reply } from '../reply.js';
import { answerLater } from '../subscriber-registry.js';

/** Makes a fresh, open communicator for one test; the suite closes it. */
export type CommunicatorFactory = () => Communicator | Promise<Communicator>;

/** Options of {@link communicatorContract}. */
export interface CommunicatorContractOptions {
  /** How long to wait before concluding that something did not happen (ms). Default 250. */
  readonly quietPeriod?: number;
  /** How long to wait for something that should happen (ms). Default 5 000. */
  readonly waitTimeout?: number;
}

/**
 * The behaviour every {@link Communicator} promises, as a vitest suite (kiwipy's `CommunicatorTester`
 * and more): closing, RPC, tasks, broadcasts and their filters, subscriber bookkeeping, typed channels.
 * Call it at the top level of a test file with a factory for the implementation under test.
 */
export function communicatorContract(
  name: string,
  factory: CommunicatorFactory,
  options: CommunicatorContractOptions = {},
): void {
  const quiet = options.quietPeriod ?? 250;
  const wait = options.waitTimeout ?? 5_000;

  describe(`${name}: Communicator contract`, () => {
    let communicator: Communicator;

    beforeEach(async () => {
      communicator = await factory();
    });

    afterEach(async () => {
      await communicator.close();
    });

    describe('lifecycle', () => {
      it('rejects every operation once closed', async () => {
        expect(communicator.isClosed()).toBe(false);
        await communicator.close();
        expect(communicator.isClosed()).toBe(true);
        await communicator.close(); // idempotent
        await expect(communicator.addRpcSubscriber(() => null, 'rpc')).rejects.toBeInstanceOf(
          CommunicatorClosedError,
        );
        await expect(communicator.rpcSend('rpc', null).result).rejects.toBeInstanceOf(
          CommunicatorClosedError,
        );
        await expect(communicator.addTaskSubscriber(() => null)).rejects.toBeInstanceOf(
          CommunicatorClosedError,
        );
        await expect(communicator.taskSend(null).result).rejects.toBeInstanceOf(CommunicatorClosedError);
        await expect(communicator.taskSend(null, { noReply: true })).rejects.toBeInstanceOf(
          CommunicatorClosedError,
        );
        await expect(communicator.addBroadcastSubscriber(() => null)).rejects.toBeInstanceOf(
          CommunicatorClosedError,
        );
        await expect(communicator.broadcastSend(null)).rejects.toBeInstanceOf(CommunicatorClosedError);
      });

      it('closes at the end of an `await using` block', async () => {
        let held: Communicator | undefined;
        {
          await using scoped = await factory();
          held = scoped;
          expect(scoped.isClosed()).toBe(false);
        }
        expect(held.isClosed()).toBe(true);
      });

      it('rejects requests still waiting for a reply when closed', async () => {
        const never = deferred<string>();
        await communicator.addRpcSubscriber(() => never.promise, 'waiter');
        const reply = communicator.rpcSend('waiter', null);
        await within(reply.accepted, wait);
        await communicator.close();
        await expect(reply.result).rejects.toBeInstanceOf(CommunicatorClosedError);
      });
    });

    describe('rpc', () => {
      it('sends a message to a subscriber and returns its reply', async () => {
        const received: unknown[] = [];
        await communicator.addRpcSubscriber((message) => {
          received.push(message);
          return 'nuthin bra';
        }, 'rpc');
        const response = await within(communicator.rpcSend('rpc', "sup yo'"), wait);
        expect(received).toEqual(["sup yo'"]);
        expect(response).toBe('nuthin bra');
      });

      it('passes structured messages and results through unchanged', async () => {
        const payload = { numbers: [1, 2.5, -3], nested: { flag: true, none: null }, text: 'ünïcødé' };
        await communicator.addRpcSubscriber((message) => ({ echo: message }), 'echo');
        expect(await within(communicator.rpcSend('echo', payload), wait)).toEqual({ echo: payload });
      });

      it('adds, removes and re-adds a subscriber', async () => {
        await communicator.addRpcSubscriber(() => true, 'sub');
        expect(await within(communicator.rpcSend('sub', null), wait)).toBe(true);
        await communicator.removeRpcSubscriber('sub');
        await expect(within(communicator.rpcSend('sub', null), wait)).rejects.toBeInstanceOf(UnroutableError);
        await communicator.addRpcSubscriber(() => 'again', 'sub');
        expect(await within(communicator.rpcSend('sub', null), wait)).toBe('again');
      });

      it('generates an identifier when none is given', async () => {
        const id = await communicator.addRpcSubscriber(() => 'generated');
        expect(typeof id).toBe('string');
        expect(id.length).toBeGreaterThan(0);
        expect(await within(communicator.rpcSend(id, null), wait)).toBe('generated');
      });

      it('gives a pending reply first when the subscriber answers later (nested futures)', async () => {
        const later = deferred<string>();
        await communicator.addRpcSubscriber(() => later.promise, 'nested');
        const reply = communicator.rpcSend<string>('nested', null);
        await within(reply.accepted, wait);
        expect(await settledWithin(reply.result, quiet)).toBe(false);
        later.resolve("You've reached the bottom of the rabbit hole");
        expect(await within(reply, wait)).toBe("You've reached the bottom of the rabbit hole");
      });

      it('follows a chain of promises to the final value', async () => {
        await communicator.addRpcSubscriber(
          () => Promise.resolve().then(() => Promise.resolve().then(() => 'bottom')),
          'chain',
        );
        expect(await within(communicator.rpcSend('chain', null), wait)).toBe('bottom');
      });

      it('turns a thrown error into a RemoteError with the remote message and stack', async () => {
        const received: unknown[] = [];
        await communicator.addRpcSubscriber((message) => {
          received.push(message);
          throw new RangeError('I cannae do it Captain!');
        }, 'fails');
        const error = await rejectionOf(communicator.rpcSend('fails', 'The meaning?'), wait);
        expect(error).toBeInstanceOf(RemoteError);
        const remote = error as RemoteError;
        expect(remote.remoteMessage).toBe('RangeError: I cannae do it Captain!');
        expect(remote.remoteStack).toContain('I cannae do it Captain!');
        expect(remote.remoteStack).toMatch(/\n\s+at /);
        expect(received).toEqual(['The meaning?']);
      });

      it('turns a rejected promise into a RemoteError after the pending reply', async () => {
        await communicator.addRpcSubscriber(async () => {
          await new Promise((resolve) => setTimeout(resolve, 5));
          throw new Error('later failure');
        }, 'rejects');
        const reply = communicator.rpcSend('rejects', null);
        const error = await rejectionOf(reply, wait);
        expect(error).toBeInstanceOf(RemoteError);
        expect((error as RemoteError).remoteMessage).toBe('Error: later failure');
      });

      it('rejects with UnroutableError when nobody has the identifier', async () => {
        await expect(within(communicator.rpcSend('noone', 'nothing'), wait)).rejects.toBeInstanceOf(
          UnroutableError,
        );
      });
    });

    describe('tasks', () => {
      it('sends a task to a subscriber and returns its result', async () => {
        const tasks: unknown[] = [];
        await communicator.addTaskSubscriber((task) => {
          tasks.push(task);
          return 42;
        });
        expect(await within(communicator.taskSend('The meaning?'), wait)).toBe(42);
        expect(tasks).toEqual(['The meaning?']);
      });

      it('accepts a task whose result comes later, then resolves to it (future task)', async () => {
        const later = deferred<number>();
        const tasks: unknown[] = [];
        await communicator.addTaskSubscriber((task) => {
          tasks.push(task);
          return later.promise;
        });
        const reply = communicator.taskSend<number>('The meaning?');
        await within(reply.accepted, wait);
        expect(tasks).toEqual(['The meaning?']);
        expect(await settledWithin(reply.result, quiet)).toBe(false);
        later.resolve(42);
        expect(await within(reply, wait)).toBe(42);
      });

      it('answers later: accepted at once, then the answer, with noReply in the context', async () => {
        const later = deferred<number>();
        const contexts: (boolean | undefined)[] = [];
        await communicator.addTaskSubscriber((_task, context) => {
          contexts.push(context.noReply);
          return answerLater(later.promise);
        });
        const reply = communicator.taskSend<number>('The meaning?');
        await within(reply.accepted, wait);
        expect(await settledWithin(reply.result, quiet)).toBe(false);
        later.resolve(42);
        expect(await within(reply, wait)).toBe(42);
        expect(await within(communicator.taskSend('no answer wanted', { noReply: true }), wait)).toBeNull();
        await eventually(() => contexts.length === 2, wait);
        expect(contexts).toEqual([false, true]);
      });

      it('turns a failing task into a RemoteError', async () => {
        const tasks: unknown[] = [];
        await communicator.addTaskSubscriber((task) => {
          tasks.push(task);
          throw new Error('I cannae do it Captain!');
        });
        const error = await rejectionOf(communicator.taskSend('The meaning?'), wait);
        expect(error).toBeInstanceOf(RemoteError);
        expect((error as RemoteError).remoteMessage).toBe('Error: I cannae do it Captain!');
        expect(tasks).toEqual(['The meaning?']);
      });

      it('resolves a no-reply send to null and still runs the task once', async () => {
        const done = deferred<unknown>();
        const tasks: unknown[] = [];
        await communicator.addTaskSubscriber((task) => {
          tasks.push(task);
          done.resolve(task);
          return 42;
        });
        expect(await within(communicator.taskSend('fire and forget', { noReply: true }), wait)).toBeNull();
        expect(await within(done.promise, wait)).toBe('fire and forget');
        await sleep(quiet);
        expect(tasks).toEqual(['fire and forget']);
      });

      it('does not deliver to a removed subscriber, and delivers the waiting task to the next one', async () => {
        const removed: unknown[] = [];
        const id = await communicator.addTaskSubscriber((task) => {
          removed.push(task);
          return 'wrong';
        });
        await communicator.removeTaskSubscriber(id);
        const reply = communicator.taskSend('task');
        expect(await settledWithin(reply.result, quiet)).toBe(false);
        expect(removed).toEqual([]);
        await communicator.addTaskSubscriber((task) => `took ${String(task)}`);
        expect(await within(reply, wait)).toBe('took task');
      });

      it('passes a task a subscriber rejects to the next subscriber', async () => {
        const seen: string[] = [];
        await communicator.addTaskSubscriber(() => {
          seen.push('first');
          throw new TaskRejectedError('not mine');
        });
        await communicator.addTaskSubscriber((task) => {
          seen.push('second');
          return task;
        });
        expect(await within(communicator.taskSend('hot potato'), wait)).toBe('hot potato');
        expect(seen).toEqual(['first', 'second']);
      });

      it('delivers each of many tasks exactly once', async () => {
        const counts = new Map<number, number>();
        await communicator.addTaskSubscriber((task) => {
          const n = task as number;
          counts.set(n, (counts.get(n) ?? 0) + 1);
          return n * n;
        });
        const results = await within(
          Promise.all(Array.from({ length: 50 }, (_, n) => communicator.taskSend<number>(n).result)),
          wait,
        );
        expect(results).toEqual(Array.from({ length: 50 }, (_, n) => n * n));
        expect([...counts.values()].every((count) => count === 1)).toBe(true);
        expect(counts.size).toBe(50);
      });
    });

    describe('subscriber bookkeeping', () => {
      it('rejects removing an unknown subscriber with UnknownSubscriberError', async () => {
        await expect(communicator.removeRpcSubscriber('unknown')).rejects.toBeInstanceOf(
          UnknownSubscriberError,
        );
        await expect(communicator.removeTaskSubscriber('unknown')).rejects.toBeInstanceOf(
          UnknownSubscriberError,
        );
        await expect(communicator.removeBroadcastSubscriber('unknown')).rejects.toBeInstanceOf(
          UnknownSubscriberError,
        );
      });

      it('rejects a duplicate identifier with DuplicateSubscriberIdentifierError', async () => {
        await communicator.addRpcSubscriber(() => 1, 'same');
        await expect(communicator.addRpcSubscriber(() => 2, 'same')).rejects.toBeInstanceOf(
          DuplicateSubscriberIdentifierError,
        );
        await communicator.addTaskSubscriber(() => 1, 'same');
        await expect(communicator.addTaskSubscriber(() => 2, 'same')).rejects.toBeInstanceOf(
          DuplicateSubscriberIdentifierError,
        );
        await communicator.addBroadcastSubscriber(() => 1, 'same');
        await expect(communicator.addBroadcastSubscriber(() => 2, 'same')).rejects.toBeInstanceOf(
          DuplicateSubscriberIdentifierError,
        );
        // The first subscriber is still the one that answers.
        expect(await within(communicator.rpcSend('same', null), wait)).toBe(1);
      });
    });

    describe('broadcasts', () => {
      it('delivers the full message to every subscriber', async () => {
        const first = deferred<BroadcastMessage>();
        const second = deferred<BroadcastMessage>();
        await communicator.addBroadcastSubscriber((message) => first.resolve(message));
        await communicator.addBroadcastSubscriber((message) => second.resolve(message));
        expect(await communicator.broadcastSend('so fat', { subject: 'yo momma', sender: 'me' })).toBe(true);
        const expected = { body: 'so fat', subject: 'yo momma', sender: 'me', correlationId: null };
        expect(await within(first.promise, wait)).toEqual(expected);
        expect(await within(second.promise, wait)).toEqual(expected);
      });

      it('carries a correlation id and structured bodies', async () => {
        const got = deferred<BroadcastMessage>();
        await communicator.addBroadcastSubscriber((message) => got.resolve(message));
        await communicator.broadcastSend(
          { state: 'running', pk: 7 },
          { subject: 'state_changed.created.running', sender: 7, correlationId: 'abc' },
        );
        expect(await within(got.promise, wait)).toEqual({
          body: { state: 'running', pk: 7 },
          subject: 'state_changed.created.running',
          sender: 7,
          correlationId: 'abc',
        });
      });

      it('filters on subject with a wildcard', async () => {
        const subjects = await collect(
          communicator,
          new BroadcastFilterSpec({ subject: 'purchase.*' }),
          wait,
          async () => {
            for (const subject of ['purchase.car', 'purchase.piano', 'sell.guitar', 'sell.house']) {
              await communicator.broadcastSend(null, { subject });
            }
          },
          { subject: 'purchase.sentinel' },
        );
        expect(subjects.map((m) => m.subject)).toEqual(['purchase.car', 'purchase.piano']);
      });

      it('filters on sender with a wildcard', async () => {
        const messages = await collect(
          communicator,
          new BroadcastFilterSpec({ sender: '*.jones' }),
          wait,
          async () => {
            for (const sender of ['bob.jones', 'bob.smith', 'martin.uhrin', 'alice.jones']) {
              await communicator.broadcastSend(null, { sender });
            }
          },
          { sender: 'sentinel.jones' },
        );
        expect(messages.map((m) => m.sender)).toEqual(['bob.jones', 'alice.jones']);
      });

      it('filters on sender and subject together', async () => {
        const messages = await collect(
          communicator,
          new BroadcastFilterSpec({ senders: ['*.jones'], subjects: ['purchase.*'] }),
          wait,
          async () => {
            for (const sender of ['bob.jones', 'bob.smith', 'martin.uhrin', 'alice.jones']) {
              for (const subject of ['purchase.car', 'purchase.piano', 'sell.guitar', 'sell.house']) {
                await communicator.broadcastSend(null, { sender, subject });
              }
            }
          },
          { sender: 'sentinel.jones', subject: 'purchase.sentinel' },
        );
        expect(new Set(messages.map((m) => `${String(m.sender)}|${String(m.subject)}`))).toEqual(
          new Set([
            'bob.jones|purchase.car',
            'bob.jones|purchase.piano',
            'alice.jones|purchase.car',
            'alice.jones|purchase.piano',
          ]),
        );
      });

      it('filters on sender and subject with regular expressions', async () => {
        const messages = await collect(
          communicator,
          new BroadcastFilterSpec({ senders: [/.*.jones/], subjects: [/purchase.*/] }),
          wait,
          async () => {
            for (const sender of ['bob.jones', 'bob.smith', 'martin.uhrin', 'alice.jones']) {
              for (const subject of ['purchase.car', 'purchase.piano', 'sell.guitar', 'sell.house']) {
                await communicator.broadcastSend(null, { sender, subject });
              }
            }
          },
          { sender: 'sentinel.jones', subject: 'purchase.sentinel' },
        );
        expect(messages.map((m) => `${String(m.sender)}|${String(m.subject)}`)).toEqual([
          'bob.jones|purchase.car',
          'bob.jones|purchase.piano',
          'alice.jones|purchase.car',
          'alice.jones|purchase.piano',
        ]);
      });

      it('matches an exact filter value, and a pk by equality', async () => {
        const messages = await collect(
          communicator,
          new BroadcastFilterSpec({ sender: 'alice.jones' }),
          wait,
          async () => {
            for (const sender of ['bob.jones', 'bob.smith', 'martin.uhrin', 'alice.jones']) {
              await communicator.broadcastSend(null, { sender });
            }
          },
          { sender: 'alice.jones' },
        );
        expect(messages.map((m) => m.sender)).toEqual(['alice.jones']);
        const byPk = await collect(
          communicator,
          new BroadcastFilterSpec({ sender: 12 }),
          wait,
          async () => {
            for (const sender of [11, 12, 13, '12']) await communicator.broadcastSend(null, { sender });
          },
          { sender: 12 },
        );
        expect(byPk.map((m) => m.sender)).toEqual([12]);
      });

      it('never filters out a broadcast without subject or sender', async () => {
        const messages = await collect(
          communicator,
          new BroadcastFilterSpec({ subject: 'only.*', sender: 'only.*' }),
          wait,
          async () => {
            await communicator.broadcastSend('no subject or sender');
            await communicator.broadcastSend('wrong sender', { sender: 'other', subject: 'only.this' });
          },
          { subject: 'only.sentinel', sender: 'only.me' },
        );
        expect(messages.map((m) => m.body)).toEqual(['no subject or sender']);
      });

      it('stops delivering to a removed subscriber', async () => {
        const kept: unknown[] = [];
        const dropped: unknown[] = [];
        await communicator.addBroadcastSubscriber((message) => void kept.push(message.body), 'kept');
        await communicator.addBroadcastSubscriber((message) => void dropped.push(message.body), 'dropped');
        await communicator.broadcastSend('one');
        await eventually(() => kept.length === 1 && dropped.length === 1, wait);
        await communicator.removeBroadcastSubscriber('dropped');
        await communicator.broadcastSend('two');
        await eventually(() => kept.length === 2, wait);
        expect(kept).toEqual(['one', 'two']);
        expect(dropped).toEqual(['one']);
        await communicator.removeBroadcastSubscriber('kept');
        await communicator.addBroadcastSubscriber((message) => void kept.push(message.body), 'kept');
        await communicator.broadcastSend('three');
        await eventually(() => kept.length === 3, wait);
        expect(kept).toEqual(['one', 'two', 'three']);
      });

      it('keeps delivering to the others when one subscriber throws', async () => {
        const got = deferred<unknown>();
        await communicator.addBroadcastSubscriber(() => {
          throw new Error('subscriber bug');
        });
        await communicator.addBroadcastSubscriber((message) => got.resolve(message.body));
        await communicator.broadcastSend('still arrives');
        expect(await within(got.promise, wait)).toBe('still arrives');
      });

      it('returns true when nobody is listening', async () => {
        expect(await communicator.broadcastSend('into the void')).toBe(true);
      });
    });

    describe('typed channels', () => {
      it('validates RPC requests before sending and responses at the subscriber', async () => {
        const add = defineRpc('contract.add', {
          request: z.object({ a: z.number(), b: z.number() }),
          response: z.number(),
        });
        const seen: unknown[] = [];
        await add.subscribe(communicator, ({ a, b }) => {
          seen.push([a, b]);
          return a === 0 ? ('zero' as unknown as number) : a + b;
        });
        expect(await within(add.send(communicator, { a: 1, b: 2 }), wait)).toBe(3);
        await expect(
          add.send(communicator, { a: 1, b: 'two' } as unknown as { a: number; b: number }),
        ).rejects.toBeInstanceOf(ValidationError);
        // A raw message that skips the sender's check is refused by the subscriber's.
        const raw = await rejectionOf(communicator.rpcSend('contract.add', { a: 'x' }), wait);
        expect(raw).toBeInstanceOf(RemoteError);
        expect((raw as RemoteError).remoteMessage).toContain('ValidationError');
        // A response that breaks the schema is refused at the subscriber.
        const bad = await rejectionOf(add.send(communicator, { a: 0, b: 1 }), wait);
        expect(bad).toBeInstanceOf(RemoteError);
        expect((bad as RemoteError).remoteMessage).toContain('response of RPC');
        expect(seen).toEqual([
          [1, 2],
          [0, 1],
        ]);
      });

      it('validates RPC responses at the sender', async () => {
        const typed = defineRpc('contract.typed', { request: z.null(), response: z.string() });
        await communicator.addRpcSubscriber(() => 12, 'contract.typed');
        await expect(within(typed.send(communicator, null), wait)).rejects.toBeInstanceOf(ValidationError);
      });

      it('validates tasks at both ends, passing on tasks of another type', async () => {
        const square = defineTask('contract.square', {
          task: z.object({ n: z.number() }),
          result: z.number(),
        });
        await square.subscribe(communicator, ({ n }) => n * n);
        expect(await within(square.send(communicator, { n: 7 }), wait)).toBe(49);
        await expect(
          square.send(communicator, { n: 'seven' } as unknown as { n: number }),
        ).rejects.toBeInstanceOf(ValidationError);
        // A task of another shape is rejected by the typed worker and waits for one that takes it.
        const other = communicator.taskSend({ m: 1 });
        expect(await settledWithin(other.result, quiet)).toBe(false);
        await communicator.addTaskSubscriber((task) => ({ handled: task }));
        expect(await within(other, wait)).toEqual({ handled: { m: 1 } });
        await within(square.sendNoReply(communicator, { n: 2 }), wait);
      });

      it('delivers only broadcasts of its subject whose body matches', async () => {
        const progress = defineBroadcast('contract.progress', { body: z.object({ done: z.number() }) });
        const bodies: unknown[] = [];
        await progress.subscribe(communicator, (body) => void bodies.push(body.done));
        await expect(
          progress.send(communicator, { done: 'x' } as unknown as { done: number }),
        ).rejects.toBeInstanceOf(ValidationError);
        await communicator.broadcastSend({ done: 99 }, { subject: 'contract.other' });
        await communicator.broadcastSend({ done: 'bad' }, { subject: 'contract.progress' });
        await progress.send(communicator, { done: 1 });
        await progress.send(communicator, { done: 2 });
        await eventually(() => bodies.length === 2, wait);
        expect(bodies).toEqual([1, 2]);
      });
    });
  });
}

/** Filter settings for {@link collect}. */
class BroadcastFilterSpec {
  readonly subjects: readonly (string | RegExp | number)[];
  readonly senders: readonly (string | RegExp | number)[];

  constructor(spec: {
    subject?: string | RegExp | number;
    sender?: string | RegExp | number;
    subjects?: readonly (string | RegExp | number)[];
    senders?: readonly (string | RegExp | number)[];
  }) {
    this.subjects = spec.subjects ?? (spec.subject === undefined ? [] : [spec.subject]);
    this.senders = spec.senders ?? (spec.sender === undefined ? [] : [spec.sender]);
  }
}

/**
 * Subscribes a filter, runs `send`, then sends a sentinel that passes the filter and waits for it:
 * broadcasts from one sender arrive in order, so everything the filter let through has arrived by then.
 * Returns what arrived before the sentinel.
 */
async function collect(
  communicator: Communicator,
  spec: BroadcastFilterSpec,
  wait: number,
  send: () => Promise<void>,
  sentinel: { subject?: string; sender?: unknown },
): Promise<BroadcastMessage[]> {
  const received: BroadcastMessage[] = [];
  const marker = `sentinel-${Math.random().toString(36).slice(2)}`;
  const sentinelSeen = deferred<void>();
  const filter = new BroadcastFilter((message) => {
    if (message.body === marker) sentinelSeen.resolve();
    else received.push(message);
  });
  for (const subject of spec.subjects) filter.addSubjectFilter(subject);
  for (const sender of spec.senders) filter.addSenderFilter(sender);
  const id = await communicator.addBroadcastSubscriber(filter);
  await send();
  await communicator.broadcastSend(marker, sentinel);
  await within(sentinelSeen.promise, wait);
  await communicator.removeBroadcastSubscriber(id);
  return received;
}

/** Resolves with `promise`, or rejects if it takes longer than `ms`. */
async function within<T>(promise: PromiseLike<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([Promise.resolve(promise), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether `promise` settles within `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true,
    () => true,
  );
  try {
    return await Promise.race([settled, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** The error `reply` rejects with (fails if it resolves or takes longer than `ms`). */
async function rejectionOf(reply: Reply<unknown> | Promise<unknown>, ms: number): Promise<unknown> {
  let value: unknown;
  try {
    value = await within(reply, ms);
  } catch (error) {
    return error;
  }
  throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `condition()` holds, checking every few milliseconds; fails after `ms`. */
async function eventually(condition: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
