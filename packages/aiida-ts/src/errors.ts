/**
 * Every error aiida-ts throws is an {@link AiidaError}, named after aiida-core's exception with an `Error`
 * suffix. Codes are stable strings for code that crosses a process boundary. Add new classes here (one
 * file per package); keep them grouped by layer.
 */
export const AiidaErrorCode = {
  AIIDA: 'AIIDA',
  NOT_EXISTENT: 'NOT_EXISTENT',
  MULTIPLE_OBJECTS: 'MULTIPLE_OBJECTS',
  MODIFICATION_NOT_ALLOWED: 'MODIFICATION_NOT_ALLOWED',
  STORING_NOT_ALLOWED: 'STORING_NOT_ALLOWED',
  VALIDATION: 'VALIDATION',
  INPUT_VALIDATION: 'INPUT_VALIDATION',
  UNIQUENESS: 'UNIQUENESS',
  INTEGRITY: 'INTEGRITY',
  CONFIGURATION: 'CONFIGURATION',
  MISSING_CONFIGURATION: 'MISSING_CONFIGURATION',
  PROFILE_CONFIGURATION: 'PROFILE_CONFIGURATION',
  CORRUPT_STORAGE: 'CORRUPT_STORAGE',
  INCOMPATIBLE_STORAGE_SCHEMA: 'INCOMPATIBLE_STORAGE_SCHEMA',
  STORAGE_MIGRATION: 'STORAGE_MIGRATION',
  LOCKED_PROFILE: 'LOCKED_PROFILE',
  LOCKING_PROFILE: 'LOCKING_PROFILE',
  REPOSITORY: 'REPOSITORY',
  MISSING_ENTRY_POINT: 'MISSING_ENTRY_POINT',
  INVALID_OPERATION: 'INVALID_OPERATION',
  QUERY: 'QUERY',
  TRANSPORT: 'TRANSPORT',
  TRANSPORT_INTERNAL: 'TRANSPORT_INTERNAL',
  TRANSPORT_AUTHENTICATION: 'TRANSPORT_AUTHENTICATION',
  TRANSPORT_HOST_KEY: 'TRANSPORT_HOST_KEY',
  SCHEDULER: 'SCHEDULER',
  SCHEDULER_PARSING: 'SCHEDULER_PARSING',
  FEATURE_NOT_AVAILABLE: 'FEATURE_NOT_AVAILABLE',
  PROCESS_FAILED: 'PROCESS_FAILED',
  PROCESS_STALLED: 'PROCESS_STALLED',
  LEASE_LOST: 'LEASE_LOST',
  ARCHIVE: 'ARCHIVE',
  ARCHIVE_EXPORT: 'ARCHIVE_EXPORT',
  EXPORT_VALIDATION: 'EXPORT_VALIDATION',
  ARCHIVE_IMPORT: 'ARCHIVE_IMPORT',
  IMPORT_VALIDATION: 'IMPORT_VALIDATION',
  IMPORT_UNIQUENESS: 'IMPORT_UNIQUENESS',
  UNSAFE_ARCHIVE: 'UNSAFE_ARCHIVE',
  LICENSING: 'LICENSING',
  PROVENANCE_WRITE: 'PROVENANCE_WRITE',
  TRANSPORT_TASK: 'TRANSPORT_TASK',
  PRE_SUBMIT: 'PRE_SUBMIT',
  STASHING: 'STASHING',
  PLUGIN_INTERNAL: 'PLUGIN_INTERNAL',
  REMOTE_OPERATION: 'REMOTE_OPERATION',
  INTERNAL: 'INTERNAL',
  HASHING: 'HASHING',
  INDEX: 'INDEX',
  USAGE: 'USAGE',
  EXIT: 'EXIT',
  MESSAGE_ENCODING: 'MESSAGE_ENCODING',
  DAEMON: 'DAEMON',
  STORAGE_BACKUP: 'STORAGE_BACKUP',
  DATABASE_UNAVAILABLE: 'DATABASE_UNAVAILABLE',
  CONTINUED_PROCESS_FAILED: 'CONTINUED_PROCESS_FAILED',
} as const;
export type AiidaErrorCode = (typeof AiidaErrorCode)[keyof typeof AiidaErrorCode];

const brand = Symbol.for('aiida-ts.AiidaError');

