/**
 * Times and durations in the formats scheduler commands print and read. Dates without a time zone are read
 * in the local time zone, as aiida does (its plugins go through `time.mktime`). Parsers return `undefined`
 * for text they do not recognise, so callers decide whether that is fatal.
 */

const MONTHS: Readonly<Record<string, number>> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
};

function localDate(y: number, mo: number, d: number, h: number, mi: number, s: number): Date | undefined {
  const date = new Date(y, mo, d, h, mi, s);
  // Reject rollovers such as Feb 30 or 25:00 that the Date constructor silently normalises.
  if (date.getFullYear() !== y || date.getMonth() !== mo || date.getDate() !== d || date.getHours() !== h) {
    return undefined;
  }
  return date;
}

/** `2013-05-23T11:44:11` (slurm with `SLURM_TIME_FORMAT=standard`, SGE's XML) in local time. */
export function parseIsoLocal(text: string): Date | undefined {
  const m = /^\s*(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\s*$/.exec(text);
  if (!m) return undefined;
  return localDate(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
}

/** `Tue Apr  9 15:01:47 2013` (PBS's `qstat -f`, SGE's `qacct`) in local time. */
export function parseCtime(text: string): Date | undefined {
  const m = /^\s*[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})\s*$/.exec(
    text,
  );
  if (!m) return undefined;
  const month = MONTHS[m[1]!.toLowerCase()];
  if (month === undefined) return undefined;
  return localDate(+m[6]!, month, +m[2]!, +m[3]!, +m[4]!, +m[5]!);
}

/**
 * `Feb  2 07:39` or `Feb  2 07:39 L` (LSF's `bjobs -o` times, which have no year: `year` is assumed; the
 * trailing `L` marks an estimate) in local time.
 */
export function parseMonthDayTime(text: string, year: number): Date | undefined {
  const m = /^\s*([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?:\s+L)?\s*$/.exec(text);
  if (!m) return undefined;
  const month = MONTHS[m[1]!.toLowerCase()];
  if (month === undefined) return undefined;
  return localDate(year, month, +m[2]!, +m[3]!, +m[4]!, 0);
}

/** `HH:MM:SS` with any number of hours (PBS's walltime and cpu time) in seconds. */
export function parseHms(text: string): number | undefined {
  const m = /^\s*(\d+):(\d{1,2}):(\d{1,2})\s*$/.exec(text);
  if (!m) return undefined;
  return +m[1]! * 3600 + +m[2]! * 60 + +m[3]!;
}

/**
 * The `TIME` column of `ps`: `[DD-]HH:MM:SS` on Linux, `M:SS.cc` on macOS, in whole seconds.
 */
export function parsePsTime(text: string): number | undefined {
  let m = /^\s*(?:(\d+)-)?(\d+):(\d{2}):(\d{2})\s*$/.exec(text);
  if (m) return +(m[1] ?? 0) * 86400 + +m[2]! * 3600 + +m[3]! * 60 + +m[4]!;
  m = /^\s*(\d+):(\d{2})(?:\.\d+)?\s*$/.exec(text);
  if (m) return +m[1]! * 60 + +m[2]!;
  return undefined;
}

/**
 * A slurm duration (`minutes`, `minutes:seconds`, `hours:minutes:seconds`, `days-hours`,
 * `days-hours:minutes`, `days-hours:minutes:seconds`) in seconds; `UNLIMITED` is 2^31-1 and `NOT_SET` is
 * `null`, as in aiida.
 */
export function parseSlurmDuration(text: string): number | null | undefined {
  const t = text.trim();
  if (t === 'UNLIMITED') return 2147483647;
  if (t === 'NOT_SET') return null;
  let m = /^(\d+)-(\d+)(?::(\d+)(?::(\d+))?)?$/.exec(t);
  if (m) return +m[1]! * 86400 + +m[2]! * 3600 + +(m[3] ?? 0) * 60 + +(m[4] ?? 0);
  m = /^(\d+):(\d+):(\d+)$/.exec(t);
  if (m) return +m[1]! * 3600 + +m[2]! * 60 + +m[3]!;
  m = /^(\d+)(?::(\d+))?$/.exec(t);
  if (m) return +m[1]! * 60 + +(m[2] ?? 0);
  return undefined;
}

const two = (n: number): string => String(n).padStart(2, '0');

/** Seconds as `HH:MM:SS` with as many hours as needed (PBS, SGE). */
export function formatHms(totalSeconds: number): string {
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  return `${two(hours)}:${two(minutes)}:${two(totalSeconds % 60)}`;
}

/** Seconds as slurm's `--time`: `HH:MM:SS` under a day, else `D-HH:MM:SS`. */
export function formatSlurmTime(totalSeconds: number): string {
  const days = Math.floor(totalSeconds / 86400);
  const rest = formatHms(totalSeconds % 86400);
  return days === 0 ? rest : `${days}-${rest}`;
}
