import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import { Group } from '../../src/orm/entities/group.js';
import { Dict, Int, Str } from '../../src/orm/nodes/data/base.js';
import { loadNode } from '../../src/orm/loaders.js';
import { MAX_JSON_DEPTH } from '../../src/orm/utils/clean.js';
import { QueryBuilder } from '../../src/querybuilder/query-builder.js';
import type { StorageBackend } from '../../src/storage/backend.js';
import { openPsqlDos, openSqliteDos, type TestStorage } from '../storage/helpers.js';

const handles: TestStorage[] = [];
let backends: { name: string; storage: StorageBackend }[] = [];

beforeAll(async () => {
  handles.push(await openSqliteDos(), await openPsqlDos());
  backends = handles.map((handle) => ({ name: handle.storage.entryPoint, storage: handle.storage }));
});
afterAll(async () => {
  for (const handle of handles) await handle.cleanup();
});

/** What storing a value gave on one backend: the value read back from a fresh load, or the paths refused. */
type Outcome =
  { readonly stored: string } | { readonly refused: readonly string[]; readonly message: string };

async function storeOn(
  storage: StorageBackend,
  value: unknown,
  how: 'attribute' | 'extra',
): Promise<Outcome> {
  const node = new Dict(how === 'attribute' ? { v: value } : {}, { storage });
  try {
    if (how === 'extra') await node.extras.set('v', value);
    await node.store();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    return { refused: error.issues.map((issue) => issue.path).sort(), message: error.message };
  }
  const loaded = await loadNode(node.pk!, { storage });
  const read = how === 'attribute' ? loaded.base.attributes.get('v') : loaded.base.extras.get('v');
  return { stored: canonical(read) };
}

/**
 * JSON text with object keys sorted (PostgreSQL's jsonb keeps keys in its own order, as in aiida-core) and bigints as
 * the numbers they are stored as; -0 is written as 0, as by every JSON writer.
 */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return Number(item);
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    return Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  });
}

/** The oracle: whether a string (value or key) can be held by both backends and by aiida-core. */
function textOk(text: string): boolean {
  return !text.includes('\0') && (text as unknown as { isWellFormed(): boolean }).isWellFormed();
}

function depthOf(value: unknown): number {
  if (value === null || typeof value !== 'object') return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + Math.max(0, ...children.map(depthOf));
}

function storable(value: unknown): boolean {
  if (typeof value === 'string') return textOk(value);
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value === 'bigint')
    return value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= -BigInt(Number.MAX_SAFE_INTEGER);
  if (value === null || typeof value === 'boolean') return true;
  if (Array.isArray(value)) return value.every(storable);
  return Object.entries(value as object).every(([key, child]) => textOk(key) && storable(child));
}

/** Characters that stress storage: mostly ordinary, sometimes a NUL or half a surrogate pair. */
const char = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('a', 'Z', ' ', 'é', '😀', '"', '\\', '\n', '\u2028', '%', '_') },
  { weight: 1, arbitrary: fc.constantFrom('\0', '\ud800', '\udbff', '\udc00', '\udfff') },
);
const text = fc.string({ unit: char, maxLength: 8 });
const scalar = fc.oneof(
  text,
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.bigInt({ min: -(2n ** 60n), max: 2n ** 60n }),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, scalar, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(
    text.filter((key) => !key.includes('.')),
    tie('value'),
    { maxKeys: 4 },
  ),
}));

