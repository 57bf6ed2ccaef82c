/**
 * How `verdi process` renders states, times and booleans: the strings aiida-core's `tools/query/formatting.py` and
 * `common/utils.py::str_timedelta` print, so scripts written against `verdi` read the same text.
 */

/** The symbol before a process state in `verdi process list` (⏹ created/finished, ⏵ active, ⏸ paused, …). */
export const STATE_SYMBOLS = {
  excepted: '\u2a2f',
  killed: '\u2620',
  created: '\u23f9',
  finished: '\u23f9',
  running: '\u23f5',
  waiting: '\u23f5',
  paused: '\u23f8',
  unknown: '\u00b7',
} as const;

/** `finished` → `Finished`; a missing state prints as Python's `None`, as aiida-core does. */
export function formatProcessState(state: string | null | undefined): string {
  if (state === null || state === undefined || state === '') return 'None';
  return state.charAt(0).toUpperCase() + state.slice(1).toLowerCase();
}

/**
 * The `Process State` column: symbol, capitalised state, and for a finished process its exit status in brackets
 * (`⏹ Finished [0]`); an active paused process shows `⏸`.
 */
export function formatState(
  state: string | null | undefined,
  paused: boolean | null | undefined,
  exitStatus: number | null | undefined,
): string {
  let symbol: string;
  if (state === 'excepted') symbol = STATE_SYMBOLS.excepted;
  else if (state === 'killed') symbol = STATE_SYMBOLS.killed;
  else if (state === 'created' || state === 'finished') symbol = STATE_SYMBOLS.finished;
  else if (state === 'running' || state === 'waiting')
    symbol = paused === true ? STATE_SYMBOLS.paused : STATE_SYMBOLS.running;
  else symbol = STATE_SYMBOLS.unknown;
  const text = `${symbol} ${formatProcessState(state)}`;
  return state === 'finished' && exitStatus !== null && exitStatus !== undefined
    ? `${text} [${exitStatus}]`
    : text;
}

/** Python's `True`/`False` for a value aiida-core prints as a boolean (`sealed`, `paused`). */
export function formatPythonBool(value: unknown): string {
  return value === true || value === 1 ? 'True' : 'False';
}

/**
 * A time difference as aiida-core's `str_timedelta(..., max_num_fields=1, negative_to_zero=True)`: the largest
 * non-zero unit of days (`D`), hours (`h`), minutes (`m`), seconds (`s`), then ` ago` — e.g. `5m ago`, `0s ago`.
 */
export function formatTimeDelta(milliseconds: number): string {
  const total = Math.max(0, Math.trunc(milliseconds / 1000));
  const fields: [number, string][] = [
    [Math.floor(total / 86_400), 'D'],
    [Math.floor((total % 86_400) / 3600), 'h'],
    [Math.floor((total % 3600) / 60), 'm'],
    [total % 60, 's'],
  ];
  const [value, unit] = fields.find(([amount]) => amount !== 0) ?? [0, 's'];
  return `${value}${unit} ago`;
}

/** How long ago `time` was, relative to `now` (see {@link formatTimeDelta}). */
export function formatRelativeTime(time: Date | null | undefined, now: Date = new Date()): string {
  if (time === null || time === undefined) return '';
  return formatTimeDelta(now.getTime() - time.getTime());
}

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/** `YYYY-MM-DD HH:MM:SS` in the local time zone (Python's `%Y-%m-%d %H:%M:%S`). */
export function formatLocalTime(time: Date): string {
  return (
    `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())} ` +
    `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`
  );
}

/** `at HH:MM:SS on YYYY-MM-DD` in the local time zone, as the "Last time an entry changed state" line shows it. */
export function formatAtTime(time: Date): string {
  const [date, clock] = formatLocalTime(time).split(' ');
  return `at ${clock ?? ''} on ${date ?? ''}`;
}

/**
 * A timestamp as Python prints an aware `datetime` (`2024-01-02 03:04:05.123456+00:00`, without the fraction when it
 * is zero), which is how aiida-core's node summary shows `ctime` and `mtime`. Takes the storage's canonical ISO text
 * (`2024-01-02T03:04:05.123456+00:00`), which keeps the microseconds a `Date` would lose.
 */
export function formatPythonDatetime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return 'None';
  return iso.replace('T', ' ').replace(/\.0{6}(?=[+-]\d\d:\d\d$)/, '');
}
