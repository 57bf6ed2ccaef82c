/**
 * Scale benchmark: `tsx bench/scale.ts [--size 1e5|1e6|1e7] [--backend sqlite|postgres] [--runs 5] [--rebuild]`
 * (through the package's bench script: `pnpm --filter aiida-ts bench scale -- --size 1e6`).
 *
 * Builds (once; cached under `~/.cache/aiida-ts/scale`, or `AIIDA_TS_SCALE_CACHE`) a realistic profile of the
 * given number of nodes — data of several types, work chains calling work chains, calcfunctions and calcjobs
 * with links in aiida-core's shapes, call depth up to 20, groups, logs, repository files (see scale/graph.ts) —
 * then times what users do every minute, each beside its floor measured in the same run:
 * - in-process figures (the QueryBuilder, the commands' query functions) against raw SQL on the driver;
 * - the built `verdi` executable against `node -e ''` (the least any Node program costs to start);
 * - storeMany against raw multi-row inserts, repository maintenance against copying the same bytes.
 * It prints the median of several runs, the ratio, and, from the results of earlier runs of other sizes kept
 * beside the cached profiles, how each figure grew from the smallest size measured to the largest.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE_ROOT, ensureProfile, type Backend, type BuiltProfile } from './scale/build.js';
import { openRaw } from './scale/raw.js';

function argument(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? (process.argv[index + 1] ?? fallback) : fallback;
}
const SIZE = Number(argument('size', '1e5'));
const BACKEND = argument('backend', 'sqlite') as Backend;
const RUNS = Number(argument('runs', '5'));
const REBUILD = process.argv.includes('--rebuild');
const ONLY = argument('only', '');
if (!Number.isFinite(SIZE) || SIZE < 1000)
  throw new Error(`--size must be a number of nodes >= 1000, not ${String(SIZE)}`);
if (BACKEND !== 'sqlite' && BACKEND !== 'postgres')
  throw new Error(`--backend must be sqlite or postgres, not ${String(BACKEND)}`);

const VERDI = join(import.meta.dirname, '..', 'dist', 'bin', 'verdi.js');

interface Figure {
  readonly name: string;
  readonly ours: number;
  readonly floor: number;
  readonly unit: 'ms' | 'nodes/s';
  readonly note: string;
}

function middle(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Medians of `ours` and `floor` measured alternately (so a busy moment of the shared machine hits both alike), each
 * going first in every other pair (the first of a pair may find the pages it reads evicted by the machine's other
 * work since the last pair, its follower finds them read): at least `runs` pairs, more for quick workloads (until
 * about a second was spent, at most 25 pairs).
 */
async function paired(
  ours: () => unknown,
  floor: () => unknown,
  runs = RUNS,
): Promise<{ ours: number; floor: number }> {
  await ours();
  await floor();
  const a: number[] = [];
  const b: number[] = [];
  const started = performance.now();
  const timed = async (run: () => unknown, into: number[]): Promise<void> => {
    const start = performance.now();
    await run();
    into.push(performance.now() - start);
  };
  while (a.length < runs || (a.length < 25 && performance.now() - started < 1000)) {
    if (a.length % 2 === 0) {
      await timed(ours, a);
      await timed(floor, b);
    } else {
      await timed(floor, b);
      await timed(ours, a);
    }
  }
  return { ours: middle(a), floor: middle(b) };
}

function check(what: string, ours: unknown, floor: unknown): void {
  if (JSON.stringify(ours) !== JSON.stringify(floor))
    throw new Error(`${what}: aiida-ts gave ${JSON.stringify(ours)}, the floor ${JSON.stringify(floor)}`);
}