describe('values at store(): refused or kept identically on SQLite and PostgreSQL', () => {
  for (const how of ['attribute', 'extra'] as const) {
    it(`as an ${how}: stored and read back the same on both, or refused on both naming the node and the path`, async () => {
      await fc.assert(
        fc.asyncProperty(value, async (generated) => {
          const outcomes = [];
          for (const { storage } of backends) outcomes.push(await storeOn(storage, generated, how));
          const [sqlite, postgres] = outcomes;
          const strip = (outcome: Outcome | undefined) =>
            outcome !== undefined && 'refused' in outcome ? { refused: outcome.refused } : outcome;
          expect(strip(postgres)).toEqual(strip(sqlite));
          if (storable(generated)) {
            expect(sqlite).toEqual({ stored: canonical(generated) });
          } else {
            expect(sqlite).toMatchObject({ refused: expect.any(Array) });
            const refused = sqlite as { refused: string[]; message: string };
            expect(refused.refused.every((path) => path.startsWith(`${how}s.v`))).toBe(true);
            if (how === 'attribute')
              expect(refused.message).toMatch(/^Dict node [0-9a-f-]{36} cannot be stored: /);
          }
        }),
        { numRuns: 150 },
      );
    });
  }

  it(`nesting: up to ${MAX_JSON_DEPTH} levels (the attributes object counting as one) on both, deeper refused on both`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MAX_JSON_DEPTH - 3, max: MAX_JSON_DEPTH + 3 }),
        fc.boolean(),
        async (levels, objects) => {
          let nested: unknown = 'leaf';
          for (let i = 0; i < levels; i += 1) nested = objects ? { k: nested } : [nested];
          for (const { storage } of backends) {
            const outcome = await storeOn(storage, nested, 'attribute');
            if (1 + depthOf(nested) <= MAX_JSON_DEPTH) expect(outcome).toEqual({ stored: canonical(nested) });
            else
              expect((outcome as { message: string }).message).toContain(
                `nests deeper than ${MAX_JSON_DEPTH} levels`,
              );
          }
        },
      ),
      { numRuns: 12 },
    );
    // the deepest value stored does not poison attribute queries over the table (SQLite's JSON functions)
    for (const { storage } of backends) {
      const marker = await new Dict({ marker: 'deep-neighbour' }, { storage }).store();
      const found = await new QueryBuilder({ backend: storage })
        .append(Dict, { filters: { 'attributes.marker': 'deep-neighbour' }, project: ['id'] })
        .all();
      expect(found).toEqual([[marker.pk]]);
    }
  });

  it('a value 5000 levels deep is refused with the limit named, not a RangeError', async () => {
    let nested: unknown = 1;
    for (let i = 0; i < 5000; i += 1) nested = [nested];
    for (const { storage } of backends) {
      const error = await new Dict({ deep: nested }, { storage }).store().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as Error).message).toMatch(
        /attributes\.deep(\[0\])+: the value nests deeper than 256 levels/,
      );
    }
  });

  it('Int holds integers exactly up to ±(2^53 − 1) and refuses larger ones instead of rounding them', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n }), (big) => {
        const safe = big <= BigInt(Number.MAX_SAFE_INTEGER) && big >= -BigInt(Number.MAX_SAFE_INTEGER);
        if (safe) expect(new Int(big).value).toBe(Number(big));
        else expect(() => new Int(big)).toThrow(/Int holds integers up to ±\(2\^53 − 1\) exactly/);
      }),
    );
    expect(() => new Int(2 ** 60)).toThrow(/may already be rounded/);
    expect(new Int(Number.MAX_SAFE_INTEGER).value).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('labels and descriptions with a NUL or a lone surrogate are refused, on both', async () => {
    for (const { storage } of backends) {
      expect(() => (new Str('x', { storage }).label = 'a\0b')).toThrow(
        /invalid label: label: the string|NUL character/,
      );
      const node = await new Str('x', { storage, label: 'half \ud800' }).store().catch((e: unknown) => e);
      expect((node as Error).message).toMatch(
        /^Str node .* cannot be stored: label: the string contains a lone surrogate \(U\+D800\)/,
      );
      const stored = await new Str('x', { storage }).store();
      expect(() => stored.setDescription('nul \0')).toThrow(/NUL character \(U\+0000\) at index 4/);
      expect((await loadNode(stored.pk!, { storage })).description).toBe('');
      // and their relatives: group labels and descriptions, comments
      expect(() => new Group({ label: 'g\0' }, { storage })).toThrow(/invalid group label/);
      await expect(stored.base.comments.add('half \udc00')).rejects.toThrow(/invalid comment content/);
    }
  });
});
