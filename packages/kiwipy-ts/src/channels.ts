import type { z } from 'zod';
import type { BroadcastMessage, Communicator } from './communicator.js';
import { TaskRejectedError, ValidationError, type ValidationIssue } from './errors.js';
import type { FilterValue } from './broadcast-filter.js';
import { BroadcastFilter } from './broadcast-filter.js';
import type { Reply } from './reply.js';

function check<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ValidationError(what, toIssues(parsed.error));
}

/** zod issues as path/message pairs, paths dotted (`inputs.x.0`). */
export function toIssues(error: z.ZodError): ValidationIssue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/** Options of {@link defineRpc}. */
export interface RpcDefinitionOptions<Req extends z.ZodType, Res extends z.ZodType> {
  readonly request: Req;
  readonly response: Res;
}

/**
 * An RPC that sender and subscriber share: both ends validate, and the payload types are inferred from the
 * schemas. By default the subscriber listens on the definition's name and the sender sends to it; pass an
 * identifier (a process pid, say) to address one subscriber of many.
 */
export interface RpcDefinition<Req extends z.ZodType, Res extends z.ZodType> {
  readonly name: string;
  readonly request: Req;
  readonly response: Res;
  /** Sends a request; rejects with {@link ValidationError} before sending if it does not match. */
  send(
    communicator: Communicator,
    request: z.input<Req>,
    options?: { readonly recipient?: string },
  ): Promise<z.output<Res>>;
  /** Adds a subscriber that receives validated requests; returns its identifier. */
  subscribe(
    communicator: Communicator,
    handler: (request: z.output<Req>) => z.input<Res> | Promise<z.input<Res>>,
    options?: { readonly identifier?: string },
  ): Promise<string>;
}

export function defineRpc<Req extends z.ZodType, Res extends z.ZodType>(
  name: string,
  options: RpcDefinitionOptions<Req, Res>,
): RpcDefinition<Req, Res> {
  const { request, response } = options;
  return {
    name,
    request,
    response,
    async send(communicator, body, sendOptions = {}) {
      const message = check(request, body, `request of RPC '${name}'`);
      const reply: Reply<unknown> = communicator.rpcSend(sendOptions.recipient ?? name, message);
      return check(response, await reply, `response of RPC '${name}'`);
    },
    subscribe(communicator, handler, subOptions = {}) {
      return communicator.addRpcSubscriber(async (message) => {
        const value = await handler(check(request, message, `request of RPC '${name}'`));
        return check(response, value, `response of RPC '${name}'`);
      }, subOptions.identifier ?? name);
    },
  };
}

/** Options of {@link defineTask}. */
export interface TaskDefinitionOptions<T extends z.ZodType, R extends z.ZodType> {
  readonly task: T;
  readonly result: R;
}

/**
 * A task type that sender and worker share. A worker subscribed through it passes on (rejects) tasks that
 * do not match its schema, so several task types can share one queue, as plumpy's launcher does.
 */
export interface TaskDefinition<T extends z.ZodType, R extends z.ZodType> {
  readonly name: string;
  readonly task: T;
  readonly result: R;
  send(communicator: Communicator, task: z.input<T>): Promise<z.output<R>>;
  /** Queues the task and resolves once it is queued, asking for no result. */
  sendNoReply(communicator: Communicator, task: z.input<T>): Promise<void>;
  subscribe(
    communicator: Communicator,
    handler: (task: z.output<T>) => z.input<R> | Promise<z.input<R>>,
    options?: { readonly identifier?: string },
  ): Promise<string>;
}

export function defineTask<T extends z.ZodType, R extends z.ZodType>(
  name: string,
  options: TaskDefinitionOptions<T, R>,
): TaskDefinition<T, R> {
  const { task, result } = options;
  return {
    name,
    task,
    result,
    async send(communicator, body) {
      const message = check(task, body, `task '${name}'`);
      const reply: Reply<unknown> = communicator.taskSend(message);
      return check(result, await reply, `result of task '${name}'`);
    },
    async sendNoReply(communicator, body) {
      await communicator.taskSend(check(task, body, `task '${name}'`), { noReply: true });
    },
    subscribe(communicator, handler, subOptions = {}) {
      return communicator.addTaskSubscriber(async (message) => {
        const parsed = task.safeParse(message);
        if (!parsed.success) {
          throw new TaskRejectedError(
            `not a '${name}' task: ${toIssues(parsed.error)
              .map((i) => `${i.path}: ${i.message}`)
              .join('; ')}`,
          );
        }
        return check(result, await handler(parsed.data), `result of task '${name}'`);
      }, subOptions.identifier);
    },
  };
}

/** Options of {@link defineBroadcast}. */
export interface BroadcastDefinitionOptions<B extends z.ZodType> {
  readonly body: B;
}

/**
 * A broadcast type: its name is the subject it is sent with (unless a subject is given), and subscribers
 * receive only broadcasts whose subject matches it and whose body passes the schema.
 */
export interface BroadcastDefinition<B extends z.ZodType> {
  readonly name: string;
  readonly body: B;
  send(
    communicator: Communicator,
    body: z.input<B>,
    options?: { readonly sender?: unknown; readonly subject?: string; readonly correlationId?: unknown },
  ): Promise<boolean>;
  subscribe(
    communicator: Communicator,
    handler: (body: z.output<B>, message: BroadcastMessage) => unknown,
    options?: { readonly identifier?: string; readonly subject?: FilterValue; readonly sender?: FilterValue },
  ): Promise<string>;
}

export function defineBroadcast<B extends z.ZodType>(
  name: string,
  options: BroadcastDefinitionOptions<B>,
): BroadcastDefinition<B> {
  const { body: schema } = options;
  return {
    name,
    body: schema,
    async send(communicator, body, sendOptions = {}) {
      const message = check(schema, body, `broadcast '${name}'`);
      return communicator.broadcastSend(message, {
        subject: sendOptions.subject ?? name,
        sender: sendOptions.sender ?? null,
        correlationId: sendOptions.correlationId ?? null,
      });
    },
    subscribe(communicator, handler, subOptions = {}) {
      const filter = new BroadcastFilter(
        (message) => handler(check(schema, message.body, `broadcast '${name}'`), message),
        {
          subject: subOptions.subject ?? name,
          ...(subOptions.sender === undefined ? {} : { sender: subOptions.sender }),
        },
      );
      return communicator.addBroadcastSubscriber(filter, subOptions.identifier);
    },
  };
}
