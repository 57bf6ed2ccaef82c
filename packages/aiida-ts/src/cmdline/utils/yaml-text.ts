/**
 * YAML writing for the commands that export it, imported lazily by them (`await import('./yaml-text.js')`).
 * `yaml` itself is imported statically here: the verdi bundle turns a dynamic import of that CommonJS package into a
 * chunk with only a default export, so `const { stringify } = await import('yaml')` found no `stringify` there.
 */
export { stringify as yamlText } from 'yaml';
