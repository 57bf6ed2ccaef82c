/**
 * What the plugins that read their scheduler's job list line by line share: fixed-field lines with one free-text
 * field, the scheduler's state code mapped to a {@link JobState}, and the texts a job's end is read from.
 */
import type { Logger } from 'kiwipy-ts';
import { SchedulerParsingError } from '../../errors.js';
import { JobState } from '../job-state.js';
import { readDetailedJobInfoArgument } from '../scheduler.js';

/** A tuple of `N` strings (the fields of one line). */
export type Fields<N extends number, Acc extends string[] = []> = Acc['length'] extends N
  ? Acc
  : Fields<N, [...Acc, string]>;

/**
 * The `count` fields of `line` split at `separator`. The field at `freeTextIndex` (the job name) may itself contain
 * the separator: the extra pieces are joined back into it. Fewer fields than `count` is a broken line.
 */
export function splitJobLine<N extends number>(
  line: string,
  separator: string,
  count: N,
  freeTextIndex: number,
  command: string,
  options: { readonly trim?: boolean } = {},
): Fields<N> {
  const pieces = line.split(separator);
  if (pieces.length < count) {
    throw new SchedulerParsingError(
      `${command} line has ${pieces.length} fields instead of ${count}: ${JSON.stringify(line)}`,
    );
  }
  const extra = pieces.length - count;
  const fields = [
    ...pieces.slice(0, freeTextIndex),
    pieces.slice(freeTextIndex, freeTextIndex + extra + 1).join(separator),
    ...pieces.slice(freeTextIndex + extra + 1),
  ];
  if (options.trim === true) for (let i = 0; i < fields.length; i++) fields[i] = fields[i]?.trim() ?? '';
  // `fields` has exactly `count` entries by construction; the type system cannot count them.
  return fields as Fields<N>;
}

/** The state that `code` stands for in `states`; an unknown code is logged as aiida does and is UNDETERMINED. */
export function jobStateOf(
  states: Readonly<Record<string, JobState>>,
  code: string,
  jobId: string,
  logger: Logger,
): JobState {
  const state = states[code];
  if (state !== undefined) return state;
  logger.warn({ jobId, jobState: code }, `Unrecognized job_state '${code}' for job id ${jobId}`);
  return JobState.UNDETERMINED;
}

/** The texts in which a scheduler records why it ended a job: its detailed job info and the job's stderr. */
export function jobEndTexts(detailedJobInfo: unknown, stderr: string | null | undefined): string[] {
  const texts: string[] = [];
  if (detailedJobInfo !== undefined && detailedJobInfo !== null) {
    texts.push(readDetailedJobInfoArgument(detailedJobInfo).stdout);
  }
  if (stderr !== undefined && stderr !== null) texts.push(stderr);
  return texts;
}
