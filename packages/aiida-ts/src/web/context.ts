import type { Communicator } from 'kiwipy-ts';
import type { StorageBackend } from '../storage/backend.js';

/** What every route of the web server works with. */
export interface WebContext {
  readonly storage: StorageBackend;
  /** The token pause/play/kill requests must carry; null: the server is read-only. */
  readonly token: string | null;
  /** The profile's broker, to reach running processes at once and hear their state changes; null without one. */
  readonly communicator: Communicator | null;
}
