/**
 * `kiwipy-ts/testing`: the shared test suite every Communicator implementation must pass. Needs vitest
 * (an optional peer dependency).
 */
export {
  communicatorContract,
  type CommunicatorContractOptions,
  type CommunicatorFactory,
} from './testing/communicator-contract.js';
