/**
 * A private RabbitMQ node on free ports, for tests that stop, restart, partition or reconfigure the broker
 * (the shared one on 5672 is never touched). As root the node runs as the `rabbitmq` user with that user's
 * Erlang cookie. Only the node this helper starts is signalled, by its pid.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as amqp from 'amqplib';
import { ServiceError, ServiceMissingError } from './errors.js';
import { freePorts } from './ports.js';
import { forgetOnExit, killOnExit, terminate } from './processes.js';
import { run, systemUserWhenRoot } from './system.js';
import { waitFor } from './wait.js';

const SERVICE = 'rabbitmq';

/** Options of {@link startPrivateBroker}. */
export interface PrivateBrokerOptions {
  /**
   * Settings of the `rabbit` application applied at boot (written to `advanced.config`), e.g.
   * `{ consumer_timeout: 5000, channel_tick_interval: 1000 }`.
   */
  readonly rabbitEnv?: Readonly<Record<string, number | string | boolean>>;
  /** How long to wait for the node to accept AMQP connections (ms). Default 60 s. */
  readonly startTimeout?: number;
  /** Prefix of the Erlang node name (`<prefix>-<random>@localhost`). Default `aiida-ts-test`. */
  readonly namePrefix?: string;
}

/** A RabbitMQ node of our own, on free ports. */
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

function erlangTerm(value: number | string | boolean): string {
  if (typeof value === 'string') return `<<"${value.replace(/["\\]/g, '\\$&')}">>`;
  return String(value);
}

function rabbitBinDir(): string {
  const configured = process.env['RABBITMQ_BIN_DIR'];
  if (configured !== undefined) return configured;
  // Debian's /usr/sbin wrappers switch user and drop our environment; call the real scripts.
  for (const candidate of ['/usr/lib/rabbitmq/bin', '/usr/local/lib/rabbitmq/bin', '/opt/rabbitmq/sbin']) {
    if (existsSync(join(candidate, 'rabbitmq-server'))) return candidate;
  }
  throw new ServiceMissingError(
    SERVICE,
    'rabbitmq-server not found (apt-get install -y rabbitmq-server, or set RABBITMQ_BIN_DIR)',
  );
}

/** Starts a private RabbitMQ node (a few seconds). */
export async function startPrivateBroker(options: PrivateBrokerOptions = {}): Promise<PrivateBroker> {
  const binDir = rabbitBinDir();
  const [port = 0, distPort = 0] = await freePorts(2);
  const id = Math.random().toString(36).slice(2, 10);
  const nodeName = `${options.namePrefix ?? 'aiida-ts-test'}-${id}@localhost`;
  const dir = await mkdtemp(join(tmpdir(), 'aiida-ts-rmq-'));
  const owner = await systemUserWhenRoot('rabbitmq');
  const home = owner === undefined ? dir : '/var/lib/rabbitmq';
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
  if (owner !== undefined) {
    for (const file of [
      '',
      'mnesia',
      'log',
      'rabbitmq-env.conf',
      'enabled_plugins',
      'rabbitmq.conf',
      'advanced.config',
    ]) {
      await chown(join(dir, file), owner.uid, owner.gid);
    }
  }
  const pidFile = join(dir, 'rabbitmq.pid');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: home,
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
  const spawnOptions = { cwd: dir, env, ...(owner ?? {}) };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(join(binDir, 'rabbitmq-server'), ['-detached'], { ...spawnOptions, stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new ServiceError(SERVICE, `rabbitmq-server -detached exited with ${code}`)),
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
    await waitFor(
      `node ${nodeName} to accept AMQP connections (logs in ${dir}/log)`,
      async () => {
        // A real AMQP handshake, never a bare TCP probe: 3.10 can leave the port unusable for its next
        // start_app after a client that hangs up before the protocol header.
        const connection = await amqp.connect(url, { timeout: 2_000 });
        await connection.close();
        return true;
      },
      { timeoutMs, intervalMs: 200, service: SERVICE },
    );
  };

  let pid = 0;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (pid > 0) {
      await terminate(pid, { graceMs: 20_000, service: SERVICE });
      forgetOnExit(pid);
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + (options.startTimeout ?? 60_000);
    await waitFor(`node ${nodeName} to write its pid file (logs in ${dir}/log)`, () => existsSync(pidFile), {
      timeoutMs: options.startTimeout ?? 60_000,
      service: SERVICE,
    });
    pid = Number((await readFile(pidFile, 'utf8')).trim());
    // The node is detached: a test run that dies before its afterAll must not leave it behind.
    killOnExit(pid);
    await waitReady(Math.max(1_000, deadline - Date.now()));
  } catch (error) {
    await stop();
    throw error;
  }

  return {
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
}
