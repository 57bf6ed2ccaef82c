import { describeBackendContract } from './backend-contract.js';
import { BACKENDS } from './helpers.js';

for (const backend of BACKENDS) describeBackendContract(backend.name, backend.open);
