import { InvalidOperationError, ValidationError } from '../errors.js';
/**
 * BLAKE2b (RFC 7693) with the full parameter block (fanout, depth, node depth, inner length, personalisation, last
 * node flag), which Node's `crypto` does not expose and aiida-core's `make_hash` needs for its tree-mode hashing.
 * 64-bit words are kept as pairs of 32-bit halves (low word at even index).
 */

/** BLAKE2b parameters (RFC 7693 §2.8 and the BLAKE2 paper's tree mode). */
export interface Blake2bParams {
  /** Digest length in bytes, 1 to 64. */
  readonly digestSize: number;
  /** 0 means unlimited fanout. */
  readonly fanout?: number;
  readonly depth?: number;
  readonly leafSize?: number;
  readonly nodeOffset?: number;
  readonly nodeDepth?: number;
  readonly innerSize?: number;
  /** Up to 16 bytes, zero-padded. */
  readonly person?: Uint8Array;
  /** Up to 16 bytes, zero-padded. */
  readonly salt?: Uint8Array;
  /** Marks the last node of a tree level (sets the second finalisation flag). */
  readonly lastNode?: boolean;
}

// prettier-ignore
const IV = new Uint32Array([
  0xf3bcc908, 0x6a09e667, 0x84caa73b, 0xbb67ae85, 0xfe94f82b, 0x3c6ef372, 0x5f1d36f1, 0xa54ff53a,
  0xade682d1, 0x510e527f, 0x2b3e6c1f, 0x9b05688c, 0xfb41bd6b, 0x1f83d9ab, 0x137e2179, 0x5be0cd19,
]);

