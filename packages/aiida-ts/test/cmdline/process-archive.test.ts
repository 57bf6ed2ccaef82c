import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { getStorage } from '../../src/storage/context.js';
import { FIXTURES, readExpected, readZip, type ExpectedArchive } from '../orm/archive-fixtures.js';
import { describeResult, verdiSandbox, type VerdiResult } from './verdi-process.js';

/**
 * `verdi process` on the provenance graphs aiida-core 2.8 wrote (the fixture archives): the rows of each archive's
 * database are copied into a fresh SQLite profile (pks shifted, users and computers matched), and every expectation
 * is derived from the archive's `expected.json`, which aiida-core itself produced.
 */
const sandbox = verdiSandbox('aiida-ts-verdi-process-archive-');
const verdi = (args: readonly string[]): Promise<VerdiResult> => sandbox.verdi(args, { env: { TZ: 'UTC' } });

const ARCHIVES = ['workchains', 'calcfunctions', 'calcjob'] as const;
type ArchiveName = (typeof ARCHIVES)[number];
type ExpectedNode = ExpectedArchive['nodes'][number];

interface Loaded {
  readonly expected: ExpectedArchive;
  /** pk in the profile, by uuid. */
  readonly pkOf: Map<string, number>;
  /** pk in the profile of each log record, by uuid. */
  readonly logPkOf: Map<string, number>;
}
const loaded = new Map<ArchiveName, Loaded>();

/** Copies the rows of an archive's database into the profile database (which no one else has open now). */
function copyArchive(profileDb: string, archiveDb: string, index: number): Pick<Loaded, 'pkOf' | 'logPkOf'> {
  const db = new Database(profileDb);
  try {
    db.prepare('ATTACH DATABASE ? AS arc').run(archiveDb);
    const nodeOffset = (index + 1) * 1000;
    const logOffset = (index + 1) * 100;
    db.transaction(() => {
      db.exec(`INSERT OR IGNORE INTO main.db_dbuser (email, first_name, last_name, institution)
               SELECT email, first_name, last_name, institution FROM arc.db_dbuser`);
      // presto made a `localhost` already: an imported computer of the same label gets a suffix, as on import.
      db.exec(`INSERT INTO main.db_dbcomputer (uuid, label, hostname, description, scheduler_type, transport_type, metadata)
               SELECT c.uuid, c.label || '-${index}', c.hostname, c.description, c.scheduler_type, c.transport_type, c.metadata
               FROM arc.db_dbcomputer c WHERE c.uuid NOT IN (SELECT uuid FROM main.db_dbcomputer)`);
      db.exec(`INSERT INTO main.db_dbnode (id, uuid, node_type, process_type, label, description, ctime, mtime, attributes,
                 extras, repository_metadata, dbcomputer_id, user_id)
               SELECT n.id + ${nodeOffset}, n.uuid, n.node_type, n.process_type, n.label, n.description, n.ctime, n.mtime,
                 n.attributes, n.extras, n.repository_metadata,
                 (SELECT mc.id FROM main.db_dbcomputer mc JOIN arc.db_dbcomputer ac ON ac.uuid = mc.uuid
                  WHERE ac.id = n.dbcomputer_id),
                 (SELECT mu.id FROM main.db_dbuser mu JOIN arc.db_dbuser au ON au.email = mu.email WHERE au.id = n.user_id)
               FROM arc.db_dbnode n`);
      db.exec(`INSERT INTO main.db_dblink (input_id, output_id, label, type)
               SELECT input_id + ${nodeOffset}, output_id + ${nodeOffset}, label, type FROM arc.db_dblink`);
      db.exec(`INSERT INTO main.db_dblog (id, uuid, time, loggername, levelname, dbnode_id, message, metadata)
               SELECT id + ${logOffset}, uuid, time, loggername, levelname, dbnode_id + ${nodeOffset}, message, metadata
               FROM arc.db_dblog`);
    })();
    const pkOf = new Map(
      (db.prepare('SELECT uuid, id FROM arc.db_dbnode').all() as { uuid: string; id: number }[]).map(
        (row) => [row.uuid, row.id + nodeOffset],
      ),
    );
    const logPkOf = new Map(
      (db.prepare('SELECT uuid, id FROM arc.db_dblog').all() as { uuid: string; id: number }[]).map((row) => [
        row.uuid,
        row.id + logOffset,
      ]),
    );
    return { pkOf, logPkOf };
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  const created = await sandbox.verdi(['presto']);
  expect(created.code, describeResult(created)).toBe(0);
  const config = JSON.parse(readFileSync(join(sandbox.configDir, 'config.json'), 'utf8')) as {
    profiles: Record<string, { storage: { config: { filepath: string } } }>;
  };
  const profileDb = join(config.profiles.presto!.storage.config.filepath, 'database.sqlite');
  const objects = new Map<string, Buffer>();
  for (const [index, name] of ARCHIVES.entries()) {
    const entries = await readZip(join(FIXTURES, `${name}.aiida`));
    const archiveDb = join(sandbox.base, `${name}.sqlite3`);
    writeFileSync(archiveDb, entries.get('db.sqlite3')!);
    for (const [entry, content] of entries)
      if (entry.startsWith('repo/')) objects.set(entry.slice(5), content);
    loaded.set(name, { expected: await readExpected(name), ...copyArchive(profileDb, archiveDb, index) });
  }
  // The repository objects the nodes refer to (the calculation job's retrieved files among them).
  setConfigDir(sandbox.configDir);
  await loadProfile();
  try {
    for (const [key, content] of objects)
      expect(await getStorage().repository.putObjectFromBuffer(content)).toBe(key);
  } finally {
    await unloadProfile();
    setConfigDir(undefined);
  }
});

