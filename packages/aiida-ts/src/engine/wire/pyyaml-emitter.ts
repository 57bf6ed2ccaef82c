import { floatKeysOf } from 'kiwipy-ts';
import { MessageEncodingError } from '../../errors.js';
import { pythonFloatText } from '../../orm/utils/float-paths.js';
import { EntityRef, isPyTuple, PyFloat, PyObjectApply, TaggedMapping } from './yaml-values.js';

/**
 * Writes values as PyYAML 6 writes them with `yaml.dump(value)` and its defaults (block style, keys sorted,
 * indent 2, width 80, `allow_unicode` off), so that a message body made here has the very bytes aiida-core
 * would send for the same content. The rules below follow PyYAML's representer (which tag and which
 * implicit flags a value gets) and emitter (scalar analysis, style choice, folding, indentation).
 */

const STR = 'tag:yaml.org,2002:str';
const INT = 'tag:yaml.org,2002:int';
const FLOAT = 'tag:yaml.org,2002:float';
const BOOL = 'tag:yaml.org,2002:bool';
const NULL = 'tag:yaml.org,2002:null';
const TIMESTAMP = 'tag:yaml.org,2002:timestamp';
const SEQ = 'tag:yaml.org,2002:seq';
const MAP = 'tag:yaml.org,2002:map';
const TUPLE = 'tag:yaml.org,2002:python/tuple';
const APPLY = 'tag:yaml.org,2002:python/object/apply:';

/** Thrown for a value PyYAML would not write the way aiida-core does (an unstored node, a function, …). */
export class YamlEncodeError extends MessageEncodingError {}

type ScalarNode = { kind: 'scalar'; tag: string; value: string; implicit: [boolean, boolean] };
type SeqNode = { kind: 'seq'; tag: string; implicit: boolean; items: YamlNode[] };
type MapNode = { kind: 'map'; tag: string; implicit: boolean; pairs: [YamlNode, YamlNode][] };
type YamlNode = ScalarNode | SeqNode | MapNode;

// ---- resolver (YAML 1.1 implicit types, as PyYAML's Resolver) --------------------------------------------

const IMPLICIT: [string, RegExp][] = [
  [BOOL, /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/],
  [
    FLOAT,
    /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/,
  ],
  [
    INT,
    /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/,
  ],
  ['tag:yaml.org,2002:merge', /^(?:<<)$/],
  [NULL, /^(?:~|null|Null|NULL|)$/],
  [
    TIMESTAMP,
    /^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$/,
  ],
  ['tag:yaml.org,2002:value', /^(?:=)$/],
  ['tag:yaml.org,2002:yaml', /^(?:!|&|\*)$/],
];

/** The tag a plain scalar with this text would be read as. */
function resolvePlain(value: string): string {
  for (const [tag, pattern] of IMPLICIT) if (pattern.test(value)) return tag;
  return STR;
}

function scalar(tag: string, value: string): ScalarNode {
  // PyYAML's serializer: implicit[0] = a plain scalar would read back with this tag, implicit[1] = a quoted
  // one would (always str).
  return { kind: 'scalar', tag, value, implicit: [tag === resolvePlain(value), tag === STR] };
}

function customScalar(tag: string, value: string): ScalarNode {
  return { kind: 'scalar', tag, value, implicit: [false, false] };
}

// ---- representer -----------------------------------------------------------------------------------------

