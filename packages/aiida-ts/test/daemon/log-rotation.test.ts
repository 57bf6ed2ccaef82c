/**
 * The daemon log rotates by size, as aiida-core's daemon log does (10 MB, 10 files kept by default): past the limit
 * the log moves to `<log>.1`, older ones shift, at most N are kept, nothing written is reordered; the workers, which
 * write straight into the log's descriptor, go on writing at the start of the emptied log; and the supervisor
 * rotates what its workers wrote.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { daemonPaths, RotatingLogFile, Supervisor } from '../../src/engine/daemon/supervisor/index.js';

const folders: string[] = [];
afterEach(() => {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function folder(): string {
  const made = mkdtempSync(join(tmpdir(), 'aiida-ts-log-rotation-'));
  folders.push(made);
  return made;
}

/** Runs a node child that writes `text` to its stdout, which is the log's descriptor (as a daemon worker's is). */
function childWrites(fd: number, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', `process.stdout.write(${JSON.stringify(text)})`], {
      stdio: ['ignore', fd, fd],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`child exited with ${String(code)}`)),
    );
  });
}

describe('the daemon log file', () => {
  it('rotates past the limit, keeps N files, and loses or reorders nothing it kept', () => {
    const path = join(folder(), 'aiida-test.log');
    const log = new RotatingLogFile(path, { maxBytes: 1_000, backupCount: 3 });
    const lines = Array.from(
      { length: 80 },
      (_, index) => `line ${String(index).padStart(4, '0')} ${'x'.repeat(88)}\n`,
    );
    try {
      for (const line of lines) log.write(line);
    } finally {
      log.close();
    }
    for (const index of [1, 2, 3]) {
      const rotated = statSync(`${path}.${index}`).size;
      expect(rotated).toBeGreaterThanOrEqual(1_000);
      expect(rotated).toBeLessThan(1_000 + 100);
    }
    expect(existsSync(`${path}.4`)).toBe(false);
    expect(statSync(path).size).toBeLessThan(1_000);
    // oldest kept to newest: the last lines written, contiguous and in order
    const kept =
      [3, 2, 1].map((index) => readFileSync(`${path}.${index}`, 'utf8')).join('') +
      readFileSync(path, 'utf8');
    expect(lines.join('').endsWith(kept)).toBe(true);
    expect(kept.length).toBeGreaterThan(3_000);
  });

  it("keeps a worker's descriptor writing at the start of the emptied log", async () => {
    const path = join(folder(), 'aiida-test.log');
    const log = new RotatingLogFile(path, { maxBytes: 1_000, backupCount: 2 });
    try {
      await childWrites(log.fd, 'w'.repeat(1_500));
      expect(log.rotateIfFull()).toBe(true);
      await childWrites(log.fd, 'after the rotation\n');
      // appended at the new end: no hole of zero bytes where the old content was
      expect(readFileSync(path, 'utf8')).toBe('after the rotation\n');
      expect(readFileSync(`${path}.1`, 'utf8')).toBe('w'.repeat(1_500));
      expect(log.rotateIfFull()).toBe(false);
    } finally {
      log.close();
    }
  });

  it('is rotated by the supervisor when its workers write past the limit', async () => {
    const paths = daemonPaths(folder(), 'rotation');
    // a worker that writes 3 kB to its output, then waits to be stopped
    const worker = `process.stdout.write('y'.repeat(3000) + '\\n'); process.on('message', () => process.exit(0)); setInterval(() => undefined, 1000);`;
    const supervisor = await Supervisor.start({
      paths,
      workers: 1,
      workerCommand: { command: process.execPath, args: ['-e', worker] },
      stopTimeoutMs: 2_000,
      logRotation: { maxBytes: 2_000, backupCount: 2 },
      logCheckMs: 20,
    });
    try {
      await expect
        .poll(
          () =>
            existsSync(`${paths.logFile}.1`) &&
            readFileSync(`${paths.logFile}.1`, 'utf8').includes('y'.repeat(3000)),
          {
            timeout: 20_000,
            interval: 20,
          },
        )
        .toBe(true);
    } finally {
      await supervisor.stopAndExit(2_000);
    }
    expect(readFileSync(paths.logFile, 'utf8')).not.toContain('y'.repeat(3000));
  });
});