/** Root of every aiida-ts error. */
export class AiidaError extends Error {
  readonly code: AiidaErrorCode = AiidaErrorCode.AIIDA;
  readonly [brand] = true;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True for any aiida-ts error, also one from another copy of the package. */
export function isAiidaError(value: unknown): value is AiidaError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
}

/** One failing path of a value checked against a schema. */
export interface ValidationIssue {
  readonly path: string;
  readonly message: string;
}

// --- entities and storage -------------------------------------------------------------------------------

/** No entity matches the identifier given. */
export class NotExistentError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.NOT_EXISTENT;
}

/** An identifier that must name one entity names several (an ambiguous uuid prefix, say). */
export class MultipleObjectsError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.MULTIPLE_OBJECTS;
}

/** A stored entity's immutable part (attributes, repository, links) was changed. */
export class ModificationNotAllowedError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.MODIFICATION_NOT_ALLOWED;
}

/** An entity cannot be stored as it is (an unstored dependency, an abstract class, …). */
export class StoringNotAllowedError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.STORING_NOT_ALLOWED;
}

/** A value failed validation; lists every failing path. */
export class ValidationError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.VALIDATION;
  readonly issues: readonly ValidationIssue[];

  constructor(message: string, issues: readonly ValidationIssue[] = [], options?: ErrorOptions) {
    super(
      issues.length === 0
        ? message
        : `${message}: ${issues.map((i) => `${i.path || '<root>'}: ${i.message}`).join('; ')}`,
      options,
    );
    this.issues = issues;
  }
}

/** Inputs given to a process or calculation do not match its spec. */
export class InputValidationError extends ValidationError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.INPUT_VALIDATION;
}

/** A uniqueness constraint would be violated (a label already taken, say). */
export class UniquenessError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.UNIQUENESS;
}

/** The database refused a write because of a constraint. */
export class IntegrityError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.INTEGRITY;
}

/** The operation is not valid in the current state. */
export class InvalidOperationError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.INVALID_OPERATION;
}

/** A QueryBuilder specification is wrong: an unknown operator, field, tag or relationship. */
export class QueryError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.QUERY;
}

/** An index is outside a sequence (a `List` item, an array element): Python's `IndexError` in aiida-core. */
export class IndexError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.INDEX;
}

/** A value cannot be hashed (a symbol, a function, an invalid date), as aiida-core's `HashingError`. */
export class HashingError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.HASHING;
}

/** An invariant of aiida-ts itself broke: a bug to report, never the user's input (aiida-core's `InternalError`). */
export class InternalError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.INTERNAL;
}

/** A plugin entry point (node type, transport, scheduler, …) is not registered. */
export class MissingEntryPointError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.MISSING_ENTRY_POINT;
}

// --- configuration and profiles -------------------------------------------------------------------------

/** The configuration is invalid; the message names the key. */
export class ConfigurationError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.CONFIGURATION;
}

/** There is no configuration (or no profile) where one is needed. */
export class MissingConfigurationError extends ConfigurationError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.MISSING_CONFIGURATION;
}

/** A profile is misconfigured or does not exist. */
export class ProfileConfigurationError extends ConfigurationError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.PROFILE_CONFIGURATION;
}

/** The storage is not in a state the code can read. */
export class CorruptStorageError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.CORRUPT_STORAGE;
}

/**
 * An integrity check found data lost or corrupt, and the operation that needed sound storage (full maintenance)
 * changed nothing. `problems` lists what was found (`verdi storage integrity` prints the same).
 */
export class StorageIntegrityError extends CorruptStorageError {
  readonly problems: readonly {
    readonly kind: string;
    readonly severity: string;
    readonly message: string;
  }[];

  constructor(
    message: string,
    problems: readonly { readonly kind: string; readonly severity: string; readonly message: string }[],
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.problems = problems;
  }
}

/** The storage schema is older (or newer) than the code; the message says how to migrate. */
export class IncompatibleStorageSchemaError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.INCOMPATIBLE_STORAGE_SCHEMA;
}

/** A storage migration failed. */
export class StorageMigrationError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.STORAGE_MIGRATION;
}

/** The profile is locked by another operation (a migration or maintenance). */
export class LockedProfileError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.LOCKED_PROFILE;
}

/** A profile cannot be locked for exclusive use because other processes are using it (aiida's `LockingProfileError`). */
export class LockingProfileError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.LOCKING_PROFILE;
}

