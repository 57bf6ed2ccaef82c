/**
 * A private PostgreSQL cluster: its own data folder (initdb), socket folder and free port in a temporary
 * folder, trust authentication for `postgres` on 127.0.0.1. For tests that stop, crash, restart or reconfigure
 * the database (the shared server on 5432 is never touched). As root the server runs as the `postgres` user.
 * Only the postmaster this helper starts (and, for {@link PrivatePostgres.crash}, its own children) is
 * signalled, by pid.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServiceError, ServiceMissingError } from './errors.js';
import { freePort } from './ports.js';
import { descendantPids, forgetOnExit, isAlive, killOnExit, readPidFile, signal } from './processes.js';
import { run, systemUserWhenRoot } from './system.js';
import { waitFor } from './wait.js';

const SERVICE = 'postgres';

/** Options of {@link startPrivatePostgres}. */
export interface PrivatePostgresOptions {
  /** Server settings passed as `-c key=value` at every start (`{ max_connections: 20, fsync: 'off' }`). */
  readonly settings?: Readonly<Record<string, string | number | boolean>>;
  /** The address to listen on. Default `127.0.0.1`. */
  readonly listenAddress?: string;
  /** How long to wait for the server to accept connections (ms). Default 60 s. */
  readonly startTimeout?: number;
}

/** How the server is stopped: PostgreSQL's shutdown modes (`pg_ctl stop -m`). */
export type PostgresStopMode = 'smart' | 'fast' | 'immediate';

const STOP_SIGNAL = { smart: 'SIGTERM', fast: 'SIGINT', immediate: 'SIGQUIT' } as const satisfies Record<
  PostgresStopMode,
  NodeJS.Signals
>;

/** The parameters `pg` (node-postgres) and aiida-ts's `core.psql_dos` profiles take. */
export interface PostgresConnection {
  readonly host: string;
  readonly port: number;
  readonly user: 'postgres';
  readonly database: string;
}

/** A running private PostgreSQL cluster. */
export interface PrivatePostgres extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  readonly user: 'postgres';
  /** The temporary folder: `data/` (the cluster), the socket and `server.log`. */
  readonly dir: string;
  /** The postmaster's pid while the server runs. */
  readonly pid: number | undefined;
  /** `postgresql://postgres@<host>:<port>/<database>` */
  url(database?: string): string;
  /** Connection parameters for `database` (default `postgres`). */
  connection(database?: string): PostgresConnection;
  /** Runs SQL with psql (`-At`, stops at the first error) and returns its output. */
  psql(sql: string, database?: string): Promise<string>;
  /** Creates a database (a unique name when none is given) and returns its name. */
  createDatabase(name?: string): Promise<string>;
  /** Ends every client connection (to `database`, or to all), as a dropped connection would. */
  terminateConnections(database?: string): Promise<number>;
  /** Stops the server, keeping its data (`fast` by default); {@link start} brings it back on the same port. */
  stop(mode?: PostgresStopMode): Promise<void>;
  /** SIGKILLs the postmaster and its children, as a crash would; {@link start} recovers. */
  crash(): Promise<void>;
  /** Starts the stopped server again on the same port. */
  start(): Promise<void>;
  /** What the server logged so far. */
  log(): Promise<string>;
  /** Stops the server and deletes its folder. Idempotent. */
  dispose(): Promise<void>;
}

