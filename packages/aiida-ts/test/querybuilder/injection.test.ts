import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueryError } from '../../src/errors.js';
import { QueryBuilder } from '../../src/querybuilder.js';
import { DIALECTS, openTestStorage, type TestStorage } from './support/backends.js';
import { insertLinks, insertNodes } from './support/rows.js';

// Strings that would end a literal or an identifier, start a comment or a second statement, or look like a
// placeholder or a JSON path, in every place a caller's text reaches a query. (None holds a '.', which
// separates the keys of a JSON path in a field name, as in aiida-core.)
const HOSTILE = [
  "a'); DROP TABLE db_dbnode;--",
  '"; DROP TABLE db_dbnode; --',
  "\\'; DELETE FROM db_dbuser; --",
  "' OR 1=1 --",
  "' OR '1'='1",
  '$1',
  '?',
  '$"x"',
  '$[0]',
  'x"]',
  ']]',
  '\\',
  '*?[',
  '`id`',
  '🙂 ünïcode',
];

/** The statement text of a query, without its parameter list. */
function statementText(query: QueryBuilder): string {
  return query.asSql().split('\n-- parameters:')[0]!;
}

describe.each(DIALECTS)('hostile input on %s is data, never SQL', (dialect) => {
  let storage: TestStorage;
  let ids: number[];
  const qb = (): QueryBuilder => new QueryBuilder({ backend: storage.backend });

  beforeAll(async () => {
    storage = await openTestStorage(dialect);
    ids = await insertNodes(
      storage.backend,
      HOSTILE.map((text, i) => ({
        label: text,
        description: `hostile-${i}`,
        attributes: { [text]: text, nested: { [text]: [text, i] }, index: i },
        extras: { [text]: i },
      })),
    );
    await insertLinks(
      storage.backend,
      HOSTILE.map((text, i) => ({
        input: ids[i]!,
        output: ids[(i + 1) % ids.length]!,
        type: 'input_calc',
        label: text,
      })),
    );
  }, 60_000);

  afterAll(async () => {
    if (storage !== undefined) {
      // the tables are all still there and untouched
      const db = storage.backend.executor();
      const nodes = await sql<{ n: number }>`select count(*) as n from db_dbnode`.execute(db);
      const users = await sql<{ n: number }>`select count(*) as n from db_dbuser`.execute(db);
      expect(Number(nodes.rows[0]!.n)).toBe(HOSTILE.length);
      expect(Number(users.rows[0]!.n)).toBe(1);
      await storage.close();
    }
  });

  it.each(HOSTILE.map((text, i) => [i, text] as const))(
    'finds the node of hostile key/value #%i %s',
    async (i, text) => {
      const byValue = qb().append('', { filters: { [`attributes.${text}`]: text }, project: 'id' });
      // the statement is the same text as with a harmless key and value: the hostile ones are parameters only
      const harmless = qb().append('', { filters: { 'attributes.plain': 'plain' }, project: 'id' });
      expect(statementText(byValue)).toBe(statementText(harmless));
      expect(await byValue.all({ flat: true })).toEqual([ids[i]]);
      expect(
        await qb()
          .append('', { filters: { attributes: { has_key: text } }, project: 'id' })
          .all({ flat: true }),
      ).toEqual([ids[i]]);
      expect(
        await qb()
          .append('', { filters: { attributes: { contains: { [text]: text } } }, project: 'id' })
          .all({ flat: true }),
      ).toEqual([ids[i]]);
      expect(
        await qb()
          .append('', { filters: { [`attributes.nested.${text}`]: { contains: [i] } }, project: 'id' })
          .all({ flat: true }),
      ).toEqual([ids[i]]);
      expect(
        await qb()
          .append('', { filters: { [`extras.${text}`]: { '>=': i, '<=': i } }, project: 'id' })
          .all({ flat: true }),
      ).toEqual([ids[i]]);
      expect(
        await qb()
          .append('', { filters: { label: text }, project: 'id' })
          .all({ flat: true }),
      ).toEqual([ids[i]]);
      expect(
        await qb()
          .append('', { filters: { label: { in: [text, 'other'] } }, project: 'id' })
          .all({ flat: true }),
      ).toEqual([ids[i]]);
      expect(
        await qb()
          .append('', { filters: { [`attributes.${text}`]: { in: [text] } }, project: 'id' })
          .all({ flat: true }),
      ).toEqual([ids[i]]);
      // projections and ordering by hostile keys
      const projected = qb().append('', {
        tag: 'n',
        filters: { description: `hostile-${i}` },
        project: [`attributes.${text}`, `attributes.nested.${text}`],
      });
      projected.orderBy({ n: { [`attributes.${text}`]: { order: 'desc', cast: 't' } } });
      const plainProjection = qb()
        .append('', {
          tag: 'n',
          filters: { description: 'plain' },
          project: ['attributes.plain', 'attributes.nested.plain'],
        })
        .orderBy({ n: { 'attributes.plain': { order: 'desc', cast: 't' } } });
      expect(statementText(projected)).toBe(statementText(plainProjection));
      expect(await projected.one()).toEqual([text, [text, i]]);
      // an edge filter and a tag made of hostile text
      const tag = text.replaceAll('--', '- -');
      const edge = qb()
        .append('', { tag: `src ${tag}`, filters: { id: ids[i]! } })
        .append('', {
          tag: `dst ${tag}`,
          withIncoming: `src ${tag}`,
          edgeFilters: { label: text },
          edgeProject: 'label',
        });
      const plainEdge = qb()
        .append('', { tag: 'a', filters: { id: 0 } })
        .append('', { tag: 'b', withIncoming: 'a', edgeFilters: { label: 'plain' }, edgeProject: 'label' });
      expect(statementText(edge)).toBe(statementText(plainEdge));
      expect(await edge.all({ flat: true })).toEqual([text]);
    },
  );

  it('treats hostile LIKE patterns and entity types as values', async () => {
    for (const text of HOSTILE) {
      if (text.endsWith('\\')) continue;
      const pattern = `${text.replaceAll('\\', '\\\\').replaceAll('%', '\\%').replaceAll('_', '\\_')}`;
      expect(
        await qb()
          .append('', { filters: { label: { like: pattern } } })
          .count(),
        text,
      ).toBe(1);
      expect(
        await qb()
          .append('', { filters: { label: { ilike: pattern } } })
          .count(),
        text,
      ).toBe(1);
    }
    // a node type string is matched as a value: exactly (no subclassing) or by its package prefix (`data.`)
    expect(await qb().append("data.'); DROP TABLE db_dbnode;--.", { subclassing: false }).count()).toBe(0);
    expect(await qb().append("data.x'); DROP TABLE db_dbnode;--.Evil.").count()).toBe(0);
    expect(await qb().append("group.'); DROP TABLE db_dbgroup;--").count()).toBe(0);
    expect(
      await qb()
        .append('', { filters: { uuid: "'; DROP TABLE db_dbnode; --" } })
        .count(),
    ).toBe(0);
  });

  it('rejects hostile field names, operators, casts and tags with QueryError', async () => {
    for (const text of HOSTILE) {
      expect(() => qb().append('', { filters: { [text]: 1 } }), text).toThrow(QueryError);
      expect(() => qb().append('', { filters: { label: { [text]: 1 } } }), text).toThrow(QueryError);
      expect(() => qb().append('', { project: [text] }), text).toThrow(QueryError);
      expect(() => qb().append('', { tag: 'n' }).orderBy({ n: text }), text).toThrow(QueryError);
      expect(
        () =>
          qb()
            .append('', { tag: 'n' })
            .orderBy({ n: { 'attributes.x': { order: 'asc', cast: text } } }),
        text,
      ).toThrow(QueryError);
      expect(() => qb().append('', { tag: 'n' }).append('', { withIncoming: text }), text).toThrow(
        QueryError,
      );
      expect(
        () =>
          qb()
            .append('', { tag: 'n' })
            .orderBy({ n: { id: text } }),
        text,
      ).toThrow(QueryError);
      expect(() => qb().append('', { project: [{ id: { func: text } }] as never }), text).toThrow(QueryError);
    }
    // a dictionary from outside with hostile parts is checked the same way
    expect(() =>
      QueryBuilder.fromDict({
        path: [
          {
            entity_type: '',
            orm_base: 'node',
            tag: 'n',
            joining_keyword: null,
            joining_value: null,
            edge_tag: null,
            outerjoin: false,
          },
        ],
        filters: { n: { 'id = 1; DROP TABLE db_dbnode; --': 1 } },
      }),
    ).toThrow(QueryError);
    expect(() =>
      QueryBuilder.fromDict({
        path: [
          {
            entity_type: '',
            orm_base: "node'; --" as never,
            tag: 'n',
            joining_keyword: null,
            joining_value: null,
            edge_tag: null,
            outerjoin: false,
          },
        ],
      }),
    ).toThrow(QueryError);
    expect(await qb().append('').count()).toBe(HOSTILE.length);
  });
});
