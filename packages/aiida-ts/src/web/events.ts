import { BroadcastFilter } from 'kiwipy-ts';
import { QueryBuilder } from '../querybuilder/query-builder.js';
import type { WebContext } from './context.js';
import { RESOURCES } from './resources/definitions.js';
import { shapeRow, type Row } from './resources/listing.js';
import { addOwners } from './resources/owners.js';

/** One change of a process, as the page's live list gets it. */
export interface ProcessEvent {
  /** The broadcast subject (`state_changed.running.waiting`, `paused`, `played`) or `changed` when polled. */
  readonly subject: string;
  /** Where the event came from: the broker's broadcast or a look at the storage. */
  readonly source: 'broker' | 'storage';
  /** The process's row now, as `/processes` lists it. */
  readonly process: Row;
}

/** Options of {@link ProcessEventHub}. */
export interface ProcessEventHubOptions {
  /** How often the storage is read for changes (ms): 250 without a broker, 2000 with one (a safety net). */
  readonly pollIntervalMs?: number;
}

type Listener = (event: ProcessEvent) => void;

/**
 * Process state changes for every open event stream of the server. With a broker, the processes' own
 * `state_changed.<from>.<to>` broadcasts are turned into events at once; the storage is also read now and then for
 * what broadcasts do not tell (a new process, a change made by a process run without the broker). Without a broker,
 * the storage is read often. One subscription and one poller are shared by all streams and released with the last.
 */
export class ProcessEventHub {
  readonly #context: WebContext;
  readonly #interval: number;
  readonly #listeners = new Set<Listener>();
  #broadcastId: Promise<string | undefined> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #cursor: string | undefined;
  #seen = new Map<number, string>();
  #polling = false;
  #closed = false;

  constructor(context: WebContext, options: ProcessEventHubOptions = {}) {
    this.#context = context;
    this.#interval = options.pollIntervalMs ?? (context.communicator === null ? 250 : 2_000);
  }

  /**
   * Starts delivering events to `listener`; the returned function stops it. `ready` settles once the broadcasts are
   * subscribed to (at once without a broker): changes from then on are not missed.
   */
  subscribe(listener: Listener): { stop: () => void; ready: Promise<void> } {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#start();
    const ready = (this.#broadcastId ?? Promise.resolve(undefined)).then(() => undefined);
    const stop = (): void => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
    return { stop, ready };
  }

  #emit(event: ProcessEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  #start(): void {
    const communicator = this.#context.communicator;
    if (communicator !== null && !communicator.isClosed()) {
      const filter = new BroadcastFilter(
        (message) => {
          const pk = Number(message.sender);
          const subject = typeof message.subject === 'string' ? message.subject : '';
          if (!Number.isInteger(pk)) return;
          void this.#rows([pk]).then(
            ([row]) => {
              if (row === undefined) return;
              // the broadcast may overtake the node's own write of its state: the broadcast says what is now
              const to = /^state_changed\.[^.]+\.([a-z]+)$/.exec(subject)?.[1];
              if (to !== undefined) row['process_state'] = to;
              if (subject === 'paused' || subject === 'played') row['paused'] = subject === 'paused';
              this.#seen.set(pk, fingerprint(row));
              this.#emit({ subject, source: 'broker', process: row });
            },
            () => undefined, // the poller will see the change
          );
        },
        { subject: /^(state_changed\.|paused$|played$)/ },
      );
      this.#broadcastId = communicator.addBroadcastSubscriber(filter).catch(() => undefined);
    }
    // the first look only records where the storage is: events are changes from now on
    void this.#poll(true);
    this.#timer = setInterval(() => void this.#poll(false), this.#interval);
  }

  #stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const pending = this.#broadcastId;
    this.#broadcastId = undefined;
    const communicator = this.#context.communicator;
    if (pending !== undefined && communicator !== null)
      void pending.then((id) =>
        id === undefined || communicator.isClosed()
          ? undefined
          : communicator.removeBroadcastSubscriber(id).catch(() => undefined),
      );
  }

  async #rows(pks: readonly number[] | null, since?: string): Promise<Row[]> {
    const filters: Record<string, unknown> = { ...RESOURCES.processes.baseFilters };
    if (pks !== null) filters['id'] = { in: [...pks] };
    if (since !== undefined) filters['mtime'] = { '>=': since };
    const rows = await new QueryBuilder({ backend: this.#context.storage })
      .append('', { tag: 'e', filters, project: [...RESOURCES.processes.projection] })
      .orderBy({ e: [{ mtime: 'asc' }] })
      .limit(1_000)
      .dict();
    return addOwners(
      this.#context,
      rows.map((result) => shapeRow(RESOURCES.processes, result['e'] ?? {})),
    );
  }

  async #poll(first: boolean): Promise<void> {
    if (this.#polling || this.#closed) return;
    this.#polling = true;
    try {
      if (first) {
        const [latest] = await new QueryBuilder({ backend: this.#context.storage })
          .append('', { tag: 'e', filters: RESOURCES.processes.baseFilters, project: ['mtime'] })
          .orderBy({ e: [{ mtime: 'desc' }] })
          .limit(1)
          .all({ flat: true });
        this.#cursor = latest === undefined ? new Date(0).toISOString() : isoOf(latest);
        return;
      }
      const since = this.#cursor ?? new Date(0).toISOString();
      for (const row of await this.#rows(null, since)) {
        const pk = Number(row['id']);
        const print = fingerprint(row);
        this.#cursor = isoOf(row['mtime']);
        if (this.#seen.get(pk) === print) continue;
        const before = this.#seen.get(pk);
        this.#seen.set(pk, print);
        const subject =
          before === undefined
            ? 'changed'
            : `state_changed.${before.split('|')[0] ?? ''}.${String(row['process_state'])}`;
        this.#emit({ subject, source: 'storage', process: row });
      }
      // remember only what may still change, so that a long-lived server does not grow without end
      if (this.#seen.size > 10_000) this.#seen = new Map([...this.#seen].slice(-5_000));
    } catch {
      // a failed look is retried at the next tick
    } finally {
      this.#polling = false;
    }
  }

  /** Stops the poller and the broadcast subscription. */
  close(): void {
    this.#closed = true;
    this.#listeners.clear();
    this.#stop();
  }
}

function isoOf(value: unknown): string {
  return value instanceof Date ? value.toISOString() : String(value);
}

/** What a list row shows of a process: a change of any of it is an event. */
function fingerprint(row: Row): string {
  return [row['process_state'], row['paused'], row['process_status'], row['exit_status'], isoOf(row['mtime'])]
    .map(String)
    .join('|');
}
