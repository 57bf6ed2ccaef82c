import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MessageKind } from 'kiwipy-ts/rmq';

/** The recordings of stock aiida-core 2.8 on RabbitMQ (see fixtures/aiida-wire/README.md). */
export const WIRE_DIR = join(import.meta.dirname, 'fixtures', 'aiida-wire');

export interface RecordedProperties {
  readonly content_type: string | null;
  readonly content_encoding: string | null;
  readonly headers: Record<string, unknown> | null;
  readonly delivery_mode: number | null;
  readonly priority: number | null;
  readonly correlation_id: string | null;
  readonly reply_to: string | null;
  readonly expiration: string | null;
  readonly message_id: string | null;
  readonly timestamp: string | null;
  readonly type: string | null;
  readonly user_id: string | null;
  readonly app_id: string | null;
  readonly cluster_id: string | null;
}

/** One recorded message. */
export interface RecordedMessage {
  readonly file: string;
  readonly description: string;
  readonly exchange: string;
  readonly routing_key: string;
  readonly properties: RecordedProperties;
  readonly properties_set_on_the_wire: readonly string[];
  readonly body_text: string;
  readonly body_length: number;
  readonly body_decoded: unknown;
  readonly delivery: { readonly method: 'Deliver' | 'Return' };
  readonly in_reply_to?: string;
}

export const PREFIX = 'aiida-78c2de2459764a8bbda06ac319b4b831';

/** Every `NN-*.json` recording, in order. */
export function recordedMessages(): RecordedMessage[] {
  return readdirSync(WIRE_DIR)
    .filter((name) => /^\d\d-.*\.json$/.test(name))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(WIRE_DIR, name), 'utf8')) as RecordedMessage);
}

/** The recording in file `NN-…` whose name starts with `number`. */
export function recording(number: number): RecordedMessage {
  const prefix = String(number).padStart(2, '0');
  const found = recordedMessages().find((message) => message.file.startsWith(`${prefix}-`));
  if (found === undefined) throw new Error(`no recording ${prefix}`);
  return found;
}

/** What kind of message a recording is, from where it was published. */
export function kindOf(message: RecordedMessage): MessageKind {
  if (message.routing_key === '[broadcast]') return 'broadcast';
  if (message.routing_key.startsWith('[rpc].')) return 'request';
  if (message.routing_key.includes('-reply-')) return 'reply';
  return 'task';
}

export interface YamlSample {
  readonly value: string;
  readonly python_repr: string;
  readonly yaml?: string;
  readonly error?: string;
}

export function yamlSamples(): YamlSample[] {
  return (
    JSON.parse(readFileSync(join(WIRE_DIR, 'yaml-encodings.json'), 'utf8')) as { samples: YamlSample[] }
  ).samples;
}

/** amqplib's view of the AMQP basic properties, in the recordings' names (undefined = not on the wire). */
export function recordedAsAmqplib(properties: RecordedProperties): Record<string, unknown> {
  const value = (v: unknown) => (v === null ? undefined : v);
  return {
    contentType: value(properties.content_type),
    contentEncoding: value(properties.content_encoding),
    headers: value(properties.headers),
    deliveryMode: value(properties.delivery_mode),
    priority: value(properties.priority),
    correlationId: value(properties.correlation_id),
    replyTo: value(properties.reply_to),
    expiration: value(properties.expiration),
    timestamp: value(properties.timestamp),
    type: value(properties.type),
    userId: value(properties.user_id),
    appId: value(properties.app_id),
    clusterId: value(properties.cluster_id),
  };
}

/** One message of `trace.json` (every tapped message of the capture, in order, with its phase). */
interface TracedMessage {
  readonly seq: number;
  readonly phase: string;
  readonly routing_key: string;
  readonly body_text: string;
}

/** The subjects of the broadcasts traced in the given capture phases, in order. */
export function recordedBroadcastSubjects(phases: readonly string[]): string[] {
  const trace = JSON.parse(readFileSync(join(WIRE_DIR, 'trace.json'), 'utf8')) as {
    readonly messages: readonly TracedMessage[];
  };
  return trace.messages
    .filter((message) => phases.includes(message.phase) && message.routing_key === '[broadcast]')
    .map((message) => /^subject: (.*)$/m.exec(message.body_text)?.[1] ?? '');
}
