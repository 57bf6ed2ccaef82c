import { TransitionFailedError } from './errors.js';

/** A state of a {@link StateMachine}: a label from the machine's table, with optional enter/exit actions. */
export interface MachineState<L extends string = string> {
  readonly label: L;
  /** Runs as the state is entered, before the machine's `entered` hook. Throwing fails the transition. */
  enter?(): void;
  /** Runs as the state is left, after the machine's `exiting` hook. */
  exit?(): void;
}

/**
 * For every label, the labels that may follow it. A label with no successors is terminal. Declare tables
 * `as const satisfies AllowedTable<L>` so that a missing or misspelt label is a compile error.
 */
export type AllowedTable<L extends string> = { readonly [K in L]: readonly L[] };

/** True when `label` has no successors in `allowed`. */
export function isTerminal<L extends string>(allowed: AllowedTable<L>, label: L): boolean {
  return allowed[label].length === 0;
}

/** The verdict of {@link transition}: the label to enter, or why it may not be entered. */
export type TransitionVerdict<L extends string> =
  | { readonly ok: true; readonly from: L | undefined; readonly to: L }
  | { readonly ok: false; readonly error: TransitionFailedError };

/**
 * The pure transition function: may a machine in `from` (undefined before its first state) enter `to`?
 * The first state must be `initial`; afterwards `to` must be listed in `allowed[from]`. No I/O, no hooks.
 */
export function transition<L extends string>(
  allowed: AllowedTable<L>,
  initial: L,
  from: L | undefined,
  to: L,
): TransitionVerdict<L> {
  if (from === undefined) {
    return to === initial
      ? { ok: true, from, to }
      : { ok: false, error: new TransitionFailedError(from, to, `the initial state must be '${initial}'`) };
  }
  if (allowed[from].includes(to)) return { ok: true, from, to };
  const detail = isTerminal(allowed, from)
    ? `'${from}' is terminal`
    : `'${from}' allows only ${allowed[from].map((l) => `'${l}'`).join(', ')}`;
  return { ok: false, error: new TransitionFailedError(from, to, detail) };
}

/**
 * Thrown by an entering hook (or a state's `enter`) to enter another state instead, as plumpy's
 * `StateEntryFailed` (a process whose outputs fail validation enters an unsuccessful `finished` instead).
 */
export class StateEntryFailed<S> extends Error {
  readonly state: S;

  constructor(state: S) {
    super('failed to enter state');
    this.name = 'StateEntryFailed';
    this.state = state;
  }
}

/** Callbacks around every transition, in the order they run. */
export interface StateMachineHooks<L extends string, S extends MachineState<L>> {
  /** Before leaving `current` for `next`. */
  readonly exiting?: (current: S, next: S) => void;
  /** Before `next` is entered; `current` is still the machine's state. */
  readonly entering?: (next: S, current: S | undefined) => void;
  /** After `current` became the machine's state. */
  readonly entered?: (previous: S | undefined, current: S) => void;
  /** After a terminal state was entered. */
  readonly terminated?: (state: S) => void;
  /**
   * A transition failed (not allowed, or a hook threw). Return a state to enter at once (bypassing the table
   * and without exiting the current state, as plumpy does when failing to `excepted`), or rethrow.
   */
  readonly transitionFailed?: (error: unknown, from: S | undefined, to: S) => S;
}

/** Options of {@link StateMachine}. */
export interface StateMachineOptions<L extends string, S extends MachineState<L>> {
  readonly allowed: AllowedTable<L>;
  readonly initial: L;
  readonly hooks?: StateMachineHooks<L, S>;
}

/**
 * A typed state machine. Transitions are checked by the pure {@link transition} function and go through a
 * first-in, first-out queue: a transition requested while another is in progress (from a hook, say) runs
 * right after it, never in the middle of it. Hooks fire in plumpy's order: exiting, exit, entering, enter,
 * (state set), entered, terminated.
 */
export class StateMachine<L extends string, S extends MachineState<L>> {
  readonly allowed: AllowedTable<L>;
  readonly initial: L;
  readonly #hooks: StateMachineHooks<L, S>;
  readonly #queue: S[] = [];
  #state: S | undefined;
  #draining = false;

  constructor(options: StateMachineOptions<L, S>) {
    this.allowed = options.allowed;
    this.initial = options.initial;
    this.#hooks = options.hooks ?? {};
  }

  /** The current state object, undefined before the first transition. */
  get state(): S | undefined {
    return this.#state;
  }

  /** The current state's label. */
  get label(): L | undefined {
    return this.#state?.label;
  }

  /** True while a transition (or a queue of them) is being carried out. */
  get transitioning(): boolean {
    return this.#draining;
  }

  /** True when the current state is terminal. */
  isTerminated(): boolean {
    return this.#state !== undefined && isTerminal(this.allowed, this.#state.label);
  }

  /**
   * Requests a transition to `next`. Carried out at once, unless a transition is in progress, in which case
   * it is queued behind it. Throws what the `transitionFailed` hook rethrows (or the failure itself when
   * there is no such hook); queued transitions are then dropped.
   */
  transitionTo(next: S): void {
    this.#queue.push(next);
    if (this.#draining) return;
    this.#draining = true;
    try {
      for (let state = this.#queue.shift(); state !== undefined; state = this.#queue.shift())
        this.#apply(state);
    } catch (error) {
      this.#queue.length = 0;
      throw error;
    } finally {
      this.#draining = false;
    }
  }

  /**
   * Puts a machine that has no state yet into `state` without any hook (to resume from a checkpoint).
   * Throws {@link TransitionFailedError} if the machine already has a state.
   */
  restore(state: S): void {
    if (this.#state !== undefined)
      throw new TransitionFailedError(
        this.#state.label,
        state.label,
        'only a machine without a state can be restored',
      );
    this.#state = state;
  }

  #apply(next: S): void {
    const from = this.#state;
    try {
      const verdict = transition(this.allowed, this.initial, from?.label, next.label);
      if (!verdict.ok) throw verdict.error;
      if (from !== undefined) {
        this.#hooks.exiting?.(from, next);
        from.exit?.();
      }
      let target = next;
      try {
        this.#enter(target, from);
      } catch (error) {
        if (!(error instanceof StateEntryFailed)) throw error;
        target = error.state as S;
        const retry = transition(this.allowed, this.initial, from?.label, target.label);
        if (!retry.ok) throw retry.error;
        this.#enter(target, from);
      }
      if (isTerminal(this.allowed, target.label)) this.#hooks.terminated?.(target);
    } catch (error) {
      const handler = this.#hooks.transitionFailed;
      if (handler === undefined) throw error;
      const forced = handler(error, from, next);
      // The failure path enters its state directly: a failure must always be able to land somewhere.
      this.#enter(forced, this.#state);
      if (isTerminal(this.allowed, forced.label)) this.#hooks.terminated?.(forced);
    }
  }

  #enter(next: S, previous: S | undefined): void {
    this.#hooks.entering?.(next, previous);
    next.enter?.();
    this.#state = next;
    this.#hooks.entered?.(previous, next);
  }
}
