import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { HashingError } from '../errors.js';
import { Blake2b, type Blake2bParams } from './blake2b.js';

/**
 * The BLAKE2b tree-mode digests aiida-core's `make_hash` needs (fanout 0, depth 2, inner length 64, 32-byte digests,
 * a personalisation per leaf type, the last-node flag), computed by hash-wasm's WebAssembly BLAKE2b — about six
 * times faster than {@link Blake2b} in plain JavaScript, which hashing a node used to spend ~15% of a calcfunction on.
 *
 * No BLAKE2b package on npm takes the tree parameters (hash-wasm, blake2b-wasm and the native ones set fanout and
 * depth to 1 and have no last-node flag), so the parameters are applied to the hash state of hash-wasm's BLAKE2b
 * module, which we instantiate ourselves (see {@link instantiateBlake2b}): the state right after `init` holds
 * `h = IV ^ P` for the standard parameter block P, and XOR-ing in the differences of our block gives exactly the
 * state BLAKE2b's init makes for it; the `last_node` field of that state sets the second finalisation flag. The
 * layout of the state is the C struct of hash-wasm's blake2b.c (h[8], t[2], f[2], buf[128], buflen, outlen,
 * last_node), checked by a self-test against the JavaScript implementation before the WebAssembly one is used: any
 * mismatch (another hash-wasm version) keeps the JavaScript one, so the digests never change.
 *
 * The WebAssembly module is compiled on the first digest asked for (not at import, which would cost every command
 * its start-up time); until it is ready, and if it cannot load, digests come from the JavaScript implementation.
 * The module's binary is read then too: every storage reaches this module, and every command that opens one
 * (`verdi process list`) would otherwise pay for it, hashing or not.
 */

/** The tree parameters of one digest. */
export interface TreeDigestParams {
  /** 0 for a leaf, 1 for the root. */
  readonly nodeDepth: 0 | 1;
  readonly lastNode: boolean;
  /** Personalisation (aiida's leaf type name), at most 16 bytes. */
  readonly person?: Uint8Array | undefined;
}

const DIGEST_SIZE = 32;
const INNER_SIZE = 64;
const TREE: Omit<Blake2bParams, 'nodeDepth'> = {
  fanout: 0,
  depth: 2,
  digestSize: DIGEST_SIZE,
  innerSize: INNER_SIZE,
};

/** Offset of `last_node` in hash-wasm's `blake2b_state` (after h, t, f, buf, buflen and outlen). */
const LAST_NODE_OFFSET = 64 + 16 + 16 + 128 + 4 + 4;
/** The size of hash-wasm's input buffer (`main_buffer`): longer data goes in as several updates. */
const MAIN_BUFFER_SIZE = 16 * 1024;

/**
 * The part of the WebAssembly API used here, declared for this module: the global exists in every Node.js we run
 * on, but @types/node 20 does not declare it (only the DOM library does, which not every program compiling this
 * file includes).
 */
declare const WebAssembly: {
  instantiate(
    bytes: Uint8Array,
    imports: object,
  ): Promise<{ readonly instance: { readonly exports: Readonly<Record<string, unknown>> } }>;
};

/** The functions hash-wasm's BLAKE2b module exports (see its `blake2b.c`). */
interface Blake2bExports {
  readonly memory: { readonly buffer: ArrayBuffer };
  /** The address of the `STATE_SIZE` constant in the module's memory. */
  readonly STATE_SIZE: { readonly value: unknown };
  Hash_GetBuffer(): number;
  Hash_GetState(): number;
  Hash_Init(bits: number): void;
  Hash_Update(size: number): void;
  Hash_Final(): void;
}

interface WasmTree {
  readonly exports: Blake2bExports;
  /** Where the module reads its input and writes its digest, and where its state lives, in its memory. */
  readonly bufferOffset: number;
  readonly stateOffset: number;
  /** The state after `init` for the standard parameter block of a 32-byte digest. */
  readonly initial: Uint8Array;
  /** Prepared states by parameters (leaf types repeat: `str`, `int`, `dict(`, …). */
  readonly states: Map<string, Uint8Array>;
  /** The same states by parameter object, for callers that keep one object per leaf type (no key to build). */
  readonly byParams: WeakMap<TreeDigestParams, Uint8Array>;
  /** Views of the module's memory, made again if it ever grows (which detaches the old buffer). */
  memory: Uint8Array;
  digestBytes: Buffer;
}

let wasm: WasmTree | undefined;
let loading: Promise<boolean> | undefined;