/** The folder of the newest PostgreSQL server binaries installed (`PG_BIN_DIR` overrides). */
function postgresBinDir(): string {
  const configured = process.env['PG_BIN_DIR'];
  if (configured !== undefined) return configured;
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((name) => existsSync(join(base, name, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  const newest = versions[0];
  if (newest === undefined) {
    throw new ServiceMissingError(
      SERVICE,
      'no initdb under /usr/lib/postgresql/*/bin: apt-get install -y --no-install-recommends postgresql (or set PG_BIN_DIR)',
    );
  }
  return join(base, newest, 'bin');
}

let databaseCounter = 0;

/** Creates a cluster with initdb and starts it (about a second). */
export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  const host = options.listenAddress ?? '127.0.0.1';
  const port = await freePort(host);
  const dir = await mkdtemp(join(tmpdir(), 'aiida-ts-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  // The server refuses to run as root: as root, everything belongs to `postgres` and runs as it.
  const owner = await systemUserWhenRoot('postgres');
  await mkdir(data, { mode: 0o700 });
  if (owner !== undefined) {
    await chmod(dir, 0o755);
    await chown(dir, owner.uid, owner.gid);
    await chown(data, owner.uid, owner.gid);
  }
  const asOwner = { cwd: dir, env: { ...process.env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' }, ...(owner ?? {}) };

  try {
    await run(
      join(bin, 'initdb'),
      ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { ...asOwner, timeout: 120_000 },
    );
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw new ServiceError(SERVICE, `initdb failed: ${String(error)}`, { cause: error });
  }

  let pid: number | undefined;
  let disposed = false;
  const serverOptions = [
    `-p ${port}`,
    `-k ${dir}`,
    `-c listen_addresses=${host}`,
    ...Object.entries(options.settings ?? {}).map(([key, value]) => `-c ${key}=${String(value)}`),
  ].join(' ');

  const connection = (database = 'postgres'): PostgresConnection => ({
    host,
    port,
    user: 'postgres',
    database,
  });
  const psql = async (sql: string, database = 'postgres'): Promise<string> => {
    const { stdout } = await run(
      join(bin, 'psql'),
      [
        '-h',
        host,
        '-p',
        String(port),
        '-U',
        'postgres',
        '-d',
        database,
        '-v',
        'ON_ERROR_STOP=1',
        '-At',
        '-c',
        sql,
      ],
      { timeout: 60_000 },
    );
    return stdout;
  };

  const start = async (): Promise<void> => {
    if (pid !== undefined && isAlive(pid)) return;
    // pg_ctl forks the postmaster (which outlives it) and waits until it accepts connections.
    await new Promise<void>((resolve, reject) => {
      const child = spawn(
        join(bin, 'pg_ctl'),
        [
          '-D',
          data,
          '-l',
          logFile,
          '-o',
          serverOptions,
          '-w',
          '-t',
          String(Math.ceil((options.startTimeout ?? 60_000) / 1000)),
          'start',
        ],
        { ...asOwner, stdio: 'ignore' },
      );
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0
          ? resolve()
          : reject(new ServiceError(SERVICE, `pg_ctl start exited with ${code}; log in ${logFile}`)),
      );
    });
    pid = readPidFile(join(data, 'postmaster.pid'));
    if (pid === undefined)
      throw new ServiceError(SERVICE, `the server wrote no postmaster.pid; log in ${logFile}`);
    killOnExit(pid);
  };

  const waitGone = async (stopping: number, what: string): Promise<void> => {
    await waitFor(what, () => !isAlive(stopping), { timeoutMs: 30_000, intervalMs: 50, service: SERVICE });
    forgetOnExit(stopping);
    if (pid === stopping) pid = undefined;
  };

  const stop = async (mode: PostgresStopMode = 'fast'): Promise<void> => {
    if (pid === undefined || !isAlive(pid)) return;
    const stopping = pid;
    signal(stopping, STOP_SIGNAL[mode]);
    try {
      await waitGone(stopping, `postmaster ${stopping} to stop (${mode})`);
    } catch {
      await crash();
    }
  };

  const crash = async (): Promise<void> => {
    if (pid === undefined) return;
    const crashing = pid;
    // The backends first: a postmaster killed alone leaves them holding the shared memory.
    for (const child of [crashing, ...descendantPids(crashing)]) signal(child, 'SIGKILL');
    await waitGone(crashing, `postmaster ${crashing} to be killed`);
    await waitFor(
      'the backends of the killed postmaster to exit',
      () => descendantPids(crashing).length === 0,
      {
        timeoutMs: 30_000,
        intervalMs: 50,
        service: SERVICE,
      },
    );
  };

  const dispose = async (): Promise<void> => {
    if (disposed) return;
    disposed = true;
    await stop('immediate');
    await rm(dir, { recursive: true, force: true });
  };

  try {
    await start();
  } catch (error) {
    await dispose();
    throw error;
  }

  return {
    host,
    port,
    user: 'postgres',
    dir,
    get pid() {
      return pid;
    },
    url: (database = 'postgres') => `postgresql://postgres@${host}:${port}/${database}`,
    connection,
    psql,
    async createDatabase(name) {
      databaseCounter += 1;
      const database = name ?? `test_${process.pid}_${databaseCounter}_${Date.now().toString(36)}`;
      await psql(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
      return database;
    },
    async terminateConnections(database) {
      const where = database === undefined ? '' : ` AND datname = '${database.replace(/'/g, "''")}'`;
      const out = await psql(
        `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()${where}`,
      );
      return Number(out.trim());
    },
    stop,
    crash,
    start,
    log: async () => (existsSync(logFile) ? readFile(logFile, 'utf8') : ''),
    dispose,
    [Symbol.asyncDispose]: dispose,
  };
}
