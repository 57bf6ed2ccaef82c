import { InternalError } from '../errors.js';
import type { CommandGroupModule } from './cli.js';

/** A command group of `verdi`, not yet imported. */
export interface CommandGroupEntry {
  readonly name: string;
  load(): Promise<CommandGroupModule>;
}

type GroupModule = Promise<{ default: CommandGroupModule }>;

/**
 * Every command group of `verdi`, by the word typed after it, each a module of `commands/` imported only when its
 * command runs (or for `verdi --help`). Written out rather than found by listing the folder: a bundler follows these
 * imports (the built `verdi` is one bundle, see scripts/bundle-verdi.ts), and a test checks that the table names
 * every `cmd-<name>.ts` of the folder.
 */
const COMMAND_GROUPS: Readonly<Record<string, () => GroupModule>> = {
  archive: () => import('./commands/cmd-archive.js'),
  calcjob: () => import('./commands/cmd-calcjob.js'),
  code: () => import('./commands/cmd-code.js'),
  computer: () => import('./commands/cmd-computer.js'),
  config: () => import('./commands/cmd-config.js'),
  daemon: () => import('./commands/cmd-daemon.js'),
  data: () => import('./commands/cmd-data.js'),
  devel: () => import('./commands/cmd-devel.js'),
  group: () => import('./commands/cmd-group.js'),
  node: () => import('./commands/cmd-node.js'),
  plugin: () => import('./commands/cmd-plugin.js'),
  presto: () => import('./commands/cmd-presto.js'),
  process: () => import('./commands/cmd-process.js'),
  profile: () => import('./commands/cmd-profile.js'),
  quota: () => import('./commands/cmd-quota.js'),
  run: () => import('./commands/cmd-run.js'),
  shell: () => import('./commands/cmd-shell.js'),
  status: () => import('./commands/cmd-status.js'),
  storage: () => import('./commands/cmd-storage.js'),
  user: () => import('./commands/cmd-user.js'),
  web: () => import('./commands/cmd-web.js'),
};

/** The command groups of `verdi`, sorted by name; nothing is imported until an entry's `load` is called. */
export function listCommandGroups(): CommandGroupEntry[] {
  // the names are lowercase ASCII, so code-unit order is alphabetical; `localeCompare` would load ICU's collator
  // (~6 ms of every command's start-up)
  return Object.entries(COMMAND_GROUPS)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, importer]) => ({
      name,
      async load(): Promise<CommandGroupModule> {
        const group = (await importer()).default;
        if (group.name !== name) {
          throw new InternalError(
            `command module cmd-${name} must export default a command group named \`${name}\``,
          );
        }
        return group;
      },
    }));
}
