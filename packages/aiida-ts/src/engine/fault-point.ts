import { writeFileSync } from 'node:fs';

/**
 * The environment variable that arms a fault point: `<name>=<file>`. Set only by the fault tests (a worker OS process
 * they SIGKILL at that point); unset, a fault point costs one lookup.
 */
export const FAULT_POINT_ENV = 'AIIDA_TS_FAULT_POINT';

/** The points of the engine where a fault test can stop a worker. */
export const FaultPoint = {
  /** A child submitted in a step is stored, its first checkpoint not yet written. */
  CHILD_STORED: 'child-stored',
} as const;
export type FaultPoint = (typeof FaultPoint)[keyof typeof FaultPoint];

/**
 * When {@link FAULT_POINT_ENV} names `point`, writes `pk` (the process whose step is there) to the file it names and
 * never settles: the test, which waits for the file, kills the OS process at exactly this point.
 */
export function faultPoint(point: FaultPoint, pk: number | null): Promise<void> {
  const armed = process.env[FAULT_POINT_ENV];
  if (armed === undefined) return Promise.resolve();
  const at = armed.indexOf('=');
  if (armed.slice(0, at) !== point) return Promise.resolve();
  writeFileSync(armed.slice(at + 1), String(pk));
  return new Promise(() => undefined);
}