// prettier-ignore
const SIGMA = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
  [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
  [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
  [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
  [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
  [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
  [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
  [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
  [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
].map((row) => row.map((i) => i * 2));

const BLOCK = 128;

/** An incremental BLAKE2b hash. */
export class Blake2b {
  readonly #h = new Uint32Array(16);
  readonly #v = new Uint32Array(32);
  readonly #m = new Uint32Array(32);
  readonly #block = new Uint8Array(BLOCK);
  #blockLength = 0;
  /** Bytes compressed so far (a double is exact far beyond any input we hash). */
  #counter = 0;
  readonly #digestSize: number;
  readonly #lastNode: boolean;
  #finished = false;

  constructor(params: Blake2bParams) {
    const { digestSize } = params;
    if (!Number.isInteger(digestSize) || digestSize < 1 || digestSize > 64) {
      throw new ValidationError(`BLAKE2b digest size must be 1 to 64 bytes, got ${digestSize}`);
    }
    const block = new Uint8Array(64);
    const view = new DataView(block.buffer);
    block[0] = digestSize;
    block[1] = 0; // no key
    block[2] = params.fanout ?? 1;
    block[3] = params.depth ?? 1;
    view.setUint32(4, params.leafSize ?? 0, true);
    const nodeOffset = params.nodeOffset ?? 0;
    view.setUint32(8, nodeOffset >>> 0, true);
    view.setUint32(12, Math.floor(nodeOffset / 0x100000000), true);
    block[16] = params.nodeDepth ?? 0;
    block[17] = params.innerSize ?? 0;
    for (const [field, offset] of [
      [params.salt, 32],
      [params.person, 48],
    ] as const) {
      if (field === undefined) continue;
      if (field.length > 16)
        throw new ValidationError('BLAKE2b salt and personalisation are at most 16 bytes');
      block.set(field, offset);
    }
    for (let i = 0; i < 16; i++) this.#h[i] = (IV[i] as number) ^ view.getUint32(i * 4, true);
    this.#digestSize = digestSize;
    this.#lastNode = params.lastNode ?? false;
  }

  update(data: Uint8Array): this {
    if (this.#finished) throw new InvalidOperationError('BLAKE2b: update after digest');
    let offset = 0;
    while (offset < data.length) {
      // Compress a full block only once more data follows: the final block must carry the finalisation flag.
      if (this.#blockLength === BLOCK) {
        this.#counter += BLOCK;
        this.#compress(false);
        this.#blockLength = 0;
      }
      const take = Math.min(BLOCK - this.#blockLength, data.length - offset);
      this.#block.set(data.subarray(offset, offset + take), this.#blockLength);
      this.#blockLength += take;
      offset += take;
    }
    return this;
  }

  digest(): Uint8Array {
    if (!this.#finished) {
      this.#counter += this.#blockLength;
      this.#block.fill(0, this.#blockLength);
      this.#compress(true);
      this.#finished = true;
    }
    const out = new Uint8Array(this.#digestSize);
    for (let i = 0; i < this.#digestSize; i++)
      out[i] = ((this.#h[i >> 2] as number) >>> (8 * (i & 3))) & 0xff;
    return out;
  }

  hexdigest(): string {
    return Buffer.from(this.digest()).toString('hex');
  }

  #compress(last: boolean): void {
    const v = this.#v;
    const m = this.#m;
    const h = this.#h;
    for (let i = 0; i < 16; i++) {
      v[i] = h[i] as number;
      v[i + 16] = IV[i] as number;
    }
    v[24] = (v[24] as number) ^ (this.#counter >>> 0);
    v[25] = (v[25] as number) ^ Math.floor(this.#counter / 0x100000000);
    if (last) {
      v[28] = ~(v[28] as number);
      v[29] = ~(v[29] as number);
      if (this.#lastNode) {
        v[30] = ~(v[30] as number);
        v[31] = ~(v[31] as number);
      }
    }
    const block = this.#block;
    for (let i = 0; i < 32; i++) {
      const j = i * 4;
      m[i] =
        ((block[j] as number) |
          ((block[j + 1] as number) << 8) |
          ((block[j + 2] as number) << 16) |
          ((block[j + 3] as number) << 24)) >>>
        0;
    }
    for (const s of SIGMA) {
      mix(v, m, 0, 8, 16, 24, s[0] as number, s[1] as number);
      mix(v, m, 2, 10, 18, 26, s[2] as number, s[3] as number);
      mix(v, m, 4, 12, 20, 28, s[4] as number, s[5] as number);
      mix(v, m, 6, 14, 22, 30, s[6] as number, s[7] as number);
      mix(v, m, 0, 10, 20, 30, s[8] as number, s[9] as number);
      mix(v, m, 2, 12, 22, 24, s[10] as number, s[11] as number);
      mix(v, m, 4, 14, 16, 26, s[12] as number, s[13] as number);
      mix(v, m, 6, 8, 18, 28, s[14] as number, s[15] as number);
    }
    for (let i = 0; i < 16; i++) h[i] = (h[i] as number) ^ (v[i] as number) ^ (v[i + 16] as number);
  }
}

/** v[a] += v[b] + m[x] as 64-bit words. */
function add3(v: Uint32Array, a: number, b: number, m: Uint32Array, x: number): void {
  let lo = (v[a] as number) + (v[b] as number);
  let hi = (v[a + 1] as number) + (v[b + 1] as number) + (lo >= 0x100000000 ? 1 : 0);
  lo >>>= 0;
  const lo2 = lo + (m[x] as number);
  hi += (m[x + 1] as number) + (lo2 >= 0x100000000 ? 1 : 0);
  v[a] = lo2;
  v[a + 1] = hi;
}

/** v[a] += v[b] as 64-bit words. */
function add2(v: Uint32Array, a: number, b: number): void {
  const lo = (v[a] as number) + (v[b] as number);
  v[a + 1] = (v[a + 1] as number) + (v[b + 1] as number) + (lo >= 0x100000000 ? 1 : 0);
  v[a] = lo;
}

/** v[d] = rotr64(v[d] ^ v[a], n) for n in 32, 24, 16, 63. */
function xorRotate(v: Uint32Array, d: number, a: number, n: 32 | 24 | 16 | 63): void {
  const lo = (v[d] as number) ^ (v[a] as number);
  const hi = (v[d + 1] as number) ^ (v[a + 1] as number);
  if (n === 32) {
    v[d] = hi;
    v[d + 1] = lo;
  } else if (n === 63) {
    v[d] = (lo << 1) | (hi >>> 31);
    v[d + 1] = (hi << 1) | (lo >>> 31);
  } else {
    v[d] = (lo >>> n) | (hi << (32 - n));
    v[d + 1] = (hi >>> n) | (lo << (32 - n));
  }
}

function mix(
  v: Uint32Array,
  m: Uint32Array,
  a: number,
  b: number,
  c: number,
  d: number,
  x: number,
  y: number,
): void {
  add3(v, a, b, m, x);
  xorRotate(v, d, a, 32);
  add2(v, c, d);
  xorRotate(v, b, c, 24);
  add3(v, a, b, m, y);
  xorRotate(v, d, a, 16);
  add2(v, c, d);
  xorRotate(v, b, c, 63);
}
