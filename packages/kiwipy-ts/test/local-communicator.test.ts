import { LocalCommunicator, silentLogger } from 'kiwipy-ts';
import { communicatorContract } from 'kiwipy-ts/testing';

communicatorContract('LocalCommunicator', () => new LocalCommunicator({ logger: silentLogger }), {
  quietPeriod: 50,
});
