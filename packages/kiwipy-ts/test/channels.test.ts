import fc from 'fast-check';
import {
  defineBroadcast,
  defineRpc,
  defineTask,
  LocalCommunicator,
  RemoteError,
  silentLogger,
  toIssues,
  ValidationError,
} from 'kiwipy-ts';
import { afterEach, beforeEach, describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';

const point = z.object({ x: z.number(), y: z.number(), label: z.string().optional() });

describe('typed channels', () => {
  let communicator: LocalCommunicator;

  beforeEach(() => {
    communicator = new LocalCommunicator({ logger: silentLogger });
  });

  afterEach(async () => {
    await communicator.close();
  });

  it('infers payload types from the schemas', () => {
    const norm = defineRpc('norm', { request: point, response: z.number() });
    expectTypeOf(norm.send)
      .parameter(1)
      .toEqualTypeOf<{ x: number; y: number; label?: string | undefined }>();
    expectTypeOf(norm.send).returns.resolves.toEqualTypeOf<number>();
    const job = defineTask('job', { task: z.object({ pk: z.number() }), result: z.string() });
    expectTypeOf(job.send).returns.resolves.toEqualTypeOf<string>();
    const event = defineBroadcast('event', { body: z.object({ state: z.enum(['running', 'finished']) }) });
    expectTypeOf(event.subscribe)
      .parameter(1)
      .parameter(0)
      .toEqualTypeOf<{ state: 'running' | 'finished' }>();
  });

  it('round-trips every valid RPC request and response', async () => {
    const norm = defineRpc('norm', {
      request: point,
      response: z.object({ norm: z.number(), label: z.string() }),
    });
    await norm.subscribe(communicator, ({ x, y, label }) => ({ norm: Math.hypot(x, y), label: label ?? '' }));
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          x: fc.double({ min: -1e9, max: 1e9, noNaN: true }),
          y: fc.double({ min: -1e9, max: 1e9, noNaN: true }),
          label: fc.option(fc.string(), { nil: undefined }),
        }),
        async (request) => {
          const { label, ...coords } = request;
          const sent = label === undefined ? coords : { ...coords, label };
          expect(await norm.send(communicator, sent)).toEqual({
            norm: Math.hypot(request.x, request.y),
            label: label ?? '',
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('refuses an invalid request before sending it, naming every failing path', async () => {
    const norm = defineRpc('norm', { request: point, response: z.number() });
    const received: unknown[] = [];
    await communicator.addRpcSubscriber((message) => void received.push(message), 'norm');
    const error = await norm.send(communicator, { x: 'one', y: null } as never).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.path).sort()).toEqual(['x', 'y']);
    expect((error as ValidationError).message).toContain("request of RPC 'norm'");
    expect(received).toEqual([]);
  });

  it('sends to a chosen recipient instead of the definition name', async () => {
    const status = defineRpc('status', { request: z.null(), response: z.string() });
    await status.subscribe(communicator, () => 'worker 7', { identifier: 'pid-7' });
    expect(await status.send(communicator, null, { recipient: 'pid-7' })).toBe('worker 7');
  });

  it('has typed workers pass on tasks of another shape to the next subscriber', async () => {
    const job = defineTask('job', { task: z.object({ pk: z.number() }), result: z.string() });
    await job.subscribe(communicator, ({ pk }) => `typed worker did ${pk}`);
    const fallback: unknown[] = [];
    await communicator.addTaskSubscriber((task) => {
      fallback.push(task);
      return 'fallback worker';
    });
    expect(await job.send(communicator, { pk: 3 })).toBe('typed worker did 3');
    expect(await communicator.taskSend({ kind: 'other' })).toBe('fallback worker');
    expect(fallback).toEqual([{ kind: 'other' }]);
  });

  it('reports a typed worker result that breaks the schema as a remote error', async () => {
    const job = defineTask('job', { task: z.object({ pk: z.number() }), result: z.string() });
    await job.subscribe(communicator, ({ pk }) => pk as unknown as string);
    const error = await job.send(communicator, { pk: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    expect((error as RemoteError).remoteMessage).toContain("result of task 'job'");
  });

  it('filters broadcasts on the definition name as subject, or a given one', async () => {
    const state = defineBroadcast('state_changed', { body: z.object({ pk: z.number() }) });
    const all: number[] = [];
    const seven: number[] = [];
    await state.subscribe(communicator, (body) => void all.push(body.pk), { subject: 'state_changed.*' });
    await state.subscribe(communicator, (body) => void seven.push(body.pk), {
      subject: 'state_changed.*',
      sender: 7,
    });
    await state.send(communicator, { pk: 1 }, { subject: 'state_changed.created.running', sender: 1 });
    await state.send(communicator, { pk: 7 }, { subject: 'state_changed.running.finished', sender: 7 });
    await state.send(communicator, { pk: 9 }); // subject 'state_changed' does not match 'state_changed.*'
    await new Promise((resolve) => setImmediate(resolve));
    expect(all).toEqual([1, 7]);
    expect(seven).toEqual([7]);
  });

  it('turns zod issues into dotted paths', () => {
    const schema = z.object({ inputs: z.object({ x: z.array(z.number()) }) });
    const parsed = schema.safeParse({ inputs: { x: [1, 'two'] } });
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect(toIssues(parsed.error).map((i) => i.path)).toEqual(['inputs.x.1']);
  });
});
