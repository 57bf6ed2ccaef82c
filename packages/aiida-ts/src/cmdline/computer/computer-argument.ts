import type { Computer } from '../../orm/entities/computer.js';
import type { Cli } from '../cli.js';
import { resolveArgument } from '../utils/arguments.js';

/**
 * The stored computer a COMPUTER argument names (label, else pk or uuid prefix). One that names nothing, or more
 * than one computer, is a usage error (exit code 2) in every `verdi computer` command, as aiida-core's parameter
 * type makes it.
 */
export async function computerArgument(cli: Cli, identifier: string): Promise<Computer> {
  const storage = await cli.storage();
  const { loadComputer } = await import('../../orm/entities/computer.js');
  return resolveArgument('COMPUTER', () => loadComputer(identifier, { storage }));
}