function isoDate(date: Date): string {
  // Python's `datetime.isoformat(' ')` of an aware UTC datetime; microseconds only when not zero.
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const micro = date.getUTCMilliseconds() * 1000;
  const base =
    `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return `${base}${micro === 0 ? '' : `.${pad(micro, 6)}`}+00:00`;
}

/** Turns a JS value into the YAML node PyYAML's representer (with aiida-core's additions) would build. */
function represent(value: unknown, resolveEntity: EntityResolver | undefined, path: string): YamlNode {
  if (value === null || value === undefined) return scalar(NULL, 'null');
  if (typeof value === 'boolean') return scalar(BOOL, value ? 'true' : 'false');
  if (typeof value === 'bigint') return scalar(INT, value.toString());
  if (typeof value === 'number') {
    if (Number.isInteger(value) && !Object.is(value, -0)) return scalar(INT, String(value));
    return scalar(FLOAT, pythonFloatText(value));
  }
  if (value instanceof PyFloat) return scalar(FLOAT, pythonFloatText(value.value));
  if (typeof value === 'string') return scalar(STR, value);
  if (value instanceof Date) return scalar(TIMESTAMP, isoDate(value));
  if (value instanceof EntityRef) return customScalar(value.tag, value.uuid);
  if (value instanceof TaggedMapping) {
    const inner = represent({ ...value.value }, resolveEntity, path) as MapNode;
    return { ...inner, tag: value.tag, implicit: false };
  }
  if (value instanceof PyObjectApply) {
    return {
      kind: 'seq',
      tag: `${APPLY}${value.callable}`,
      implicit: false,
      items: value.args.map((item, index) => represent(item, resolveEntity, `${path}[${index}]`)),
    };
  }
  if (Array.isArray(value)) {
    const items = value.map((item, index) => represent(item, resolveEntity, `${path}[${index}]`));
    return isPyTuple(value)
      ? { kind: 'seq', tag: TUPLE, implicit: false, items }
      : { kind: 'seq', tag: SEQ, implicit: true, items };
  }
  if (typeof value === 'object') {
    const entity = resolveEntity?.(value);
    if (entity !== undefined) return represent(entity, undefined, path);
    const prototype = Object.getPrototypeOf(value) as unknown;
    if (prototype !== Object.prototype && prototype !== null) {
      throw new YamlEncodeError(
        `cannot write ${describe(value)} at ${path || '<root>'} as aiida-core's YAML: not a plain object`,
      );
    }
    // Numbers the sender marked as Python floats (`withFloatKeys`) keep their `.0`.
    const floats = floatKeysOf(value);
    // PyYAML sorts mapping keys (Python's string order: by code point).
    const keys = Object.keys(value)
      .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
      .sort(compareCodePoints);
    return {
      kind: 'map',
      tag: MAP,
      implicit: true,
      pairs: keys.map((key) => [
        scalar(STR, key),
        represent(
          asFloatIf(floats, key, (value as Record<string, unknown>)[key]),
          resolveEntity,
          `${path}.${key}`,
        ),
      ]),
    };
  }
  throw new YamlEncodeError(`cannot write a ${typeof value} at ${path || '<root>'} as aiida-core's YAML`);
}

function asFloatIf(floats: readonly string[], key: string, item: unknown): unknown {
  return typeof item === 'number' && floats.includes(key) ? new PyFloat(item) : item;
}

function compareCodePoints(a: string, b: string): number {
  const left = Array.from(a);
  const right = Array.from(b);
  for (let i = 0; i < Math.min(left.length, right.length); i += 1) {
    const diff = (left[i] ?? '').codePointAt(0)! - (right[i] ?? '').codePointAt(0)!;
    if (diff !== 0) return diff;
  }
  return left.length - right.length;
}

function describe(value: object): string {
  const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === 'string' ? `a ${name}` : 'an object';
}

/**
 * Maps an object that stands for an entity (a stored node, group or computer) to its {@link EntityRef};
 * undefined for any other object. An unstored entity must throw: aiida-core refuses to write one.
 */
export type EntityResolver = (value: object) => EntityRef | undefined;

// ---- emitter ---------------------------------------------------------------------------------------------

interface Analysis {
  empty: boolean;
  multiline: boolean;
  allowFlowPlain: boolean;
  allowBlockPlain: boolean;
  allowSingleQuoted: boolean;
}

const BREAKS = '\n\x85\u2028\u2029';
const SPACE_OR_BREAK = '\0 \t\r\n\x85\u2028\u2029';

function isPrintableAscii(ch: string): boolean {
  return ch >= '\x20' && ch <= '\x7E';
}

