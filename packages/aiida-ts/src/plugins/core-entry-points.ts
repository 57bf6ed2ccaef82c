import type { EntryPointGroup } from './entry-points.js';

type Register = (
  group: EntryPointGroup,
  name: string,
  value: { readonly loader: () => Promise<unknown> },
) => void;

/**
 * The entry points aiida-core ships (its `pyproject.toml`), each loaded on first use: the built-in calculation jobs,
 * their parsers and importers, and the arithmetic work flows.
 */
export function registerCoreEntryPoints(register: Register): void {
  const calc = (name: string, loader: () => Promise<unknown>): void =>
    register('aiida.calculations', name, { loader });
  calc(
    'core.arithmetic.add',
    async () => (await import('../calculations/arithmetic/add.js')).ArithmeticAddCalculation,
  );
  calc(
    'core.templatereplacer',
    async () => (await import('../calculations/templatereplacer.js')).TemplatereplacerCalculation,
  );
  calc('core.transfer', async () => (await import('../calculations/transfer.js')).TransferCalculation);
  calc('core.stash', async () => (await import('../calculations/stash.js')).StashCalculation);
  calc('core.unstash', async () => (await import('../calculations/unstash.js')).UnstashCalculation);
  register('aiida.calculations.importers', 'core.arithmetic.add', {
    loader: async () =>
      (await import('../calculations/importers/arithmetic-add.js')).ArithmeticAddCalculationImporter,
  });
  register('aiida.parsers', 'core.arithmetic.add', {
    loader: async () => (await import('../parsers/plugins/arithmetic-add.js')).ArithmeticAddParser,
  });
  register('aiida.parsers', 'core.templatereplacer', {
    loader: async () => (await import('../parsers/plugins/templatereplacer.js')).TemplatereplacerParser,
  });
  register('aiida.workflows', 'core.arithmetic.add_multiply', {
    loader: async () => (await import('../workflows/arithmetic/add-multiply.js')).addMultiply,
  });
  register('aiida.workflows', 'core.arithmetic.multiply_add', {
    loader: async () => (await import('../workflows/arithmetic/multiply-add.js')).MultiplyAddWorkChain,
  });
}