afterAll(() => sandbox.cleanup());

function archive(name: ArchiveName): Loaded & {
  node(uuid: string): ExpectedNode;
  pk(uuid: string): number;
  processes(): ExpectedNode[];
  called(uuid: string): { node: ExpectedNode; label: string }[];
  caller(uuid: string): string | null;
} {
  const data = loaded.get(name)!;
  const nodes = new Map(data.expected.nodes.map((node) => [node.uuid, node]));
  const node = (uuid: string) => nodes.get(uuid)!;
  const callLinks = data.expected.links.filter(
    (link) => link.type === 'call_calc' || link.type === 'call_work',
  );
  return {
    ...data,
    node,
    pk: (uuid) => data.pkOf.get(uuid)!,
    processes: () => data.expected.nodes.filter((n) => n.node_type.startsWith('process.')),
    called: (uuid) =>
      callLinks
        .filter((link) => link.source === uuid)
        .map((link) => ({ node: node(link.target), label: link.label }))
        .sort((a, b) => a.node.ctime.localeCompare(b.node.ctime)),
    caller: (uuid) => callLinks.find((link) => link.target === uuid)?.source ?? null,
  };
}

const attr = (node: ExpectedNode, key: string): unknown => node.attributes[key] ?? null;
const asText = (value: unknown): string =>
  typeof value === 'string' || typeof value === 'number' ? String(value) : 'None';
const capitalise = (state: unknown) =>
  typeof state === 'string' ? state.charAt(0).toUpperCase() + state.slice(1) : 'None';

