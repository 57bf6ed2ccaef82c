import { MessageEncodingError } from '../../errors.js';
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlAstNode } from 'yaml';
import { resolvePlainTag } from './pyyaml-emitter.js';
import {
  EntityRef,
  EntityTag,
  MappingTag,
  PyFloat,
  pyTuple,
  PyObjectApply,
  TaggedMapping,
} from './yaml-values.js';

/** Thrown when a message body is not YAML that aiida-core's loader would read. */
export class YamlDecodeError extends MessageEncodingError {}

const TUPLE = 'tag:yaml.org,2002:python/tuple';
const APPLY = 'tag:yaml.org,2002:python/object/apply:';
const ENTITY_TAGS = new Set<string>(Object.values(EntityTag));
const MAPPING_TAGS = new Set<string>(Object.values(MappingTag));

/**
 * Reads a YAML document written by aiida-core (PyYAML's dumper with aiida's tags), YAML 1.1 rules. The tags
 * become values of `yaml-values.ts`: `!!python/tuple` an array marked as a tuple, `!aiida_node` and friends
 * an {@link EntityRef} (never loaded here), `!aiida_attributedict` a plain object, `!!python/object/apply`
 * a {@link PyObjectApply}. Any other explicit tag is refused, as a body this side cannot act on.
 */
export function loadYaml(text: string, options: LoadYamlOptions = {}): unknown {
  const document = parseDocument(text, {
    version: '1.1',
    schema: 'yaml-1.1',
    uniqueKeys: false,
    keepSourceTokens: false,
  });
  const problem = document.errors[0];
  if (problem !== undefined) throw new YamlDecodeError(problem.message);
  return toValue(document.contents, '', options);
}

/** Options of {@link loadYaml}. */
export interface LoadYamlOptions {
  /** Read an integral float (`2.0`) as a {@link PyFloat}, so that writing it again gives `2.0`. */
  readonly keepFloats?: boolean;
}

function toValue(node: YamlAstNode | null, path: string, options: LoadYamlOptions): unknown {
  if (node === null) return null;
  const tag = node.tag;
  if (isScalar(node)) {
    const text = typeof node.source === 'string' ? node.source : String(node.value);
    if (tag !== undefined && ENTITY_TAGS.has(tag)) return new EntityRef(tag as EntityTag, text);
    if (tag !== undefined && !tag.startsWith('tag:yaml.org,2002:')) throw unknownTag(tag, path);
    if (tag === undefined && node.type === 'PLAIN') return resolvePlainScalar(text, node.value, options);
    return node.value;
  }
  if (isSeq(node)) {
    const items = node.items.map((item, index) =>
      toValue(item as YamlAstNode | null, `${path}[${index}]`, options),
    );
    if (tag === TUPLE) return pyTuple(items);
    if (tag?.startsWith(APPLY) === true) return new PyObjectApply(tag.slice(APPLY.length), items);
    if (tag !== undefined && tag !== 'tag:yaml.org,2002:seq') throw unknownTag(tag, path);
    return items;
  }
  if (isMap(node)) {
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const key = toValue(pair.key as YamlAstNode | null, `${path}.<key>`, options);
      const keyText = typeof key === 'string' ? key : JSON.stringify(key);
      out[keyText] = toValue(pair.value as YamlAstNode | null, `${path}.${keyText}`, options);
    }
    if (tag !== undefined && MAPPING_TAGS.has(tag)) return new TaggedMapping(tag as MappingTag, out);
    if (tag !== undefined && tag !== 'tag:yaml.org,2002:map') throw unknownTag(tag, path);
    return out;
  }
  throw new YamlDecodeError(`unsupported YAML node at ${path || '<root>'}`);
}

function unknownTag(tag: string, path: string): YamlDecodeError {
  return new YamlDecodeError(`unknown YAML tag ${tag} at ${path || '<root>'}`);
}

/**
 * A plain scalar read with PyYAML's implicit resolvers (YAML 1.1 as PyYAML has it: `y` and `n` stay
 * strings, unlike the YAML library's 1.1 schema). The library's own reading is kept for timestamps.
 */
function resolvePlainScalar(text: string, parsed: unknown, options: LoadYamlOptions): unknown {
  switch (resolvePlainTag(text)) {
    case 'null':
      return null;
    case 'bool':
      return /^(?:yes|Yes|YES|true|True|TRUE|on|On|ON)$/.test(text);
    case 'int':
      return parseYamlInt(text);
    case 'float': {
      const value = parseYamlFloat(text);
      return options.keepFloats === true && Number.isInteger(value) ? new PyFloat(value) : value;
    }
    case 'timestamp':
      return parsed;
    default:
      return text;
  }
}

function parseYamlInt(text: string): number {
  let value = text.replace(/_/g, '');
  let sign = 1;
  if (value.startsWith('-') || value.startsWith('+')) {
    if (value.startsWith('-')) sign = -1;
    value = value.slice(1);
  }
  if (value === '0') return 0;
  if (value.startsWith('0b')) return sign * parseInt(value.slice(2), 2);
  if (value.startsWith('0x')) return sign * parseInt(value.slice(2), 16);
  if (value.startsWith('0')) return sign * parseInt(value, 8);
  if (value.includes(':')) return sign * value.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  return sign * Number(value);
}

function parseYamlFloat(text: string): number {
  let value = text.replace(/_/g, '').toLowerCase();
  let sign = 1;
  if (value.startsWith('-') || value.startsWith('+')) {
    if (value.startsWith('-')) sign = -1;
    value = value.slice(1);
  }
  if (value === '.inf') return sign * Number.POSITIVE_INFINITY;
  if (value === '.nan') return Number.NaN;
  if (value.includes(':')) return sign * value.split(':').reduce((acc, part) => acc * 60 + Number(part), 0);
  return sign * Number(value);
}
