import { InputValidationError } from '../errors.js';

/**
 * Python's `str.format(**parameters)` for named fields: `{name}` becomes the parameter's value, `{{` and `}}` literal
 * braces. An unknown name or a positional field is an `InputValidationError` naming it.
 */
export function formatTemplate(template: string, parameters: Readonly<Record<string, unknown>>): string {
  return template.replace(/\{\{|\}\}|\{([^{}]*)\}/g, (match, name: string | undefined) => {
    if (match === '{{') return '{';
    if (match === '}}') return '}';
    const key = name ?? '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key))
      throw new InputValidationError(`the template field \`${match}\` is not a named parameter`);
    if (!(key in parameters)) throw new InputValidationError(`the template needs the parameter \`${key}\``);
    const value = parameters[key];
    return typeof value === 'string' ? value : JSON.stringify(value);
  });
}
