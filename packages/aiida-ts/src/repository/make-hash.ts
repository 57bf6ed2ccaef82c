import { HashingError } from '../errors.js';
import { treeDigest } from './tree-blake2b.js';

/**
 * aiida-core's `make_hash` (`aiida.common.hashing`), reproduced digest for digest: every value becomes a list of
 * 32-byte BLAKE2b leaf digests personalised with its type, containers are framed by an opening and a `)` digest,
 * dictionaries and sets are sorted by their digests, and the leaves are folded into one BLAKE2b tree root. The
 * same value therefore hashes the same here and in Python, which keeps caching (`_aiida_hash`) compatible.
 */

/** aiida's `AIIDA_FLOAT_PRECISION`: significant digits kept when hashing floats. */
export const AIIDA_FLOAT_PRECISION = 14;

/**
 * A float that must hash as a Python `float` even though its value is integral (`1.0`); plain JS numbers that are
 * integers hash as Python `int`.
 */
export class HashFloat {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}

/** Values `makeHash` accepts: JSON-like data plus bytes, sets, maps, dates and bigints. */
export type Hashable =
  | string
  | number
  | bigint
  | boolean
  | null
  | undefined
  | Uint8Array
  | Date
  | HashFloat
  | readonly Hashable[]
  | ReadonlySet<Hashable>
  | ReadonlyMap<Hashable, Hashable>
  | { readonly [key: string]: Hashable };

const encoder = new TextEncoder();

function computeDigest(type: string, bytes: Uint8Array): Uint8Array {
  return treeDigest({ nodeDepth: 0, lastNode: false, person: encoder.encode(type) }, [bytes]);
}

// Leaves repeat a lot (dictionary keys, class names, small numbers): their digests are kept, up to a bound.
const SHORT_LEAF = 96;
const leafDigests = new Map<string, Uint8Array>();

function singleDigest(type: string, bytes: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (bytes.length > SHORT_LEAF) return computeDigest(type, bytes);
  const key = `${type}\u0000${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')}`;
  let digest = leafDigests.get(key);
  if (digest === undefined) {
    digest = computeDigest(type, bytes);
    if (leafDigests.size >= 8192) leafDigests.clear();
    leafDigests.set(key, digest);
  }
  return digest;
}

// Text leaves (strings, and numbers as text) are looked up by the text itself, before encoding it: a hit then
// costs no UTF-8 encoding and no key built from bytes. A separate map: a text and a byte string with the same
// characters are different leaves.
const SHORT_TEXT = SHORT_LEAF / 3; // at most 3 UTF-8 bytes per UTF-16 code unit
const textDigests = new Map<string, Uint8Array>();

function textDigest(type: string, text: string): Uint8Array {
  if (text.length > SHORT_TEXT) return singleDigest(type, encoder.encode(text));
  const key = `${type}\u0000${text}`;
  let digest = textDigests.get(key);
  if (digest === undefined) {
    digest = computeDigest(type, encoder.encode(text));
    if (textDigests.size >= 8192) textDigests.clear();
    textDigests.set(key, digest);
  }
  return digest;
}

// Computed on first use: a digest at import would load the WebAssembly BLAKE2b for every command.
let endDigest: Uint8Array | undefined;
function closeDigest(): Uint8Array {
  endDigest ??= singleDigest(')');
  return endDigest;
}
let lastLeafDigest: Uint8Array | undefined;

