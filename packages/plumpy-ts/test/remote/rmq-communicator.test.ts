import { randomUUID } from 'node:crypto';
import { silentLogger } from 'kiwipy-ts';
import { connect } from 'kiwipy-ts/rmq';
import { registerProcessClass } from '../../src/index.js';
import { RemoteAdd, RemoteWaiter, describeRemoteControl } from './contract.js';

/** The shared broker (a test that cannot reach it fails). */
const RMQ_URL = process.env['PLUMPY_TEST_RMQ_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672/';

registerProcessClass(RemoteAdd, { identifier: 'RemoteAdd' });
registerProcessClass(RemoteWaiter, { identifier: 'RemoteWaiter' });

describeRemoteControl('a RabbitMQ communicator', () => {
  // Every test gets its own exchanges and queues: other tests (and engineers) never see its messages.
  const prefix = `plumpy-ts-test-${randomUUID().slice(0, 8)}`;
  return {
    separateConnections: true,
    connect: () => connect({ url: RMQ_URL, prefix, testingMode: true, logger: silentLogger }),
  };
});
