import { createRequire } from 'node:module';
import type pg from 'pg';

let driver: typeof pg | undefined;

/**
 * The `pg` driver, loaded on first use: every `verdi` command of an SQLite profile imports the storage plugins, and
 * loading `pg` (which, by reading the `navigator` global, also loads Node's fetch implementation) costs a tenth of
 * such a command's start-up.
 */
export function pgDriver(): typeof pg {
  driver ??= createRequire(import.meta.url)('pg') as typeof pg;
  return driver;
}
