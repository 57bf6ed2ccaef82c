import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listCommandGroups } from '../../src/cmdline/registry.js';

const COMMANDS = join(import.meta.dirname, '..', '..', 'src', 'cmdline', 'commands');

describe('the table of verdi command groups', () => {
  it('names every cmd-<name>.ts of the commands folder, and each module exports the group of its name', async () => {
    const files = readdirSync(COMMANDS)
      .map((file) => /^cmd-([a-z][a-z0-9-]*)\.ts$/.exec(file)?.[1])
      .filter((name) => name !== undefined)
      .sort((a, b) => a.localeCompare(b));
    const groups = listCommandGroups();
    expect(groups.map((group) => group.name)).toEqual(files);
    for (const entry of groups) expect((await entry.load()).name).toBe(entry.name);
  });
});
