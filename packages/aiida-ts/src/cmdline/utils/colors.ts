import pc from 'picocolors';

/** The subset of picocolors `verdi` uses. */
export type Colors = Pick<
  typeof pc,
  'red' | 'green' | 'yellow' | 'blue' | 'cyan' | 'gray' | 'bold' | 'dim' | 'magenta' | 'isColorSupported'
>;

/**
 * Whether to colour output written to `stream`: never when `NO_COLOR` is set (any non-empty value), always when
 * `FORCE_COLOR` is set to something other than `0`, else only on a terminal.
 */
export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

/** Colour functions that are the identity when colour is off. */
export function makeColors(enabled: boolean): Colors {
  return pc.createColors(enabled);
}
