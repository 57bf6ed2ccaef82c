/**
 * Child process of the aiida-ts schema test: opens a profile storage and creates the aiida-ts tables at the same
 * moment as its siblings, then prints the version it sees.
 * Usage: ensure-aiida-ts-schema.ts <entry point> <storage config as JSON>
 */
import {
  aiidaTsSchemaStatus,
  ensureAiidaTsSchema,
} from '../../../src/storage/aiida-ts-schema/schema-state.js';
import { openTestStorage } from './open-storage.js';

const [entryPoint, configText] = process.argv.slice(2);
const storage = await openTestStorage(entryPoint, configText);
try {
  await ensureAiidaTsSchema(storage);
  const status = await aiidaTsSchemaStatus(storage);
  process.stdout.write(`${JSON.stringify(status)}\n`);
} finally {
  await storage.close();
}
