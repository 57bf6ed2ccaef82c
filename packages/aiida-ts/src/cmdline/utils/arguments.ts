import { isAiidaError } from '../../errors.js';
import { UsageError } from '../exit-codes.js';

/** The errors that mean "this identifier names nothing, more than one thing, or is no identifier at all". */
const NOT_FOUND = new Set(['NotExistentError', 'MultipleObjectsError', 'ValidationError']);

/**
 * Resolves a command-line argument (or option) naming an entity with `load`. An identifier that matches nothing, or
 * more than one thing, is a usage error, as aiida-core's parameter types make it: `Error: invalid value for NODES:
 * …` and exit code 2, whatever the command. Any other failure propagates unchanged.
 */
export async function resolveArgument<T>(argument: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (isAiidaError(error) && NOT_FOUND.has(error.name)) {
      throw new UsageError(`invalid value for ${argument}: ${error.message}`, undefined, { cause: error });
    }
    throw error;
  }
}
