import { InternalError } from '../errors.js';
import { readdirSync } from 'node:fs';
import type { CommandGroupModule } from './cli.js';

/** A command group found on disk, not yet imported. */
export interface CommandGroupEntry {
  readonly name: string;
  load(): Promise<CommandGroupModule>;
}

const FILE_PATTERN = /^cmd-([a-z][a-z0-9-]*)\.(js|ts)$/;

/**
 * The command groups of `verdi`: every `cmd-<name>.js` (or `.ts` when run from source) in the `commands` folder.
 * A new group is a new file; nothing else changes. Only file names are read here: a module is imported when its
 * command runs.
 */
export function discoverCommandGroups(
  folder: URL = new URL('./commands/', import.meta.url),
): CommandGroupEntry[] {
  const found = new Map<string, string>();
  for (const file of readdirSync(folder)) {
    const match = FILE_PATTERN.exec(file);
    if (match === null) continue;
    const [, name = '', extension] = match;
    // Compiled output wins over a stray source file of the same name.
    if (!found.has(name) || extension === 'js') found.set(name, file);
  }
  return [...found.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, file]) => ({
      name,
      async load(): Promise<CommandGroupModule> {
        const module = (await import(new URL(file, folder).href)) as { default?: CommandGroupModule };
        const group = module.default;
        if (group?.name !== name) {
          throw new InternalError(
            `command module ${file} must export default a command group named \`${name}\``,
          );
        }
        return group;
      },
    }));
}
