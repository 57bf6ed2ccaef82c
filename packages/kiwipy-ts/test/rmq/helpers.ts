import { randomUUID } from 'node:crypto';
import type { Logger } from 'kiwipy-ts';

/** The shared broker the RabbitMQ tests use (a test that cannot reach it fails). */
export const RMQ_URL = process.env.KIWIPY_TEST_RMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672/';

/** A prefix no other test (or engineer) uses, so exchanges and queues never collide. */
export function uniquePrefix(label = 'test'): string {
  return `kiwipy-ts-${label}-${randomUUID().slice(0, 8)}`;
}

/** One log line kept by {@link memoryLogger}. */
export interface LogEntry {
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly message: string;
  readonly fields: Record<string, unknown>;
}

/** A logger that keeps what it is told, for assertions. */
export function memoryLogger(): Logger & { readonly entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (fields: object, message: string): void => {
      entries.push({ level, message, fields: fields as Record<string, unknown> });
    };
  return { entries, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Waits until `condition()` holds; fails after `ms`. */
export async function eventually(condition: () => boolean, ms = 5_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${ms} ms`);
    await sleep(10);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with `promise`, or rejects if it takes longer than `ms`. */
export async function within<T>(promise: PromiseLike<T>, ms: number, what = 'promise'): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} not settled within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([Promise.resolve(promise), expired]);
  } finally {
    clearTimeout(timer);
  }
}