async function main(): Promise<void> {
  const profile = await ensureProfile(BACKEND, SIZE, REBUILD);
  const { facts } = profile;
  console.log(
    `${BACKEND} profile of ${facts.nodes.toLocaleString('en')} nodes, ${facts.links.toLocaleString('en')} links, ${facts.units.toLocaleString('en')} workflows (built in ${profile.buildSeconds.toFixed(0)} s)`,
  );
  process.env.AIIDA_TS_PATH = profile.configDir;
  const { loadProfile } = await import('../src/config/load-profile.js');
  const { getStorage } = await import('../src/storage/context.js');
  const orm = await import('../src/orm.js');
  const { QueryBuilder } = await import('../src/querybuilder/query-builder.js');
  const { queryProcesses } = await import('../src/cmdline/process/list-query.js');
  const { queriedFields } = await import('../src/cmdline/process/projections.js');
  const { formatNodeInfo } = await import('../src/tools/process-info/node-info.js');
  const { buildCallTree } = await import('../src/tools/process-info/call-graph.js');
  await loadProfile(profile.profileName);
  const storage = getStorage();
  const raw = await openRaw(profile);
  const pg = raw.dialect === 'postgres';
  const figures: Figure[] = [];
  // `--only a,b`: the figures whose names contain any of the comma-separated parts
  const wanted = (name: string): boolean =>
    ONLY === '' || ONLY.split(',').some((part) => part !== '' && name.includes(part));
  const add = async (
    name: string,
    ours: () => Promise<unknown>,
    floor: () => Promise<unknown>,
    note = '',
    runs = RUNS,
  ): Promise<void> => {
    if (!wanted(name)) return;
    figures.push({
      name,
      ...(await paired(ours, floor, runs)),
      unit: 'ms',
      note,
    });
    const f = figures[figures.length - 1]!;
    console.log(
      `  ${name}: ${f.ours.toFixed(1)} ms vs ${f.floor.toFixed(1)} ms (${(f.ours / f.floor).toFixed(2)}×)`,
    );
  };
  const attr = (key: string): string =>
    pg ? `(n.attributes ->> '${key}')` : `json_extract(n.attributes, '$."${key}"')`;
  // a type prefix as the planner best uses the index on node_type (LIKE is case-insensitive on SQLite by default)
  const typeIs = (prefix: string): string =>
    pg ? `n.node_type like '${prefix}%'` : `n.node_type glob '${prefix}*'`;
  // as the QueryBuilder: without `+`, SQLite may walk by the index on `type` instead of input_id/output_id
  const linkType = (alias: string): string => (pg ? `${alias}.type` : `+${alias}.type`);
  const ts = (column: string): string => (pg ? `${column}::text` : column);

  // verdi process list: default (the active processes) and `-a -p 1`
  const newest = new Date(facts.newest);
  // the fields the command's query function reads (every column `-P` can show), read as a careful program would
  // and turned into the same row objects (timestamps as Dates, JSON booleans as booleans), so that the floor does
  // the work the command needs and the two give equal rows; the values of one JSON document in one expression (a
  // multi-path json_extract on SQLite, jsonb_build_array on PostgreSQL: one value to decode per row instead of one
  // per key, cheaper on both than a column per key)
  const listFields = queriedFields();
  const plainFields = listFields.filter((field) => !field.includes('.'));
  const documents = new Map<string, { field: string; key: string }[]>();
  for (const field of listFields) {
    const [column = '', key] = field.split('.');
    if (key === undefined) continue;
    const keys = documents.get(column) ?? [];
    keys.push({ field, key });
    documents.set(column, keys);
  }
  const documentExpression = (column: string, keys: readonly { key: string }[]): string =>
    pg
      ? `jsonb_build_array(${keys.map(({ key }) => `n.${column} -> '${key}'`).join(', ')})`
      : `json_extract(n.${column}, ${keys.map(({ key }) => `'$."${key}"'`).join(', ')})`;
  const listColumns = [
    ...plainFields.map((field) => `n.${field}`),
    ...[...documents].map(([column, keys]) => documentExpression(column, keys)),
  ].join(', ');
  const booleanFields = new Set(['attributes.sealed', 'attributes.paused']);
  const listRows = (rows: unknown[][]): Record<string, unknown>[] =>
    rows.map((row) => {
      // keys in the command's order (the rows are compared as JSON text)
      const out: Record<string, unknown> = {};
      for (const field of listFields) out[field] = null;
      const put = (field: string, read: unknown): void => {
        let value = read ?? null;
        if (value !== null && !pg && field.endsWith('time'))
          value = new Date(`${(value as string).replace(' ', 'T')}Z`);
        else if (value !== null && !pg && booleanFields.has(field)) value = value === true || value === 1;
        out[field] = value;
      };
      let at = 0;
      for (const field of plainFields) put(field, row[at++]);
      for (const keys of documents.values()) {
        const cell = row[at++];
        const values = (pg ? cell : typeof cell === 'string' ? JSON.parse(cell) : null) as unknown[] | null;
        keys.forEach(({ field }, i) => put(field, values?.[i]));
      }
      return out;
    });
  const listRaw = `select ${listColumns} from db_dbnode as n where ${typeIs('process.')} and ${attr('process_state')} in ('created', 'waiting', 'running') order by n.ctime, n.id`;
  const pastDay = new Date(newest.getTime() - 86_400_000);
  const pastRaw = `select ${listColumns} from db_dbnode as n where ${typeIs('process.')} and n.ctime > ${pg ? '$1::timestamptz' : '?'} order by n.ctime, n.id`;
  const pastParam = pg ? pastDay.toISOString() : pastDay.toISOString().replace('T', ' ').replace('Z', '');
  const listFloor = async () => listRows(await raw.all(listRaw));
  const pastFloor = async () => listRows(await raw.all(pastRaw, [pastParam]));
  check('process list rows', await queryProcesses({ storage }), await listFloor());
  check(
    'process list -a -p 1 rows',
    await queryProcesses({ storage, all: true, pastDays: 1, now: newest }),
    await pastFloor(),
  );
  const active = (await listFloor()).length;
  const recent = (await pastFloor()).length;
  await add(`process list (query; ${active} active)`, () => queryProcesses({ storage }), listFloor);
  await add(
    `process list -a -p 1 (query; ${recent} rows)`,
    () => queryProcesses({ storage, all: true, pastDays: 1, now: newest }),
    pastFloor,
  );

  // verdi node show of a calcjob: the node, its computer, its links both ways with the nodes at their other end, and
  // how many log records it has (what the command prints; before, the floor left out the computer and the log count,
  // which aiida-ts reads too). The floor reads only the columns the command prints and formats nothing.
  const nodeRaw = `select n.id, n.uuid, n.node_type, n.process_type, n.label, n.description, ${ts('n.ctime')}, ${ts('n.mtime')}, n.attributes, n.extras, n.repository_metadata, n.dbcomputer_id, n.user_id from db_dbnode as n where n.id = ${pg ? '$1' : '?'}`;
  const linkRaw = (into: 'input_id' | 'output_id', from: 'input_id' | 'output_id') =>
    `select l.label, l.type, n.id, n.uuid, n.node_type, n.process_type, n.label, ${ts('n.ctime')}, n.attributes from db_dblink as l join db_dbnode as n on n.id = l.${into} where l.${from} = ${pg ? '$1' : '?'}`;
  const incomingRaw = linkRaw('input_id', 'output_id');
  const outgoingRaw = linkRaw('output_id', 'input_id');
  const computerRaw = `select c.id, c.label from db_dbcomputer as c where c.id = ${pg ? '$1' : '?'}`;
  const logCountRaw = `select count(*) from db_dblog as g where g.dbnode_id = ${pg ? '$1' : '?'}`;
  await add(
    'node show of a calcjob (load + info)',
    async () => formatNodeInfo(await orm.loadNode(facts.calcjob)),
    async () => {
      const node = await raw.all(nodeRaw, [facts.calcjob]);
      const computerId = node[0]?.[11];
      return [
        node,
        computerId === null || computerId === undefined ? [] : await raw.all(computerRaw, [computerId]),
        await raw.all(incomingRaw, [facts.calcjob]),
        await raw.all(outgoingRaw, [facts.calcjob]),
        await raw.all(logCountRaw, [facts.calcjob]),
      ];
    },
  );

  // verdi process status of the deep workflow: the call tree, 20 levels, each process with its caller (to draw the
  // tree; before, the floor read the processes without it)
  const callTreeRaw = `with recursive tree(id, caller, depth) as (select ${pg ? '$1::integer, null::integer' : '?, null'}, 0 union all select l.output_id, t.id, t.depth + 1 from tree as t join db_dblink as l on l.input_id = t.id where ${linkType('l')} in ('call_calc', 'call_work')) select n.id, tree.caller, ${attr('process_label')}, ${attr('process_state')}, ${attr('exit_status')}, ${attr('stepper_state_info')}, n.node_type, ${ts('n.ctime')} from tree join db_dbnode as n on n.id = tree.id`;
  await add(
    'process status of a 20-deep workflow',
    async () => buildCallTree(await orm.loadNode<InstanceType<typeof orm.ProcessNode>>(facts.deep.workchain)),
    () => raw.all(callTreeRaw, [facts.deep.workchain]),
  );

  // QueryBuilder: count by type
  const countRaw = `select count(*) from db_dbnode as n where ${typeIs('process.calculation.calcjob.')}`;
  check(
    'count by type',
    await new QueryBuilder().append(orm.CalcJobNode).count(),
    Number((await raw.all(countRaw))[0]![0]),
  );
  await add(
    'QB count of CalcJobNode',
    () => new QueryBuilder().append(orm.CalcJobNode).count(),
    () => raw.all(countRaw),
  );

  // QueryBuilder: attribute filter and projection over the Float sweep (up to 100,000 members)
  const filterRaw = pg
    ? `select count(*) from db_dbnode as n where ${typeIs('data.core.float.')} and (n.attributes ->> 'value')::double precision > 500`
    : `select count(*) from db_dbnode as n where ${typeIs('data.core.float.')} and json_extract(n.attributes, '$.value') > 500`;
  const filterQb = () =>
    new QueryBuilder().append(orm.Float, { filters: { 'attributes.value': { '>': 500 } } }).count();
  check('attribute filter', await filterQb(), Number((await raw.all(filterRaw))[0]![0]));
  const floats = Number(
    (await raw.all(`select count(*) from db_dbnode as n where ${typeIs('data.core.float.')}`))[0]![0],
  );
  await add(`QB attribute filter over ${floats.toLocaleString('en')} Floats`, filterQb, () =>
    raw.all(filterRaw),
  );
  const projectRaw = pg
    ? `select n.attributes -> 'value' from db_dbnode as n where ${typeIs('data.core.float.')}`
    : `select json_extract(n.attributes, '$.value') from db_dbnode as n where ${typeIs('data.core.float.')}`;
  await add(
    `QB projection of ${floats.toLocaleString('en')} values`,
    () => new QueryBuilder().append(orm.Float, { project: 'attributes.value' }).all({ flat: true }),
    () => raw.all(projectRaw),
  );

  // QueryBuilder: graph traversal from a leaf and from a root of the deep workflow's data provenance
  const walkRaw = (direction: 'descendants' | 'ancestors') => {
    const [from, to] = direction === 'descendants' ? ['input_id', 'output_id'] : ['output_id', 'input_id'];
    return `with recursive walk(id) as (select l.${to} from db_dblink as l where l.${from} = ${pg ? '$1' : '?'} and ${linkType('l')} in ('create', 'input_calc') union select l.${to} from walk join db_dblink as l on l.${from} = walk.id where ${linkType('l')} in ('create', 'input_calc')) select n.id from walk ${pg ? 'join' : 'cross join'} db_dbnode as n on n.id = walk.id`;
  };
  for (const [label, start, keyword, direction] of [
    ['withDescendants of a leaf (its ancestors)', facts.deep.leaf, 'withDescendants', 'ancestors'],
    ['withAncestors of a root (its descendants)', facts.deep.root, 'withAncestors', 'descendants'],
    ['withAncestors of a leaf (none)', facts.deep.leaf, 'withAncestors', 'descendants'],
    ['withDescendants of a root (none)', facts.deep.root, 'withDescendants', 'ancestors'],
  ] as const) {
    const qb = () =>
      new QueryBuilder()
        .append(orm.Node, { tag: 'start', filters: { id: start } })
        .append(orm.Node, { [keyword]: 'start', project: 'id' })
        .distinct()
        .all({ flat: true });
    const rawText = walkRaw(direction);
    const sorted = (rows: unknown[]) => rows.map(Number).sort((a, b) => a - b);
    check(label, sorted(await qb()), sorted((await raw.all(rawText, [start])).map((r) => r[0])));
    const n = (await raw.all(rawText, [start])).length;
    await add(`QB ${label}: ${n} nodes`, qb, () => raw.all(rawText, [start]));
  }

  // QueryBuilder: group membership, both ways
  const group = facts.groupIds[0]!;
  const membersRaw = `select count(*) from db_dbgroup_dbnodes as m join db_dbnode as n on n.id = m.dbnode_id where m.dbgroup_id = ${pg ? '$1' : '?'}`;
  const membersQb = () =>
    new QueryBuilder()
      .append(orm.Group, { tag: 'g', filters: { id: group } })
      .append(orm.Node, { withGroup: 'g' })
      .count();
  check('group members', await membersQb(), Number((await raw.all(membersRaw, [group]))[0]![0]));
  await add(`QB count of a group's ${(await membersQb()).toLocaleString('en')} nodes`, membersQb, () =>
    raw.all(membersRaw, [group]),
  );
  const groupsRaw = `select g.id, g.label from db_dbgroup_dbnodes as m join db_dbgroup as g on g.id = m.dbgroup_id where m.dbnode_id = ${pg ? '$1' : '?'}`;
  const member = facts.deep.workchain;
  await add(
    'QB groups of a node',
    () =>
      new QueryBuilder()
        .append(orm.Node, { tag: 'n', filters: { id: member } })
        .append(orm.Group, { withNode: 'n', project: ['id', 'label'] })
        .all(),
    () => raw.all(groupsRaw, [member]),
  );

  // iterall over up to 1,000,000 rows, memory bounded
  if (wanted('iterall')) {
    const limitId = Number((await raw.all(`select min(id) + 999999 from db_dbnode`))[0]![0]);
    const iterRaw = `select n.id, n.uuid from db_dbnode as n where n.id <= ${limitId}`;
    let heapPeak = 0;
    let rows = 0;
    const iterate = async (): Promise<void> => {
      rows = 0;
      for await (const _row of new QueryBuilder()
        .append(orm.Node, { filters: { id: { '<=': limitId } }, project: ['id', 'uuid'] })
        .iterall({ batchSize: 1000 })) {
        if (++rows % 50_000 === 0) heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
      }
    };
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    const runs = Math.max(1, Math.min(RUNS, 3));
    const { ours, floor } = await paired(iterate, () => raw.iterate(iterRaw, () => undefined), runs);
    globalThis.gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    const mb = (n: number) => `${(n / 1e6).toFixed(0)} MB`;
    figures.push({
      name: `QB iterall over ${rows.toLocaleString('en')} rows`,
      ours,
      floor,
      unit: 'ms',
      note: `heap ${mb(heapBefore)} before, ${mb(heapPeak)} peak, ${mb(heapAfter)} after`,
    });
    console.log(
      `  iterall: ${ours.toFixed(0)} ms vs ${floor.toFixed(0)} ms; ${figures[figures.length - 1]!.note}`,
    );
  }

  // storeMany throughput: 20,000 Int nodes, then removed again so the cached profile keeps its size
  if (wanted('storeMany')) {
    const count = 20_000;
    const before = Number((await raw.all('select max(id) from db_dbnode'))[0]![0]);
    const cleanup = async (): Promise<void> => {
      await storage.executor().deleteFrom('db_dbnode').where('id', '>', before).execute();
    };
    const stamp = storage.dialect.encodeTimestamp(new Date());
    const userId = (await orm.User.getDefault({ storage })).pk!;
    const rows = Array.from({ length: count }, (_, i) => ({
      uuid: crypto.randomUUID(),
      node_type: 'data.core.int.Int.',
      process_type: null,
      label: '',
      description: '',
      ctime: stamp,
      mtime: stamp,
      attributes: JSON.stringify({ value: i }),
      extras: '{}',
      repository_metadata: '{}',
      dbcomputer_id: null,
      user_id: userId,
    }));
    const times = { ours: [] as number[], floor: [] as number[] };
    // CPU time of this process too: on a shared machine wall time swings with the load, and on SQLite the database's
    // own work runs in this process (PostgreSQL's does not: there only wall time tells)
    const cpu = { ours: [] as number[], floor: [] as number[] };
    const cpuMs = (since: NodeJS.CpuUsage): number => {
      const used = process.cpuUsage(since);
      return (used.user + used.system) / 1000;
    };
    for (let run = 0; run < Math.max(3, Math.min(RUNS, 5)); run++) {
      const nodes = Array.from({ length: count }, (_, i) => new orm.Int(i));
      let start = performance.now();
      let cpuStart = process.cpuUsage();
      for (let i = 0; i < count; i += 10_000) await orm.Node.storeMany(nodes.slice(i, i + 10_000));
      times.ours.push(performance.now() - start);
      cpu.ours.push(cpuMs(cpuStart));
      await cleanup();
      for (const row of rows) row.uuid = crypto.randomUUID();
      start = performance.now();
      cpuStart = process.cpuUsage();
      for (let i = 0; i < count; i += 10_000)
        await storage.bulkInsert('db_dbnode', rows.slice(i, i + 10_000));
      times.floor.push(performance.now() - start);
      cpu.floor.push(cpuMs(cpuStart));
      await cleanup();
    }
    const perSecond = (ms: number): string => `${Math.round(count / (ms / 1000)).toLocaleString('en')}/s`;
    figures.push({
      name: `storeMany of ${count.toLocaleString('en')} Int nodes`,
      ours: count / (middle(times.ours) / 1000),
      floor: count / (middle(times.floor) / 1000),
      unit: 'nodes/s',
      note:
        'floor: the same rows as multi-row INSERTs; ' +
        `per CPU second ${perSecond(middle(cpu.ours))} vs ${perSecond(middle(cpu.floor))} ` +
        `(${(middle(cpu.ours) / middle(cpu.floor)).toFixed(2)}×)`,
    });
    console.log(
      `  storeMany: ${figures[figures.length - 1]!.ours.toFixed(0)} nodes/s; ${figures[figures.length - 1]!.note}`,
    );
  }

  // repository maintenance: pack 2,000 new loose objects, against reading them and appending them to a file
  if (wanted('maintain')) {
    const count = 2000;
    const objects = () => Array.from({ length: count }, () => randomBytes(2048));
    const times = { ours: [] as number[], floor: [] as number[] };
    for (let run = 0; run < 3; run++) {
      for (const bytes of objects()) await storage.repository.putObjectFromBuffer(bytes);
      let start = performance.now();
      await storage.maintain({ live: true });
      times.ours.push(performance.now() - start);
      const folder = mkdtempSync(join(tmpdir(), 'aiida-scale-raw-'));
      const files = objects().map((bytes, i) => {
        const file = join(folder, `o${i}`);
        writeFileSync(file, bytes);
        return file;
      });
      start = performance.now();
      const fd = openSync(join(folder, 'pack'), 'a');
      for (const file of files) {
        writeSync(fd, readFileSync(file));
        rmSync(file);
      }
      fsyncSync(fd);
      closeSync(fd);
      times.floor.push(performance.now() - start);
      rmSync(folder, { recursive: true, force: true });
    }
    figures.push({
      name: `repository maintain (pack ${count} loose objects)`,
      ours: middle(times.ours),
      floor: middle(times.floor),
      unit: 'ms',
      note: 'floor: read each file, append to one pack, fsync, unlink',
    });
  }

  await raw.close();
  await storage.close();

  // the built CLI against starting node itself
  if ((ONLY === '' || ONLY.includes('verdi')) && existsSync(VERDI)) {
    const env = { ...process.env, AIIDA_TS_PATH: profile.configDir };
    const run = (args: readonly string[]) => () => {
      const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${String(result.stderr)}`);
    };
    const baseline = run(['-e', '']);
    const verdi = (...args: string[]) => run([VERDI, '-p', profile.profileName, ...args]);
    for (const [name, command] of [
      ['verdi process list', verdi('process', 'list')],
      ['verdi process list -a -p 1', verdi('process', 'list', '-a', '-p', '1')],
      ['verdi status', verdi('status')],
      ['verdi node show <calcjob>', verdi('node', 'show', String(facts.calcjob))],
      ['verdi process status <deep workflow>', verdi('process', 'status', String(facts.deep.workchain))],
    ] as const) {
      // `--only verdi` runs them all; `--only 'verdi process list'` only that one
      if (!wanted(`${name} (CLI)`)) continue;
      figures.push({
        name: `${name} (CLI)`,
        ...(await paired(command, baseline, Math.min(RUNS, 5))),
        unit: 'ms',
        note: "floor: node -e ''",
      });
      console.log(`  ${name}: ${figures[figures.length - 1]!.ours.toFixed(0)} ms`);
    }
  }

  report(profile, figures);
}

function report(profile: BuiltProfile, figures: readonly Figure[]): void {
  const fmt = (f: Figure, value: number) =>
    f.unit === 'ms'
      ? `${value.toFixed(value < 10 ? 2 : 1)} ms`
      : `${Math.round(value).toLocaleString('en')}/s`;
  // ratio: how many times the floor's cost (for a throughput, the floor's rate over ours)
  const ratio = (f: Figure) => (f.unit === 'ms' ? f.ours / f.floor : f.floor / f.ours);
  const results = join(CACHE_ROOT, 'results.json');
  const all = (existsSync(results) ? JSON.parse(readFileSync(results, 'utf8')) : {}) as Record<
    string,
    Record<string, number>
  >;
  // a partial run (`--only`) updates only its own figures
  all[`${profile.backend}:${profile.size}`] = {
    ...all[`${profile.backend}:${profile.size}`],
    ...Object.fromEntries(figures.map((f) => [stripCounts(f.name), f.ours])),
  };
  writeFileSync(results, JSON.stringify(all, null, 2));
  const sizes = Object.keys(all)
    .filter((k) => k.startsWith(`${profile.backend}:`))
    .map((k) => Number(k.split(':')[1]))
    .sort((a, b) => a - b);
  const smallest = sizes[0]!;
  const growthOf = (f: Figure): string => {
    if (smallest === profile.size) return '';
    const then = all[`${profile.backend}:${smallest}`]?.[stripCounts(f.name)];
    if (then === undefined) return '';
    return `${(f.unit === 'ms' ? f.ours / then : then / f.ours).toFixed(2)}×`;
  };
  const growthHeader = smallest === profile.size ? '' : `from ${smallest.toExponential(0)}`;
  console.log(
    `\n${profile.backend}, ${profile.facts.nodes.toLocaleString('en')} nodes (median of ${RUNS} runs)\n` +
      `| workload | aiida-ts | floor | ratio | growth ${growthHeader} | note |\n|---|---:|---:|---:|---:|---|`,
  );
  for (const f of figures) {
    console.log(
      `| ${f.name} | ${fmt(f, f.ours)} | ${fmt(f, f.floor)} | ${ratio(f).toFixed(2)}× | ${growthOf(f)} | ${f.note} |`,
    );
  }
}

/** A workload's name without the counts that change with the size, to match it across sizes. */
function stripCounts(name: string): string {
  return name
    .replace(/[\d,]+ (rows|nodes|active|Floats|values|Int nodes)/g, 'N $1')
    .replace(/; \d+ /g, '; N ');
}

await main();
