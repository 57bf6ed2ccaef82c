/** `verdi data core.dict show`, `core.array show` and `core.singlefile content` on a profile the engine filled. */
import { describe, expect, it } from 'vitest';
import { ArrayData, Dict } from '../../src/orm.js';
import { useEngineProfile } from './engine-profile.js';
import { verdiInProcess as verdi } from './verdi-in-process.js';

const { made } = useEngineProfile('aiida-ts-data-types-', async () => {
  const dict = await new Dict({ zeta: 1, alpha: { nested: [1, 2], b: 'text' }, flag: true }).store();
  const array = new ArrayData({
    matrix: [
      [1, 2],
      [3, 4],
    ],
    vector: [0.5, 1.5, 2.5],
  });
  await array.store();
  return { dict: dict.pk!, array: array.pk! };
});

describe('verdi data core.dict show', () => {
  it('prints the dictionary as sorted JSON by default, and as YAML (block style, as PyYAML)', async () => {
    const json = await verdi(['data', 'core.dict', 'show', String(made().extra.dict)]);
    expect(json.code, json.stderr).toBe(0);
    expect(json.stdout).toBe(
      '{\n    "alpha": {\n        "b": "text",\n        "nested": [\n            1,\n            2\n        ]\n    },\n' +
        '    "flag": true,\n    "zeta": 1\n}\n',
    );
    const yaml = await verdi(['data', 'core.dict', 'show', '-f', 'yaml', String(made().extra.dict)]);
    expect(yaml.stdout).toBe('alpha:\n  b: text\n  nested:\n  - 1\n  - 2\nflag: true\nzeta: 1\n');
  });

  it('refuses unknown nodes, nodes of another type and unknown formats (exit 2)', async () => {
    const unknown = await verdi(['data', 'core.dict', 'show', '987654']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/invalid value for DATA: .*987654/);
    const wrong = await verdi(['data', 'core.dict', 'show', String(made().singlefile)]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain(
      `invalid value for DATA: \`${made().singlefile}\` is node<${made().singlefile}> (SinglefileData), not a core.dict node`,
    );
    const format = await verdi(['data', 'core.dict', 'show', '-f', 'xml', String(made().extra.dict)]);
    expect(format.code).toBe(2);
    expect(format.stderr).toContain("argument 'xml' is invalid");
  });
});

describe('verdi data core.array show', () => {
  it('prints every array as nested lists', async () => {
    const shown = await verdi(['data', 'core.array', 'show', '-f', 'yaml', String(made().extra.array)]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toBe('matrix:\n- - 1\n  - 2\n- - 3\n  - 4\nvector:\n- 0.5\n- 1.5\n- 2.5\n');
    const json = await verdi(['data', 'core.array', 'show', String(made().extra.array)]);
    expect(JSON.parse(json.stdout)).toEqual({
      matrix: [
        [1, 2],
        [3, 4],
      ],
      vector: [0.5, 1.5, 2.5],
    });
    const wrong = await verdi(['data', 'core.array', 'show', String(made().extra.dict)]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('not a core.array node');
  });
});

describe('verdi data core.singlefile content', () => {
  it('prints the file; refuses other nodes, unknown nodes and a missing argument', async () => {
    const content = await verdi(['data', 'core.singlefile', 'content', String(made().singlefile)]);
    expect(content.code, content.stderr).toBe(0);
    expect(content.stdout).toBe('first line\nsecond line\n\n');
    const wrong = await verdi(['data', 'core.singlefile', 'content', String(made().folder)]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/invalid value for DATUM: .*FolderData/);
    const unknown = await verdi(['data', 'core.singlefile', 'content', 'no-such-label']);
    expect(unknown.code).toBe(2);
    const missing = await verdi(['data', 'core.singlefile', 'content']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'datum'");
  });
});
