/** How far a long archive operation is: `done` of `total` steps of the named stage. */
export interface ArchiveProgress {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
}

/**
 * What archive operations tell their caller while they run: progress of each stage (the CLI draws bars from it
 * on a terminal) and the report lines aiida-core logs at `REPORT` level (`Adding 7 new node(s)`, …).
 */
export interface ArchiveListener {
  readonly onProgress?: (progress: ArchiveProgress) => void;
  readonly onReport?: (message: string) => void;
}

/** Calls `onProgress` at most every `step` items (and at the end), so tight loops stay cheap. */
export function progressTicker(
  listener: ArchiveListener,
  stage: string,
  total: number,
): { tick(count?: number): void; done(): void } {
  const onProgress = listener.onProgress;
  if (onProgress === undefined) return { tick: () => undefined, done: () => undefined };
  let done = 0;
  let reported = 0;
  const step = Math.max(1, Math.floor(total / 100));
  onProgress({ stage, done: 0, total });
  return {
    tick(count = 1) {
      done += count;
      if (done - reported >= step) {
        reported = done;
        onProgress({ stage, done, total });
      }
    },
    done() {
      if (reported !== total) onProgress({ stage, done: total, total });
    },
  };
}

/** Yields `items` in arrays of at most `size` (aiida's `batch_iter`). */
export function* chunks<T>(items: readonly T[], size: number): Iterable<T[]> {
  for (let start = 0; start < items.length; start += size) yield items.slice(start, start + size);
}
