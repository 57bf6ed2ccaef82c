import { LocalCommunicator } from 'kiwipy-ts';
import { registerProcessClass } from '../../src/index.js';
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
