import { randomUUID } from 'node:crypto';
import { SchedulerParsingError } from '../../../errors.js';
import { BashCliScheduler } from '../../../schedulers/bash-cli-scheduler.js';
import { quoteForBash } from '../../../schedulers/bash-quoting.js';
import type { SchedulerExitCode } from '../../../schedulers/exit-codes.js';
import type { Scheduler } from '../../../schedulers/scheduler.js';
import { escapeForBash } from '../../../transports/escaping.js';
import type { Transport } from '../../../transports/transport.js';

/** At most this many submissions share one command (its length stays far below any `ARG_MAX`). */
const MAX_BATCH = 100;

interface Submission {
  readonly scheduler: BashCliScheduler;
  readonly workdir: string;
  readonly filename: string;
  readonly resolve: (result: string | SchedulerExitCode) => void;
  readonly reject: (error: unknown) => void;
}

interface Queue {
  readonly pending: Submission[];
}

/**
 * Submits the jobs of the processes of one runner, several in one command when they come together. A submission made
 * while none runs on its transport is sent at once, on its own, exactly as `scheduler.submitJob` sends it; those made
 * while one runs wait for it and are then sent together: one shell runs each job's submit command in the job's
 * directory, as `submitJob` would, and prints each one's exit status, stdout and stderr, which the scheduler plugin
 * reads as if that command had run alone. Starting a process costs the runner far more than anything else a
 * submission does (a fork of the whole JS process), so with many jobs in flight this is what lets them be
 * submitted faster than one by one. Each job has recorded its intent to submit before it asks (see `taskSubmitJob`):
 * a batch that fails part way leaves nothing a retry cannot find.
 */
export class SubmitBatcher {
  readonly #queues = new Map<Transport, Queue>();

  /** The job id (or the exit code of a refused submission) of the script `filename` submitted in `workdir`. */
  submit(scheduler: Scheduler, workdir: string, filename: string): Promise<string | SchedulerExitCode> {
    if (!(scheduler instanceof BashCliScheduler) || filename === '')
      return scheduler.submitJob(workdir, filename);
    const transport = scheduler.transport as Transport;
    const queue = this.#queues.get(transport);
    if (queue === undefined) {
      // Nothing runs on this transport: submit at once, and gather whatever comes meanwhile.
      const fresh: Queue = { pending: [] };
      this.#queues.set(transport, fresh);
      const first = scheduler.submitJob(workdir, filename);
      void first.then(
        () => this.#drain(transport, fresh),
        () => this.#drain(transport, fresh),
      );
      return first;
    }
    return new Promise((resolve, reject) => {
      queue.pending.push({ scheduler, workdir, filename, resolve, reject });
    });
  }

  async #drain(transport: Transport, queue: Queue): Promise<void> {
    while (queue.pending.length > 0) {
      const batch = queue.pending.splice(0, MAX_BATCH);
      await runBatch(transport, batch);
    }
    this.#queues.delete(transport);
  }
}

/** Runs the submissions of `batch` in one command; settles each with what its own command printed. */
async function runBatch(transport: Transport, batch: readonly Submission[]): Promise<void> {
  if (batch.length === 1) {
    const [one] = batch;
    await one!.scheduler.submitJob(one!.workdir, one!.filename).then(one!.resolve, one!.reject);
    return;
  }
  const marker = `__AIIDA_SUBMIT_${randomUUID().replaceAll('-', '')}__`;
  const lines = [
    // lengths are counted in bytes
    'export LC_ALL=C',
    '__aiida_err=$(mktemp) || exit 97',
    `trap 'rm -f "$__aiida_err"' EXIT`,
    '__aiida_submit() {',
    // stdout through a pipe, so that what a backgrounded submission prints later is still read (as `submitJob`)
    '  local out err="" rc',
    '  out=$( { cd "$1" && ( eval "$2" ); } 2>"$__aiida_err" </dev/null )',
    '  rc=$?',
    `  IFS= read -r -d '' err <"$__aiida_err"`,
    `  printf '\\n%s %d %d %d %d\\n%s%s' "$3" "$4" "$rc" "\${#out}" "\${#err}" "$out" "$err"`,
    '}',
  ];
  for (const [index, one] of batch.entries()) {
    const command = one.scheduler.getSubmitCommand(quoteForBash(one.filename));
    lines.push(`__aiida_submit ${escapeForBash(one.workdir)} ${escapeForBash(command)} ${marker} ${index}`);
  }
  let stdout: Buffer;
  try {
    ({ stdout } = await transport.execCommandWaitBytes(lines.join('\n')));
  } catch (error) {
    for (const one of batch) one.reject(error);
    return;
  }
  const outputs = parseBatchOutput(stdout, marker);
  for (const [index, one] of batch.entries()) {
    const output = outputs.get(index);
    if (output === undefined) {
      one.reject(
        new SchedulerParsingError(
          `the batched submission printed nothing for the job in ${one.workdir}: ${stdout.toString('utf8').slice(0, 200)}`,
        ),
      );
      continue;
    }
    try {
      one.resolve(one.scheduler.parseSubmitOutput(output));
    } catch (error) {
      one.reject(error);
    }
  }
}

/** The output of each submission of a batch, by index: records `\n<marker> <index> <rc> <out bytes> <err bytes>\n`. */
function parseBatchOutput(
  stdout: Buffer,
  marker: string,
): Map<number, { retval: number; stdout: string; stderr: string }> {
  const found = new Map<number, { retval: number; stdout: string; stderr: string }>();
  const head = Buffer.from(`\n${marker} `);
  let at = stdout.indexOf(head);
  while (at !== -1) {
    const start = at + head.length;
    const end = stdout.indexOf(0x0a, start);
    if (end === -1) break;
    const fields = stdout.toString('utf8', start, end).split(' ').map(Number);
    const [index, retval, outBytes, errBytes] = fields;
    if (fields.length !== 4 || fields.some((value) => !Number.isInteger(value) || value < 0)) break;
    const outEnd = end + 1 + outBytes!;
    const errEnd = outEnd + errBytes!;
    if (errEnd > stdout.length) break;
    found.set(index!, {
      retval: retval!,
      stdout: stdout.toString('utf8', end + 1, outEnd),
      stderr: stdout.toString('utf8', outEnd, errEnd),
    });
    at = stdout.indexOf(head, errEnd);
  }
  return found;
}
