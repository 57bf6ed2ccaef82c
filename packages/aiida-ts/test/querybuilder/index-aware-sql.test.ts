import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { CalculationNode, Data, Dict, Int, LinkType, Node } from '../../src/orm.js';
import { QueryBuilder } from '../../src/querybuilder.js';
import { useStorage } from '../orm/setup.js';
import { BACKENDS } from '../storage/helpers.js';

// The SQL shapes the QueryBuilder writes so large profiles stay fast: a comparison with the expression of an
// aiida-ts index beside the type-exact one (`attributes.process_state`), and a walk of the provenance that keeps
// each (ancestor, descendant) pair once for DISTINCT queries. Both must give exactly the rows of the plain shapes.
describe.each(BACKENDS)('index-aware SQL on $name', ({ name, open }) => {
  const storage = useStorage(open);
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

  it.runIf(name !== 'core.sqlite_temp')(
    'creates the process_state index when the profile opens',
    async () => {
      const db = storage().executor();
      const dialect = storage().dialect.name;
      const { rows } =
        dialect === 'postgres'
          ? await sql<{
              n: number;
            }>`select count(*)::int as n from pg_indexes where indexname = 'ix_aiida_ts_dbnode_attr_process_state'`.execute(
              db,
            )
          : await sql<{
              n: number;
            }>`select count(*) as n from sqlite_master where name = 'ix_aiida_ts_dbnode_attr_process_state'`.execute(
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
        expect(plan.rows.map((r) => r.detail).join('\n')).toContain('ix_aiida_ts_dbnode_attr_process_state');
      }
    },
  );

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