function compareDigestLists(a: readonly Uint8Array[], b: readonly Uint8Array[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = Buffer.compare(a[i] as Uint8Array, b[i] as Uint8Array);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Python's `'{:.{sig}g}'.format(value)` (with -0.0 written as 0), as aiida's `float_to_text`. */
export function floatToText(value: number, sig: number = AIIDA_FLOAT_PRECISION): string {
  if (Number.isNaN(value)) return 'nan';
  if (value === Infinity) return 'inf';
  if (value === -Infinity) return '-inf';
  if (value === 0) return '0';
  const [mantissa = '', exponentText = '0'] = value.toExponential(sig - 1).split('e');
  const exponent = Number(exponentText);
  const negative = mantissa.startsWith('-');
  const digits = mantissa.replace('-', '').replace('.', '');
  let text: string;
  if (exponent < -4 || exponent >= sig) {
    const trimmed = digits.replace(/0+$/, '');
    const body = trimmed.length > 1 ? `${trimmed[0]}.${trimmed.slice(1)}` : trimmed;
    text = `${body}e${exponent < 0 ? '-' : '+'}${String(Math.abs(exponent)).padStart(2, '0')}`;
  } else if (exponent >= 0) {
    const integer = digits.slice(0, exponent + 1).padEnd(exponent + 1, '0');
    const fraction = digits.slice(exponent + 1).replace(/0+$/, '');
    text = fraction.length > 0 ? `${integer}.${fraction}` : integer;
  } else {
    const fraction = ('0'.repeat(-exponent - 1) + digits).replace(/0+$/, '');
    text = `0.${fraction}`;
  }
  return negative ? `-${text}` : text;
}

function floatDigest(value: number): Uint8Array {
  return textDigest('float', floatToText(value));
}

function isPlainObject(value: object): value is { readonly [key: string]: Hashable } {
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function hashMapping(entries: Iterable<readonly [Hashable, Hashable]>): Uint8Array[] {
  const hashed = [...entries].map(([key, value]) => ({ key: digests(key), value }));
  hashed.sort((a, b) => compareDigestLists(a.key, b.key));
  const out = [singleDigest('dict(')];
  for (const { key, value } of hashed) out.push(...key, ...digests(value));
  out.push(closeDigest());
  return out;
}

function digests(value: Hashable): Uint8Array[] {
  if (value === null || value === undefined) return [singleDigest('none')];
  switch (typeof value) {
    case 'string':
      return [textDigest('str', value)];
    case 'boolean':
      return [singleDigest('bool', new Uint8Array([value ? 1 : 0]))];
    case 'bigint':
      return [textDigest('int', value.toString())];
    case 'number':
      if (Number.isInteger(value)) return [textDigest('int', BigInt(value).toString())];
      return [floatDigest(value)];
    default:
      break;
  }
  if (value instanceof HashFloat) return [floatDigest(value.value)];
  if (value instanceof Uint8Array) return [singleDigest('str', value)];
  if (value instanceof Date) {
    const time = value.getTime();
    if (Number.isNaN(time)) throw new HashingError('cannot hash an invalid Date');
    return [textDigest('datetime', floatToText(time / 1000))];
  }
  if (Array.isArray(value)) {
    const out = [singleDigest('list(')];
    for (const item of value as readonly Hashable[]) out.push(...digests(item));
    out.push(closeDigest());
    return out;
  }
  if (value instanceof Set) {
    const items = [...(value as ReadonlySet<Hashable>)].map(digests).sort(compareDigestLists);
    return [singleDigest('set('), ...items.flat(), closeDigest()];
  }
  if (value instanceof Map) return hashMapping((value as ReadonlyMap<Hashable, Hashable>).entries());
  if (typeof value === 'object' && isPlainObject(value)) return hashMapping(Object.entries(value));
  throw new HashingError(`value of type ${Object.prototype.toString.call(value)} cannot be hashed`);
}

/**
 * The hash aiida-core's `make_hash` gives the equivalent Python value: plain objects and Maps as `dict`, arrays as
 * `list`, Sets as `set`, integral numbers and bigints as `int`, other numbers and {@link HashFloat} as `float`,
 * strings and bytes as `str`, null/undefined as `None`, Dates as `datetime`. Throws `TypeError` for anything else.
 */
export function makeHash(value: Hashable): string {
  const leaves = digests(value);
  // the empty last leaf every `make_hash` tree ends with
  lastLeafDigest ??= treeDigest({ nodeDepth: 0, lastNode: true }, []);
  leaves.push(lastLeafDigest);
  return Buffer.from(treeDigest({ nodeDepth: 1, lastNode: true }, leaves)).toString('hex');
}
