import { ValidationError } from '../errors.js';

/** Options of {@link sanitizeJobName}. */
export interface SanitizeJobNameOptions {
  /** Characters beyond this are cut (slurm and LSF 128, PBS 15); no limit when absent. */
  readonly maxLength?: number;
  /** The name must start with a letter (SGE) rather than a letter or digit (slurm, PBS, LSF). */
  readonly mustStartWithLetter?: boolean;
}

/**
 * A job name the scheduler accepts, as aiida cleans it: keep only letters, digits, `_`, `.` and `-`, put a
 * `j` in front when what is left is empty or starts with another character, then cut to length.
 */
export function sanitizeJobName(name: string, options: SanitizeJobNameOptions = {}): string {
  let title = name.replace(/[^a-zA-Z0-9_.-]+/g, '');
  const first = options.mustStartWithLetter ? /^[a-zA-Z]/ : /^[a-zA-Z0-9]/;
  if (!first.test(title)) title = `j${title}`;
  return options.maxLength === undefined ? title : title.slice(0, options.maxLength);
}

/** aiida's check of `max_wallclock_seconds`: a positive whole number of seconds. */
export function positiveWallclockSeconds(value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new ValidationError(
      `max_wallclock_seconds must be a positive integer (in seconds)! It is instead '${String(value)}'`,
    );
  }
  return value;
}

/** aiida's check of `max_memory_kb` for schedulers where 0 means "no limit" (slurm). */
export function nonNegativeMemoryKb(value: number): number {
  if (!Number.isInteger(value) || value < 0) {
    throw new ValidationError(
      `max_memory_kb must be a non-negative integer (in kB)! It is instead \`${String(value)}\``,
    );
  }
  return value;
}

/** aiida's check of `max_memory_kb` for PBS and LSF. */
export function positiveMemoryKb(value: number): number {
  if (!Number.isInteger(value) || value <= 0) {
    throw new ValidationError(
      `max_memory_kb must be a positive integer (in kB)! It is instead \`${String(value)}\``,
    );
  }
  return value;
}

/**
 * A value written into a scheduler directive (`#SBATCH --partition=…`), which is read up to the end of the
 * line: a newline would start a new line of the script, so it is refused.
 */
export function directiveValue(field: string, value: string | number): string {
  const text = String(value);
  if (/[\r\n]/.test(text)) {
    throw new ValidationError(
      `invalid job template: ${field}: a scheduler directive cannot contain a newline`,
    );
  }
  return text;
}
