import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { escapeForBash, filterNames, fnmatch, hasMagic } from '../../src/transports.js';

describe('fnmatch (Python rules)', () => {
  it.each([
    ['a2', 'a?', true],
    ['a22', 'a?', false],
    ['a4f', 'a[2-4]*', true],
    ['a5', 'a[2-4]*', false],
    ['ab', 'a[!2-4]', true],
    ['a3', 'a[!2-4]', false],
    ['a]', 'a[]]', true],
    ['a[', 'a[', true],
    ['x(1)', 'x(1)', true],
    ['{a,b}', '{a,b}', true],
    ['a', '{a,b}', false],
    ['+(x)', '+(x)', true],
    ['a.b', 'a*b', true],
    ['A', 'a', false],
    ['line\nbreak', 'line*', true],
    ['a-b', 'a[-]b', true],
    ['a^', 'a[\\^]', true],
    ['aiida.pdos_atm#2(Al)_wfc#2(p)', 'aiida.pdos*', true],
  ])('%j matches %j: %s', (name, pattern, expected) => {
    expect(fnmatch(name, pattern)).toBe(expected);
  });

  it('hides dot names unless the pattern starts with a dot', () => {
    expect(filterNames(['.a', 'a', '.b'], '*')).toEqual(['a']);
    expect(filterNames(['.a', 'a', '.b'], '.*')).toEqual(['.a', '.b']);
  });

  it('treats a pattern without magic characters as a literal (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 30 }).filter((s) => !hasMagic(s)),
        (s) => {
          expect(fnmatch(s, s)).toBe(true);
          expect(fnmatch(`${s}x`, s)).toBe(false);
        },
      ),
    );
  });

  it('escapeForBash wraps in single quotes and refuses NUL', () => {
    expect(escapeForBash("it's")).toBe(`'it'"'"'s'`);
    expect(escapeForBash('')).toBe("''");
    expect(() => escapeForBash('a\0b')).toThrow(/NUL/u);
  });
});
