import type { Computer } from '../../orm/entities/computer.js';
import { asError } from '../../utils/as-error.js';
import type { Cli } from '../cli.js';

/** What `setup` and `duplicate` decide themselves; the rest comes from the resolved option values. */
export interface NewComputerChoices {
  readonly label: string;
  readonly schedulerType: string;
  readonly metadata: Record<string, unknown>;
}

/**
 * Stores the computer that `verdi computer setup` or `duplicate` resolved (`values`: hostname, description,
 * transport, work_dir), or exits naming why it is invalid, and says it was created (aiida-core's messages).
 */
export async function storeNewComputer(
  cli: Cli,
  values: Readonly<Record<string, unknown>>,
  choices: NewComputerChoices,
): Promise<Computer> {
  const storage = await cli.storage();
  const { Computer } = await import('../../orm/entities/computer.js');
  const computer = new Computer(
    {
      label: choices.label,
      hostname: String(values.hostname),
      description: typeof values.description === 'string' ? values.description : '',
      transportType: String(values.transport),
      schedulerType: choices.schedulerType,
      workdir: String(values.work_dir),
      metadata: choices.metadata,
    },
    { storage },
  );
  try {
    computer.validate();
  } catch (error) {
    cli.out.critical(`unable to store the computer: ${asError(error).message}. Exiting...`);
  }
  await computer.store();
  cli.out.success(`Computer<${String(computer.pk)}> ${computer.label} created`);
  return computer;
}
