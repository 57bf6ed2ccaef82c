import { NotExistentError } from '../../errors.js';
import { AbstractCode } from '../../orm/nodes/data/code/abstract.js';
import { EntryPointGroup, loadEntryPoint } from '../../plugins/entry-points.js';
import type { ProcessClass } from 'plumpy-ts';
import { createBuilder, type ProcessBuilder } from './builder.js';

declare module '../../orm/nodes/data/code/abstract.js' {
  interface AbstractCode {
    /**
     * A builder for the code's default calculation job (`defaultCalcJobPlugin`), with `code` already set (aiida's
     * `code.get_builder()`). Available once `aiida-ts/engine` is loaded. `NotExistentError` when the code names no
     * default plugin.
     */
    getBuilder(): Promise<ProcessBuilder>;
  }
}

/**
 * A builder for the default calculation job of `code` with its `code` input set (what `code.getBuilder()` gives).
 * `NotExistentError` when the code has no `defaultCalcJobPlugin`; `MissingEntryPointError` when no plugin has that name.
 */
export async function getCodeBuilder(code: AbstractCode): Promise<ProcessBuilder> {
  const plugin = code.defaultCalcJobPlugin;
  if (plugin === null) {
    throw new NotExistentError(
      `code \`${code.label}\` has no default calculation job plugin: set defaultCalcJobPlugin or build from the class`,
    );
  }
  const cls = (await loadEntryPoint(EntryPointGroup.CALCULATIONS, plugin)) as ProcessClass;
  const builder = createBuilder(cls);
  builder._update({ code });
  return builder;
}

// The ORM cannot import the engine; the engine adds the method when it loads.
AbstractCode.prototype.getBuilder = function getBuilder(this: AbstractCode): Promise<ProcessBuilder> {
  return getCodeBuilder(this);
};
