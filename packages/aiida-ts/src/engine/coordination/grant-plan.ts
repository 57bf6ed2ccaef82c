/** A waiting request for job slots, as the queue holds it (oldest first by `id`). */
export interface WaitingRequest {
  readonly id: number;
  readonly holder: number;
  readonly pools: readonly string[];
}

/** Which waiting requests get their slots now, and the usage of every pool afterwards. */
export interface GrantPlan {
  /** The requests to grant, oldest first. */
  readonly granted: readonly WaitingRequest[];
  /** Slots in use per pool once the grants are made. */
  readonly used: ReadonlyMap<string, number>;
  /** Limited pools that are full (or held back for an older request) once the grants are made. */
  readonly blocked: ReadonlySet<string>;
}

/**
 * Decides which waiting requests to grant, with no I/O. A request gets a slot in each of its pools or none
 * (all-or-nothing). The queue is first in, first out per pool: a request that cannot be served holds back every
 * limited pool it asks for, so no younger request overtakes it there and it cannot starve; requests on other
 * pools go ahead. A pool without a limit (`limits` has no entry or null) never holds anyone back.
 */
export function planGrants(
  waiting: readonly WaitingRequest[],
  limits: ReadonlyMap<string, number | null>,
  usedBefore: ReadonlyMap<string, number>,
): GrantPlan {
  const used = new Map(usedBefore);
  const blocked = new Set<string>();
  const granted: WaitingRequest[] = [];
  const limitOf = (pool: string): number | null => limits.get(pool) ?? null;
  for (const request of [...waiting].sort((a, b) => a.id - b.id)) {
    const fits = request.pools.every((pool) => {
      const limit = limitOf(pool);
      return limit === null || (!blocked.has(pool) && (used.get(pool) ?? 0) < limit);
    });
    if (fits) {
      granted.push(request);
      for (const pool of request.pools) used.set(pool, (used.get(pool) ?? 0) + 1);
    } else {
      for (const pool of request.pools) if (limitOf(pool) !== null) blocked.add(pool);
    }
  }
  return { granted, used, blocked };
}