function analyzeScalar(text: string): Analysis {
  const chars = Array.from(text);
  if (chars.length === 0) {
    return {
      empty: true,
      multiline: false,
      allowFlowPlain: false,
      allowBlockPlain: true,
      allowSingleQuoted: true,
    };
  }
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let specialCharacters = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  if (text.startsWith('---') || text.startsWith('...')) {
    blockIndicators = true;
    flowIndicators = true;
  }
  let precededByWhitespace = true;
  let followedByWhitespace = chars.length === 1 || SPACE_OR_BREAK.includes(chars[1]!);
  let previousSpace = false;
  let previousBreak = false;
  for (let index = 0; index < chars.length; index += 1) {
    const ch = chars[index]!;
    if (index === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) {
        flowIndicators = true;
        blockIndicators = true;
      }
      if ('?:'.includes(ch)) {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      }
      if (ch === '-' && followedByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    } else {
      if (',?[]{}'.includes(ch)) flowIndicators = true;
      if (ch === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      }
      if (ch === '#' && precededByWhitespace) {
        flowIndicators = true;
        blockIndicators = true;
      }
    }
    if (BREAKS.includes(ch)) lineBreaks = true;
    if (!(ch === '\n' || isPrintableAscii(ch))) {
      // allow_unicode is off: a printable non-ASCII character is special too.
      specialCharacters = true;
    }
    if (ch === ' ') {
      if (index === 0) leadingSpace = true;
      if (index === chars.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (BREAKS.includes(ch)) {
      if (index === 0) leadingBreak = true;
      if (index === chars.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = false;
      previousBreak = false;
    }
    precededByWhitespace = SPACE_OR_BREAK.includes(ch);
    followedByWhitespace = index + 2 >= chars.length || SPACE_OR_BREAK.includes(chars[index + 2]!);
  }
  let allowFlowPlain = true;
  let allowBlockPlain = true;
  let allowSingleQuoted = true;
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) {
    allowFlowPlain = allowBlockPlain = false;
  }
  if (breakSpace) allowFlowPlain = allowBlockPlain = allowSingleQuoted = false;
  if (spaceBreak || specialCharacters) allowFlowPlain = allowBlockPlain = allowSingleQuoted = false;
  if (lineBreaks) allowFlowPlain = allowBlockPlain = false;
  if (flowIndicators) allowFlowPlain = false;
  if (blockIndicators) allowBlockPlain = false;
  return { empty: false, multiline: lineBreaks, allowFlowPlain, allowBlockPlain, allowSingleQuoted };
}

const ESCAPES: Readonly<Record<string, string>> = {
  '\0': '0',
  '\x07': 'a',
  '\x08': 'b',
  '\x09': 't',
  '\x0A': 'n',
  '\x0B': 'v',
  '\x0C': 'f',
  '\x0D': 'r',
  '\x1B': 'e',
  '"': '"',
  '\\': '\\',
  '\x85': 'N',
  '\xA0': '_',
  '\u2028': 'L',
  '\u2029': 'P',
};

const TAG_HANDLES: [string, string][] = [
  ['tag:yaml.org,2002:', '!!'],
  ['!', '!'],
];

function prepareTag(tag: string): string {
  let handle = '';
  let suffix = tag;
  for (const [prefix, short] of TAG_HANDLES) {
    if (tag.startsWith(prefix) && (prefix === '!' || prefix.length < tag.length)) {
      handle = short;
      suffix = tag.slice(prefix.length);
      break;
    }
  }
  let out = '';
  for (const ch of suffix) {
    if (/[0-9A-Za-z\-;/?:@&=+$,_.~*'()[\]]/.test(ch) || (ch === '!' && handle !== '!')) out += ch;
    else
      for (const byte of Buffer.from(ch, 'utf8'))
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return handle === '' ? `!<${out}>` : `${handle}${out}`;
}

const BEST_WIDTH = 80;
const BEST_INDENT = 2;

class Emitter {
  out = '';
  column = 0;
  indent: number | undefined = undefined;
  readonly indents: (number | undefined)[] = [];
  whitespace = true;
  indention = true;
  openEnded = false;
  flowLevel = 0;
  rootContext = false;
  mappingContext = false;
  simpleKeyContext = false;

  emitDocument(node: YamlNode): string {
    this.expectNode(node, { root: true });
    // Document end, then stream end: `...` closes a document whose root is an open-ended plain scalar.
    this.writeIndent();
    if (this.openEnded) {
      this.writeIndicator('...', true);
      this.writeIndent();
    }
    return this.out;
  }

  increaseIndent(flow: boolean, indentless = false): void {
    this.indents.push(this.indent);
    if (this.indent === undefined) this.indent = flow ? BEST_INDENT : 0;
    else if (!indentless) this.indent += BEST_INDENT;
  }

  popIndent(): void {
    this.indent = this.indents.pop();
  }

  expectNode(
    node: YamlNode,
    context: { root?: boolean; mapping?: boolean; simpleKey?: boolean; sequence?: boolean },
  ): void {
    this.rootContext = context.root === true;
    this.mappingContext = context.mapping === true;
    this.simpleKeyContext = context.simpleKey === true;
    if (node.kind === 'scalar') {
      this.increaseIndent(true);
      this.processScalar(node);
      this.popIndent();
      return;
    }
    if (!node.implicit) this.writeIndicator(prepareTag(node.tag), true);
    if (node.kind === 'seq') {
      if (this.flowLevel > 0 || node.items.length === 0) this.emitEmptyFlow('[', ']');
      else this.emitBlockSequence(node);
    } else if (this.flowLevel > 0 || node.pairs.length === 0) {
      this.emitEmptyFlow('{', '}');
    } else {
      this.emitBlockMapping(node);
    }
  }

  emitEmptyFlow(open: string, close: string): void {
    this.writeIndicator(open, true, true);
    this.flowLevel += 1;
    this.increaseIndent(true);
    this.popIndent();
    this.flowLevel -= 1;
    this.writeIndicator(close, false);
  }

  emitBlockSequence(node: SeqNode): void {
    const indentless = this.mappingContext && !this.indention;
    this.increaseIndent(false, indentless);
    for (const item of node.items) {
      this.writeIndent();
      this.writeIndicator('-', true, false, true);
      this.expectNode(item, { sequence: true });
    }
    this.popIndent();
  }

  emitBlockMapping(node: MapNode): void {
    this.increaseIndent(false);
    for (const [key, value] of node.pairs) {
      this.writeIndent();
      if (!this.checkSimpleKey(key)) {
        throw new YamlEncodeError('mapping keys must be short single-line strings (not empty, < 128 chars)');
      }
      this.expectNode(key, { mapping: true, simpleKey: true });
      this.writeIndicator(':', false);
      this.expectNode(value, { mapping: true });
    }
    this.popIndent();
  }

  checkSimpleKey(key: YamlNode): boolean {
    if (key.kind !== 'scalar') return false;
    const analysis = analyzeScalar(key.value);
    return Array.from(key.value).length + 5 < 128 && !analysis.empty && !analysis.multiline;
  }

  chooseStyle(node: ScalarNode, analysis: Analysis): '' | "'" | '"' {
    if (node.implicit[0]) {
      const plainAllowed = this.flowLevel > 0 ? analysis.allowFlowPlain : analysis.allowBlockPlain;
      if (!(this.simpleKeyContext && (analysis.empty || analysis.multiline)) && plainAllowed) return '';
    }
    if (analysis.allowSingleQuoted && !(this.simpleKeyContext && analysis.multiline)) return "'";
    return '"';
  }

  processScalar(node: ScalarNode): void {
    const analysis = analyzeScalar(node.value);
    const style = this.chooseStyle(node, analysis);
    const tagged = !((style === '' && node.implicit[0]) || (style !== '' && node.implicit[1]));
    if (tagged) this.writeIndicator(prepareTag(node.tag), true);
    const split = !this.simpleKeyContext;
    if (style === '"') this.writeDoubleQuoted(node.value, split);
    else if (style === "'") this.writeSingleQuoted(node.value, split);
    else this.writePlain(node.value, split);
  }

  // ---- writers -------------------------------------------------------------------------------------------

  write(data: string): void {
    this.out += data;
  }

  writeIndicator(indicator: string, needWhitespace: boolean, whitespace = false, indention = false): void {
    const data = this.whitespace || !needWhitespace ? indicator : ` ${indicator}`;
    this.whitespace = whitespace;
    this.indention = this.indention && indention;
    this.column += Array.from(data).length;
    this.openEnded = false;
    this.write(data);
  }

  writeIndent(): void {
    const indent = this.indent ?? 0;
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) {
      this.writeLineBreak();
    }
    if (this.column < indent) {
      this.whitespace = true;
      this.write(' '.repeat(indent - this.column));
      this.column = indent;
    }
  }

  writeLineBreak(data = '\n'): void {
    this.whitespace = true;
    this.indention = true;
    this.column = 0;
    this.write(data);
  }

  writeText(data: string): void {
    this.column += Array.from(data).length;
    this.write(data);
  }

  writePlain(text: string, split: boolean): void {
    if (this.rootContext) this.openEnded = true;
    if (text === '') return;
    if (!this.whitespace) this.writeText(' ');
    this.whitespace = false;
    this.indention = false;
    const chars = Array.from(text);
    let spaces = false;
    let start = 0;
    for (let end = 0; end <= chars.length; end += 1) {
      const ch = end < chars.length ? chars[end] : undefined;
      if (spaces) {
        if (ch !== ' ') {
          if (start + 1 === end && this.column > BEST_WIDTH && split) {
            this.writeIndent();
            this.whitespace = false;
            this.indention = false;
          } else {
            this.writeText(chars.slice(start, end).join(''));
          }
          start = end;
        }
      } else if (ch === undefined || ' \n\x85\u2028\u2029'.includes(ch)) {
        this.writeText(chars.slice(start, end).join(''));
        start = end;
      }
      if (ch !== undefined) spaces = ch === ' ';
    }
  }

  writeSingleQuoted(text: string, split: boolean): void {
    this.writeIndicator("'", true);
    const chars = Array.from(text);
    let spaces = false;
    let breaks = false;
    let start = 0;
    for (let end = 0; end <= chars.length; end += 1) {
      const ch = end < chars.length ? chars[end] : undefined;
      if (spaces) {
        if (ch === undefined || ch !== ' ') {
          if (start + 1 === end && this.column > BEST_WIDTH && split && start !== 0 && end !== chars.length) {
            this.writeIndent();
          } else {
            this.writeText(chars.slice(start, end).join(''));
          }
          start = end;
        }
      } else if (breaks) {
        if (ch === undefined || !BREAKS.includes(ch)) {
          if (chars[start] === '\n') this.writeLineBreak();
          for (const br of chars.slice(start, end)) this.writeLineBreak(br === '\n' ? '\n' : br);
          this.writeIndent();
          start = end;
        }
      } else if (ch === undefined || ' \n\x85\u2028\u2029'.includes(ch) || ch === "'") {
        if (start < end) {
          this.writeText(chars.slice(start, end).join(''));
          start = end;
        }
      }
      if (ch === "'") {
        this.writeText("''");
        start = end + 1;
      }
      if (ch !== undefined) {
        spaces = ch === ' ';
        breaks = BREAKS.includes(ch);
      }
    }
    this.writeIndicator("'", false);
  }

  writeDoubleQuoted(text: string, split: boolean): void {
    this.writeIndicator('"', true);
    const chars = Array.from(text);
    let start = 0;
    for (let end = 0; end <= chars.length; end += 1) {
      const ch = end < chars.length ? chars[end] : undefined;
      if (ch === undefined || '"\\\x85\u2028\u2029\uFEFF'.includes(ch) || !isPrintableAscii(ch)) {
        if (start < end) {
          this.writeText(chars.slice(start, end).join(''));
          start = end;
        }
        if (ch !== undefined) {
          const code = ch.codePointAt(0)!;
          const data =
            ESCAPES[ch] !== undefined
              ? `\\${ESCAPES[ch]}`
              : code <= 0xff
                ? `\\x${hex(code, 2)}`
                : code <= 0xffff
                  ? `\\u${hex(code, 4)}`
                  : `\\U${hex(code, 8)}`;
          this.writeText(data);
          start = end + 1;
        }
      }
      if (
        end > 0 &&
        end < chars.length - 1 &&
        (ch === ' ' || start >= end) &&
        this.column + (end - start) > BEST_WIDTH &&
        split
      ) {
        const data = `${chars.slice(start, end).join('')}\\`;
        if (start < end) start = end;
        this.writeText(data);
        this.writeIndent();
        this.whitespace = false;
        this.indention = false;
        if (chars[start] === ' ') this.writeText('\\');
      }
    }
    this.writeIndicator('"', false);
  }
}

function hex(code: number, width: number): string {
  return code.toString(16).toUpperCase().padStart(width, '0');
}

/** Options of {@link dumpYaml}. */
export interface DumpYamlOptions {
  /** Recognises stored entities (nodes, groups, computers) among the objects of `value`. */
  readonly resolveEntity?: EntityResolver;
}

/** `yaml.dump(value)` with PyYAML's defaults, as aiida-core serializes a message body. */
export function dumpYaml(value: unknown, options: DumpYamlOptions = {}): string {
  return new Emitter().emitDocument(represent(value, options.resolveEntity, ''));
}

/** The type PyYAML reads a plain (unquoted, untagged) scalar as. */
export function resolvePlainTag(
  text: string,
): 'null' | 'bool' | 'int' | 'float' | 'timestamp' | 'str' | 'merge' | 'value' | 'yaml' {
  const tag = resolvePlain(text);
  return tag.slice('tag:yaml.org,2002:'.length) as ReturnType<typeof resolvePlainTag>;
}

export { pythonFloatText };
