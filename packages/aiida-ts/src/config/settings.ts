import { homedir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';

/** Environment variable naming the folder(s) that hold the configuration folder, as `AIIDA_PATH` does for AiiDA. */
export const AIIDA_TS_PATH_VARIABLE = 'AIIDA_TS_PATH';
/** Name of the configuration folder inside the base folder (`~/.aiida-ts` by default). */
export const DEFAULT_CONFIG_DIR_NAME = '.aiida-ts';
/** Name of the configuration file inside the configuration folder. */
export const DEFAULT_CONFIG_FILE_NAME = 'config.json';
/** Indentation of the written `config.json`, the same as AiiDA's so the files diff cleanly. */
export const DEFAULT_CONFIG_INDENT_SIZE = 4;
/** Email of the default user when neither `--email` nor `autofill.user.email` gives one. */
export const DEFAULT_USER_EMAIL = 'aiida@localhost';
/** Sub-folders of the configuration folder, named as AiiDA names them. */
export const CONFIG_SUBDIRS = {
  daemon: 'daemon',
  daemonLog: join('daemon', 'log'),
  access: 'access',
  repository: 'repository',
  scratch: 'scratch',
} as const;

function expandHome(path: string): string {
  if (path === '~') return homedir();
  if (path.startsWith('~/')) return join(homedir(), path.slice(2));
  return path;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Resolve the configuration folder.
 *
 * `AIIDA_TS_PATH` may hold several colon-separated paths; each either is a `.aiida-ts` folder or contains one. The first
 * that exists wins, else the last listed is used (it will be created on first write). Without the variable the
 * folder is `~/.aiida-ts`. Relative paths are resolved against the working directory.
 */
export function resolveConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const value = env[AIIDA_TS_PATH_VARIABLE];
  const fallback = join(homedir(), DEFAULT_CONFIG_DIR_NAME);
  if (value === undefined || value.trim() === '') return fallback;
  let candidate: string | undefined;
  for (const part of value.split(':')) {
    if (part === '') continue;
    let dir = resolve(expandHome(part));
    if (basename(dir) !== DEFAULT_CONFIG_DIR_NAME) dir = join(dir, DEFAULT_CONFIG_DIR_NAME);
    candidate = dir;
    if (isDirectory(dir)) break;
  }
  return candidate ?? fallback;
}

/** Path of `config.json` inside a configuration folder. */
export function configFilePath(configDir: string): string {
  return join(configDir, DEFAULT_CONFIG_FILE_NAME);
}

/** True when the configuration folder holds a `config.json`. */
export function configFileExists(configDir: string): boolean {
  return existsSync(configFilePath(configDir));
}
