import { z } from 'zod';
import { RepositoryError } from '../errors.js';
import { isValidObjectName } from './repository-path.js';

/** What a repository entry is, as aiida's `FileType`. */
export const FileType = { DIRECTORY: 'directory', FILE: 'file' } as const;
export type FileType = (typeof FileType)[keyof typeof FileType];

const ObjectNameSchema = z.string().refine(isValidObjectName, {
  message: 'an object name must be non-empty, without `/` or NUL, and not `.` or `..`',
});

/**
 * One serialised entry: a file `{k: key}` or a directory `{o: {...}}` (`{}` when empty). aiida's
 * `repository_metadata` is the root directory in this form.
 */
export interface SerializedFile {
  readonly k?: string | undefined;
  readonly o?: Readonly<Record<string, SerializedFile>> | undefined;
}

/** Validates one serialised entry; error paths lead to the offending name (`o.sub.o.name.k`). */
export const SerializedFileSchema: z.ZodType<SerializedFile> = z.lazy(() =>
  z
    .strictObject({
      k: z.string().min(1, 'a file key cannot be empty').optional(),
      o: z.record(ObjectNameSchema, SerializedFileSchema).optional(),
    })
    .refine((entry) => entry.k === undefined || entry.o === undefined, {
      message: 'an entry is either a file {k} or a directory {o}, not both',
    }),
);

/** The `repository_metadata` of a node: the serialised root directory (never a file). */
export const RepositoryMetadataSchema = z.strictObject({
  o: z.record(ObjectNameSchema, SerializedFileSchema).optional(),
});
export type RepositoryMetadata = z.infer<typeof RepositoryMetadataSchema>;

/** Throws a `RepositoryError` listing every problem of `serialized`, or returns it typed. */
export function validateSerialized<T>(schema: z.ZodType<T>, serialized: unknown): T {
  const parsed = schema.safeParse(serialized);
  if (!parsed.success) {
    throw new RepositoryError(
      `invalid repository metadata: ${parsed.error.issues
        .map((issue) => `${issue.path.map(String).join('.') || '<root>'}: ${issue.message}`)
        .join('; ')}`,
    );
  }
  // The input itself, not zod's copy: the copy loses a name like `__proto__`, and the order of names matters.
  return serialized as T;
}

/** Options of the {@link File} constructor. */
export interface FileOptions {
  readonly name?: string;
  readonly fileType?: FileType;
  /** Backend key of a file's content; directories have none. */
  readonly key?: string | null;
  /** Children of a directory, in order. */
  readonly objects?: ReadonlyMap<string, File> | Readonly<Record<string, File>>;
}

const children = new WeakMap<File, Map<string, File>>();

/**
 * An entry of a node's virtual folder, as aiida's `repository.common.File`: a file (with the key of its content
 * in the backend) or a directory (with named children, kept in insertion order, which the repository hash uses).
 */
export class File {
  readonly name: string;
  readonly fileType: FileType;
  readonly key: string | null;

  constructor(options: FileOptions = {}) {
    const name = options.name ?? '';
    const fileType = options.fileType ?? FileType.DIRECTORY;
    const key = options.key ?? null;
    if (typeof name !== 'string') throw new RepositoryError('name should be a string');
    if (fileType !== FileType.DIRECTORY && fileType !== FileType.FILE) {
      throw new RepositoryError(`fileType should be 'file' or 'directory', got ${JSON.stringify(fileType)}`);
    }
    if (key !== null && typeof key !== 'string') throw new RepositoryError('key should be null or a string');
    if (fileType === FileType.DIRECTORY && key !== null) {
      throw new RepositoryError('an object of type `directory` cannot define a key');
    }
    if (fileType === FileType.FILE && options.objects !== undefined) {
      throw new RepositoryError('an object of type `file` cannot define any objects');
    }
    const entries =
      options.objects === undefined
        ? []
        : options.objects instanceof Map
          ? [...(options.objects as ReadonlyMap<string, File>).entries()]
          : Object.entries(options.objects as Readonly<Record<string, File>>);
    for (const [, child] of entries) {
      if (!(child instanceof File)) throw new RepositoryError('objects should map names to File instances');
    }
    this.name = name;
    this.fileType = fileType;
    this.key = key;
    children.set(this, new Map(entries));
  }

  /** Children by name (empty for a file). */
  get objects(): ReadonlyMap<string, File> {
    return children.get(this) as Map<string, File>;
  }

  isFile(): boolean {
    return this.fileType === FileType.FILE;
  }

  isDir(): boolean {
    return this.fileType === FileType.DIRECTORY;
  }

  /** aiida's compact JSON form: `{k: key}` for a file, `{o: {...}}` for a directory, `{}` for an empty one. */
  serialize(): SerializedFile {
    if (this.fileType === FileType.FILE) return { k: this.key as string };
    if (this.objects.size === 0) return {};
    const o: Record<string, SerializedFile> = {};
    for (const [name, child] of this.objects) {
      // defineProperty, so a file named `__proto__` stays a plain entry.
      Object.defineProperty(o, name, {
        value: child.serialize(),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return { o };
  }

  /** Rebuilds an entry from its serialised form, validated (a `RepositoryError` naming the bad path). */
  static fromSerialized(serialized: unknown, name = ''): File {
    return build(validateSerialized(SerializedFileSchema, serialized), name);
  }

  /** Structural equality: same name, type, key and children, whatever their order. */
  equals(other: unknown): boolean {
    if (!(other instanceof File)) return false;
    if (this.name !== other.name || this.fileType !== other.fileType || this.key !== other.key) return false;
    if (this.objects.size !== other.objects.size) return false;
    for (const [name, child] of this.objects) {
      const theirs = other.objects.get(name);
      if (theirs === undefined || !child.equals(theirs)) return false;
    }
    return true;
  }

  toString(): string {
    return `File<name=${this.name}, fileType=${this.fileType}, key=${this.key ?? 'null'}, objects=[${[...this.objects.keys()].join(', ')}]>`;
  }
}

function build(serialized: SerializedFile, name: string): File {
  if (serialized.k !== undefined) return new File({ name, fileType: FileType.FILE, key: serialized.k });
  const objects = new Map<string, File>();
  for (const [child, value] of Object.entries(serialized.o ?? {})) objects.set(child, build(value, child));
  return new File({ name, fileType: FileType.DIRECTORY, objects });
}

/** The mutable children of a directory; for the Repository that owns the tree, not part of the public API. */
export function mutableObjects(directory: File): Map<string, File> {
  return children.get(directory) as Map<string, File>;
}
