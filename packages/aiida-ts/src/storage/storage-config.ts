import type { z } from 'zod';
import { ValidationError } from '../errors.js';

/**
 * Validates a profile's `storage.config` with a plugin's schema; the error names the plugin and every failing
 * key (`storage.config.<key>`).
 */
export function parseStorageConfig<S extends z.ZodType>(
  schema: S,
  config: unknown,
  entryPoint: string,
): z.output<S> {
  const result = schema.safeParse(config);
  if (result.success) return result.data;
  throw new ValidationError(
    `invalid storage.config for ${entryPoint}`,
    result.error.issues.map((issue) => ({
      path: ['storage', 'config', ...issue.path.map(String)].join('.'),
      message: issue.message,
    })),
  );
}
