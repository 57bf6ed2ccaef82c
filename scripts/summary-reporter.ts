import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints, after the whole run, the slowest test files (CI must stay well under its time limit, and the tail of
 * a log is what one sees first) and one closing line, `Tests: N passed, N failed, N skipped`, so that CI and
 * anyone reading a log see one count for every package's suite together.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const mod of testModules) {
      if (mod.state() === 'failed' && [...mod.children.allTests()].length === 0) failed += 1;
      for (const test of mod.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
      }
    }
    failed += unhandledErrors.length;
    const slowest = testModules
      .map((mod) => ({ file: mod.moduleId.replace(`${process.cwd()}/`, ''), ms: mod.diagnostic().duration }))
      .sort((a, b) => b.ms - a.ms)
      .slice(0, 15);
    process.stdout.write('\nSlowest test files:\n');
    for (const { file, ms } of slowest)
      process.stdout.write(`  ${(ms / 1000).toFixed(1).padStart(7)} s  ${file}\n`);
    process.stdout.write(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
