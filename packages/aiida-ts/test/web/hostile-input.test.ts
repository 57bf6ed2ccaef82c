import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpRequestError } from '../../src/web/http-error.js';
import { parseQueryString } from '../../src/web/query-string.js';
import { createWebServer, type WebServer } from '../../src/web/server.js';
import { BACKENDS, useEngine } from '../engine/helpers.js';

/** Pieces of aiida's query-string syntax, so that generated strings get past the first checks now and then. */
const piece = fc.oneof(
  fc.constantFrom(
    'id',
    'uuid',
    'label',
    'node_type',
    'ctime',
    'limit',
    'offset',
    'perpage',
    'orderby',
    'attributes',
    'full_type',
    'process_state',
    'attributes_filter',
    'filename',
    'user_id',
    '=',
    '>=',
    '=like=',
    '=in=',
    '!=',
    '"',
    '""',
    '%',
    '%25',
    '&',
    ',',
    '-',
    '+',
    '2024-01-01T00:00',
    'true',
    '1e309',
    '99999999999999999999',
    '\u0000',
    '%00',
  ),
  fc.string({ maxLength: 6 }),
);
const queryString = fc.array(piece, { maxLength: 12 }).map((parts) => parts.join(''));

describe.each(BACKENDS)('hostile input on %s', (_name, open) => {
  const engine = useEngine(open);
  let server: WebServer;
  beforeAll(async () => {
    server = await createWebServer({ storage: engine().storage, token: 't', page: false });
  });
  afterAll(async () => {
    await server.close();
  });

  it('the query-string parser answers or refuses with a named parameter, nothing else', () => {
    fc.assert(
      fc.property(queryString, (text) => {
        try {
          parseQueryString(text);
        } catch (error) {
          expect(error).toBeInstanceOf(HttpRequestError);
          expect((error as HttpRequestError).parameter).not.toBeNull();
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('no URL gets a 500', async () => {
    const paths = fc.constantFrom(
      '/api/v4/nodes',
      '/api/v4/processes',
      '/api/v4/groups',
      '/api/v4/computers',
      '/api/v4/users',
      '/api/v4/nodes/1/links/incoming',
      '/api/v4/nodes/1/repo/list',
      '/api/v4/nodes/1/contents/attributes',
      '/api/v4/nodes/page/1',
      '/api/v4/processes/1/report',
      '/api/v4/nodes/statistics',
    );
    await fc.assert(
      fc.asyncProperty(paths, queryString, async (path, query) => {
        const response = await server.app.inject({
          method: 'GET',
          url: `${path}?${query.replaceAll('#', '%23')}`,
        });
        expect(response.statusCode, `${path}?${query} → ${response.body}`).toBeLessThan(500);
      }),
      { numRuns: 300 },
    );
  });

  it('no posted body gets a 500', async () => {
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 6 }),
      fc.record({
        path: fc.array(
          fc.record({
            entity_type: fc.constantFrom('', 'data.core.int.Int.', 'group.core', 'user', 'x'),
            orm_base: fc.constantFrom('node', 'group', 'user', 'nope'),
            tag: fc.string({ maxLength: 3 }),
            joining_keyword: fc.constantFrom(null, 'with_incoming', 'with_group', 'bogus'),
            joining_value: fc.constantFrom(null, 'a', ''),
            edge_tag: fc.constant(null),
            outerjoin: fc.boolean(),
          }),
          { maxLength: 3 },
        ),
        filters: fc.dictionary(fc.string({ maxLength: 3 }), fc.jsonValue({ maxDepth: 3 })),
        project: fc.dictionary(
          fc.string({ maxLength: 3 }),
          fc.array(fc.dictionary(fc.constantFrom('id', '*', 'attributes.x', 'bad field'), fc.constant({})), {
            maxLength: 2,
          }),
        ),
        limit: fc.oneof(fc.constant(null), fc.integer({ min: -5, max: 5000 })),
      }),
    );
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        const response = await server.app.inject({
          method: 'POST',
          url: '/api/v4/querybuilder',
          headers: { 'content-type': 'application/json' },
          payload: JSON.stringify(value),
        });
        expect(response.statusCode, `${JSON.stringify(value)} → ${response.body}`).toBeLessThan(500);
      }),
      { numRuns: 300 },
    );
  });
});
