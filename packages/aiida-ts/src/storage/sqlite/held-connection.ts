import {
  SqliteDialect,
  SqliteDriver,
  type DatabaseConnection,
  type Driver,
  type SqliteDialectConfig,
} from 'kysely';
import { AiidaError } from '../../errors.js';

/**
 * Kysely's SQLite driver, with a connection lock that can be taken synchronously when it is free. Kysely's own lock
 * is awaited even then, and taking and releasing it through its layers (provider, runtime driver, driver, lock) costs
 * about 20 promises, twice per transaction: a visible share of a short transaction such as a calcfunction's.
 * Waiters get the connection in the order they asked for it, as with Kysely's lock.
 */
export class HeldConnectionDriver extends SqliteDriver {
  #connection: DatabaseConnection | undefined;
  #held = false;
  readonly #waiters: ((connection: DatabaseConnection) => void)[] = [];

  override async init(): Promise<void> {
    await super.init();
    // SQLite has a single connection: take it once from Kysely's driver, and from now on lock it here
    const connection = await super.acquireConnection();
    await super.releaseConnection();
    this.#connection = connection;
  }

  /** The connection, now locked for the caller, or undefined when it is held (or the driver not initialised yet). */
  tryAcquire(): DatabaseConnection | undefined {
    if (this.#held || this.#connection === undefined) return undefined;
    this.#held = true;
    return this.#connection;
  }

  override acquireConnection(): Promise<DatabaseConnection> {
    const connection = this.tryAcquire();
    if (connection !== undefined) return Promise.resolve(connection);
    if (this.#connection === undefined)
      return Promise.reject(new AiidaError('the SQLite driver is not initialised'));
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  override releaseConnection(): Promise<void> {
    this.release();
    return Promise.resolve();
  }

  /** Unlocks the connection, handing it straight to the first waiter if there is one. */
  release(): void {
    const next = this.#waiters.shift();
    if (next !== undefined && this.#connection !== undefined) next(this.#connection);
    else this.#held = false;
  }
}

/** Kysely's SQLite dialect with a {@link HeldConnectionDriver}, which it keeps for the backend to lock directly. */
export class HeldConnectionDialect extends SqliteDialect {
  readonly driver: HeldConnectionDriver;

  constructor(config: SqliteDialectConfig) {
    super(config);
    this.driver = new HeldConnectionDriver(config);
  }

  override createDriver(): Driver {
    return this.driver;
  }
}
