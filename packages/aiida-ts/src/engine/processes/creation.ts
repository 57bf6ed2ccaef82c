import type { ProvenanceInit } from './provenance.js';

/**
 * What a process being made by the engine receives beside plumpy's options: its parsed inputs (already checked,
 * converted and stored) and its provenance. Handed over through {@link withCreationTicket} because plumpy parses
 * inputs inside its constructor, before a subclass can read its own constructor arguments.
 */
export interface CreationTicket {
  readonly parsedInputs: Readonly<Record<string, unknown>>;
  readonly provenance: ProvenanceInit;
}

let pending: CreationTicket | undefined;

/** Runs `construct` (a `new ProcessClass(...)`) with `ticket` available to the constructor. */
export function withCreationTicket<T>(ticket: CreationTicket, construct: () => T): T {
  const previous = pending;
  pending = ticket;
  try {
    return construct();
  } finally {
    pending = previous;
  }
}

/** The ticket of the process being constructed, if the engine is constructing one. */
export function currentCreationTicket(): CreationTicket | undefined {
  return pending;
}
