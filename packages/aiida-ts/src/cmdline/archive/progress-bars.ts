import type { ArchiveListener, ArchiveProgress } from '../../tools/archive/progress.js';
import type { Cli } from '../cli.js';

/**
 * The listener `verdi archive` passes to the archive API: report lines as `Report:` messages, and progress as
 * cli-progress bars on stderr only when stderr is a terminal (a pipe or a log file gets no bar noise).
 */
export async function archiveListener(cli: Cli): Promise<ArchiveListener & { stop(): void }> {
  const report = (message: string): void => cli.out.report(message);
  if (cli.out.stderr.isTTY !== true) return { onReport: report, stop: () => undefined };
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  let bar: InstanceType<typeof SingleBar> | undefined;
  let stage = '';
  const stop = (): void => {
    bar?.stop();
    bar = undefined;
  };
  return {
    onReport(message) {
      stop();
      report(message);
    },
    onProgress(progress: ArchiveProgress) {
      if (progress.stage !== stage || bar === undefined) {
        stop();
        stage = progress.stage;
        if (progress.total === 0) return;
        bar = new SingleBar(
          {
            format: `${progress.stage.padEnd(40)} {percentage}%|{bar}| {value}/{total}`,
            stream: cli.out.stderr,
            clearOnComplete: true,
            hideCursor: true,
          },
          Presets.shades_classic,
        );
        bar.start(progress.total, progress.done);
      }
      bar.update(progress.done);
      if (progress.done >= progress.total) stop();
    },
    stop,
  };
}