function javascriptDigest(params: TreeDigestParams, chunks: readonly Uint8Array[]): Uint8Array {
  const hash = new Blake2b({
    ...TREE,
    nodeDepth: params.nodeDepth,
    lastNode: params.lastNode,
    ...(params.person === undefined ? {} : { person: params.person }),
  });
  for (const chunk of chunks) hash.update(chunk);
  return hash.digest();
}

function stateFor(tree: WasmTree, params: TreeDigestParams): Uint8Array {
  const known = tree.byParams.get(params);
  if (known !== undefined) return known;
  const state = preparedState(tree, params);
  tree.byParams.set(params, state);
  return state;
}

function preparedState(tree: WasmTree, params: TreeDigestParams): Uint8Array {
  const person = params.person ?? new Uint8Array(0);
  const key = `${params.nodeDepth}${params.lastNode ? 1 : 0}${Buffer.from(person).toString('latin1')}`;
  const state = tree.states.get(key);
  if (state !== undefined) return state;
  const prepared = tree.initial.slice();
  const xor = (offset: number, value: number): void => {
    prepared[offset] = (prepared[offset] ?? 0) ^ value;
  };
  // h = IV ^ P: XOR in where our parameter block differs from the standard one (fanout 1, depth 1, no tree fields)
  xor(2, 1 ^ 0);
  xor(3, 1 ^ 2);
  xor(16, params.nodeDepth);
  xor(17, INNER_SIZE);
  person.forEach((byte, i) => xor(48 + i, byte));
  prepared[LAST_NODE_OFFSET] = params.lastNode ? 1 : 0;
  if (tree.states.size > 256) tree.states.clear();
  tree.states.set(key, prepared);
  return prepared;
}

/** The module's memory, viewed afresh when it has grown since. */
function memoryOf(tree: WasmTree): Uint8Array {
  if (tree.memory.byteLength === 0) {
    const buffer = tree.exports.memory.buffer;
    tree.memory = new Uint8Array(buffer);
    tree.digestBytes = Buffer.from(buffer, tree.bufferOffset, DIGEST_SIZE);
  }
  return tree.memory;
}

/**
 * Runs one digest in the module, leaving it in the first 32 bytes of its buffer: the prepared state is written
 * straight into the module's memory, with no copy of state or digest through an intermediate array (a node's hash
 * takes a few such digests, and their overhead was most of its cost).
 */
function runDigest(tree: WasmTree, params: TreeDigestParams, data: Uint8Array): void {
  const memory = memoryOf(tree);
  memory.set(stateFor(tree, params), tree.stateOffset);
  // (no view of the data to make for the usual short input)
  if (data.length <= MAIN_BUFFER_SIZE) {
    memory.set(data, tree.bufferOffset);
    tree.exports.Hash_Update(data.length);
    tree.exports.Hash_Final();
    return;
  }
  for (let at = 0; at < data.length; at += MAIN_BUFFER_SIZE) {
    const chunk = data.subarray(at, at + MAIN_BUFFER_SIZE);
    memory.set(chunk, tree.bufferOffset);
    tree.exports.Hash_Update(chunk.length);
  }
  tree.exports.Hash_Final();
}

function wasmDigest(tree: WasmTree, params: TreeDigestParams, chunks: readonly Uint8Array[]): Uint8Array {
  runDigest(tree, params, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
  return tree.memory.slice(tree.bufferOffset, tree.bufferOffset + DIGEST_SIZE);
}

/** Vectors covering leaves, roots, personalisations, the last-node flag and several blocks. */
function selfTest(tree: WasmTree): boolean {
  const encoder = new TextEncoder();
  for (const [index, size] of [0, 1, 31, 127, 128, 129, 640, 1000].entries()) {
    const data = Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 0xff);
    const params: TreeDigestParams = {
      nodeDepth: index % 2 === 0 ? 0 : 1,
      lastNode: index % 3 === 0,
      person: encoder.encode(['str', 'dict(', '', 'datetime'][index % 4]),
    };
    const expected = Buffer.from(javascriptDigest(params, [data]));
    if (!expected.equals(wasmDigest(tree, params, [data]))) return false;
  }
  return true;
}

/**
 * Loads the WebAssembly BLAKE2b (once); resolves to whether it is used. Digests are the same either way: awaiting
 * this only makes the first ones fast.
 */
