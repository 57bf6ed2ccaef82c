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
