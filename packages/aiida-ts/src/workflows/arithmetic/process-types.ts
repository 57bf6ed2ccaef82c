/** Gives the process class of a built-in process function aiida-core's process type. */
export function setProcessType(fn: { readonly processClass: object }, processType: string): void {
  Object.defineProperty(fn.processClass, 'buildProcessType', {
    configurable: true,
    value: () => processType,
  });
}
