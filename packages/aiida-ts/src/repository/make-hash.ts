import { HashingError } from '../errors.js';
import { treeDigest, treeDigestAsciiInto, treeDigestHex, type TreeDigestParams } from './tree-blake2b.js';

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
const DIGEST_SIZE = 32;

/**
 * A bounded memo of leaf digests in two generations: when the young one fills up it becomes the old one, and a
 * hit in the old one moves back. Leaves that recur (dictionary keys, class names, the empty repository's hash)
 * stay while a stream of unique values (one integer per node of a batch) passes through.
 */
class DigestMemo {
  #young = new Map<string, Uint8Array>();
  #old = new Map<string, Uint8Array>();

  get(key: string): Uint8Array | undefined {
    const young = this.#young.get(key);
    if (young !== undefined) return young;
    const old = this.#old.get(key);
    if (old !== undefined) this.set(key, old);
    return old;
  }

  set(key: string, digest: Uint8Array): void {
    if (this.#young.size >= MEMO_SIZE) {
      this.#old = this.#young;
      this.#young = new Map();
    }
    this.#young.set(key, digest);
  }
}
const MEMO_SIZE = 4096;

// The tree parameters of a leaf, per leaf type (few: `str`, `int`, `dict(`, …), so the WebAssembly state prepared
// for them is found by identity.
const leafParams = new Map<string, TreeDigestParams>();
function paramsFor(type: string): TreeDigestParams {
  let params = leafParams.get(type);
  if (params === undefined) {
    params = { nodeDepth: 0, lastNode: false, person: encoder.encode(type) };
    leafParams.set(type, params);
  }
  return params;
}

const INT_PARAMS = paramsFor('int');

function computeDigest(type: string, bytes: Uint8Array): Uint8Array {
  return treeDigest(paramsFor(type), [bytes]);
}

// Leaves without content (`none`, `dict(`, `)`, …) and the booleans: computed once each.
const fixedDigests = new Map<string, Uint8Array>();
function fixedDigest(type: string, bytes?: Uint8Array): Uint8Array {
  const key = bytes === undefined ? type : `${type}\u0000${bytes.join(',')}`;
  let digest = fixedDigests.get(key);
  if (digest === undefined) {
    digest = computeDigest(type, bytes ?? new Uint8Array(0));
    fixedDigests.set(key, digest);
  }
  return digest;
}

// Short byte strings repeat too: their digests are memoised by their bytes.
const SHORT_LEAF = 96;
const byteDigests = new DigestMemo();

function bytesDigest(type: string, bytes: Uint8Array): Uint8Array {
  if (bytes.length > SHORT_LEAF) return computeDigest(type, bytes);
  const key = `${type}\u0000${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')}`;
  let digest = byteDigests.get(key);
  if (digest === undefined) {
    digest = computeDigest(type, bytes);
    byteDigests.set(key, digest);
  }
  return digest;
}

// Text leaves (strings, and numbers as text) are memoised by the text itself, before encoding it: a hit costs no
// UTF-8 encoding. One memo per leaf type: a text and a byte string with the same characters are different leaves.
const SHORT_TEXT = 128;
const textMemos = new Map<string, DigestMemo>();
// a short text is at most 3 UTF-8 bytes per UTF-16 unit
const shortText = new Uint8Array(SHORT_TEXT * 3);

function textDigest(type: string, text: string): Uint8Array {
  if (text.length > SHORT_TEXT) return computeDigest(type, encoder.encode(text));
  let memo = textMemos.get(type);
  if (memo === undefined) {
    memo = new DigestMemo();
    textMemos.set(type, memo);
  }
  let digest = memo.get(text);
  if (digest === undefined) {
    // encoded into one reused buffer: the digest is taken before this returns (and copies the bytes it reads)
    const { written } = encoder.encodeInto(text, shortText);
    digest = computeDigest(type, shortText.subarray(0, written));
    memo.set(text, digest);
  }
  return digest;
}

/**
 * The leaf of a safe integer. Small ones recur (counters, flags, sizes) and are kept in an array by value; larger
 * ones are mostly unique (an `Int` node's value in a batch of thousands) and are digested straight into the leaves:
 * a memo would only churn, and keep each digest alive long enough for the garbage collector to copy it.
 */
function pushInteger(value: number, out: Leaves): void {
  if (value >= 0 && value < SMALL_INTEGERS) {
    let digest = smallIntegers[value];
    if (digest === undefined) smallIntegers[value] = digest = textDigest('int', String(value));
    out.push(digest);
    return;
  }
  const bytes = out.reserve();
  treeDigestAsciiInto(INT_PARAMS, String(value), bytes, out.length - DIGEST_SIZE);
}
const SMALL_INTEGERS = 1024;
const smallIntegers: (Uint8Array | undefined)[] = [];

