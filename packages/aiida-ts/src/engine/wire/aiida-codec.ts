import { type Codec, DecodeError } from 'kiwipy-ts';
import { Computer } from '../../orm/entities/computer.js';
import { Group } from '../../orm/entities/group.js';
import { Node } from '../../orm/nodes/node.js';
import { dumpYaml, type EntityResolver, YamlEncodeError } from './pyyaml-emitter.js';
import { loadYaml, type LoadYamlOptions } from './pyyaml-loader.js';
import { EntityRef, EntityTag } from './yaml-values.js';

/**
 * A stored node, group or computer becomes its `!aiida_node|group|computer '<uuid>'` reference; an unstored
 * one cannot travel (aiida-core refuses it the same way), since the receiver could never load it.
 */
export const resolveAiidaEntity: EntityResolver = (value) => {
  let tag: EntityTag | undefined;
  if (value instanceof Node) tag = EntityTag.NODE;
  else if (value instanceof Group) tag = EntityTag.GROUP;
  else if (value instanceof Computer) tag = EntityTag.COMPUTER;
  if (tag === undefined) return undefined;
  const entity = value as Node | Group | Computer;
  if (!entity.isStored) {
    throw new YamlEncodeError(
      `${entity.constructor.name}<${entity.uuid}> cannot be sent in a message because it is not stored`,
    );
  }
  return new EntityRef(tag, entity.uuid);
};

/** Options of {@link createAiidaCodec}. */
export interface AiidaCodecOptions extends LoadYamlOptions {
  /**
   * Also read JSON bodies (what aiida-ts before issue 11 sent), for a transition period; default true. A
   * body is read as JSON only when it parses as JSON, which YAML written by PyYAML never does except
   * where both readings agree (`{}`, `[]`).
   */
  readonly acceptJson?: boolean;
}

/**
 * The message codec of an aiida profile's broker: aiida-core's YAML (`aiida.orm.utils.serialize`), written
 * byte for byte as PyYAML writes it and read with aiida's tags, with no `content_type` (aiida-core sets
 * none). Plug it into kiwipy-ts with `connect({ codec: aiidaCodec })`.
 */
export function createAiidaCodec(options: AiidaCodecOptions = {}): Codec {
  const acceptJson = options.acceptJson ?? true;
  return {
    contentType: undefined,
    encode(value) {
      return Buffer.from(dumpYaml(value, { resolveEntity: resolveAiidaEntity }), 'utf8');
    },
    decode(data) {
      const text = data.toString('utf8');
      if (acceptJson && /^\s*[[{"]/.test(text)) {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          // Not JSON after all (a double-quoted YAML string, a flow collection PyYAML wrote): read as YAML.
        }
      }
      try {
        return loadYaml(text, options);
      } catch (error) {
        throw new DecodeError(
          `message is not aiida-core YAML (${data.length} bytes): ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    },
  };
}

/** The codec with its defaults (YAML out, YAML or JSON in). */
export const aiidaCodec: Codec = createAiidaCodec();

/**
 * The outcome of a `continue` task as aiida-core's daemon worker answers it: its `ProcessLauncher` serializes
 * the result once more before kiwipy encodes the reply, so the `result` is itself a YAML document (the
 * outputs as `{label: !aiida_node '<uuid>'}`, or the pk with `nowait`); a process that had already ended
 * answers a plain mapping, a missing one `false`. Returns the value with that second layer read.
 */
export function readContinueResult(result: unknown): unknown {
  return typeof result === 'string' ? loadYaml(result) : result;
}