/** The file repository failed (a missing object, a corrupt pack). */
export class RepositoryError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.REPOSITORY;
}

/** A repository path is not a relative POSIX path (absolute, a `..` part, an empty name). */
export class RepositoryPathError extends RepositoryError {}

/** No repository object exists at the path or under the key (Python's `FileNotFoundError` in aiida-core). */
export class FileNotFoundError extends RepositoryError {}

/**
 * Objects a database write was about to reference are not in the repository (full maintenance deleted them after
 * they were written): the write was rolled back. Carries the keys, so the writer can put them again and retry.
 */
export class MissingObjectsError extends FileNotFoundError {
  readonly keys: readonly string[];

  constructor(message: string, keys: readonly string[], options?: ErrorOptions) {
    super(message, options);
    this.keys = keys;
  }
}

/** A repository object's content does not hash to its key: the stored copy is corrupt. */
export class CorruptObjectError extends RepositoryError {
  readonly key: string;

  constructor(message: string, key: string, options?: ErrorOptions) {
    super(message, options);
    this.key = key;
  }
}

/** A repository path names a file where a directory is needed. */
export class NotADirectoryError extends RepositoryError {}

/** A repository path names a directory where a file is needed. */
export class IsADirectoryError extends RepositoryError {}

// --- transports and schedulers --------------------------------------------------------------------------

/** A transport operation failed; the message names the path or command. */
export class TransportError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.TRANSPORT;
  /** POSIX reason when the failure maps to one (`ENOENT`, `EEXIST`, `ENOTEMPTY`, `ETIMEDOUT`, …). */
  readonly errno: string | undefined;

  constructor(message: string, options?: ErrorOptions & { readonly errno?: string }) {
    super(message, options);
    this.errno = options?.errno;
  }
}

/** A transport was used while closed, or its internal state is broken (aiida's `TransportInternalError`). */
export class TransportInternalError extends TransportError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.TRANSPORT_INTERNAL;
}

/** The remote host refused every credential offered (wrong key, missing passphrase, no agent). */
export class TransportAuthenticationError extends TransportError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.TRANSPORT_AUTHENTICATION;
}

/** The remote host key is unknown (and the key policy refuses it), changed, or revoked. */
export class HostKeyError extends TransportError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.TRANSPORT_HOST_KEY;
}

/** A scheduler command failed. */
export class SchedulerError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.SCHEDULER;
}

/** A scheduler's output could not be parsed; never read as a finished job. */
export class SchedulerParsingError extends SchedulerError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.SCHEDULER_PARSING;
}

/** The scheduler or transport does not offer this feature. */
export class FeatureNotAvailableError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.FEATURE_NOT_AVAILABLE;
}

// --- engine ---------------------------------------------------------------------------------------------------

/**
 * A process finished with a non-zero exit status where its caller needed its result (calling a process function
 * directly); carries the process node's pk and the exit code. `runGetNode` reports such processes without throwing.
 */
export class ProcessFailedError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.PROCESS_FAILED;
  readonly pk: number | null;
  readonly exitStatus: number;
  readonly exitMessage: string | null;

  constructor(
    message: string,
    details: { readonly pk: number | null; readonly exitStatus: number; readonly exitMessage: string | null },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.pk = details.pk;
    this.exitStatus = details.exitStatus;
    this.exitMessage = details.exitMessage;
  }
}

/**
 * A write of a process was refused because this runner no longer holds the process's lease (another worker took it
 * over after this one was presumed dead: a pause, a partition, a lost database). Nothing of the write was stored;
 * the process must be dropped here without writing anything else (its new owner continues it).
 */
export class LeaseLostError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.LEASE_LOST;
  readonly pk: number;

  constructor(message: string, pk: number, options?: ErrorOptions) {
    super(message, options);
    this.pk = pk;
  }
}

// --- archives -------------------------------------------------------------------------------------------------

/** Base of the errors of archive export, import and migration (`aiida.tools.archive.exceptions`). */
export class ArchiveError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.ARCHIVE;
}

/** Writing an archive failed (the output file exists, a bad option, an entity that cannot be exported). */
export class ArchiveExportError extends ArchiveError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.ARCHIVE_EXPORT;
}

/** The entities to export are not valid for export (an unsealed process node, say). */
export class ExportValidationError extends ArchiveExportError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.EXPORT_VALIDATION;
}