/**
 * The leaf digests of a value, appended to one growing buffer (every leaf is 32 bytes): the root digest is taken
 * over the buffer as it is, without a list of leaves to concatenate.
 */
class Leaves {
  bytes = new Uint8Array(DIGEST_SIZE * 16);
  length = 0;

  push(digest: Uint8Array): void {
    if (this.length + DIGEST_SIZE > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(digest, this.length);
    this.length += DIGEST_SIZE;
  }

  /** Room for one more leaf, counted in; the caller writes its 32 bytes at `length - 32` of the array returned. */
  reserve(): Uint8Array {
    if (this.length + DIGEST_SIZE > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.length += DIGEST_SIZE;
    return this.bytes;
  }

  append(other: Leaves): void {
    if (this.length + other.length > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.length + other.length));
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    this.bytes.set(other.bytes.subarray(0, other.length), this.length);
    this.length += other.length;
  }

  // the last view made: the root leaves of nodes of one kind have one length, which then costs no new view per hash
  #view = new Uint8Array(0);

  view(): Uint8Array {
    if (this.#view.buffer !== this.bytes.buffer || this.#view.length !== this.length)
      this.#view = this.bytes.subarray(0, this.length);
    return this.#view;
  }
}

/**
 * aiida's order of dictionary keys and set items: by their lists of leaf digests. All leaves are 32 bytes, so
 * comparing the concatenated bytes is comparing the lists digest by digest, a shorter prefix first.
 */
function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
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

// the leaves of the value `makeHash` was given: one buffer reused by every call (the digest is taken before the
// call returns, and nothing inside calls makeHash again)
const rootLeaves = new Leaves();

function leavesOf(value: Hashable): Leaves {
  const leaves = new Leaves();
  collect(value, leaves);
  return leaves;
}

interface KeyLeaf {
  readonly key: string;
  readonly digest: Uint8Array;
}

// The digest order of each list of dictionary keys met lately: dictionaries of one kind share their keys (every
// node's hashed objects, the attributes of one node class), so a repeated one costs a lookup instead of a digest
// per key and a sort.
const keyOrders = new Map<
  string,
  { readonly keys: readonly string[]; readonly sorted: readonly KeyLeaf[] }
>();
const MAX_KEY_ORDERS = 1024;
/** Larger dictionaries (a `Dict` of many entries) are rare and costly to remember: sorted each time. */
const MAX_KEYS_REMEMBERED = 64;

function keyLeaves(keys: readonly string[]): KeyLeaf[] {
  const leaves = keys.map((key) => ({ key, digest: textDigest('str', key) }));
  if (leaves.length > 1) leaves.sort((a, b) => compareBytes(a.digest, b.digest));
  return leaves;
}

/** The keys with their leaf digests, in aiida's order (string keys are one leaf each, and distinct). */
function sortedKeys(keys: readonly string[]): readonly KeyLeaf[] {
  if (keys.length > MAX_KEYS_REMEMBERED) return keyLeaves(keys);
  // the few lists of keys met last, compared key by key: no joined text to build and look up for each dictionary
  // (hashing a node meets the same two or three kinds of dictionary over and over)
  for (const recent of recentOrders) {
    if (recent.keys.length === keys.length && sameKeys(recent.keys, keys)) return recent.sorted;
  }
  const found = rememberedKeys(keys);
  if (recentOrders.length >= RECENT_ORDERS) recentOrders.pop();
  recentOrders.unshift(found);
  return found.sorted;
}

/**
 * {@link sortedKeys} of a dictionary's own keys; one of the recent lists is matched by walking the keys in place,
 * without the array `Object.keys` makes (one per dictionary hashed: two per node).
 */
function sortedKeysOf(value: { readonly [key: string]: Hashable }): readonly KeyLeaf[] {
  for (const recent of recentOrders) if (hasExactKeys(value, recent.keys)) return recent.sorted;
  return sortedKeys(Object.keys(value));
}

function hasExactKeys(value: { readonly [key: string]: Hashable }, keys: readonly string[]): boolean {
  let i = 0;
  for (const key in value) {
    // (an inherited enumerable key is not the dictionary's: never a match)
    if (key !== keys[i] || !Object.hasOwn(value, key)) return false;
    i++;
  }
  return i === keys.length;
}

const RECENT_ORDERS = 4;
const recentOrders: { readonly keys: readonly string[]; readonly sorted: readonly KeyLeaf[] }[] = [];

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function rememberedKeys(keys: readonly string[]): {
  readonly keys: readonly string[];
  readonly sorted: readonly KeyLeaf[];
} {
  const id = keys.join('\u0000');
  const known = keyOrders.get(id);
  // the same keys in the same order (a key holding the separator could give another list the same id)
  if (known !== undefined && known.keys.length === keys.length && sameKeys(known.keys, keys)) return known;
  const found = { keys, sorted: keyLeaves(keys) };
  if (keyOrders.size >= MAX_KEY_ORDERS) keyOrders.clear();
  keyOrders.set(id, found);
  return found;
}

/** A dictionary: `dict(`, then key and value leaves with the keys in digest order, then `)`. */
function collectObject(value: { readonly [key: string]: Hashable }, out: Leaves): void {
  out.push(fixedDigest('dict('));
  for (const { key, digest } of sortedKeysOf(value)) {
    out.push(digest);
    collect(value[key], out);
  }
  out.push(fixedDigest(')'));
}

function collectMap(value: ReadonlyMap<Hashable, Hashable>, out: Leaves): void {
  out.push(fixedDigest('dict('));
  const entries = [...value.entries()].map(([key, item]) => ({ key: leavesOf(key).view(), item }));
  // stable: keys with equal digests (equal content) keep their insertion order
  entries.sort((a, b) => compareBytes(a.key, b.key));
  for (const { key, item } of entries) {
    for (let at = 0; at < key.length; at += DIGEST_SIZE) out.push(key.subarray(at, at + DIGEST_SIZE));
    collect(item, out);
  }
  out.push(fixedDigest(')'));
}

function collect(value: Hashable, out: Leaves): void {
  if (value === null || value === undefined) {
    out.push(fixedDigest('none'));
    return;
  }
  switch (typeof value) {
    case 'string':
      out.push(textDigest('str', value));
      return;
    case 'boolean':
      out.push(fixedDigest('bool', new Uint8Array([value ? 1 : 0])));
      return;
    case 'bigint':
      out.push(textDigest('int', value.toString()));
      return;
    case 'number':
      // a safe integer prints the same digits as its bigint; beyond, only the bigint has them all
      if (Number.isSafeInteger(value)) pushInteger(value, out);
      else if (Number.isInteger(value)) out.push(textDigest('int', BigInt(value).toString()));
      else out.push(floatDigest(value));
      return;
    default:
      break;
  }
  if (value instanceof HashFloat) {
    out.push(floatDigest(value.value));
  } else if (value instanceof Uint8Array) {
    out.push(bytesDigest('str', value));
  } else if (value instanceof Date) {
    const time = value.getTime();
    if (Number.isNaN(time)) throw new HashingError('cannot hash an invalid Date');
    out.push(textDigest('datetime', floatToText(time / 1000)));
  } else if (Array.isArray(value)) {
    out.push(fixedDigest('list('));
    for (const item of value as readonly Hashable[]) collect(item, out);
    out.push(fixedDigest(')'));
  } else if (value instanceof Set) {
    const items = [...(value as ReadonlySet<Hashable>)].map((item) => leavesOf(item).view());
    items.sort(compareBytes);
    out.push(fixedDigest('set('));
    for (const item of items) {
      for (let at = 0; at < item.length; at += DIGEST_SIZE) out.push(item.subarray(at, at + DIGEST_SIZE));
    }
    out.push(fixedDigest(')'));
  } else if (value instanceof Map) {
    collectMap(value as ReadonlyMap<Hashable, Hashable>, out);
  } else if (typeof value === 'object' && isPlainObject(value)) {
    collectObject(value, out);
  } else {
    throw new HashingError(`value of type ${Object.prototype.toString.call(value)} cannot be hashed`);
  }
}

let lastLeafDigest: Uint8Array | undefined;
const ROOT: TreeDigestParams = { nodeDepth: 1, lastNode: true };

/**
 * The hash aiida-core's `make_hash` gives the equivalent Python value: plain objects and Maps as `dict`, arrays as
 * `list`, Sets as `set`, integral numbers and bigints as `int`, other numbers and {@link HashFloat} as `float`,
 * strings and bytes as `str`, null/undefined as `None`, Dates as `datetime`. Throws `TypeError` for anything else.
 */
export function makeHash(value: Hashable): string {
  const leaves = rootLeaves;
  leaves.length = 0;
  collect(value, leaves);
  // the empty last leaf every `make_hash` tree ends with
  lastLeafDigest ??= treeDigest({ nodeDepth: 0, lastNode: true }, []);
  leaves.push(lastLeafDigest);
  return treeDigestHex(ROOT, leaves.view());
}
