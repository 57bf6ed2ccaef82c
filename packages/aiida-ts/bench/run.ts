/**
 * Runs every aiida-ts benchmark, one after another so they do not compete for the machine's cores. Each
 * prints its own figures and its ratio against the baseline it measures in the same run. Pass names to
 * run only some: `pnpm --filter aiida-ts bench storage querybuilder`. Everything from the first `--option` on is
 * passed to each benchmark run: `pnpm --filter aiida-ts bench scale -- --size 1e6`.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, join } from 'node:path';

const here = import.meta.dirname;
const args = process.argv.slice(2).filter((arg) => arg !== '--');
const firstOption = args.findIndex((arg) => arg.startsWith('--'));
const wanted = firstOption < 0 ? args : args.slice(0, firstOption);
const options = firstOption < 0 ? [] : args.slice(firstOption);
const benches = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts')
  .map((file) => basename(file, '.ts'))
  .filter((name) => wanted.length === 0 || wanted.includes(name))
  .sort();

let failed = 0;
for (const name of benches) {
  process.stdout.write(`\n### aiida-ts bench: ${name}\n`);
  const result = spawnSync(process.execPath, ['--import', 'tsx', join(here, `${name}.ts`), ...options], {
    stdio: 'inherit',
  });
  if (result.status !== 0) {
    failed += 1;
    process.stdout.write(`### ${name} failed (exit ${String(result.status ?? result.signal)})\n`);
  }
}
process.exitCode = failed === 0 ? 0 : 1;
