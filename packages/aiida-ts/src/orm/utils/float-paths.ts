import type { JsonValue } from './clean.js';

/**
 * Where a node's attributes hold Python floats: dotted paths from the attribute key down, `*` matching any
 * key or list index (`cell.*.*`, `kinds.*.weights.*`). aiida-core writes a float with a point even when it is
 * integral (`2.0`), and reads `2` back as an int, so an integral float written as `2` changes the node's type
 * on the Python side and its hash.
 */
export type FloatPaths = readonly string[];

function matches(patterns: readonly (readonly string[])[], path: readonly string[]): boolean {
  return patterns.some(
    (pattern) =>
      pattern.length === path.length && pattern.every((part, index) => part === '*' || part === path[index]),
  );
}

/** Applies `convert` to every number found at one of `paths` in `attributes`, returning a new object. */
export function mapFloats<T>(
  attributes: Readonly<Record<string, JsonValue>>,
  paths: FloatPaths,
  convert: (value: number) => T,
): Record<string, JsonValue | T> {
  const patterns = paths.map((path) => path.split('.'));
  const walk = (value: JsonValue, path: string[]): JsonValue | T => {
    if (typeof value === 'number') return matches(patterns, path) ? convert(value) : value;
    if (Array.isArray(value))
      return value.map((item, index) => walk(item, [...path, String(index)]) as JsonValue);
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(
        Object.entries(value).map(([key, item]) => [key, walk(item, [...path, key]) as JsonValue]),
      );
    }
    return value;
  };
  return Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key, walk(value, [key])]));
}

// A private-use character: never escaped by JSON.stringify, never in a cleaned attribute next to digits like this.
const FLOAT_MARK = '\uE000float\uE000';

/**
 * JSON text of `attributes` with every integral number at one of `paths` written as a float (`2.0`), as
 * Python's `json.dumps` writes a float; other numbers as `JSON.stringify` writes them.
 */
export function jsonWithFloats(attributes: Readonly<Record<string, JsonValue>>, paths: FloatPaths): string {
  if (paths.length === 0) return JSON.stringify(attributes);
  const marked = mapFloats(
    attributes,
    paths,
    (value) => `${FLOAT_MARK}${pythonFloatText(value, 'repr')}${FLOAT_MARK}`,
  );
  return JSON.stringify(marked).replace(
    new RegExp(`"${FLOAT_MARK}([-+.\\deE]+)${FLOAT_MARK}"`, 'g'),
    (_match, number: string) => number,
  );
}

/**
 * Python's `repr(float)` (shortest round-trip digits, exponent when < 1e-4 or >= 1e16), as Python's `json.dumps`
 * writes it (`repr`) or PyYAML (`yaml`, the default, which also writes `1e+16` as `1.0e+16`).
 */
export function pythonFloatText(value: number, style: 'yaml' | 'repr' = 'yaml'): string {
  if (Number.isNaN(value)) return '.nan';
  if (value === Number.POSITIVE_INFINITY) return '.inf';
  if (value === Number.NEGATIVE_INFINITY) return '-.inf';
  if (value === 0) return Object.is(value, -0) ? '-0.0' : '0.0';
  const [mantissa = '0', exponentText = '0'] = value.toExponential().split('e');
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  const decimalPoint = exponent + 1;
  let text: string;
  if (decimalPoint > -4 && decimalPoint <= 16) {
    if (decimalPoint <= 0) text = `0.${'0'.repeat(-decimalPoint)}${digits}`;
    else if (decimalPoint >= digits.length) text = `${digits}${'0'.repeat(decimalPoint - digits.length)}.0`;
    else text = `${digits.slice(0, decimalPoint)}.${digits.slice(decimalPoint)}`;
  } else {
    // `repr` writes `1e+16`; PyYAML adds `.0` so that the text cannot read as an int (`1.0e+16`).
    const head =
      digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : style === 'yaml' ? `${digits}.0` : digits;
    const sign = exponent < 0 ? '-' : '+';
    text = `${head}e${sign}${String(Math.abs(exponent)).padStart(2, '0')}`;
  }
  return negative ? `-${text}` : text;
}

export { columnFloatPaths, integralFloatPaths } from '../../storage/json-floats.js';