describe('verdi process on aiida-core archives', () => {
  it('list -a shows every process of the archives with its label, state and exit status', async () => {
    const result = await verdi([
      'process',
      'list',
      '-a',
      '-P',
      'pk',
      'uuid',
      'process_label',
      'process_state',
      'exit_status',
      'exit_message',
      'node_type',
      'sealed',
      '--json',
    ]);
    expect(result.code, describeResult(result)).toBe(0);
    const rows = result.json<Record<string, unknown>[]>();
    const expected = ARCHIVES.flatMap((name) => {
      const data = archive(name);
      return data.processes().map((node) => ({
        ctime: node.ctime,
        row: {
          pk: data.pk(node.uuid),
          uuid: node.uuid,
          process_label: attr(node, 'process_label'),
          process_state: attr(node, 'process_state'),
          exit_status: attr(node, 'exit_status'),
          exit_message: attr(node, 'exit_message'),
          node_type: node.node_type,
          sealed: attr(node, 'sealed') === true,
        },
      }));
    });
    // oldest first
    expected.sort((a, b) => a.ctime.localeCompare(b.ctime) || a.row.pk - b.row.pk);
    expect(rows).toEqual(expected.map((entry) => entry.row));
    const failed = await verdi(['process', 'list', '--failed', '-P', 'uuid', 'state', '--json']);
    expect(failed.json()).toEqual(
      archive('workchains')
        .processes()
        .filter((node) => attr(node, 'process_state') === 'finished' && Number(attr(node, 'exit_status')) > 0)
        .sort((a, b) => a.ctime.localeCompare(b.ctime))
        .map((node) => ({
          uuid: node.uuid,
          state: { process_state: 'finished', paused: false, exit_status: attr(node, 'exit_status') },
        })),
    );
    const active = await verdi(['process', 'list']);
    expect(active.stdout).toContain('Total results: 0');
  });

  it('status draws the call tree of every root process as aiida-core builds it', async () => {
    for (const name of ['workchains', 'calcfunctions'] as const) {
      const data = archive(name);
      for (const root of data.expected.root_processes) {
        const lines: string[] = [];
        const info = (node: ExpectedNode, link: string | null) => {
          const label = asText(attr(node, 'process_label'));
          const id =
            link !== null && link !== 'CALL' ? `${data.pk(node.uuid)} | ${link}` : String(data.pk(node.uuid));
          let line = `${label}<${id}> ${capitalise(attr(node, 'process_state'))}`;
          if (attr(node, 'exit_status') !== null) line += ` [${String(attr(node, 'exit_status'))}]`;
          if (attr(node, 'stepper_state_info')) line += ` [${String(attr(node, 'stepper_state_info'))}]`;
          return line;
        };
        const walk = (uuid: string, prefix: string) => {
          const children = data.called(uuid);
          children.forEach(({ node, label }, index) => {
            const last = index === children.length - 1;
            lines.push(`${prefix}${last ? '└── ' : '├── '}${info(node, label)}`);
            walk(node.uuid, `${prefix}${last ? '    ' : '│   '}`);
          });
        };
        lines.push(info(data.node(root.uuid), null));
        walk(root.uuid, '    ');
        const result = await verdi(['process', 'status', '-c', root.uuid]);
        expect(result.code, describeResult(result)).toBe(0);
        expect(result.stdout).toBe(`${lines.join('\n')}\n`);
      }
    }
  });

  it('report prints the records of a work chain and of the work chains it called, by time and depth', async () => {
    const data = archive('workchains');
    for (const root of data.expected.root_processes) {
      const depthOf = new Map<string, number>();
      const visit = (uuid: string, depth: number) => {
        depthOf.set(uuid, depth);
        for (const { node } of data.called(uuid))
          if (node.node_type.startsWith('process.workflow.workchain.')) visit(node.uuid, depth + 1);
      };
      visit(root.uuid, 0);
      const logs = data.expected.logs
        .filter((log) => depthOf.has(log.node_uuid))
        .sort((a, b) => a.time.localeCompare(b.time));
      expect(logs.length).toBeGreaterThan(0);
      const widthId = String(Math.max(...logs.map((log) => data.logPkOf.get(log.uuid)!))).length;
      const widthLevel = Math.max(...logs.map((log) => log.levelname.length));
      const expected = logs.map((log) => {
        const time = log.time.slice(0, 19).replace('T', ' ');
        const id = String(data.logPkOf.get(log.uuid)).padEnd(widthId);
        const indent = ' '.repeat(depthOf.get(log.node_uuid)! * 2);
        return `${time} [${id} | ${log.levelname.padStart(widthLevel)}]:${indent} ${log.message}`;
      });
      const result = await verdi(['process', 'report', root.uuid]);
      expect(result.code, describeResult(result)).toBe(0);
      expect(result.stdout).toBe(`${expected.join('\n')}\n`);
    }
  });

  it('show: the failed outer work chain with its exit message, nested inputs and called processes', async () => {
    const data = archive('workchains');
    const root = data.expected.root_processes.find((process) => (process.exit_status ?? 0) > 0)!;
    const result = await verdi(['process', 'show', root.uuid]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(
        `^state +Finished \\[${root.exit_status}\\] ${root.exit_message!.replace(/[()[\]]/g, '\\$&')}$`,
        'm',
      ),
    );
    const byLabel = new Map(root.inputs.map((input) => [input.label, data.pk(input.uuid)]));
    const inputs = result.stdout
      .slice(result.stdout.indexOf('\nInputs') + 1)
      .split('\n\n')[0]!
      .split('\n');
    expect(inputs.slice(2).map((line) => line.trim().split(/\s+/))).toEqual([
      ['inner'],
      ['x', String(byLabel.get('inner__x')), 'Int'],
      ['y', String(byLabel.get('inner__y')), 'Int'],
      ['do_extra', String(byLabel.get('do_extra')), 'Bool'],
      ['iterations', String(byLabel.get('iterations')), 'Int'],
    ]);
    const called = result.stdout
      .slice(result.stdout.indexOf('\nCalled') + 1)
      .split('\n\n')[0]!
      .split('\n');
    expect(called.slice(2).map((line) => line.trim().split(/\s+/))).toEqual(
      data
        .called(root.uuid)
        .map(({ node, label }) => [label, String(data.pk(node.uuid)), String(attr(node, 'process_label'))]),
    );
    const json = await verdi(['process', 'show', root.uuid, '--json']);
    const [document] = json.json<Record<string, unknown>[]>();
    expect(document).toMatchObject({
      uuid: root.uuid,
      process_label: root.process_label,
      exit_status: root.exit_status,
      exit_message: root.exit_message,
      caller: null,
      log_messages: data.expected.logs.filter((log) => log.node_uuid === root.uuid).length,
    });
    expect((document?.inputs as { uuid: string }[]).map((link) => link.uuid).sort()).toEqual(
      root.inputs.map((input) => input.uuid).sort(),
    );
  });

  it('call-root: the root process of every process of the archives', async () => {
    for (const name of ['workchains', 'calcfunctions'] as const) {
      const data = archive(name);
      const processes = data.processes();
      const rootOf = (uuid: string): string | null => {
        let current = data.caller(uuid);
        if (current === null) return null;
        for (let next = data.caller(current); next !== null; next = data.caller(current)) current = next;
        return current;
      };
      const result = await verdi(['process', 'call-root', ...processes.map((node) => node.uuid), '--json']);
      expect(result.code, describeResult(result)).toBe(0);
      expect(result.json()).toEqual(
        processes.map((node) => {
          const root = rootOf(node.uuid);
          return { pk: data.pk(node.uuid), root: root === null ? null : data.pk(root) };
        }),
      );
    }
  });

  it('a workfunction and its calcfunctions: show, report, status', async () => {
    const data = archive('calcfunctions');
    const root = data.expected.root_processes.find((process) => process.process_label === 'add_mul')!;
    const show = await verdi(['process', 'show', root.uuid]);
    expect(show.code, describeResult(show)).toBe(0);
    expect(show.stdout).toMatch(/^type +add_mul$/m);
    expect(show.stdout).toMatch(/^label +fixture-add_mul$/m);
    const result = root.outputs.find((output) => output.type === 'return')!;
    expect(show.stdout).toMatch(
      new RegExp(`^Outputs +PK {2}Type\\n-+ {2}-+ {2}-+\\nresult +${data.pk(result.uuid)} {2}Int$`, 'm'),
    );
    const report = await verdi(['process', 'report', root.uuid]);
    expect(report.stdout).toBe('\n');
    const [child] = data.called(root.uuid);
    const childShow = await verdi(['process', 'show', child!.node.uuid]);
    expect(childShow.stdout).toMatch(
      new RegExp(`^Caller +PK {2}Type\\n-+ {2}-+ {2}-+\\nCALL +${data.pk(root.uuid)} {2}add_mul$`, 'm'),
    );
  });

  it('report of the calculation job: its state, the retrieved scheduler output and errors', async () => {
    const data = archive('calcjob');
    const job = data.processes()[0]!;
    const retrieved = data.expected.links.find(
      (link) => link.source === job.uuid && link.label === 'retrieved',
    )!;
    const files = data.node(retrieved.target).repository_files;
    const text = (name: unknown) => files.find((file) => file.path === name)?.text;
    const stdout = text(attr(job, 'scheduler_stdout'));
    const stderr = text(attr(job, 'scheduler_stderr'));
    expect(stdout).toBeDefined();
    expect(stderr).toBeDefined();
    const state = attr(job, 'state');
    const expected = [
      `*** ${data.pk(job.uuid)} [${job.label}]: ${state === null ? 'None' : `CalcJobState.${asText(state).toUpperCase()}`}`,
      stdout === '' ? '*** (empty scheduler output file)' : `*** Scheduler output:\n${stdout}`,
      stderr === '' ? '*** (empty scheduler errors file)' : `*** Scheduler errors:\n${stderr}`,
      '*** 0 LOG MESSAGES',
    ];
    const result = await verdi(['process', 'report', job.uuid]);
    expect(result.code, describeResult(result)).toBe(0);
    expect(result.stdout).toBe(`${expected.join('\n')}\n`);
    const show = await verdi(['process', 'show', job.uuid]);
    expect(show.stdout).toMatch(/^computer +\[\d+\] localhost-2$/m);
    expect(show.stdout).toMatch(/^type +ArithmeticAddCalculation$/m);
    const status = await verdi(['process', 'status', job.uuid]);
    expect(status.stdout).toBe(`ArithmeticAddCalculation<${data.pk(job.uuid)}> Finished [0]\n`);
  });
});
