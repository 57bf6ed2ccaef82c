import type { Command } from 'commander';
import type { Computer } from '../../orm/entities/computer.js';
import { runInteractive } from '../calcjob/shared.js';
import type { Cli } from '../cli.js';

/**
 * `verdi computer goto COMPUTER` (aiida's): opens a shell on the computer in its work directory (`{username}`
 * filled in for the remote user), through the computer's transport for the current user.
 */
export function addGotoCommand(
  group: Command,
  cli: Cli,
  loadComputer: (cli: Cli, identifier: string) => Promise<Computer>,
): void {
  group
    .command('goto')
    .description('Open a shell on the computer, in its work directory.')
    .argument('<computer>', 'Label, pk or uuid of the computer.')
    .action(async (identifier: string) => {
      const computer = await loadComputer(cli, identifier);
      if (!(await computer.isUserConfigured())) {
        cli.out.critical(
          `computer ${computer.label} is not configured for the current user: run verdi computer configure`,
        );
      }
      const { remoteWorkBase } = await import('../../engine/processes/calcjobs/execmanager.js');
      const transport = await computer.openTransport();
      let workdir: string;
      try {
        workdir = await remoteWorkBase(computer, transport);
      } finally {
        await transport.close();
      }
      const command = transport.gotocomputerCommand(workdir);
      cli.out.info('going to the remote work directory...');
      const code = await runInteractive(cli, command);
      if (code !== 0) cli.out.critical(`the shell on ${computer.label} ended with exit code ${String(code)}`);
    });
}