export function loadTreeHash(): Promise<boolean> {
  loading ??= instantiateBlake2b().then(
    (exports) => {
      exports.Hash_Init(DIGEST_SIZE * 8);
      const stateOffset = exports.Hash_GetState();
      const bufferOffset = exports.Hash_GetBuffer();
      const buffer = exports.memory.buffer;
      const stateSize = new DataView(buffer).getUint32(Number(exports.STATE_SIZE.value), true);
      const tree: WasmTree = {
        exports,
        bufferOffset,
        stateOffset,
        initial: new Uint8Array(buffer, stateOffset, stateSize).slice(),
        states: new Map(),
        byParams: new WeakMap(),
        memory: new Uint8Array(buffer),
        digestBytes: Buffer.from(buffer, bufferOffset, DIGEST_SIZE),
      };
      if (!selfTest(tree)) return false;
      wasm = tree;
      return true;
    },
    // no WebAssembly here (or not hash-wasm's module as we know it): the JavaScript implementation stays, with the
    // same digests
    () => false,
  );
  return loading;
}

/**
 * Our own instance of hash-wasm's BLAKE2b module. hash-wasm's `IHasher` copies the state in (with checks) and the
 * digest out (a new array) on every call, which for the short digests of a node's hash cost more than BLAKE2b
 * itself; the module's binary is the one base64 literal of hash-wasm's single-algorithm bundle `blake2b.umd.min.js`.
 */
async function instantiateBlake2b(): Promise<Blake2bExports> {
  const bundle = createRequire(import.meta.url).resolve('hash-wasm/dist/blake2b.umd.min.js');
  const literals = (await readFile(bundle, 'utf8')).match(/"AGFzbQ[A-Za-z0-9+/=]*"/g) ?? [];
  if (literals.length !== 1) throw new HashingError('hash-wasm: no single BLAKE2b module in its bundle');
  const binary = Buffer.from(literals[0].slice(1, -1), 'base64');
  const { instance } = await WebAssembly.instantiate(binary, {});
  const exports = instance.exports as Partial<Blake2bExports>;
  for (const name of ['Hash_GetBuffer', 'Hash_GetState', 'Hash_Init', 'Hash_Update', 'Hash_Final'] as const)
    if (typeof exports[name] !== 'function') throw new HashingError(`hash-wasm: the module has no ${name}`);
  const { memory, STATE_SIZE: stateSize } = exports;
  if (!(memory?.buffer instanceof ArrayBuffer) || typeof stateSize?.value !== 'number')
    throw new HashingError('hash-wasm: the module has no memory or STATE_SIZE');
  return exports as Blake2bExports;
}

/** Whether digests come from the WebAssembly BLAKE2b already (else from the JavaScript one until it loads). */
export function treeHashReady(): boolean {
  return wasm !== undefined;
}

/** The BLAKE2b tree-mode digest (32 bytes) of the concatenated chunks, as `make_hash` computes it. */
export function treeDigest(params: TreeDigestParams, chunks: readonly Uint8Array[]): Uint8Array {
  if (wasm !== undefined) return wasmDigest(wasm, params, chunks);
  void loadTreeHash();
  return javascriptDigest(params, chunks);
}

/** {@link treeDigest} of one chunk, written into `out` at `offset` (no array of its own). */
export function treeDigestInto(
  params: TreeDigestParams,
  data: Uint8Array,
  out: Uint8Array,
  offset: number,
): void {
  if (wasm === undefined) {
    out.set(treeDigest(params, [data]), offset);
    return;
  }
  runDigest(wasm, params, data);
  out.set(wasm.digestBytes, offset);
}

/**
 * {@link treeDigestInto} of a short text of ASCII characters only (an integer's digits), written into the module's
 * input as it is read: no encoder, and no array for the bytes.
 */
export function treeDigestAsciiInto(
  params: TreeDigestParams,
  text: string,
  out: Uint8Array,
  offset: number,
): void {
  if (wasm === undefined || text.length > MAIN_BUFFER_SIZE) {
    treeDigestInto(params, Buffer.from(text, 'latin1'), out, offset);
    return;
  }
  const tree = wasm;
  const memory = memoryOf(tree);
  memory.set(stateFor(tree, params), tree.stateOffset);
  const at = tree.bufferOffset;
  for (let i = 0; i < text.length; i++) memory[at + i] = text.charCodeAt(i);
  tree.exports.Hash_Update(text.length);
  tree.exports.Hash_Final();
  out.set(tree.digestBytes, offset);
}

/** {@link treeDigest} of one chunk, as hexadecimal text. */
export function treeDigestHex(params: TreeDigestParams, data: Uint8Array): string {
  if (wasm === undefined) return Buffer.from(treeDigest(params, [data])).toString('hex');
  runDigest(wasm, params, data);
  return wasm.digestBytes.toString('hex');
}
