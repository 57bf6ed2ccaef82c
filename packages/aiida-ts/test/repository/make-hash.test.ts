import { HashingError } from '../../src/errors.js';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Blake2b } from '../../src/repository/blake2b.js';
import { HashFloat, floatToText, makeHash } from '../../src/repository.js';
import { loadTreeHash } from '../../src/repository/tree-blake2b.js';
import type { Hashable } from '../../src/repository.js';

// Expected digests were computed with Python's hashlib following aiida-core's `make_hash`.
const VECTORS: [string, Hashable, string][] = [
  ['None', null, '1729486cc7e56a6383542b1ec73125ccb26093651a5da05e04657ac416a74b8f'],
  ['True', true, '31ad5fa163a0c478d966c7f7568f3248f0c58d294372b2e8f7cb0560d8c8b12f'],
  ['False', false, 'deef768d52d994f0822c0779befe75f0ed5ac8b534d28f0bb20d46346734fa67'],
  ['0', 0, '52dc42aa1ff06d0f1fe76a8dbfca9ae3591d20e300fcb950da7fdf6e02d5745d'],
  ['1', 1, 'd8cffbe8ffe33b22c5801736accf706528a2e4d4e1a0d914a538d5aae244cfda'],
  ['-5', -5, '34db3b4f9828c175c8417d420321d730af7c941051f7867bf8dd7da6bd66c3b8'],
  ['10**30', 10n ** 30n, '4cdab7f2b3ef24f561f04cdfbd780f3a3f51e1480c68a97a606edee1597e8260'],
  ['1.5', 1.5, '2007688b53e398453e1ce1b504b4cf10fbbad9a8d76422fc1acc89cccbc940ad'],
  ['0.1', 0.1, 'aee31ca22fc6252e8111498d2729f61421b1412f05fbb4af0c069149817d4145'],
  ['1e-05', 1e-5, 'b3b8adcf5204c45f8b913dbfd93c0729bbe73d18713811f1cb07af56de1119d3'],
  ['1e+20', new HashFloat(1e20), 'edade574c90de4b8e165f8d86178fbfb7f119c6b68428af7689a92add6ff6f02'],
  [
    '123456789012345.6',
    123456789012345.6,
    'aaccef5aaffa062afd13b9886482656c89c5fee11e63203bb426e9e9b45f4cf5',
  ],
  ['-2.5e-07', -2.5e-7, '7dcbad832ca8092d416400dc4f0f067eb6441558b0e93246c1d8218c5461d925'],
  ['3.0', new HashFloat(3), 'ea5a88f73901e9abaaf2526856295927a60543935449297f67a51f7e9721233c'],
  ["'abc'", 'abc', 'd4bf57e7a33a9c3dbf98532731fda13f236cf1dd2ede24ee62b234cb386befb4'],
  ["'héllo wörld'", 'héllo wörld', '3beb02ec62b8744b594bee690d5c7ed8887b46de0c544a520b7278333266704f'],
  ["''", '', 'b35a8c62439a9235279053883104224c41e2edb0db80dfd99514b0731f41b984'],
  [
    "b'\\x00\\x01'",
    new Uint8Array([0, 1]),
    '996af1131248c802122905bb45a2fef0726af4d00d2e7408a8f1b9c1cdd9cfc4',
  ],
  ["[1, 'a', None]", [1, 'a', null], 'a93e7f4fc10f5c719df8caf193510a977a5444057f5a072b4a04f1bcdaea5596'],
  [
    "{'b': 1, 'a': [1.5, {'x': 'y'}]}",
    { b: 1, a: [1.5, { x: 'y' }] },
    '5f1167ebddc5e1e3162e48bb2906bef3a4fc54e0311b7e5b94d863a317088167',
  ],
  ['{}', {}, '828bee2d7c56d2f7fc6a92fa7015e7836ee01117c1e18899a223257c428acbd9'],
  ['[]', [], 'f2ce9493ade032d30426dde7a1ece1a48adfb0e7babaf3b7cdca7a1402129d1a'],
  ['{1, 2, 3}', new Set([3, 1, 2]), 'a11cff8e62b57e1aefb7de908bd50096816b66796eb7e11ad78edeaf2629f89c'],
  ["'x' * 300", 'x'.repeat(300), '14758a4218e0719d416bbd69191cf6c974fe505f8443959ba46fc678acd2feae'],
];

