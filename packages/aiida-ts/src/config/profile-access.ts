import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigurationError, LockedProfileError, LockingProfileError } from '../errors.js';
import {
  currentCommand,
  currentProcessIdentity,
  livenessOf,
  ProcessLiveness,
} from '../utils/process-identity.js';
import { CONFIG_SUBDIRS } from './settings.js';

export { ProcessLiveness } from '../utils/process-identity.js';

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * What a process using a profile writes about itself in the profile's access folder
 * (`<config>/access/<profile>/<pid>@<host>.pid`, or `.lock` while it holds the profile exclusively). The daemon and
 * `verdi process list` read these records to tell whether the OS process behind a runner is still alive.
 */
export const AccessRecordSchema = z.object({
  /** The OS process id. */
  pid: z.number().int().positive(),
  /** The host the process runs on (`os.hostname()`); liveness can only be checked on the same host. */
  hostname: z.string(),
  /** The process's command line (`/proc/<pid>/cmdline` where there is one), for people reading the record. */
  command: z.array(z.string()),
  /**
   * The start time of the process in clock ticks since boot (`/proc/<pid>/stat`, field 22), or null where unknown:
   * a live pid with another start time is a new process that reused the number, and the record is stale.
   */
  startTicks: z.number().int().nonnegative().nullable(),
  /** The kernel's boot id (`/proc/sys/kernel/random/boot_id`): a record from before a reboot is stale. */
  bootId: z.string().nullable(),
  /** When the record was written (ISO 8601). */
  since: z.string(),
  profile: z.string(),
  /** For a lock: what holds the profile exclusively (`verdi storage maintain --full`). */
  purpose: z.string().optional(),
});
export type AccessRecord = z.infer<typeof AccessRecordSchema>;

/** The two kinds of record: a process using the profile, or one holding it exclusively. */
export const AccessKind = { ACCESS: 'access', LOCK: 'lock' } as const;
export type AccessKind = (typeof AccessKind)[keyof typeof AccessKind];

const EXTENSION: Record<AccessKind, string> = { access: '.pid', lock: '.lock' };

/** One record of the access folder, with what is known now about its process. */
export interface AccessEntry {
  readonly kind: AccessKind;
  readonly file: string;
  readonly pid: number;
  readonly hostname: string;
  /** Undefined when the file could not be read or parsed (it is then judged from its name alone). */
  readonly record: AccessRecord | undefined;
  readonly liveness: ProcessLiveness;
}

const FILE_PATTERN = /^([1-9][0-9]*)@(.+)\.(pid|lock)$/;

/** A human line for one record: `pid 123 on host (since …): node verdi run x.ts`. */
export function describeAccessEntry(entry: AccessEntry): string {
  const record = entry.record;
  const where = entry.liveness === ProcessLiveness.UNKNOWN ? ` on ${entry.hostname} (another host)` : '';
  const since = record === undefined ? '' : ` since ${record.since}`;
  const command =
    record === undefined ? ` (unreadable record ${entry.file})` : `: ${record.command.join(' ')}`;
  const purpose = record?.purpose === undefined ? '' : ` [${record.purpose}]`;
  return `pid ${entry.pid}${where}${since}${purpose}${command}`;
}

/** Options of {@link ProfileAccessManager}. */
export interface ProfileAccessOptions {
  /** The configuration folder holding `access/`. */
  readonly configDir: string;
}

/**
 * aiida-core's `ProfileAccessManager`: every process using a profile leaves a record in
 * `<config>/access/<profile>/` (`<pid>@<host>.pid`), and a process that needs the profile alone (full maintenance)
 * takes a lock (`<pid>@<host>.lock`) only when no other live process has a record, and keeps others out while it
 * holds it. Both sides write their record first and check the other kind after, so two racing processes can never
 * both go ahead (at worst both give up). Records of dead processes (gone pid, reused pid, earlier boot) are stale
 * and removed whenever they are in the way; records from another host cannot be checked and count as alive.
 */
export class ProfileAccessManager {
  readonly profileName: string;
  readonly folder: string;

  constructor(profileName: string, options: ProfileAccessOptions) {
    this.profileName = profileName;
    this.folder = join(options.configDir, CONFIG_SUBDIRS.access, profileName);
  }

