/**
 * The synthetic provenance graph of the scale benchmark, generated as a stream of rows (never held whole).
 *
 * The profile is a sequence of "units", each one top-level work chain run as aiida-core records it:
 * - inputs (a StructureData, a Dict of parameters, an Int), `input_work` into the top work chain W0;
 * - W0 `call_work` a sub work chain W1; W1 `call_calc` a calcfunction F (Int → Int, `input_calc`/`create`)
 *   and a calcjob J (structure, parameters, shared code and F's output in; output Dict, RemoteData and a
 *   retrieved FolderData with repository files out), a second calcfunction G turns J's Dict into a Float;
 * - W1 and W0 `return` the outputs; J and W0 write log records; W0 and G's output join a group.
 * Every {@link DEEP_EVERY}-th unit is deep instead: a chain of {@link DEEP_LEVELS} nested work chains whose
 * calcfunctions feed each other, so call depth is 20 and data provenance depth about 40.
 * Before the units a parameter sweep of Float nodes (no links) gives a type with up to 100,000 members.
 * Creation times spread over a year and end at the build time; the last {@link ACTIVE_UNITS} units are still
 * running (so `verdi process list` shows a fixed number of rows at every size).
 */
import { createHash, randomUUID } from 'node:crypto';
import { DB_DBNODE_COLUMNS } from '../../src/storage/schema.js';

export const DEEP_EVERY = 997;
export const DEEP_LEVELS = 20;
export const ACTIVE_UNITS = 20;
export const GROUPS = 50;
export const CODES = 5;
const YEAR_MS = 365 * 86_400_000;

/** Row arrays in the column order of {@link COLUMNS}. */
export type Row = readonly unknown[];

export const COLUMNS = {
  db_dbnode: DB_DBNODE_COLUMNS,
  db_dblink: ['input_id', 'output_id', 'label', 'type'],
  db_dbgroup_dbnodes: ['dbnode_id', 'dbgroup_id'],
  db_dblog: ['uuid', 'time', 'loggername', 'levelname', 'dbnode_id', 'message', 'metadata'],
} as const;
export type GraphTable = keyof typeof COLUMNS;

/** A repository object: its sha256 key and bytes. */
export interface RepoObject {
  readonly key: string;
  readonly bytes: Buffer;
}

/** Where the rows go; `object` returns the key after storing (deduplicated by the sink). */
export interface GraphSink {
  row(table: GraphTable, row: Row): void | Promise<void>;
  object(object: RepoObject): void | Promise<void>;
}

/** What the benchmark needs to know about the graph it built. */
export interface GraphFacts {
  readonly nodes: number;
  readonly links: number;
  readonly units: number;
  readonly floats: number;
  readonly groupIds: readonly number[];
  /** A deep unit: its top work chain, its first input (root of the data provenance) and its last output. */
  readonly deep: { readonly workchain: number; readonly root: number; readonly leaf: number };
  /** A calcjob of an ordinary unit (for `verdi node show`). */
  readonly calcjob: number;
  /** The newest creation time (ISO), which `--past-days` counts back from. */
  readonly newest: string;
}

/** The ids, user and computer rows the generator refers to (created before it runs). */
export interface GraphContext {
  readonly firstNodeId: number;
  readonly userId: number;
  readonly computerId: number;
  readonly groupIds: readonly number[];
  /** Encodes a timestamp as the dialect stores it. */
  readonly time: (ms: number) => string;
  readonly endMs: number;
}

function objectOf(text: string): RepoObject {
  const bytes = Buffer.from(text);
  return { key: createHash('sha256').update(bytes).digest('hex'), bytes };
}

const SCHEDULER_STDOUT = objectOf('Job started\nJob finished\n');

