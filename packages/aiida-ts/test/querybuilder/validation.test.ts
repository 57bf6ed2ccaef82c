import { describe, expect, it } from 'vitest';
import { QueryError, isAiidaError } from '../../src/errors.js';
import { QueryBuilder, type QueryBackend } from '../../src/querybuilder.js';
import { escapeForSqlLike, isValidNodeTypeString } from '../../src/querybuilder.js';
import { likeToGlob } from '../../src/querybuilder/sql/like-pattern.js';
import { pgArrayIndex } from '../../src/querybuilder/sql/json-access.js';
import { queryTypeFromTypeString, resolveTarget } from '../../src/querybuilder/classifiers.js';
import { sqliteDialect } from '../../src/storage.js';

// These checks happen while the query is built: no database is involved.
const qb = (): QueryBuilder =>
  new QueryBuilder({ backend: { dialect: sqliteDialect } as unknown as QueryBackend });

function error(fn: () => unknown): QueryError {
  try {
    fn();
  } catch (caught) {
    expect(caught).toBeInstanceOf(QueryError);
    expect(isAiidaError(caught)).toBe(true);
    return caught as QueryError;
  }
  throw new Error('expected a QueryError');
}

describe('QueryBuilder input checks', () => {
  it('names an unknown operator and lists the valid ones', () => {
    const e = error(() => qb().append('', { filters: { label: { '~~': 'x' } } }));
    expect(e.message).toMatch(/Unknown filter operator '~~' on 'label'/);
    expect(e.message).toContain(
      '==, >, <, >=, <=, like, ilike, in, contains, has_key, of_length, longer, shorter, of_type, and, or',
    );
    expect(error(() => qb().append('', { filters: { 'attributes.x': { '!!==': 1 } } })).message).toMatch(
      /'!!=='/,
    );
  });

  it('names an unknown field and lists the valid ones', () => {
    const e = error(() => qb().append('', { filters: { lable: 'x' } }));
    expect(e.message).toMatch(/Unknown field 'lable' in filters of node 'node_1'/);
    expect(e.message).toContain('id (or pk)');
    expect(e.message).toContain('attributes');
    expect(error(() => qb().append('user', { project: 'label' })).message).toMatch(
      /Unknown field 'label' in the projection of user 'user_1'.*email/,
    );
    expect(error(() => qb().append('', { filters: { 'label.x': 'y' } })).message).toMatch(
      /'label' .* not a JSON column/,
    );
    expect(error(() => qb().append('', { filters: { 'attributes..x': 'y' } })).message).toMatch(/Empty key/);
  });

  it('names an unknown tag and lists the known ones', () => {
    const e = error(() => qb().append('', { tag: 'a' }).append('', { withIncoming: 'b' }));
    expect(e.message).toMatch(/Tag 'b' .* not among the known tags: a/);
    expect(error(() => qb().append('', { tag: 'a' }).addFilter('zz', {})).message).toMatch(/Tag 'zz'/);
    expect(error(() => qb().append('', { tag: 'a' }).orderBy({ zz: 'id' })).message).toMatch(/Tag 'zz'/);
    class Int {
      static readonly nodeType = 'data.core.int.Int.';
    }
    expect(error(() => qb().append('', { tag: 'a' }).append('', { withIncoming: Int })).message).toMatch(
      /has no tag/,
    );
    // a class appended once stands for its tag
    const query = qb().append(Int, { tag: 'i' }).append('', { withIncoming: Int });
    expect(query.asDict().path[1]!.joining_value).toBe('i');
    query.addFilter(Int, { 'attributes.value': 2 });
    expect(query.asDict().filters.i).toMatchObject({ 'attributes.value': 2 });
    expect(error(() => qb().append(Int).append(Int).append('', { withIncoming: Int })).message).toMatch(
      /more than once/,
    );
  });

  it('names an unknown relationship and lists those of the entity', () => {
    const e = error(() => qb().append('', { tag: 'n' }).append('user', { withIncoming: 'n' }));
    expect(e.message).toMatch(
      /'withIncoming' is not a relationship of a user\. Valid: withNode, withGroup, withComment, withAuthinfo/,
    );
    expect(error(() => qb().append('', { tag: 'n' }).append('comment', { withUser: 'n' })).message).toMatch(
      /needs a user, but 'n' is a node/,
    );
    expect(
      error(() => qb().append('', { tag: 'n' }).append('', { withIncoming: 'n', withOutgoing: 'n' })).message,
    ).toMatch(/only one vertex/);
    expect(error(() => qb().append('', { withIncoming: 'x' })).message).toMatch(/Tag 'x'/);
    expect(error(() => qb().append('', { tag: 'n' }).append('', { direction: 3 })).message).toMatch(
      /before the start/,
    );
    expect(error(() => qb().append('', { tag: 'n' }).append('', { direction: 0 })).message).toMatch(
      /cannot be 0/,
    );
    expect(
      error(() =>
        qb()
          .append('', { tag: 'n' })
          .append('user', { withNode: 'n', edgeFilters: { label: 'x' } }),
      ).message,
    ).toMatch(/goes through no table/);
    expect(error(() => qb().append('', { edgeFilters: { label: 'x' } })).message).toMatch(/has no edge/);
    const every: Record<string, string[]> = {
      node: [
        'withIncoming',
        'withOutgoing',
        'withAncestors',
        'withDescendants',
        'withGroup',
        'withComputer',
        'withUser',
        'withLog',
        'withComment',
      ],
    };
    for (const keyword of every.node!) {
      const valid = error(() =>
        qb()
          .append('', { tag: 'n' })
          .append('log', { [keyword]: 'n' }),
      );
      expect(valid.message).toMatch(/Valid: withNode$/);
    }
  });

  it('names unknown options, bad values and bad entity types', () => {
    const e = error(() => qb().append('', { tags: 'x' } as never));
    expect(e.message).toMatch(/unknown option\(s\) 'tags'/);
    expect(e.message).toContain('Valid options: tag, filters, project, subclassing');
    expect(error(() => qb().append('', { project: true as never })).message).toMatch(/'project'/);
    expect(
      error(() =>
        qb()
          .append('', { tag: 'a' })
          .append('', { edgeProject: false as never }),
      ).message,
    ).toMatch(/'edgeProject'/);
    expect(error(() => qb().append('', { filters: 'label' as never })).message).toMatch(/filters/);
    expect(error(() => qb().limit(1.5)).message).toMatch(/limit/);
    expect(error(() => qb().offset(-1)).message).toMatch(/offset/);
    for (const bad of ['data', 'data.Data', '.', 'group.'])
      expect(() => qb().append(bad), bad).toThrow(QueryError);
    expect(error(() => qb().append({ name: 'Thing' })).message).toMatch(/Cannot query for Thing/);
    expect(error(() => qb().append(['user', 'computer'])).message).toMatch(/different kinds/);
    expect(error(() => qb().append([])).message).toMatch(/empty list/);
  });

  it('checks operator values', () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ id: { in: [] } }, /empty list/],
      [{ id: { in: 3 } }, /expects a list/],
      [{ id: 'x' }, /expects a number/],
      [{ label: { like: 3 } }, /string pattern/],
      [{ label: { has_key: 'x' } }, /only applies to JSON values/],
      [{ 'attributes.x': { has_key: 3 } }, /string key/],
      [{ 'attributes.x': { of_type: 'integer' } }, /one of object, array, string, number, boolean, null/],
      [{ 'attributes.x': { of_length: -1 } }, /non-negative integer/],
      [{ 'attributes.x': { '>': { a: 1 } } }, /number, string or boolean/],
      [{ 'attributes.x': { in: [1, 'a'] } }, /one type/],
      [{ 'attributes.x': { '==': new Date() } }, /JSON value/],
      [{ 'attributes.x': { and: { '==': 1 } } }, /list of operator dictionaries/],
      [{ or: { label: 'x' } }, /list of filter dictionaries/],
      [{ ctime: { '>': 5 } }, /Date or an ISO 8601 string/],
      [{ ctime: { '>': new Date(Number.NaN) } }, /invalid/],
    ];
    for (const [filters, message] of cases)
      expect(error(() => qb().append('', { filters })).message, JSON.stringify(filters)).toMatch(message);
    expect(
      error(() =>
        qb()
          .append('', { filters: { ctime: { '>': 'yesterday' } } })
          .asSql(),
      ).message,
    ).toMatch(/Invalid timestamp/);
    expect(
      error(() =>
        qb()
          .append('', { filters: { label: { like: 'ab\\' } } })
          .asSql(),
      ).message,
    ).toMatch(/escape character/);
  });

  it('requires a cast to order by a JSON value, and valid orders', () => {
    expect(error(() => qb().append('', { tag: 'n' }).orderBy({ n: 'attributes.x' })).message).toMatch(
      /has to be cast/,
    );
    expect(
      error(() =>
        qb()
          .append('', { tag: 'n' })
          .orderBy({ n: { id: 'up' } }),
      ).message,
    ).toMatch(/order_by of 'id'/);
    expect(
      error(() =>
        qb()
          .append('', { tag: 'n' })
          .orderBy({ n: { id: { order: 'asc', nulls: 'first' } } }),
      ).message,
    ).toMatch(/nulls/);
    expect(
      error(() =>
        qb()
          .append('', { project: [{ '*': { func: 'count' } }] })
          .asSql(),
      ).message,
    ).toMatch(/'\*'/);
    expect(error(() => qb().append('', { project: ['id', 'pk'], projectMap: {} } as never)).message).toMatch(
      /projectMap/,
    );
  });

  it('asks for a cast to take the max or min of a JSON value (PostgreSQL has none for jsonb)', () => {
    for (const func of ['max', 'min'] as const) {
      expect(
        error(() =>
          qb()
            .append('', { project: [{ 'attributes.value': { func } }] })
            .asSql(),
        ).message,
      ).toBe(
        `To aggregate 'attributes.value' of node 'node_1' with '${func}' the value has to be cast: give 'cast' (one of f, i, t, b, d)`,
      );
      expect(() =>
        qb()
          .append('', { project: [{ 'attributes.value': { func, cast: 'f' } }, { id: { func } }] })
          .asSql(),
      ).not.toThrow();
    }
    expect(() =>
      qb()
        .append('', { project: [{ 'attributes.value': { func: 'count' } }] })
        .asSql(),
    ).not.toThrow();
  });

  it('leaves no trace of a failed append (the tag is free again)', () => {
    const query = qb().append('', { tag: 'a' });
    expect(() => query.append('', { tag: 'b', filters: { nope: 1 } })).toThrow(QueryError);
    expect(() => query.append('', { tag: 'b', withIncoming: 'nope' })).toThrow(QueryError);
    expect(query.getUsedTags()).toEqual(['a']);
    query.append('', { tag: 'b' });
    expect(query.getUsedTags()).toEqual(['a', 'b', 'a--b']);
    expect(error(() => query.append('', { tag: 'b' })).message).toMatch(/already in use/);
    expect(error(() => query.append('', { tag: 'x--y' })).message).toMatch(/cannot contain '--'/);
    expect(error(() => query.append('', { tag: 'c', edgeTag: 'a--b' })).message).toMatch(/already in use/);
  });

  it('makes tags as aiida-core does and reports them', () => {
    class Int {
      static readonly nodeType = 'data.core.int.Int.';
    }
    const query = qb()
      .append(Int)
      .append(Int)
      .append('')
      .append('group.core')
      .append(['data.core.int.Int.', 'data.core.float.Float.'], { withGroup: 'core_1' });
    expect(query.getUsedTags({ edges: false })).toEqual([
      'Int_1',
      'Int_2',
      'node_1',
      'core_1',
      'Int-Float_1',
    ]);
    expect(query.getUsedTags({ vertices: false })).toEqual([
      'Int_1--Int_2',
      'Int_2--node_1',
      'node_1--core_1',
      'core_1--Int-Float_1',
    ]);
    // after a node, any other entity joins withNode by default
    expect(qb().append('', { tag: 'n' }).append('computer').asDict().path[1]!.joining_keyword).toBe(
      'with_node',
    );
    expect(error(() => qb().append('computer').append('user')).message).toMatch(
      /needs a node, but 'computer_1' is a computer/,
    );
  });

  it('writes aiida-core’s as_dict (tests/orm/test_querybuilder/test_as_dict.yml)', () => {
    const query = qb().append('', { filters: { 'extras.tag4': 'appl_pecoal' } });
    expect(query.asDict()).toEqual({
      distinct: false,
      filters: { node_1: { 'extras.tag4': 'appl_pecoal', node_type: { like: '%' } } },
      limit: null,
      offset: null,
      order_by: [],
      path: [
        {
          edge_tag: null,
          entity_type: '',
          joining_keyword: null,
          joining_value: null,
          orm_base: 'node',
          outerjoin: false,
          tag: 'node_1',
        },
      ],
      project: { node_1: [] },
      project_map: {},
    });
    expect(String(query)).toBe(`QueryBuilder(${JSON.stringify(query.asDict())})`);
    // the dictionary is a copy
    query.asDict().filters.node_1!.label = 'changed';
    expect(query.asDict().filters.node_1).not.toHaveProperty('label');
    // a class or a one-element list give the same query
    expect(qb().append(['data.core.int.Int.']).asDict()).toEqual(qb().append('data.core.int.Int.').asDict());
    // normalised projections and orderings
    const ordered = qb()
      .append('', { tag: 'n', project: ['id', { 'attributes.x': { cast: 'i' } }] })
      .orderBy({ n: ['id', { ctime: 'desc' }] });
    expect(ordered.asDict().project.n).toEqual([{ id: {} }, { 'attributes.x': { cast: 'i' } }]);
    expect(ordered.asDict().order_by).toEqual([
      { n: [{ id: { order: 'asc' } }, { ctime: { order: 'desc' } }] },
    ]);
  });

  it('adds the type filters aiida-core adds', () => {
    expect(qb().append('data.core.int.Int.').asDict().filters.Int_1).toEqual({
      node_type: { like: 'data.core.int.%' },
    });
    expect(qb().append('data.core.int.Int.', { subclassing: false }).asDict().filters.Int_1).toEqual({
      node_type: { '==': 'data.core.int.Int.' },
    });
    expect(
      qb().append(['data.core.int.Int.', 'data.core.float.Float.']).asDict().filters['Int-Float_1'],
    ).toEqual({
      node_type: { or: [{ like: 'data.core.int.%' }, { like: 'data.core.float.%' }] },
    });
    expect(qb().append('data.core.code.abstract.AbstractCode.').asDict().filters.AbstractCode_1).toEqual({
      node_type: { like: 'data.core.code.%' },
    });
    expect(qb().append('group.core').asDict().filters.core_1).toEqual({ type_string: { like: '%' } });
    expect(qb().append('Group.core', { subclassing: false }).asDict().filters.core_1).toEqual({
      type_string: { '==': 'core' },
    });
    expect(qb().append('group.pseudo.family').asDict().filters.family_1).toEqual({
      type_string: { like: 'pseudo.family%' },
    });
    expect(qb().append('user').asDict().filters.user_1).toEqual({});
    const workchain = {
      nodeType: 'process.workflow.workchain.WorkChainNode.',
      processType: 'aiida.engine.processes.workchains.workchain.WorkChain',
    };
    expect(qb().append(workchain).asDict().filters.WorkChainNode_1!.process_type).toEqual({ like: '%' });
    const plugin = {
      nodeType: 'process.workflow.workchain.WorkChainNode.',
      processType: 'my_package.workflows.MyWorkChain',
    };
    expect(qb().append(plugin).asDict().filters.WorkChainNode_1!.process_type).toEqual({
      or: [{ '==': 'my_package.workflows.MyWorkChain' }, { like: 'my\\_package.' }],
    });
    // a user filter on the type column replaces the automatic one
    expect(
      qb()
        .append('', { filters: { node_type: 'data.core.int.Int.' } })
        .asDict().filters.node_1,
    ).toEqual({ node_type: 'data.core.int.Int.' });
    expect(resolveTarget('User').ormBase).toBe('user');
    expect(resolveTarget('COMPUTER').ormBase).toBe('computer');
    class Group {}
    class AutoGroup extends Group {}
    expect(resolveTarget(AutoGroup).ormBase).toBe('group');
    expect(resolveTarget({ entityType: 'group.core.auto' }).classifiers[0]!.ormclassTypeString).toBe(
      'group.core.auto',
    );
  });

  it('has the small helpers right', () => {
    expect(likeToGlob('data.core.int.%')).toBe('data.core.int.*');
    expect(likeToGlob('a\\_b_c\\%d%')).toBe('a_b?c%d*');
    expect(likeToGlob('x*y?z[w]')).toBe('x[*]y[?]z[[]w]');
    expect(likeToGlob('\\\\')).toBe('\\');
    expect(escapeForSqlLike('a_b%c')).toBe('a\\_b\\%c');
    expect(queryTypeFromTypeString('data.core.int.Int.')).toBe('data.core.int.');
    expect(queryTypeFromTypeString('')).toBe('');
    expect(isValidNodeTypeString('data.Data.')).toBe(true);
    expect(isValidNodeTypeString('data.')).toBe(false);
    expect(pgArrayIndex('12')).toBe(12);
    expect(pgArrayIndex(' -1')).toBe(-1);
    expect(pgArrayIndex('1 ')).toBeUndefined();
    expect(pgArrayIndex('99999999999')).toBeUndefined();
  });

  it('renders SQL for both dialects without a database', () => {
    const query = new QueryBuilder()
      .append('', { tag: 'n', filters: { 'attributes.a.b': { '>': 1 } } })
      .append('', { withAncestors: 'n' });
    const sqlite = query.asSql({ dialect: 'sqlite' });
    const postgres = query.asSql({ dialect: 'postgres' });
    expect(sqlite).toMatch(/with recursive "walk1"/);
    expect(sqlite).toContain('json_type');
    expect(postgres).toContain('jsonb_typeof');
    expect(postgres).toContain('$1');
    expect(query.asSql({ dialect: 'postgres', inline: true })).toContain(`'{"a","b"}'`);
    expect(() => new QueryBuilder().asSql({ dialect: 'sqlite' })).toThrow(/no path/);
  });
});