  #ownFile(kind: AccessKind): string {
    const own = currentProcessIdentity();
    return join(this.folder, `${own.pid}@${own.hostname}${EXTENSION[kind]}`);
  }

  /** The access record of this process (whether it exists or not). */
  get ownAccessFile(): string {
    return this.#ownFile(AccessKind.ACCESS);
  }

  /** Every record in the folder, with the liveness of its process. */
  list(kind?: AccessKind): AccessEntry[] {
    let names: string[];
    try {
      names = readdirSync(this.folder);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new ConfigurationError(`cannot read the access folder \`${this.folder}\``, { cause: error });
    }
    const entries: AccessEntry[] = [];
    for (const name of names.sort()) {
      const match = FILE_PATTERN.exec(name);
      if (match === null) continue;
      const entryKind = match[3] === 'pid' ? AccessKind.ACCESS : AccessKind.LOCK;
      if (kind !== undefined && entryKind !== kind) continue;
      const file = join(this.folder, name);
      const text = readText(file);
      if (text === undefined) continue; // removed meanwhile
      let record: AccessRecord | undefined;
      try {
        const parsed = AccessRecordSchema.safeParse(JSON.parse(text));
        record = parsed.success ? parsed.data : undefined;
      } catch {
        record = undefined;
      }
      const pid = Number(match[1]);
      const host = match[2] ?? '';
      const liveness = livenessOf(record ?? { pid, hostname: host });
      entries.push({ kind: entryKind, file, pid, hostname: host, record, liveness });
    }
    return entries;
  }

  /** Records of other processes that are not known to be dead. */
  #others(kind: AccessKind): AccessEntry[] {
    const own = this.#ownFile(kind);
    return this.list(kind).filter((entry) => entry.file !== own && entry.liveness !== ProcessLiveness.DEAD);
  }

  /** Removes the records of dead processes; resolves to how many were removed. */
  clearStale(): number {
    let removed = 0;
    for (const entry of this.list()) {
      if (entry.liveness !== ProcessLiveness.DEAD) continue;
      try {
        unlinkSync(entry.file);
        removed += 1;
      } catch {
        // another process cleared it first
      }
    }
    return removed;
  }

  /** Whether another live process holds the profile exclusively. */
  isLocked(): boolean {
    return this.#others(AccessKind.LOCK).length > 0;
  }

  /** Whether another live process uses the profile. */
  isActive(): boolean {
    return this.#others(AccessKind.ACCESS).length > 0;
  }

  #write(kind: AccessKind, purpose?: string): string {
    const file = this.#ownFile(kind);
    const record: AccessRecord = {
      ...currentProcessIdentity(),
      command: currentCommand(),
      since: new Date().toISOString(),
      profile: this.profileName,
      ...(purpose === undefined ? {} : { purpose }),
    };
    try {
      mkdirSync(this.folder, { recursive: true, mode: 0o700 });
      // written whole and renamed into place: a reader never sees half a record
      const temporary = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(record)}\n`, { mode: 0o600 });
      renameSync(temporary, file);
    } catch (error) {
      throw new ConfigurationError(`cannot write the access record \`${file}\``, { cause: error });
    }
    return file;
  }

  #raiseIfLocked(message: string): void {
    const locks = this.#others(AccessKind.LOCK);
    if (locks.length === 0) return;
    throw new LockedProfileError(
      `${message}\nThe following processes are blocking the profile:\n${locks.map((entry) => ` - ${describeAccessEntry(entry)}`).join('\n')}`,
    );
  }

  #raiseIfActive(message: string): void {
    const users = this.#others(AccessKind.ACCESS);
    if (users.length === 0) return;
    throw new LockingProfileError(
      `${message}\nThe following processes are accessing the profile:\n${users.map((entry) => ` - ${describeAccessEntry(entry)}`).join('\n')}\n` +
        'Stop them (`verdi daemon stop`, end running scripts) and try again.',
    );
  }

  /**
   * Records that this process uses the profile. `LockedProfileError` (naming the holder) when another process holds
   * it exclusively; nothing is left behind then.
   */
  requestAccess(): void {
    this.#raiseIfLocked(
      `process ${process.pid} cannot access profile \`${this.profileName}\` because it is locked.`,
    );
    const file = this.#write(AccessKind.ACCESS);
    try {
      // a lock taken between the check above and the record would not have seen the record: check again
      this.#raiseIfLocked(
        `profile \`${this.profileName}\` was locked while process ${process.pid} was requesting access.`,
      );
    } catch (error) {
      removeQuietly(file);
      throw error;
    }
  }

  /** Removes this process's access record. */
  releaseAccess(): void {
    removeQuietly(this.#ownFile(AccessKind.ACCESS));
  }

  /**
   * Takes the profile for this process alone. `LockedProfileError` when another process holds it, `LockingProfileError`
   * (listing them) when other live processes use it. Stale records are removed first. Release the lock with
   * `release()` (or `using`); it is also removed when the process exits.
   */
  lock(purpose: string): ProfileLock {
    const refusal = `process ${process.pid} cannot lock profile \`${this.profileName}\``;
    this.#raiseIfLocked(`${refusal} because it is already locked.`);
    this.clearStale();
    this.#raiseIfActive(`${refusal} because other processes are using it.`);
    const file = this.#write(AccessKind.LOCK, purpose);
    trackForExit(file);
    try {
      // whoever wrote a record after our checks either sees our lock or is seen here
      this.#raiseIfLocked(
        `while process ${process.pid} attempted to lock profile \`${this.profileName}\`, another process locked it first.`,
      );
      this.#raiseIfActive(
        `while process ${process.pid} attempted to lock profile \`${this.profileName}\`, another process started using it.`,
      );
    } catch (error) {
      removeQuietly(file);
      untrackForExit(file);
      throw error;
    }
    return new ProfileLock(file);
  }

  /** Removes every lock of the profile (for a lock left by a process on another host that is known to be gone). */
  clearLocks(): number {
    let removed = 0;
    for (const entry of this.list(AccessKind.LOCK)) {
      removeQuietly(entry.file);
      removed += 1;
    }
    return removed;
  }
}

