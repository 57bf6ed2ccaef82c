/**
 * `aiida-ts`: the package's errors, shared by every entry point (`aiida-ts/orm`, `aiida-ts/storage`,
 * `aiida-ts/querybuilder`, `aiida-ts/config`, …), so callers can tell them apart with `instanceof` or
 * {@link isAiidaError}.
 */
// every export of errors.ts is public by design (one root error and its subclasses), and engineers add errors
// there as features land: re-exporting the module keeps this entry point complete without a second list
export * from './errors.js';