describe('makeHash (aiida-core make_hash)', () => {
  it.each(VECTORS)('hashes Python %s like aiida', (_, value, expected) => {
    expect(makeHash(value)).toBe(expected);
  });

  it('gives the same digests with the WebAssembly BLAKE2b loaded', async () => {
    // the first digests above came from the JavaScript implementation while the WebAssembly one was compiling
    expect(await loadTreeHash()).toBe(true);
    for (const [, value, expected] of VECTORS) expect(makeHash(value)).toBe(expected);
  });

  it('hashes every safe integer as the Python int of its digits, cached small or digested directly', async () => {
    // small non-negative integers come from a cache, others are digested straight into the leaves: both must give
    // the leaf a bigint (the generic text path) gives
    expect(await loadTreeHash()).toBe(true);
    for (const value of [0, 1, 1023, 1024, 20_000, -1, -5, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      expect(makeHash(value)).toBe(makeHash(BigInt(value)));
      expect(makeHash({ value: [value, value] })).toBe(makeHash({ value: [BigInt(value), BigInt(value)] }));
    }
  });

  it('ignores key order of mappings but not of lists', () => {
    expect(makeHash({ a: 1, b: 2 })).toBe(
      makeHash(
        new Map<Hashable, Hashable>([
          ['b', 2],
          ['a', 1],
        ]),
      ),
    );
    expect(makeHash([1, 2])).not.toBe(makeHash([2, 1]));
  });

  it('orders the keys of each dictionary by their own digests, whatever dictionaries it hashed before', () => {
    // the remembered key order of one dictionary is never used for another whose keys join to the same text
    makeHash({ 'a\u0000b': 1, c: 2 });
    expect(makeHash({ a: 1, 'b\u0000c': 2 })).toBe(makeHash({ 'b\u0000c': 2, a: 1 }));
    expect(makeHash({ a: 1, 'b\u0000c': 2 })).toBe(
      makeHash(
        new Map<Hashable, Hashable>([
          ['b\u0000c', 2],
          ['a', 1],
        ]),
      ),
    );
    // a dictionary too large to remember its order hashes as a map of the same entries
    const large = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
    expect(makeHash(large)).toBe(makeHash(new Map(Object.entries(large).reverse())));
  });

  it('refuses values it cannot hash', () => {
    expect(() => makeHash(Symbol('x') as unknown as Hashable)).toThrow(HashingError);
    expect(() => makeHash(new (class Custom {})() as unknown as Hashable)).toThrow(/cannot be hashed/);
  });

  it.each([
    [1.5, '1.5'],
    [0.1, '0.1'],
    [1e-5, '1e-05'],
    [1e20, '1e+20'],
    [123456789012345.6, '1.2345678901235e+14'],
    [-2.5e-7, '-2.5e-07'],
    [-0, '0'],
    [100, '100'],
    [0.0001, '0.0001'],
    [Number.NaN, 'nan'],
    [-Infinity, '-inf'],
  ])("formats %s like Python's '{:.14g}'", (value, text) => {
    expect(floatToText(value)).toBe(text);
  });
});

describe('Blake2b', () => {
  const data = [
    new Uint8Array(0),
    new TextEncoder().encode('abc'),
    Uint8Array.from({ length: 768 }, (_, i) => i % 256),
  ];

  it('matches Node’s blake2b512 without parameters', () => {
    for (const bytes of data) {
      expect(new Blake2b({ digestSize: 64 }).update(bytes).hexdigest()).toBe(
        createHash('blake2b512').update(bytes).digest('hex'),
      );
    }
  });

  it('matches Python’s hashlib with every tree parameter set', () => {
    const expected = [
      '65a909e03f0f6e328a7036de325ce5eb488a8a9a33dbd06e9c4a19062a3261b4',
      '737ebcc30b0bd289a7c28656a909169a5912ff106b9fd69f2a6d3b038b2bb939',
      'cec9d40a87a43551211cbaef654dfdbe9ea23ba9e675d528b490dbc67bbffcfc',
    ];
    data.forEach((bytes, i) => {
      const hash = new Blake2b({
        digestSize: 32,
        person: new TextEncoder().encode('dict('),
        salt: new TextEncoder().encode('saltsalt'),
        nodeDepth: 3,
        lastNode: true,
        fanout: 0,
        depth: 2,
        innerSize: 64,
        leafSize: 7,
        nodeOffset: 2 ** 33 + 5,
      });
      // Feed in uneven pieces to exercise block boundaries.
      hash.update(bytes.subarray(0, 100)).update(bytes.subarray(100, 128)).update(bytes.subarray(128));
      expect(hash.hexdigest()).toBe(expected[i]);
    });
  });
});
