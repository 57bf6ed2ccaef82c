import { z } from 'zod';

/** Compression algorithms disk-objectstore knows: zlib at levels 1 to 9, written `zlib+<level>`. */
export const CompressionAlgorithmSchema = z
  .string()
  .regex(/^zlib\+[1-9]$/, 'expected `zlib+<level>` with a level from 1 to 9');

/**
 * `config.json` at the root of a disk-objectstore container, with disk-objectstore's exact keys. Unknown keys are
 * kept so a newer container's settings survive being read by us.
 */
export const ContainerConfigSchema = z.looseObject({
  container_version: z.literal(1),
  loose_prefix_len: z.number().int().min(0).max(63),
  pack_size_target: z.number().int().positive(),
  hash_type: z.literal('sha256'),
  container_id: z.string().regex(/^[0-9a-f]{32}$/, 'expected a uuid4 as 32 hex characters'),
  compression_algorithm: CompressionAlgorithmSchema,
});
export type ContainerConfig = z.infer<typeof ContainerConfigSchema>;

/** disk-objectstore's defaults for a new container. */
export const DEFAULT_PACK_SIZE_TARGET = 4 * 1024 * 1024 * 1024;
export const DEFAULT_LOOSE_PREFIX_LEN = 2;
export const DEFAULT_COMPRESSION_ALGORITHM = 'zlib+1';

/** The zlib level of a `zlib+<level>` algorithm string. */
export function zlibLevel(algorithm: string): number {
  return Number(CompressionAlgorithmSchema.parse(algorithm).slice('zlib+'.length));
}
