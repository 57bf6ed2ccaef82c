import { Option } from 'commander';
import { stringify } from 'yaml';

/** aiida-core's `-f/--format` of dictionaries. */
export const DICT_FORMATS = ['json+date', 'yaml', 'yaml_expanded'] as const;
export type DictFormat = (typeof DICT_FORMATS)[number];

/** The `-f/--format` option with aiida-core's choices and default. */
export function dictFormatOption(): Option {
  return new Option('-f, --format <format>', 'Format of the output.')
    .choices(DICT_FORMATS)
    .default('json+date');
}

/** `value` with the keys of every object sorted, as Python's `sort_keys=True`. */
function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value instanceof Date || value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

/**
 * A dictionary as aiida-core's `echo_dictionary` prints it, keys sorted: JSON indented by four (times as ISO text),
 * or YAML in block style (`yaml` and `yaml_expanded` are the same with today's PyYAML).
 */
export function formatDictionary(value: unknown, format: DictFormat): string {
  const sorted = sortKeys(value);
  if (format === 'json+date')
    return JSON.stringify(
      sorted,
      (_key, item: unknown) => (item instanceof Date ? item.toISOString() : item),
      4,
    );
  return stringify(sorted, { indent: 2, indentSeq: false }).replace(/\n$/, '');
}
