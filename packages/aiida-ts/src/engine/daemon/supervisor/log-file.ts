import {
  closeSync,
  copyFileSync,
  existsSync,
  fstatSync,
  ftruncateSync,
  openSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { z } from 'zod';

/**
 * Size-based rotation of a profile's daemon log, with aiida-core's limits (its daemon log handler is a
 * `RotatingFileHandler` of 10 MB keeping 10 files): when the log reaches `maxBytes`, `<log>.1` … `<log>.<backupCount>`
 * shift by one (the oldest is dropped), the log is copied to `<log>.1` and emptied.
 */
export const rotationSchema = z
  .object({
    maxBytes: z.number().int().min(1).default(10_000_000),
    backupCount: z.number().int().min(0).default(10),
  })
  .default({ maxBytes: 10_000_000, backupCount: 10 });
export type RotationOptions = z.input<typeof rotationSchema>;

/**
 * The daemon log file: the supervisor writes its lines through it, and its workers write their output straight into
 * its descriptor (inherited as their stdout and stderr, opened for appending), so they keep writing even while the
 * supervisor is gone. Rotation therefore copies and truncates (logrotate's `copytruncate`) instead of renaming: the
 * workers' descriptor stays on the log, and appending puts their next line at its new end. A line a worker writes in
 * the instant between the copy and the truncation is lost, the price of never interrupting them.
 */
export class RotatingLogFile {
  readonly path: string;
  /** The descriptor (append mode) to hand to the workers as stdout and stderr. */
  readonly fd: number;
  readonly #maxBytes: number;
  readonly #backupCount: number;
  #closed = false;

  constructor(path: string, options: RotationOptions = {}) {
    const { maxBytes, backupCount } = rotationSchema.parse(options);
    this.path = path;
    this.#maxBytes = maxBytes;
    this.#backupCount = backupCount;
    this.fd = openSync(path, 'a', 0o600);
  }

  /** Appends `text`, then rotates if the log has reached its size. Throws what the file system throws. */
  write(text: string): void {
    writeSync(this.fd, text);
    this.rotateIfFull();
  }

  /** Rotates when the log (with whatever the workers wrote) has reached `maxBytes`; true when it did. */
  rotateIfFull(): boolean {
    if (this.#closed || fstatSync(this.fd).size < this.#maxBytes) return false;
    this.rotate();
    return true;
  }

  /** Keeps the log as `<log>.1` (older ones shifted, at most `backupCount` kept) and empties it. */
  rotate(): void {
    if (this.#backupCount > 0) {
      rmSync(`${this.path}.${this.#backupCount}`, { force: true });
      for (let index = this.#backupCount - 1; index >= 1; index -= 1) {
        const older = `${this.path}.${index}`;
        if (existsSync(older)) renameSync(older, `${this.path}.${index + 1}`);
      }
      copyFileSync(this.path, `${this.path}.1`);
    }
    ftruncateSync(this.fd, 0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.fd);
  }
}
