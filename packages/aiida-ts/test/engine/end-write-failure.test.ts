import { ProvenanceWriteError, isAiidaError } from 'aiida-ts';
import { calcfunction, nodeType, Process, run } from 'aiida-ts/engine';
import { CalculationNode, Int, loadNode, WorkflowNode, type ProcessNode } from 'aiida-ts/orm';
import type { StorageBackend } from 'aiida-ts/storage';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { NodeWriter } from '../../src/engine/processes/node-writer.js';
import { BACKENDS, useEngine } from './helpers.js';

/** A checkpointed process that records a calculation. */
class Adder extends Process.define((spec) =>
  spec
    .input('x', { validType: nodeType(Int) })
    .input('y', { validType: nodeType(Int), default: () => new Int(1) })
    .output('sum', { validType: nodeType(Int) }),
) {
  static override get nodeClass(): typeof CalculationNode {
    return CalculationNode;
  }

  override run(): void {
    this.out('sum', new Int(this.inputs.x.value + this.inputs.y.value));
  }
}

const double = calcfunction({ inputs: { x: Int }, outputs: Int }, function double({ x }) {
  return new Int(2 * x.value);
});

/**
 * Makes the database refuse (as a full disk would) every update of a node's attributes that matches `when`: the
 * real storage, failing exactly the write that records a process's end.
 */
async function refuseUpdates(storage: StorageBackend, when: 'the end of a finished process' | 'any seal') {
  const db = storage.executor();
  if (storage.dialect.name === 'sqlite') {
    const condition =
      when === 'any seal'
        ? `json_extract(NEW.attributes, '$.sealed') = 1`
        : `json_extract(NEW.attributes, '$.sealed') = 1 AND json_extract(NEW.attributes, '$.process_state') = 'finished'`;
    await sql
      .raw(
        `CREATE TRIGGER refuse_update BEFORE UPDATE ON db_dbnode WHEN ${condition} ` +
          `BEGIN SELECT RAISE(ABORT, 'disk is full'); END`,
      )
      .execute(db);
  } else {
    const condition =
      when === 'any seal'
        ? `(NEW.attributes->>'sealed')::boolean IS TRUE`
        : `(NEW.attributes->>'sealed')::boolean IS TRUE AND NEW.attributes->>'process_state' = 'finished'`;
    await sql
      .raw(
        `CREATE OR REPLACE FUNCTION refuse_update() RETURNS trigger AS $$ ` +
          `BEGIN RAISE EXCEPTION 'disk is full'; END $$ LANGUAGE plpgsql`,
      )
      .execute(db);
    await sql
      .raw(
        `CREATE TRIGGER refuse_update BEFORE UPDATE ON db_dbnode FOR EACH ROW WHEN (${condition}) ` +
          `EXECUTE FUNCTION refuse_update()`,
      )
      .execute(db);
  }
  return {
    restore: async () => {
      await sql
        .raw('DROP TRIGGER refuse_update' + (storage.dialect.name === 'sqlite' ? '' : ' ON db_dbnode'))
        .execute(db);
    },
  };
}

/** The rejection of `launch`, which must be a `ProvenanceWriteError`. */
async function provenanceFailure(launch: Promise<unknown>): Promise<ProvenanceWriteError> {
  const error: unknown = await launch.then(
    () => expect.fail('the launch resolved although its end was not recorded'),
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ProvenanceWriteError);
  expect(isAiidaError(error)).toBe(true);
  return error as ProvenanceWriteError;
}

/** The node as the storage has it (not the copy the engine holds in memory). */
async function stored(pk: number | null): Promise<ProcessNode> {
  expect(pk).not.toBeNull();
  return loadNode<ProcessNode>(pk!);
}

describe.each(BACKENDS)('the end of a process the storage refuses, on %s', (_name, open) => {
  const engine = useEngine(open);

  it('rejects run() with the cause and marks the node excepted when the storage takes that write', async () => {
    const refusal = await refuseUpdates(engine().storage, 'the end of a finished process');
    try {
      // one launch at a time: a second launch started early would reject while the first is checked, unobserved
      for (const launch of [() => run(Adder, { x: 2 }), () => run(double, { x: 4 })]) {
        const error = await provenanceFailure(launch());
        expect(error.markedExcepted).toBe(true);
        expect(String((error.cause as Error).message)).toContain('disk is full');
        expect(error.message).toMatch(/^process<\d+> finished, but the storage refused the write of its end/);
        const node = await stored(error.pk);
        expect(node.processState).toBe('excepted');
        expect(node.isSealed).toBe(true);
        expect(node.exception).toContain('disk is full');
        expect(node.checkpoint).toBeNull();
        expect(node.exitStatus).toBeNull();
      }
    } finally {
      await refusal.restore();
    }
    // the storage takes writes again: the next run ends as usual
    expect((await run(double, { x: 4 })).value).toBe(8);
  });

  it('rejects run() when the node cannot be marked excepted either, and marks it once the storage is back', async () => {
    const refusal = await refuseUpdates(engine().storage, 'any seal');
    let pk: number | null;
    try {
      const error = await provenanceFailure(run(Adder, { x: 5 }));
      expect(error.markedExcepted).toBe(false);
      expect(error.message).toContain('could not be marked excepted either (disk is full)');
      pk = error.pk;
      const node = await stored(pk);
      expect(node.isSealed).toBe(false);
      expect(node.processState).not.toBe('finished');
    } finally {
      await refusal.restore();
    }
    // the runner retries every poll interval (50 ms here): wait for the node to say what happened
    const deadline = Date.now() + 20_000;
    let node = await stored(pk);
    while (!node.isSealed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      node = await stored(pk);
    }
    expect(node.isSealed).toBe(true);
    expect(node.processState).toBe('excepted');
    expect(node.exception).toContain('disk is full');
  });

  it('never seals a node after one of its earlier writes failed', async () => {
    const node = new WorkflowNode();
    await node.store();
    const refusal = await refuseUpdates(engine().storage, 'the end of a finished process');
    const writer = new NodeWriter(node);
    try {
      // a write in the middle of the run is refused (here: because it already says `finished` and seals)
      writer.set({ process_state: 'finished' });
      writer.seal();
      await expect(writer.flush()).rejects.toThrow('disk is full');
    } finally {
      await refusal.restore();
    }
    // the storage is back, but what the failed write carried is lost: sealing would make the record look complete
    writer.set({ process_state: 'finished', exit_status: 0 });
    writer.seal();
    await expect(writer.flush()).rejects.toThrow('disk is full');
    expect(writer.failure).toBeInstanceOf(Error);
    const reloaded = await stored(node.pk);
    expect(reloaded.isSealed).toBe(false);
  });
});
