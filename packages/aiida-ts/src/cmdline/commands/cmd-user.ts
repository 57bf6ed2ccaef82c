import { Command } from 'commander';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';

async function setDefaultUser(cli: Cli, email: string): Promise<void> {
  const profile = await cli.profile();
  const config = await cli.config();
  config.update((fresh) => {
    const target = fresh.getProfile(profile.name);
    target.defaultUserEmail = email;
    fresh.updateProfile(target);
  });
  const storage = await cli.storage();
  storage.defaultUserEmail = email;
}

export default defineCommandGroup({
  name: 'user',
  description: 'Inspect and manage users.',
  build(cli: Cli) {
    const group = new Command('user');

    group
      .command('list')
      .description('Show a list of all users (the default user marked with `*`).')
      .option('--json', 'Print the users as JSON.')
      .action(async (opts: { json?: boolean }) => {
        cli.out.json = opts.json === true;
        const storage = await cli.storage();
        const { User } = await import('../../orm/entities/user.js');
        const users = (await User.all({ storage })).sort((a, b) => a.email.localeCompare(b.email));
        if (opts.json === true) {
          cli.out.printJson(
            users.map((user) => ({
              pk: user.pk,
              email: user.email,
              first_name: user.firstName,
              last_name: user.lastName,
              institution: user.institution,
              is_default: user.isDefault(),
            })),
          );
          return;
        }
        const rows = users.map((user) => {
          const row = [
            user.isDefault() ? '*' : '',
            user.email,
            user.firstName,
            user.lastName,
            user.institution,
          ];
          return user.isDefault() ? row.map((cell) => cli.out.colors.green(cell)) : row;
        });
        cli.out.table(['', 'Email', 'First name', 'Last name', 'Institution'], rows);
      });

    group
      .command('configure')
      .description('Create a user or change the names and institution of an existing one.')
      .requiredOption('--email <email>', 'Email of the user (its identity).')
      .option('--first-name <name>', 'First name of the user.')
      .option('--last-name <name>', 'Last name of the user.')
      .option('--institution <name>', 'Institution of the user.')
      .option('--set-default', 'Make the user the default user of the profile.')
      .option('-n, --non-interactive', 'Never prompt for missing values.')
      .action(
        async (opts: {
          email: string;
          firstName?: string;
          lastName?: string;
          institution?: string;
          setDefault?: boolean;
          nonInteractive?: boolean;
        }) => {
          if (!opts.email.includes('@'))
            throw new UsageError(`invalid value for --email: \`${opts.email}\` is not an email address`);
          const storage = await cli.storage();
          const { User } = await import('../../orm/entities/user.js');
          const { NotExistentError } = await import('../../errors.js');
          let existing;
          try {
            existing = await User.get(opts.email, { storage });
          } catch (error) {
            if (!(error instanceof NotExistentError)) throw error;
          }
          const interactive = cli.prompt.interactive && opts.nonInteractive !== true;
          const ask = async (given: string | undefined, question: string, current: string | undefined) => {
            if (given !== undefined) return given;
            if (!interactive) return current ?? '';
            return cli.prompt.ask(question, { default: current ?? '', allowEmpty: true });
          };
          const firstName = await ask(opts.firstName, 'First name', existing?.firstName);
          const lastName = await ask(opts.lastName, 'Last name', existing?.lastName);
          const institution = await ask(opts.institution, 'Institution', existing?.institution);
          let email: string;
          if (existing === undefined) {
            const user = await new User(
              { email: opts.email, firstName, lastName, institution },
              { storage },
            ).store();
            email = user.email;
            cli.out.success(`${email} successfully created`);
          } else {
            await existing.update({ firstName, lastName, institution });
            email = existing.email;
            cli.out.success(`${email} successfully updated`);
          }
          if (opts.setDefault === true) {
            await setDefaultUser(cli, email);
            cli.out.success(`${email} set as default user for profile \`${(await cli.profile()).name}\``);
          }
        },
      );

    group
      .command('set-default')
      .description('Set a user as the default user of the profile.')
      .argument('<email>', 'Email of an existing user.')
      .action(async (email: string) => {
        const storage = await cli.storage();
        const { User } = await import('../../orm/entities/user.js');
        const user = await User.get(email, { storage });
        await setDefaultUser(cli, user.email);
        cli.out.success(`${user.email} set as default user for profile \`${(await cli.profile()).name}\``);
      });

    return group;
  },
});