/** Importing an archive failed; the profile is left as it was. */
export class ArchiveImportError extends ArchiveError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.ARCHIVE_IMPORT;
}

/** The archive holds an entity that cannot be imported (a link to an unknown node, a wrong object hash, …). */
export class ImportValidationError extends ArchiveImportError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.IMPORT_VALIDATION;
}

/** An imported entity would break a uniqueness rule of the profile (a second incoming `create` link, …). */
export class ImportUniquenessError extends ArchiveImportError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.IMPORT_UNIQUENESS;
}

/**
 * The archive is refused before anything is extracted: an entry path that leaves the archive (`../`, absolute),
 * a symbolic link, an encrypted entry, or sizes that cannot be true (a "zip bomb").
 */
export class UnsafeArchiveError extends ArchiveImportError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.UNSAFE_ARCHIVE;
}

/** A node to export carries a licence the export does not allow (aiida's `LicensingException`). */
export class LicensingError extends ArchiveExportError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.LICENSING;
}

/**
 * A process ended, but the storage refused the write that records its end (its outputs, terminal state, reports,
 * seal): the node does not say what happened. The launch (`run`, `runGetNode`, `execute`) rejects with it, the write
 * failure as its `cause`. `markedExcepted` says whether the node could then be marked `excepted` and sealed; when it
 * could not, the runner keeps trying while it is open, so the node says so once the storage is reachable again.
 */
export class ProvenanceWriteError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.PROVENANCE_WRITE;
  readonly pk: number | null;
  readonly markedExcepted: boolean;

  constructor(
    message: string,
    details: { readonly pk: number | null; readonly markedExcepted: boolean },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.pk = details.pk;
    this.markedExcepted = details.markedExcepted;
  }
}

// --- calculation jobs -------------------------------------------------------------------------------------------

/**
 * A transport task of a calculation job (upload, submit, update, stash, retrieve, kill) failed on every attempt of the
 * exponential backoff (aiida's `TransportTaskException`); the job is paused and `play` retries the same task.
 */
export class TransportTaskError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.TRANSPORT_TASK;
}

/** `prepareForSubmission` or `presubmit` of a calculation job threw: not retried, the job excepts (aiida's `PreSubmitException`). */
export class PreSubmitError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.PRE_SUBMIT;
}

/** Stashing the files of a finished job failed (aiida's `StashingError`): the job fails with exit code 160. */
export class StashingError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.STASHING;
}

/** A calculation plugin returned something the engine cannot use (aiida's `PluginInternalError`). */
export class PluginInternalError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.PLUGIN_INTERNAL;
}

/** An operation on the remote computer did not have the effect asked for (aiida's `RemoteOperationError`). */
export class RemoteOperationError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.REMOTE_OPERATION;
}

/**
 * A process was still active when the JS event loop had nothing left to run: a step awaits a promise that can
 * never settle (nothing can wake it). `verdi run` marks such processes excepted with this error.
 */
export class ProcessStalledError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.PROCESS_STALLED;
}

/**
 * A message body could not be written or read as aiida-core's YAML (an unstored node in a message, an object
 * that is not plain data, an unknown YAML tag).
 */
export class MessageEncodingError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.MESSAGE_ENCODING;
}

/**
 * The daemon of a profile cannot do what was asked: it is already running, not running, did not start or stop in
 * time (aiida's `DaemonException`).
 */
export class DaemonError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.DAEMON;
}

/** A backup of a profile's storage (`verdi storage backup`) could not be made; the destination keeps no partial one. */
export class StorageBackupError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.STORAGE_BACKUP;
}

/**
 * A profile's database could not be reached (refused, shutting down, starting up) for longer than the storage waits
 * for it to come back, or could not be opened (dropped, authentication refused). The message names the profile and
 * the database; the `cause` is the server's or the connection's error.
 */
export class DatabaseUnavailableError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.DATABASE_UNAVAILABLE;
}

/**
 * A process a `continue` task asked for ended excepted or killed (aiida's `PastException` / plumpy's `KilledError`
 * as its daemon worker answers them): the message is the process's exception message or kill message alone.
 */
export class ContinuedProcessFailedError extends AiidaError {
  override readonly code: AiidaErrorCode = AiidaErrorCode.CONTINUED_PROCESS_FAILED;
}
