import type { Command } from 'commander';
import type { Config } from '../config/config.js';
import type { Profile } from '../config/profile.js';
import type { StorageBackend } from '../storage/backend.js';
import { Output, type OutputOptions } from './utils/output.js';
import { Prompter, type PrompterOptions } from './utils/prompt.js';

/**
 * One command group of `verdi` (or a single command such as `verdi status`), in its own file under
 * `src/cmdline/commands/cmd-<name>.ts`, listed in `registry.ts`. The file is imported only when its command runs (or
 * for `verdi --help`), so it must keep heavy imports (storage, ORM) inside its actions.
 */
export interface CommandGroupModule {
  /** The name typed after `verdi`; must equal the `<name>` of the file name. */
  readonly name: string;
  /** One line for `verdi --help`. */
  readonly description: string;
  /** Build the commander command, with every subcommand and option. */
  build(cli: Cli): Command;
}

/** Declare a command group module (identity, for type checking). */
export function defineCommandGroup(module: CommandGroupModule): CommandGroupModule {
  return module;
}

/** Where a {@link Cli} writes, reads and finds its configuration. */
export interface CliOptions extends OutputOptions, PrompterOptions {}

/**
 * What every command action gets: output, prompts, and lazy access to the configuration, the selected profile and
 * its storage. Resources opened through it are closed when the command ends.
 */
export class Cli {
  readonly out: Output;
  readonly prompt: Prompter;
  /** Set from the global `-p/--profile` option before any action runs. */
  profileName: string | undefined;
  #cleanups: (() => Promise<void> | void)[] = [];
  #storage: Promise<StorageBackend> | undefined;

  constructor(options: CliOptions = {}) {
    this.out = new Output(options);
    this.prompt = new Prompter(options);
  }

  /** The configuration, read (and migrated, with a warning) on first use. */
  async config(): Promise<Config> {
    const manager = await import('../config/manager.js');
    const config = manager.getConfig();
    const migrated = manager.getConfigLoadReport().migratedFrom;
    if (migrated !== undefined && !this.#warnedMigration) {
      this.#warnedMigration = true;
      this.out.warning(
        `configuration file \`${config.filepath}\` was outdated (v${migrated.version}) and was migrated`,
      );
      this.out.warning(`original backed up to \`${migrated.backup}\``);
    }
    return config;
  }

  #warnedMigration = false;

  /** The profile named with `-p`, else the default profile; made current for library code. */
  async profile(): Promise<Profile> {
    await this.config();
    const { selectProfile } = await import('../config/manager.js');
    return selectProfile(this.profileName);
  }

  /**
   * The profile named with `-p` (which must exist), else the default profile if one is set, else `undefined`: for
   * commands that also work without a profile (`verdi config`, `verdi status`).
   */
  async maybeProfile(): Promise<Profile | undefined> {
    const config = await this.config();
    if (this.profileName === undefined && config.defaultProfileName === undefined) return undefined;
    return this.profile();
  }

  /**
   * Load the profile (as {@link Cli.profile}) and open its storage as the default storage of ORM calls. Opened
   * once per command and closed when the command ends.
   */
  async storage(): Promise<StorageBackend> {
    this.#storage ??= (async () => {
      const profile = await this.profile();
      const { loadProfile, unloadProfile } = await import('../config/load-profile.js');
      await loadProfile(profile.name);
      this.defer(unloadProfile);
      const { getStorage } = await import('../storage/context.js');
      return getStorage();
    })();
    return this.#storage;
  }

  /** Run `cleanup` when the command ends, after earlier-registered cleanups ran (last in, first out). */
  defer(cleanup: () => Promise<void> | void): void {
    this.#cleanups.push(cleanup);
  }

  /** Release everything the command opened. Errors are reported, not thrown: the command's outcome stands. */
  async close(): Promise<void> {
    this.prompt.close();
    for (const cleanup of this.#cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        this.out.warning(`while closing: ${(error as Error).message}`);
      }
    }
  }
}
