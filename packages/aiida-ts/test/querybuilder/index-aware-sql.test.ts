import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { CalculationNode, Data, Dict, Int, LinkType, Node } from '../../src/orm.js';
import { QueryBuilder } from '../../src/querybuilder.js';
import { useStorage } from '../orm/setup.js';
import { BACKENDS, openPsqlDos } from '../storage/helpers.js';

// The SQL shapes the QueryBuilder writes so large profiles stay fast: a comparison with the expression of an
// aiida-ts index beside the type-exact one (`attributes.process_state`), and a walk of the provenance that keeps
// each (ancestor, descendant) pair once for DISTINCT queries. Both must give exactly the rows of the plain shapes.
describe.each(BACKENDS)('index-aware SQL on $name', ({ open }) => {
  useStorage(open);
  const unique = (prefix: string): string => `${prefix}-${Math.random().toString(36).slice(2, 10)}`;

  it('filters process_state through its index with the rows of the type-exact comparison', async () => {
    const label = unique('state');
    const values: Record<string, unknown>[] = [
      { process_state: 'running' },
      { process_state: 'waiting' },
      { process_state: 'finished' },
      { process_state: ['running'] },
      { process_state: '["running"]' },
      { process_state: 5 },
      { process_state: null },
      { process_state: { running: true } },
      {},
    ];
    for (const value of values) {
      const node = new Dict(value);
      await node.setLabel(label);
      await node.store();
    }
    const count = (filter: unknown): Promise<number> =>
      new QueryBuilder().append(Dict, { filters: { label, 'attributes.process_state': filter } }).count();
    expect(await count('running')).toBe(1);
    expect(await count({ '==': '["running"]' })).toBe(1);
    expect(await count({ in: ['running', 'waiting'] })).toBe(2);
    expect(await count({ in: ['running', '["running"]'] })).toBe(2);
    // negations match every other document, also those without the key or with another type
    expect(await count({ '!in': ['running', 'waiting'] })).toBe(values.length - 2);
    expect(await count({ '!==': 'running' })).toBe(values.length - 1);
    // in an OR, still exact
    expect(
      await new QueryBuilder()
        .append(Dict, {
          filters: {
            label,
            or: [
              { 'attributes.process_state': 'finished' },
              { 'attributes.process_state': { of_type: 'number' } },
            ],
          },
        })
        .count(),
    ).toBe(2);
  });

  it('matches every node for Node without a pattern per row, and still no NULL for a LIKE on a nullable column', async () => {
    const text = new QueryBuilder().append(Node, { project: 'id' }).asSql();
    expect(text).not.toMatch(/ like | glob /i);
    const label = unique('every');
    const data = new Int(7);
    await data.setLabel(label);
    await data.store();
    const process = new CalculationNode();
    await process.setLabel(label);
    await process.store();
    expect(await new QueryBuilder().append(Node, { filters: { label } }).count()).toBe(2);
    expect(
      await new QueryBuilder().append(Node, { filters: { label, node_type: { '!like': '%' } } }).count(),
    ).toBe(0);
    // process_type may be NULL (data nodes): `like '%'` keeps only the rows that have one
    const withType = await new QueryBuilder()
      .append(Node, { filters: { label, process_type: { like: '%' } } })
      .count();
    const typed = [data, process].filter((n) => n.processType !== null && n.processType !== undefined);
    expect(withType).toBe(typed.length);
  });

  it('walks each pair once for DISTINCT queries and each path otherwise', async () => {
    // a diamond: a → c1 → b, and both a and b are inputs of c2, which creates d
    const a = await new Int(1).store();
    const c1 = new CalculationNode();
    await c1.links.addIncoming(a, LinkType.INPUT_CALC, 'x');
    await c1.store();
    const b = new Int(2);
    await b.links.addIncoming(c1, LinkType.CREATE, 'result');
    await b.store();
    const c2 = new CalculationNode();
    await c2.links.addIncoming(a, LinkType.INPUT_CALC, 'x');
    await c2.links.addIncoming(b, LinkType.INPUT_CALC, 'y');
    await c2.store();
    const d = new Data();
    await d.links.addIncoming(c2, LinkType.CREATE, 'result');
    await d.store();
    const descendants = (distinct: boolean, depth: boolean) => {
      const qb = new QueryBuilder().append(Node, { tag: 'a', filters: { id: a.pk! } }).append(Node, {
        withAncestors: 'a',
        project: 'id',
        ...(depth ? { edgeTag: 'walk', edgeProject: 'depth' } : {}),
      });
      return distinct ? qb.distinct() : qb;
    };
    const ids = async (qb: QueryBuilder) =>
      (await qb.all()).map((row) => Number(row[0])).sort((x, y) => x - y);
    const each = [c1.pk!, b.pk!, c2.pk!, d.pk!].sort((x, y) => x - y);
    expect(descendants(true, false).asSql()).toMatch(/ union select /);
    expect(await ids(descendants(true, false))).toEqual(each);
    expect(await descendants(true, false).count()).toBe(4);
    // as aiida-core: one row per path (c2 and d are reached twice)
    expect(descendants(false, false).asSql()).toMatch(/ union all select /);
    expect(await descendants(false, false).count()).toBe(6);
    // DISTINCT with the depth projected keeps a row per distinct depth
    expect(await descendants(true, true).count()).toBe(6);
    const ancestors = await new QueryBuilder()
      .append(Node, { tag: 'd', filters: { id: d.pk! } })
      .append(Node, { withDescendants: 'd', project: 'id' })
      .distinct()
      .all({ flat: true });
    expect(ancestors.map(Number).sort((x, y) => x - y)).toEqual(
      [a.pk!, c1.pk!, b.pk!, c2.pk!].sort((x, y) => x - y),
    );
    // batched reading of the pair walk visits every row once
    const streamed: number[] = [];
    for await (const row of descendants(true, false).iterall({ batchSize: 1 })) streamed.push(Number(row[0]));
    expect(streamed.sort((x, y) => x - y)).toEqual(each);
  });
});

