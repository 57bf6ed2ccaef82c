import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineProject } from 'vitest/config';

// Tests run with a home folder of their own, whose shell startup files are empty: login shells (core.local runs
// `bash -l -c` by default) would otherwise run the developer's, which are not under test and can be slow or
// stall (a pyenv in ~/.bashrc takes a machine-wide lock in every shell; a shell killed while it holds the lock
// makes every later one wait 60 s). Remote sessions keep the user's real home (see the private sshd).
const home = join(tmpdir(), `aiida-ts-test-home-${process.getuid?.() ?? 'user'}`);
mkdirSync(home, { recursive: true });
for (const file of ['.profile', '.bashrc']) writeFileSync(join(home, file), '');

export default defineProject({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    env: { HOME: home },
  },
});
