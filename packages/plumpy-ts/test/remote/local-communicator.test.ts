import { LocalCommunicator, silentLogger } from 'kiwipy-ts';
import { describe, expect, it } from 'vitest';
import {
  InMemoryPersister,
  Process,
  ProcessLauncher,
  createContinueBody,
  registerProcessClass,
} from '../../src/index.js';
import { RemoteAdd, RemoteWaiter, describeRemoteControl } from './contract.js';

registerProcessClass(RemoteAdd, { identifier: 'RemoteAdd' });
registerProcessClass(RemoteWaiter, { identifier: 'RemoteWaiter' });

describeRemoteControl('a LocalCommunicator', () => {
  const communicator = new LocalCommunicator();
  return {
    separateConnections: false,
    connect: () => Promise.resolve(communicator),
  };
});

describe('ProcessLauncher load context', () => {
  it('gives processes continued from a checkpoint the services of its load context', async () => {
    const persister = new InMemoryPersister();
    const lines: string[] = [];
    const logger = { ...silentLogger, info: (_fields: object, message: string) => lines.push(message) };
    class Reporting extends Process {
      override run(): void {
        this.report('continued');
      }
    }
    const process = new Reporting({ persister });
    await process.ready();
    const launcher = new ProcessLauncher({ persister, loadContext: { logger } });
    expect(await launcher.handle(createContinueBody(process.pid))).toEqual({});
    expect(lines).toEqual(['continued']);
  });
});