/** An exclusive hold on a profile from {@link ProfileAccessManager.lock}. */
export class ProfileLock implements Disposable {
  readonly file: string;
  #released = false;

  constructor(file: string) {
    this.file = file;
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    removeQuietly(this.file);
    untrackForExit(this.file);
  }

  [Symbol.dispose](): void {
    this.release();
  }
}

function removeQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}

// Records this process wrote, removed when it exits normally (after kill -9 they are stale and cleared by others).
const ownRecords = new Set<string>();
let exitHookInstalled = false;

function trackForExit(file: string): void {
  ownRecords.add(file);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const record of ownRecords) removeQuietly(record);
  });
}

function untrackForExit(file: string): void {
  ownRecords.delete(file);
}

/** A registration of this process on a profile, shared by everything in the process that opened it. */
export interface ProfileAccessHandle {
  readonly manager: ProfileAccessManager;
  /** Gives back this holder's share; the record is removed when the last holder releases. Idempotent. */
  release(): void;
}

const registrations = new Map<string, { manager: ProfileAccessManager; holders: number }>();

/**
 * Registers this process as a user of the profile (once per process however many storages it opens) and returns
 * a handle whose `release()` gives back this share. `LockedProfileError` when another process holds the profile.
 */
export function acquireProfileAccess(
  profileName: string,
  options: ProfileAccessOptions,
): ProfileAccessHandle {
  const manager = new ProfileAccessManager(profileName, options);
  let registration = registrations.get(manager.folder);
  if (registration === undefined) {
    manager.requestAccess();
    trackForExit(manager.ownAccessFile);
    registration = { manager, holders: 0 };
    registrations.set(manager.folder, registration);
  }
  registration.holders += 1;
  const current = registration;
  let released = false;
  return {
    manager: current.manager,
    release() {
      if (released) return;
      released = true;
      current.holders -= 1;
      if (current.holders > 0 || registrations.get(current.manager.folder) !== current) return;
      registrations.delete(current.manager.folder);
      current.manager.releaseAccess();
      untrackForExit(current.manager.ownAccessFile);
    },
  };
}
