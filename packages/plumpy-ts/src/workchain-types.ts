import type { ProcessSurface } from './process.js';
import type { SpecTypes } from './spec-types.js';

/** Something a work chain can wait for: a Promise of the value, or a process whose outputs are the value. */
export type Awaitable<V> = PromiseLike<V> | { future(): PromiseLike<V> };

/** What to do with an awaited value in the context: put it under the key, or append it to the list there. */
export type ContextAction = 'assign' | 'append';

/** An awaitable with an explicit action (see `assign_` and `append_`). */
export interface ContextAwaitable<V, A extends ContextAction = ContextAction> {
  readonly action: A;
  readonly awaitable: Awaitable<V>;
}

/** The awaitables a context entry of type `V` accepts: assigned ones of `V`, appended ones of its elements. */
export type ContextEntry<V> =
  | Awaitable<V>
  | ContextAwaitable<V, 'assign'>
  | (NonNullable<V> extends readonly (infer E)[] ? ContextAwaitable<E, 'append'> : never);

/** The argument of `toContext`: awaitables by context key. */
export type ContextEntries<C> = { readonly [K in keyof C]?: ContextEntry<C[K]> };

/** The members of a work chain whose types come from its spec. */
export interface WorkChainSurface<S extends SpecTypes> extends ProcessSurface<S> {
  /** The context: values kept between steps (and in checkpoints). */
  readonly ctx: Partial<S['context']>;
  /** Waits, before the next step, for each awaitable and puts its value in the context under its key. */
  toContext(entries: ContextEntries<S['context']>): void;
}
