import { DecodeError } from './errors.js';

/**
 * Turns message bodies into bytes and back. JSON by default; a codec for another format (YAML, msgpack)
 * plugs in through the communicator's options. `decode` must throw on malformed input, never guess.
 */
export interface Codec {
  /**
   * The AMQP `content_type` written on every message; undefined leaves the property unset, as kiwipy
   * does (aiida-core's YAML bodies carry no content type).
   */
  readonly contentType?: string | undefined;
  encode(value: unknown): Buffer;
  decode(data: Buffer): unknown;
}

/** JSON, UTF-8. `undefined` becomes `null`, so every message has a body. */
export const jsonCodec: Codec = {
  contentType: 'application/json',
  encode(value) {
    return Buffer.from(JSON.stringify(value ?? null), 'utf8');
  },
  decode(data) {
    try {
      return JSON.parse(data.toString('utf8')) as unknown;
    } catch (error) {
      throw new DecodeError(`message is not valid JSON (${data.length} bytes)`, { cause: error });
    }
  },
};
