import { defineConfig } from 'vitest/config';

// One run over every package's suite; each package also runs alone with `pnpm --filter <pkg> test`.
export default defineConfig({
  test: {
    projects: ['packages/*'],
    reporters: ['default', './scripts/summary-reporter.ts'],
  },
});
