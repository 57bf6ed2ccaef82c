import type { IHasher } from 'hash-wasm';
import { Blake2b, type Blake2bParams } from './blake2b.js';

/**
 * The BLAKE2b tree-mode digests aiida-core's `make_hash` needs (fanout 0, depth 2, inner length 64, 32-byte digests,
 * a personalisation per leaf type, the last-node flag), computed by hash-wasm's WebAssembly BLAKE2b — about six
 * times faster than {@link Blake2b} in plain JavaScript, which hashing a node used to spend ~15% of a calcfunction on.
 *
 * No BLAKE2b package on npm takes the tree parameters (hash-wasm, blake2b-wasm and the native ones set fanout and
 * depth to 1 and have no last-node flag), so the parameters are applied through hash-wasm's public `save`/`load` of
 * its hash state: the state saved right after `init` holds `h = IV ^ P` for the standard parameter block P, and
 * XOR-ing in the differences of our block gives exactly the state BLAKE2b's init makes for it; the `last_node` field
 * of that state sets the second finalisation flag. The layout of the state is the C struct of hash-wasm's
 * blake2b.c (h[8], t[2], f[2], buf[128], buflen, outlen, last_node), checked by a self-test against the JavaScript
 * implementation before the WebAssembly one is used: any mismatch (another hash-wasm version) keeps the JavaScript
 * one, so the digests never change.
 *
 * The WebAssembly module is compiled on the first digest asked for (not at import, which would cost every command
 * its start-up time); until it is ready, and if it cannot load, digests come from the JavaScript implementation.
 * hash-wasm itself is imported then too: every storage reaches this module, and its 280 kB of code would otherwise
 * be compiled by every command that opens one (`verdi process list`), hashing or not.
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

/** hash-wasm's `save()` prefixes the state with 4 bytes identifying its WebAssembly binary. */
const SAVED_PREFIX = 4;
/** Offset of `last_node` in hash-wasm's `blake2b_state` (after h, t, f, buf, buflen and outlen). */
const LAST_NODE_OFFSET = 64 + 16 + 16 + 128 + 4 + 4;

interface WasmTree {
  readonly hasher: IHasher;
  /** The state saved after `init` for the standard parameter block of a 32-byte digest. */
  readonly initial: Uint8Array;
  /** Prepared states by parameters (leaf types repeat: `str`, `int`, `dict(`, …). */
  readonly states: Map<string, Uint8Array>;
  /** The same states by parameter object, for callers that keep one object per leaf type (no key to build). */
  readonly byParams: WeakMap<TreeDigestParams, Uint8Array>;
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
    prepared[SAVED_PREFIX + offset] = (prepared[SAVED_PREFIX + offset] ?? 0) ^ value;
  };
  // h = IV ^ P: XOR in where our parameter block differs from the standard one (fanout 1, depth 1, no tree fields)
  xor(2, 1 ^ 0);
  xor(3, 1 ^ 2);
  xor(16, params.nodeDepth);
  xor(17, INNER_SIZE);
  person.forEach((byte, i) => xor(48 + i, byte));
  prepared[SAVED_PREFIX + LAST_NODE_OFFSET] = params.lastNode ? 1 : 0;
  if (tree.states.size > 256) tree.states.clear();
  tree.states.set(key, prepared);
  return prepared;
}

function wasmDigest(tree: WasmTree, params: TreeDigestParams, chunks: readonly Uint8Array[]): Uint8Array {
  const hasher = tree.hasher.load(stateFor(tree, params));
  const [only] = chunks;
  if (chunks.length > 1) hasher.update(Buffer.concat(chunks));
  else if (only !== undefined) hasher.update(only);
  return hasher.digest('binary');
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
  loading ??= import('hash-wasm')
    .then(({ createBLAKE2b }) => createBLAKE2b(DIGEST_SIZE * 8))
    .then(
      (hasher) => {
        hasher.init();
        const tree: WasmTree = {
          hasher,
          initial: hasher.save(),
          states: new Map(),
          byParams: new WeakMap(),
        };
        if (!selfTest(tree)) return false;
        wasm = tree;
        return true;
      },
      // no WebAssembly here: the JavaScript implementation stays, with the same digests
      () => false,
    );
  return loading;
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
