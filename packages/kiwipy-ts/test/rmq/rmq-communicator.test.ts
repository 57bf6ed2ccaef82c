import { silentLogger } from 'kiwipy-ts';
import { connect } from 'kiwipy-ts/rmq';
import { communicatorContract } from 'kiwipy-ts/testing';
import { RMQ_URL, uniquePrefix } from './helpers.js';

communicatorContract(
  'RmqCommunicator',
  () => connect({ url: RMQ_URL, prefix: uniquePrefix('contract'), testingMode: true, logger: silentLogger }),
  { quietPeriod: 300 },
);
