import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as amqp from 'amqplib';

const run = promisify(execFile);

/** Options of {@link startPrivateBroker}. */
export interface PrivateBrokerOptions {
  /**
   * Settings of the `rabbit` application applied at boot (written to `advanced.config`), e.g.
   * `{ consumer_timeout: 5000, channel_tick_interval: 1000 }`.
   */
  readonly rabbitEnv?: Readonly<Record<string, number | string | boolean>>;
  /** How long to wait for the node to accept AMQP connections (ms). Default 60 s. */
  readonly startTimeout?: number;
}

/** A RabbitMQ node of our own, on free ports, for tests that stop, restart or reconfigure the broker. */
export interface PrivateBroker extends AsyncDisposable {
  readonly nodeName: string;
  readonly port: number;
  readonly distPort: number;
  /** `amqp://guest:guest@127.0.0.1:<port>/` */
  readonly url: string;
  /** Where the node keeps its data and logs (removed by `stop()`). */
  readonly dir: string;
  /** The node's operating-system pid. */
  readonly pid: number;
  /** Runs `rabbitmqctl -n <node> …args` and returns its output. */
  ctl(...args: string[]): Promise<string>;
  /** Evaluates an Erlang expression on the node (`rabbitmqctl eval`). */
  eval(expression: string): Promise<string>;
  /** Sets a `rabbit` application setting at run time (applies to channels opened afterwards). */
  setEnv(key: string, value: number | string | boolean): Promise<void>;
  /** Drops every client connection (`rabbitmqctl close_all_connections`). */
  closeAllConnections(reason?: string): Promise<void>;
  /** Stops the RabbitMQ application; the Erlang node stays up (`rabbitmqctl stop_app`). */
  stopApp(): Promise<void>;
  /** Starts the application again and waits until it accepts connections. */
  startApp(): Promise<void>;
  /** Waits until the node accepts AMQP connections. */
  waitReady(timeoutMs?: number): Promise<void>;
  /** Stops the node by pid and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

interface RunAs {
  readonly uid?: number;
  readonly gid?: number;
  readonly home: string;
}

const live = new Set<number>();
let exitHookInstalled = false;

/** Starts a private RabbitMQ node (a few seconds). Run as root, it runs as the `rabbitmq` user. */
export async function startPrivateBroker(options: PrivateBrokerOptions = {}): Promise<PrivateBroker> {
  const binDir = rabbitBinDir();
  const ports = await freePorts(2);
  const port = ports[0]!;
  const distPort = ports[1]!;
  const id = Math.random().toString(36).slice(2, 10);
  const nodeName = `kiwipy-test-${id}@localhost`;
  const dir = await mkdtemp(join(tmpdir(), 'kiwipy-rmq-'));
  const runAs = await identity(dir);
  await mkdir(join(dir, 'mnesia'));
  await mkdir(join(dir, 'log'));
  await writeFile(join(dir, 'rabbitmq-env.conf'), '');
  await writeFile(join(dir, 'enabled_plugins'), '[].\n');
  // Our own config file, so the machine's /etc/rabbitmq (the shared broker's listener) is not read.
  await writeFile(join(dir, 'rabbitmq.conf'), 'loopback_users = none\n');
  await writeFile(
    join(dir, 'advanced.config'),
    `[{rabbit, [${Object.entries(options.rabbitEnv ?? {})
      .map(([k, v]) => `{${k}, ${erlangTerm(v)}}`)
      .join(', ')}]}].\n`,
  );
  if (runAs.uid !== undefined && runAs.gid !== undefined) {
    for (const path of [
      '',
      'mnesia',
      'log',
      'rabbitmq-env.conf',
      'enabled_plugins',
      'rabbitmq.conf',
      'advanced.config',
    ]) {
      await chown(join(dir, path), runAs.uid, runAs.gid);
    }
  }
  const pidFile = join(dir, 'rabbitmq.pid');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: runAs.home,
    LANG: 'C.UTF-8',
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_NODENAME: nodeName,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: pidFile,
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    ERL_EPMD_ADDRESS: '127.0.0.1',
  };
  const spawnOptions = {
    cwd: dir,
    env,
    ...(runAs.uid === undefined ? {} : { uid: runAs.uid, gid: runAs.gid }),
  };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(join(binDir, 'rabbitmq-server'), ['-detached'], { ...spawnOptions, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`rabbitmq-server -detached exited with ${code}`)),
    );
  });

  const url = `amqp://guest:guest@127.0.0.1:${port}/`;
  const ctl = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(join(binDir, 'rabbitmqctl'), ['-n', nodeName, ...args], {
      ...spawnOptions,
      timeout: 60_000,
    });
    return stdout;
  };
  const waitReady = async (timeoutMs = options.startTimeout ?? 60_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        // A real AMQP handshake, never a bare TCP probe: 3.10 can leave the port unusable for its next
        // start_app after a client that hangs up before the protocol header.
        const connection = await amqp.connect(url, { timeout: 2_000 });
        await connection.close();
        return;
      } catch (error) {
        last = error;
        await sleep(200);
      }
    }
    throw new Error(
      `private RabbitMQ node ${nodeName} not ready within ${timeoutMs} ms: ${String(last)}; logs in ${dir}/log`,
    );
  };

  let pid = 0;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (pid > 0) {
      signal(pid, 'SIGTERM');
      const deadline = Date.now() + 20_000;
      while (alive(pid) && Date.now() < deadline) await sleep(100);
      if (alive(pid)) signal(pid, 'SIGKILL');
      while (alive(pid)) await sleep(50);
      live.delete(pid);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + (options.startTimeout ?? 60_000);
    while (!existsSync(pidFile)) {
      if (Date.now() > deadline)
        throw new Error(`private RabbitMQ node ${nodeName} wrote no pid file; logs in ${dir}/log`);
      await sleep(100);
    }
    pid = Number((await readFile(pidFile, 'utf8')).trim());
    live.add(pid);
    installExitHook();
    await waitReady(Math.max(1_000, deadline - Date.now()));
  } catch (error) {
    await stop();
    throw error;
  }

  const broker: PrivateBroker = {
    nodeName,
    port,
    distPort,
    url,
    dir,
    get pid() {
      return pid;
    },
    ctl,
    eval: (expression) => ctl('eval', expression),
    async setEnv(key, value) {
      await ctl('eval', `application:set_env(rabbit, ${key}, ${erlangTerm(value)}).`);
    },
    async closeAllConnections(reason = 'test') {
      await ctl('close_all_connections', reason);
    },
    async stopApp() {
      await ctl('stop_app');
    },
    async startApp() {
      await ctl('start_app');
      await waitReady();
    },
    waitReady,
    stop,
    [Symbol.asyncDispose]: stop,
  };
  return broker;
}