describe('reading the JSON text of SQLite projections', () => {
  it('gives what JSON.parse gives, for scalars read without the parser and everything else', async () => {
    const { parseJsonText } = await import('../../src/querybuilder/sql/json-access.js');
    const samples = [
      '0',
      '-0',
      '12',
      '-3.5',
      '1e400',
      '-1e-7',
      '12345678901234567890',
      '"abc"',
      '""',
      '"a\\"b"',
      '"\\u00e9"',
      '"a\\\\b"',
      '"x"y"',
      'true',
      'false',
      'null',
      '[1,"a"]',
      '{"a":1}',
      '"2024-01-01 00:00:00"',
    ];
    for (const text of samples) {
      let expected: unknown;
      try {
        expected = JSON.parse(text);
      } catch {
        expect(() => parseJsonText(text)).toThrow();
        continue;
      }
      expect(parseJsonText(text)).toStrictEqual(expected);
    }
  });
});

// the index is created when a profile's storage opens (a core.sqlite_temp storage is made fresh, with aiida-core's
// schema only)
describe.each(BACKENDS.filter((backend) => backend.name !== 'core.sqlite_temp'))(
  'the process_state index on $name',
  ({ open }) => {
    const storage = useStorage(open);

    it('creates the process_state index when the profile opens', async () => {
      const db = storage().executor();
      const dialect = storage().dialect.name;
      const { rows } =
        dialect === 'postgres'
          ? await sql<{
              n: number;
            }>`select count(*)::int as n from pg_indexes where indexname = 'ix_db_dbnode_attributes_process_state_aiida_ts'`.execute(
              db,
            )
          : await sql<{
              n: number;
            }>`select count(*) as n from sqlite_master where name = 'ix_db_dbnode_attributes_process_state_aiida_ts'`.execute(
              db,
            );
      expect(rows[0]?.n).toBe(1);
      if (dialect === 'sqlite') {
        const text = new QueryBuilder()
          .append(CalculationNode, {
            filters: { 'attributes.process_state': { in: ['running', 'waiting'] } },
          })
          .asSql({ inline: true });
        const plan = await sql.raw<{ detail: string }>(`explain query plan ${text}`).execute(db);
        expect(plan.rows.map((r) => r.detail).join('\n')).toContain(
          'ix_db_dbnode_attributes_process_state_aiida_ts',
        );
      }
    });
  },
);

describe('prepared statements on core.psql_dos', () => {
  const storage = useStorage(openPsqlDos);

  it('prepares the statements of a query once per connection', async () => {
    const backend = storage();
    await backend.transaction(async () => {
      const count = () =>
        new QueryBuilder().append(Int, { filters: { 'attributes.value': { '>': 3 } } }).count();
      const first = await count();
      expect(await count()).toBe(first);
      const { rows } = await sql<{
        n: number;
      }>`select count(*)::int as n from pg_prepared_statements where name like 'aiida_ts_%'`.execute(
        backend.executor(),
      );
      expect(rows[0]?.n).toBeGreaterThan(0);
    });
  });
});
