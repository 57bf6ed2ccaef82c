import { sql } from 'kysely';
import type { StorageBackend } from '../../storage/backend.js';
import type { ReplayedChild } from '../process-ownership.js';

/** A child made by an interrupted run of a step. */
interface JournalEntry {
  readonly pk: number;
  readonly processType: string | null;
  readonly label: string;
  taken: boolean;
}

/**
 * The children that a step made before its worker was lost, found again when another worker runs the step once more:
 * the processes the parent called (`call_calc`/`call_work` links) whose pk is above the `step_mark` of the parent's
 * last checkpoint. The step's code calls the same processes in the same order, so each launch takes the first unused
 * entry with its process type and call link label instead of making a new process: the provenance is the one of an
 * undisturbed run (the Temporal/DBOS rule: a step is replayed, not repeated).
 */
export class StepJournal {
  readonly #entries: JournalEntry[];

  private constructor(entries: JournalEntry[]) {
    this.#entries = entries;
  }

  /** The children of `parent` above `mark`, oldest first. */
  static async read(storage: StorageBackend, parent: number, mark: number): Promise<StepJournal> {
    const rows = await sql<{ id: number | string; process_type: string | null; label: string }>`
      SELECT n.id, n.process_type, l.label FROM db_dblink l JOIN db_dbnode n ON n.id = l.output_id
      WHERE l.input_id = ${parent} AND l.type IN ('call_calc', 'call_work') AND l.output_id > ${mark}
      ORDER BY n.id`.execute(storage.executor());
    return new StepJournal(
      rows.rows.map((row) => ({
        pk: Number(row.id),
        processType: row.process_type,
        label: row.label,
        taken: false,
      })),
    );
  }

  /** How many children it holds. */
  get size(): number {
    return this.#entries.length;
  }

  /** The first unused child with this process type and call link label; undefined when there is none. */
  take(processType: string, label: string): Promise<ReplayedChild | undefined> {
    const entry = this.#entries.find((e) => !e.taken && e.processType === processType && e.label === label);
    if (entry === undefined) return Promise.resolve(undefined);
    entry.taken = true;
    return Promise.resolve({ pk: entry.pk });
  }
}
