/**
 * What the daemon's multi-process tests share: a storage several OS processes open (SQLite file or PostgreSQL
 * database, on the shared server or a private one), and daemon workers spawned as child processes
 * (scripts/worker.ts) that can be SIGKILLed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import { wirePlugins } from '../../src/config/plugin-wiring.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { dropPostgresDatabase, PsqlDosStorage } from '../../src/storage/postgres/psql-dos.js';
import { SqliteDosStorage } from '../../src/storage/sqlite/sqlite-dos.js';
import { tempFolder, TEST_USER_EMAIL } from '../storage/helpers.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsxLoader = createRequire(import.meta.url).resolve('tsx');

const storageSpecSchema = z.discriminatedUnion('backend', [
  z.object({ backend: z.literal('sqlite'), filepath: z.string() }),
  z.object({
    backend: z.literal('psql'),
    host: z.string(),
    port: z.number().int(),
    database: z.string(),
    repository: z.string(),
  }),
]);
export type StorageSpec = z.infer<typeof storageSpecSchema>;

const workerSpecSchema = z.object({
  storage: storageSpecSchema,
  broker: z.object({ url: z.string(), prefix: z.string() }).nullable(),
  slots: z.number().int().min(1),
  leaseTtlMs: z.number().int(),
  poll: z.object({ minMs: z.number().int(), maxMs: z.number().int() }),
  modules: z.array(z.string()),
});
export type WorkerSpec = z.infer<typeof workerSpecSchema>;

export function parseWorkerSpec(value: unknown): WorkerSpec {
  return workerSpecSchema.parse(value);
}

function psqlConfig(
  spec: Extract<StorageSpec, { backend: 'psql' }>,
): ReturnType<PsqlDosStorage['parseConfig']> {
  return new PsqlDosStorage().parseConfig({
    database_hostname: spec.host,
    database_port: spec.port,
    database_username: 'postgres',
    database_password: '',
    database_name: spec.database,
    repository_uri: spec.repository,
  });
}

/** Opens the storage a spec names (initialised already). */
export async function openSpecStorage(spec: StorageSpec): Promise<StorageBackend> {
  if (spec.backend === 'sqlite') {
    const plugin = new SqliteDosStorage();
    return await plugin.open(plugin.parseConfig({ filepath: spec.filepath }), {
      defaultUserEmail: TEST_USER_EMAIL,
    });
  }
  return await new PsqlDosStorage().open(psqlConfig(spec), { defaultUserEmail: TEST_USER_EMAIL });
}

/** A storage made for one test that other OS processes can open too. */
export interface SharedStorage {
  readonly spec: StorageSpec;
  readonly storage: StorageBackend;
  cleanup(): Promise<void>;
}

/** Creates and opens a storage: a SQLite file, or a new database on `postgres` (default: the shared server). */
export async function openSharedStorage(
  backend: 'sqlite' | 'psql',
  postgres: { readonly host: string; readonly port: number } = { host: '127.0.0.1', port: 5432 },
): Promise<SharedStorage> {
  wirePlugins();
  const { folder, cleanup } = await tempFolder('aiida-ts-daemon-');
  let spec: StorageSpec;
  if (backend === 'sqlite') {
    spec = { backend, filepath: path.join(folder, 'storage') };
    const plugin = new SqliteDosStorage();
    await plugin.initialise(plugin.parseConfig({ filepath: spec.filepath }));
  } else {
    spec = {
      backend,
      ...postgres,
      database: `aiida_test_${randomBytes(6).toString('hex')}`,
      repository: pathToFileURL(path.join(folder, 'repository')).href,
    };
    await new PsqlDosStorage().initialise(psqlConfig(spec));
  }
  const storage = await openSpecStorage(spec);
  return {
    spec,
    storage,
    cleanup: async () => {
      await storage.close();
      if (spec.backend === 'psql') await dropPostgresDatabase(psqlConfig(spec)).catch(() => undefined);
      await cleanup();
    },
  };
}

/** A worker OS process. */
export interface SpawnedWorker {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the worker id once it is claiming. */
  readonly ready: Promise<string>;
  /** Resolves when the OS process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly stderr: () => string;
  /** What it wrote to stdout and stderr so far (its log). */
  readonly output: () => string;
  /** SIGTERM, and waits for the end. */
  stop(): Promise<void>;
  kill(): Promise<void>;
}

/** The fixtures module the workers import (it defines the daemon tests' process classes). */
export const FIXTURES = pathToFileURL(path.join(here, 'fixtures.ts')).href;

/** Starts a worker in its own OS process. */
export function spawnWorker(
  spec: Omit<WorkerSpec, 'poll' | 'modules' | 'leaseTtlMs'> &
    Partial<Pick<WorkerSpec, 'poll' | 'modules' | 'leaseTtlMs'>>,
  env: Readonly<Record<string, string>> = {},
  /** A command the worker runs under (`['ip', 'netns', 'exec', 'h1']`). */
  wrap: readonly string[] = [],
): SpawnedWorker {
  const full: WorkerSpec = {
    poll: { minMs: 5, maxMs: 50 },
    modules: [FIXTURES],
    leaseTtlMs: 2_000,
    ...spec,
  };
  const command = [...wrap, process.execPath, '--import', tsxLoader, path.join(here, 'scripts', 'worker.ts')];
  const child = spawn(command[0]!, command.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env, AIIDA_TS_DAEMON_WORKER: JSON.stringify(full) },
  });
  let err = '';
  let out = '';
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const match = /\{"ready":"([^"]+)"\}/.exec(out);
      if (match?.[1] !== undefined) resolve(match[1]);
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`the worker ended before it was ready (${String(code ?? signal)}): ${err}`)),
    );
  });
  ready.catch(() => undefined);
  return {
    child,
    pid: child.pid ?? -1,
    ready,
    exited,
    stderr: () => err,
    output: () => out + err,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
