import {
  ConfigurationError,
  IntegrityError,
  ModificationNotAllowedError,
  NotExistentError,
  ValidationError,
} from '../../errors.js';
import type { StorageBackend } from '../../storage/backend.js';
import { getStorage, type StorageOption } from '../../storage/context.js';
import type { DbUserRow } from '../../storage/schema.js';
import { isUniqueViolation } from '../utils/db-errors.js';

/** The fields of a new {@link User}. */
export interface UserInit {
  readonly email: string;
  readonly firstName?: string;
  readonly lastName?: string;
  readonly institution?: string;
}

const defaultUserIds = new WeakMap<StorageBackend, number>();

/** A person who owns nodes, groups and comments; identified by a unique email (`db_dbuser`). */
export class User {
  #storage: StorageBackend | undefined;
  #pk: number | null = null;
  readonly #email: string;
  #firstName: string;
  #lastName: string;
  #institution: string;

  constructor(init: UserInit, options: StorageOption = {}) {
    if (typeof init.email !== 'string' || init.email.trim() === '')
      throw new ValidationError('a user needs a non-empty email');
    this.#email = User.normalizeEmail(init.email);
    this.#firstName = init.firstName ?? '';
    this.#lastName = init.lastName ?? '';
    this.#institution = init.institution ?? '';
    this.#storage = options.storage;
  }

  /** Lower-cases the domain part, as aiida-core does. */
  static normalizeEmail(email: string): string {
    const at = email.lastIndexOf('@');
    return at < 0
      ? email.trim()
      : `${email.slice(0, at).trim()}@${email
          .slice(at + 1)
          .trim()
          .toLowerCase()}`;
  }

  /** @internal A stored user from its row. */
  static fromRow(storage: StorageBackend, row: DbUserRow): User {
    const user = new User(
      { email: row.email, firstName: row.first_name, lastName: row.last_name, institution: row.institution },
      { storage },
    );
    user.#pk = row.id;
    return user;
  }

  get pk(): number | null {
    return this.#pk;
  }
  get email(): string {
    return this.#email;
  }
  get firstName(): string {
    return this.#firstName;
  }
  get lastName(): string {
    return this.#lastName;
  }
  get institution(): string {
    return this.#institution;
  }
  get isStored(): boolean {
    return this.#pk !== null;
  }
  /** The storage the user is stored in (or bound to). */
  get storage(): StorageBackend | undefined {
    return this.#storage;
  }

  /** `First Last` or the email when no name is set. */
  getShortName(): string {
    const name = `${this.#firstName} ${this.#lastName}`.trim();
    return name === '' ? this.#email : name;
  }

  /** Whether this is the profile's default user. */
  isDefault(): boolean {
    return this.#storage !== undefined && this.#storage.defaultUserEmail === this.#email;
  }

  /** Stores the user; `IntegrityError` when the email is taken. */
  async store(options: StorageOption = {}): Promise<this> {
    if (this.isStored) return this;
    const storage = this.#storage ?? getStorage(options);
    try {
      const row = await storage
        .executor()
        .insertInto('db_dbuser')
        .values({
          email: this.#email,
          first_name: this.#firstName,
          last_name: this.#lastName,
          institution: this.#institution,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      this.#pk = row.id;
      this.#storage = storage;
    } catch (error) {
      if (isUniqueViolation(error))
        throw new IntegrityError(`a user with email \`${this.#email}\` already exists`, { cause: error });
      throw error;
    }
    return this;
  }

  /** Changes the names or institution (the email is the identity and never changes). */
  async update(fields: Omit<Partial<UserInit>, 'email'>): Promise<void> {
    if (fields.firstName !== undefined) this.#firstName = fields.firstName;
    if (fields.lastName !== undefined) this.#lastName = fields.lastName;
    if (fields.institution !== undefined) this.#institution = fields.institution;
    if (this.#pk === null || this.#storage === undefined) return;
    await this.#storage
      .executor()
      .updateTable('db_dbuser')
      .set({ first_name: this.#firstName, last_name: this.#lastName, institution: this.#institution })
      .where('id', '=', this.#pk)
      .execute();
  }

  /** The stored user with this email; `NotExistentError` when there is none. */
  static async get(email: string, options: StorageOption = {}): Promise<User> {
    const storage = getStorage(options);
    const row = await storage
      .executor()
      .selectFrom('db_dbuser')
      .selectAll()
      .where('email', '=', User.normalizeEmail(email))
      .executeTakeFirst();
    if (row === undefined) throw new NotExistentError(`no user with email \`${email}\``);
    return User.fromRow(storage, row);
  }

  /** The stored user with this pk; `NotExistentError` when there is none. */
  static async getByPk(pk: number, options: StorageOption = {}): Promise<User> {
    const storage = getStorage(options);
    // a fixed text, prepared once per connection: every calculation job reads its node's owner
    const [row] = await storage.executeRead<DbUserRow>('SELECT * FROM db_dbuser WHERE id = $1', [pk]);
    if (row === undefined) throw new NotExistentError(`no user with pk ${pk}`);
    return User.fromRow(storage, row);
  }

  /** The stored user with the email, stored now (with the other fields) if missing. */
  static async getOrCreate(
    init: UserInit,
    options: StorageOption = {},
  ): Promise<{ user: User; created: boolean }> {
    const storage = getStorage(options);
    try {
      return await storage.transaction(async () => {
        try {
          return { user: await User.get(init.email, { storage }), created: false };
        } catch (error) {
          if (!(error instanceof NotExistentError)) throw error;
          return { user: await new User(init, { storage }).store(), created: true };
        }
      });
    } catch (error) {
      // another process created it between our read and our insert (PostgreSQL's read committed)
      if (error instanceof IntegrityError)
        return { user: await User.get(init.email, { storage }), created: false };
      throw error;
    }
  }

  /** Every stored user, by pk. */
  static async all(options: StorageOption = {}): Promise<User[]> {
    const storage = getStorage(options);
    const rows = await storage.executor().selectFrom('db_dbuser').selectAll().orderBy('id').execute();
    return rows.map((row) => User.fromRow(storage, row));
  }

  /**
   * The profile's default user (`default_user_email`), created when the storage has no row for it yet.
   * `ConfigurationError` when the profile names no default user.
   */
  static async getDefault(options: StorageOption = {}): Promise<User> {
    const storage = getStorage(options);
    const email = storage.defaultUserEmail;
    if (email === null)
      throw new ConfigurationError('the profile has no default user (default_user_email is not set)');
    const { user } = await User.getOrCreate({ email }, { storage });
    return user;
  }

  /** The pk of the default user, cached per storage once known to be committed. */
  static async getDefaultId(storage: StorageBackend): Promise<number> {
    const cached = defaultUserIds.get(storage);
    if (cached !== undefined) return cached;
    const user = await User.getDefault({ storage });
    if (!storage.inTransaction()) defaultUserIds.set(storage, user.pk!);
    return user.pk!;
  }

  /** Refuses to change the owner of stored entities. */
  static assertMutableOwner(stored: boolean, what: string): void {
    if (stored) throw new ModificationNotAllowedError(`the user of a stored ${what} cannot be changed`);
  }

  toString(): string {
    return this.#email;
  }
}