/** Generates a profile of about `size` nodes into `sink`. */
export async function generate(size: number, ctx: GraphContext, sink: GraphSink): Promise<GraphFacts> {
  let nextId = ctx.firstNodeId;
  let links = 0;
  const floats = Math.min(100_000, Math.floor(size / 5));
  const unitNodes = 13;
  const units = Math.max(1, Math.round((size - floats - CODES) / unitNodes));
  const startMs = ctx.endMs - YEAR_MS;
  let stamp = ctx.time(startMs);

  const node = async (
    nodeType: string,
    attributes: Record<string, unknown>,
    options: {
      processType?: string;
      label?: string;
      computer?: boolean;
      files?: Record<string, RepoObject>;
    } = {},
  ): Promise<number> => {
    const id = nextId++;
    let repository = '{}';
    if (options.files !== undefined) {
      const o: Record<string, { k: string }> = {};
      for (const [name, object] of Object.entries(options.files)) {
        await sink.object(object);
        o[name] = { k: object.key };
      }
      repository = JSON.stringify({ o });
    }
    await sink.row('db_dbnode', [
      id,
      randomUUID(),
      nodeType,
      options.processType ?? null,
      options.label ?? '',
      '',
      stamp,
      stamp,
      JSON.stringify(attributes),
      '{}',
      repository,
      options.computer === true ? ctx.computerId : null,
      ctx.userId,
    ]);
    return id;
  };
  const link = async (input: number, output: number, type: string, label: string): Promise<void> => {
    links++;
    await sink.row('db_dblink', [input, output, label, type]);
  };
  const log = async (nodeId: number, message: string): Promise<void> => {
    await sink.row('db_dblog', [
      randomUUID(),
      stamp,
      'aiida.orm.nodes.process.workflow.workchain.WorkChainNode',
      'REPORT',
      nodeId,
      message,
      '{}',
    ]);
  };

  // the parameter sweep: one type with up to 100,000 members
  for (let i = 0; i < floats; i++)
    await node('data.core.float.Float.', { value: ((i * 7919) % 100_000) / 100 });
  const codes: number[] = [];
  for (let i = 0; i < CODES; i++) {
    codes.push(
      await node(
        'data.core.code.installed.InstalledCode.',
        {
          filepath_executable: `/usr/bin/pw${i}.x`,
          input_plugin: 'quantumespresso.pw',
          prepend_text: '',
          append_text: '',
          use_double_quotes: false,
          with_mpi: true,
          wrap_cmdline_params: false,
        },
        { label: `pw-${i}`, computer: true },
      ),
    );
  }

  const process = (state: string, label: string, extra: Record<string, unknown> = {}) => ({
    process_state: state,
    process_label: label,
    sealed: state === 'finished',
    ...(state === 'finished' ? { exit_status: 0 } : {}),
    version: { core: '2.6.3', plugin: '4.0.0' },
    ...extra,
  });
  const facts = { deep: { workchain: 0, root: 0, leaf: 0 }, calcjob: 0 };

  for (let unit = 0; unit < units; unit++) {
    stamp = ctx.time(startMs + Math.floor(((unit + 1) * YEAR_MS) / units));
    const active = unit >= units - ACTIVE_UNITS;
    const state = (running: string) => (active ? running : 'finished');
    const deep = unit % DEEP_EVERY === DEEP_EVERY - 1;
    const group = ctx.groupIds[unit % ctx.groupIds.length]!;

    const structure = await node('data.core.structure.StructureData.', {
      cell: [
        [5.43, 0, 0],
        [0, 5.43, 0],
        [0, 0, 5.43 + (unit % 100) / 1000],
      ],
      pbc1: true,
      pbc2: true,
      pbc3: true,
      kinds: [{ name: 'Si', mass: 28.0855, symbols: ['Si'], weights: [1] }],
      sites: [
        { kind_name: 'Si', position: [0, 0, 0] },
        { kind_name: 'Si', position: [1.3575, 1.3575, 1.3575] },
      ],
    });
    const parameters = await node('data.core.dict.Dict.', {
      CONTROL: { calculation: 'scf', tprnfor: true },
      SYSTEM: { ecutwfc: 30 + (unit % 40), ecutrho: 240 },
      ELECTRONS: { conv_thr: 1e-8 },
    });
    const x = await node('data.core.int.Int.', { value: unit });
    const w0 = await node(
      'process.workflow.workchain.WorkChainNode.',
      process(state('waiting'), deep ? 'DeepRelaxWorkChain' : 'PwBandsWorkChain', {
        stepper_state_info: '2:run_calc',
      }),
      { processType: 'aiida.workflows:quantumespresso.pw.bands' },
    );
    await link(structure, w0, 'input_work', 'structure');
    await link(parameters, w0, 'input_work', 'parameters');
    await link(x, w0, 'input_work', 'x');
    await sink.row('db_dbgroup_dbnodes', [w0, group]);
    await log(w0, `[${w0}|PwBandsWorkChain|setup]: starting`);

    if (deep) {
      facts.deep.workchain = w0;
      facts.deep.root = x;
      let caller = w0;
      let value = x;
      for (let level = 1; level < DEEP_LEVELS; level++) {
        const wk = await node(
          'process.workflow.workchain.WorkChainNode.',
          process(state('waiting'), 'RelaxStepWorkChain', { stepper_state_info: '1:step' }),
          { processType: 'aiida.workflows:core.relax_step' },
        );
        await link(caller, wk, 'call_work', `CALL`);
        await link(value, wk, 'input_work', 'x');
        const f = await node(
          'process.calculation.calcfunction.CalcFunctionNode.',
          process(state('running'), 'add_one'),
          { processType: 'aiida.calculations:core.add_one' },
        );
        await link(wk, f, 'call_calc', 'CALL');
        await link(value, f, 'input_calc', 'x');
        const y = await node('data.core.int.Int.', { value: unit + level });
        await link(f, y, 'create', 'result');
        await link(wk, y, 'return', 'result');
        caller = wk;
        value = y;
      }
      facts.deep.leaf = value;
      continue;
    }

    const w1 = await node(
      'process.workflow.workchain.WorkChainNode.',
      process(state('waiting'), 'PwBaseWorkChain', { stepper_state_info: '1:run_process' }),
      { processType: 'aiida.workflows:quantumespresso.pw.base' },
    );
    await link(w0, w1, 'call_work', 'CALL');
    await link(structure, w1, 'input_work', 'pw__structure');
    await link(parameters, w1, 'input_work', 'pw__parameters');
    const f = await node(
      'process.calculation.calcfunction.CalcFunctionNode.',
      process('finished', 'double'),
      { processType: 'aiida.calculations:core.double' },
    );
    await link(w1, f, 'call_calc', 'CALL');
    await link(x, f, 'input_calc', 'x');
    const y = await node('data.core.int.Int.', { value: unit * 2 });
    await link(f, y, 'create', 'result');
    const submit = objectOf(`#!/bin/bash\n#SBATCH --job-name=aiida-${unit}\nmpirun pw.x -in aiida.in\n`);
    const job = await node(
      'process.calculation.calcjob.CalcJobNode.',
      process(state('running'), 'PwCalculation', {
        job_id: String(100_000 + unit),
        scheduler_state: active ? 'running' : 'done',
        remote_workdir: `/scratch/aiida/${unit % 100}/${unit}`,
        resources: { num_machines: 1, num_mpiprocs_per_machine: 4 },
        parser_name: 'quantumespresso.pw',
      }),
      {
        processType: 'aiida.calculations:quantumespresso.pw',
        computer: true,
        files: { '_aiidasubmit.sh': submit },
      },
    );
    if (unit === 0 || facts.calcjob === 0) facts.calcjob = job;
    await link(w1, job, 'call_calc', 'CALL');
    await link(structure, job, 'input_calc', 'structure');
    await link(parameters, job, 'input_calc', 'parameters');
    await link(codes[unit % CODES]!, job, 'input_calc', 'code');
    await link(y, job, 'input_calc', 'nbnd');
    await log(job, `submitted job ${100_000 + unit}`);
    await log(job, `retrieved the files of job ${100_000 + unit}`);
    const energy = -15.8 - (unit % 1000) / 1e4;
    const output = await node('data.core.dict.Dict.', {
      energy,
      energy_units: 'eV',
      wall_time_seconds: 10 + (unit % 50),
    });
    await link(job, output, 'create', 'output_parameters');
    const remote = await node(
      'data.core.remote.RemoteData.',
      { remote_path: `/scratch/aiida/${unit % 100}/${unit}` },
      { computer: true },
    );
    await link(job, remote, 'create', 'remote_folder');
    const retrieved = await node(
      'data.core.folder.FolderData.',
      {},
      {
        files: {
          'aiida.out': objectOf(`Program PWSCF\n!    total energy = ${energy * 2} Ry\nJOB DONE ${unit}\n`),
          '_scheduler-stdout.txt': SCHEDULER_STDOUT,
        },
      },
    );
    await link(job, retrieved, 'create', 'retrieved');
    const g = await node(
      'process.calculation.calcfunction.CalcFunctionNode.',
      process('finished', 'extract_energy'),
      { processType: 'aiida.calculations:core.extract_energy' },
    );
    await link(w1, g, 'call_calc', 'CALL');
    await link(output, g, 'input_calc', 'parameters');
    const e = await node('data.core.float.Float.', { value: energy });
    await link(g, e, 'create', 'result');
    await sink.row('db_dbgroup_dbnodes', [e, group]);
    await link(w1, output, 'return', 'output_parameters');
    await link(w1, e, 'return', 'energy');
    await link(w0, e, 'return', 'energy');
  }
  return {
    nodes: nextId - ctx.firstNodeId,
    links,
    units,
    floats,
    groupIds: ctx.groupIds,
    ...facts,
    newest: new Date(ctx.endMs).toISOString(),
  };
}
