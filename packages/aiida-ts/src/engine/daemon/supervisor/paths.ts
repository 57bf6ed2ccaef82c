import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the daemon of one profile keeps its files. */
export interface DaemonPaths {
  readonly profile: string;
  /** `<config>/daemon`. */
  readonly dir: string;
  /** The supervisor's pid file (JSON: its identity, its socket, its workers). */
  readonly pidFile: string;
  /** The supervisor's control socket (a Unix socket). */
  readonly socket: string;
  /** The profile's daemon log: the supervisor's lines and its workers' output. */
  readonly logFile: string;
}

/** Unix socket paths are limited to about 107 bytes; longer ones move to the temporary folder under a hash. */
const MAX_SOCKET_PATH = 100;

/** The daemon files of `profile` under the configuration folder `configDir` (aiida's `daemon/` and `daemon/log/`). */
export function daemonPaths(configDir: string, profile: string): DaemonPaths {
  const dir = join(configDir, 'daemon');
  let socket = join(dir, `${profile}.sock`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH) {
    const hash = createHash('sha256').update(socket).digest('hex').slice(0, 16);
    socket = join(tmpdir(), `aiida-ts-daemon-${hash}.sock`);
  }
  return {
    profile,
    dir,
    pidFile: join(dir, `${profile}.pid`),
    socket,
    logFile: join(dir, 'log', `aiida-${profile}.log`),
  };
}