function erlangTerm(value: number | string | boolean): string {
  if (typeof value === 'string') return `<<"${value.replace(/["\\]/g, '\\$&')}">>`;
  return String(value);
}

function rabbitBinDir(): string {
  const configured = process.env.RABBITMQ_BIN_DIR;
  if (configured !== undefined) return configured;
  // Debian's /usr/sbin wrappers switch user and drop our environment; call the real scripts.
  for (const candidate of ['/usr/lib/rabbitmq/bin', '/usr/local/lib/rabbitmq/bin', '/opt/rabbitmq/sbin']) {
    if (existsSync(join(candidate, 'rabbitmq-server'))) return candidate;
  }
  throw new Error('rabbitmq-server not found (set RABBITMQ_BIN_DIR)');
}

/** As root, the node runs as `rabbitmq` with that user's Erlang cookie; otherwise as us, with a cookie in `dir`. */
async function identity(dir: string): Promise<RunAs> {
  if (process.getuid?.() !== 0) return { home: dir };
  const { stdout: uid } = await run('id', ['-u', 'rabbitmq']);
  const { stdout: gid } = await run('id', ['-g', 'rabbitmq']);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()), home: '/var/lib/rabbitmq' };
}

async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.on('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return address.port;
  });
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // already gone
  }
}

/** A test run that dies before its afterAll must not leave a node behind. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of live) signal(pid, 'SIGKILL');
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
