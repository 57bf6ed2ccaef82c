import { encodeBroadcast, encodeTaskBody, messageProperties } from 'kiwipy-ts/rmq';
import { silentLogger } from 'kiwipy-ts';
import { MessageBuilder, Process, Wait, createContinueBody } from 'plumpy-ts';
import { describe, expect, it, vi } from 'vitest';
import {
  aiidaCodec,
  createAiidaCodec,
  dumpYaml,
  EntityRef,
  loadYaml,
  PyFloat,
  pythonFloatText,
  readContinueResult,
} from '../../src/engine.js';
import { Int } from '../../src/orm.js';
import { kindOf, recordedAsAmqplib, recordedMessages, recording, yamlSamples } from './wire-fixtures.js';

/** Named as the recorded process. */
class SlowWorkChain extends Process {
  override run(): Wait {
    return new Wait('never');
  }
  never(): void {}
}

/**
 * Every message recorded from stock aiida-core 2.8 / plumpy 0.26 / kiwipy 0.9 (fixtures/aiida-wire) is read
 * with aiida-ts's codec and written again: the bytes must be the recorded ones, and the AMQP properties
 * aiida-ts puts on a message of the same kind must be the recorded ones.
 */
describe('recorded aiida-core messages', () => {
  const codec = createAiidaCodec({ keepFloats: true });
  const messages = recordedMessages();

  it('has all the recordings', () => {
    expect(messages.length).toBeGreaterThanOrEqual(89);
  });

  it.each(messages.map((message) => [message.file, message] as const))(
    '%s: decodes and re-encodes to the same bytes',
    (_file, message) => {
      const bytes = Buffer.from(message.body_text, 'utf8');
      expect(bytes.length).toBe(message.body_length);
      const decoded = codec.decode(bytes);
      expect(codec.encode(decoded).equals(bytes)).toBe(true);
      // The decoded view matches the recorder's JSON view (tags aside).
      expect(JSON.parse(JSON.stringify(decoded))).toEqual(untag(message.body_decoded));
    },
  );

  it.each(
    messages
      .filter((message) => message.delivery.method === 'Deliver')
      .map((message) => [message.file, message] as const),
  )('%s: aiida-ts sets the same AMQP properties for a message of this kind', (_file, message) => {
    const kind = kindOf(message);
    const recorded = recordedAsAmqplib(message.properties);
    const ours = messageProperties({
      kind,
      codec: aiidaCodec,
      correlationId: message.properties.correlation_id ?? undefined,
      replyTo: message.properties.reply_to ?? undefined,
    });
    const { messageId, mandatory: _mandatory, ...rest } = ours;
    expect(messageId).toMatch(/^[0-9a-f]{32}$/);
    expect(message.properties.message_id).toMatch(/^[0-9a-f]{32}$/);
    const defined = Object.fromEntries(Object.entries(recorded).filter(([, v]) => v !== undefined));
    expect(rest).toEqual(defined);
    expect([...Object.keys(rest), 'messageId'].sort()).toEqual(
      message.properties_set_on_the_wire.map(camel).sort(),
    );
  });

  it('builds the continue task, RPC intents and broadcasts with the recorded bytes', () => {
    const continueTask = recording(1);
    expect(aiidaCodec.encode(encodeTaskBody(createContinueBody(4, { nowait: false }), true)).toString()).toBe(
      continueTask.body_text,
    );
    expect(aiidaCodec.encode(MessageBuilder.status()).toString()).toBe(recording(36).body_text);
    expect(aiidaCodec.encode(MessageBuilder.play()).toString()).toBe(recording(48).body_text);
    const pause = recording(41);
    const pauseText = (pause.body_decoded as { message: string }).message;
    expect(aiidaCodec.encode(MessageBuilder.pause(pauseText)).toString()).toBe(pause.body_text);
    const kill = recording(55);
    const killText = (kill.body_decoded as { message: string }).message;
    expect(aiidaCodec.encode(MessageBuilder.kill(killText)).toString()).toBe(kill.body_text);
    const forced = recording(78);
    const forcedText = (forced.body_decoded as { message: string }).message;
    expect(aiidaCodec.encode(MessageBuilder.kill(forcedText, true)).toString()).toBe(forced.body_text);
    expect(
      aiidaCodec
        .encode(
          encodeBroadcast({
            body: null,
            sender: 4,
            subject: 'state_changed.None.created',
            correlationId: null,
          }),
        )
        .toString(),
    ).toBe(recording(2).body_text);
    const pauseAll = recording(64);
    const pauseAllBody = pauseAll.body_decoded as { body: unknown };
    expect(
      aiidaCodec
        .encode(
          encodeBroadcast({ body: pauseAllBody.body, subject: 'pause', sender: null, correlationId: null }),
        )
        .toString(),
    ).toBe(pauseAll.body_text);
    expect(
      aiidaCodec
        .encode(encodeBroadcast({ body: null, subject: 'play', sender: null, correlationId: null }))
        .toString(),
    ).toBe(recording(65).body_text);
    expect(aiidaCodec.encode({ pending: null }).toString()).toBe(recording(37).body_text);
  });

  it('reads the continue result a second time: a YAML document inside the reply', () => {
    const reply = aiidaCodec.decode(Buffer.from(recording(9).body_text)) as { result: string };
    expect(readContinueResult(reply.result)).toEqual({ result: expect.any(EntityRef) as unknown });
    const nowait = aiidaCodec.decode(Buffer.from(recording(12).body_text)) as { result: string };
    expect(readContinueResult(nowait.result)).toBe(14);
    const ended = aiidaCodec.decode(Buffer.from(recording(15).body_text)) as { result: unknown };
    expect(readContinueResult(ended.result)).toEqual({ result: expect.any(EntityRef) as unknown });
    const missing = aiidaCodec.decode(Buffer.from(recording(18).body_text)) as { result: unknown };
    expect(readContinueResult(missing.result)).toBe(false);
  });
});

describe("aiida-core's YAML encoder samples", () => {
  it.each(yamlSamples().map((sample) => [sample.value, sample] as const))('%s', (_name, sample) => {
    if (sample.yaml === undefined) return;
    const decoded = loadYaml(sample.yaml, { keepFloats: true });
    if (/^date/.test(sample.value)) {
      // JS dates hold milliseconds, and are always aware: what is read is right, written back at ms precision.
      expect(decoded).toBeInstanceOf(Date);
      return;
    }
    expect(dumpYaml(decoded)).toBe(sample.yaml);
  });

  it('writes an integral float with a point, a JS Date as an aware timestamp, an unstored node not at all', () => {
    expect(dumpYaml(new PyFloat(2))).toBe('2.0\n...\n');
    expect(dumpYaml(2)).toBe('2\n...\n');
    expect(dumpYaml(new Date('2025-01-02T03:04:05.678Z'))).toBe('2025-01-02 03:04:05.678000+00:00\n...\n');
    expect(() => aiidaCodec.encode({ x: new Int(1) })).toThrow(/not stored/);
  });

  it("writes a status reply's ctime as a float even when it is integral (plumpy's time.time())", () => {
    vi.useFakeTimers({ now: 1_796_573_472_000, toFake: ['Date'] });
    try {
      const process = new SlowWorkChain({ logger: silentLogger });
      const info = process.getStatusInfo();
      expect(info.ctime).toBe(1_796_573_472);
      // as recording 38, with the process still created and the exactly integral time
      expect(aiidaCodec.encode({ result: info }).toString()).toBe(
        recording(38)
          .body_text.replace('1796573472.6041338', '1796573472.0')
          .replaceAll('ProcessState.WAITING', 'ProcessState.CREATED'),
      );
      // JSON (kiwipy-ts's standalone default) is unchanged
      expect(JSON.stringify(info)).toContain('"ctime":1796573472,');
    } finally {
      vi.useRealTimers();
    }
  });

  it("formats floats as Python's repr", () => {
    const cases: [number, string][] = [
      [1.5, '1.5'],
      [2, '2.0'],
      [1e16, '1.0e+16'],
      [1e15, '1000000000000000.0'],
      [0.0001, '0.0001'],
      [0.00001, '1.0e-05'],
      [1.5e-7, '1.5e-07'],
      [-2.5e20, '-2.5e+20'],
      [1796573472.6041338, '1796573472.6041338'],
      [0.1 + 0.2, '0.30000000000000004'],
    ];
    for (const [value, text] of cases) expect(pythonFloatText(value)).toBe(text);
  });

  it('reads the JSON that earlier aiida-ts sent, for a transition period', () => {
    expect(aiidaCodec.decode(Buffer.from('[{"task":"continue","args":{"pid":3}},true]'))).toEqual([
      { task: 'continue', args: { pid: 3 } },
      true,
    ]);
    expect(aiidaCodec.decode(Buffer.from('"\\xFCn"\n'))).toBe('ün');
  });
});

/** The recorder's JSON view with its `{__yaml_tag__, value}` wrappers replaced by what aiida-ts reads. */
function untag(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(untag);
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    if ('__yaml_tag__' in record) {
      const tag = String(record.__yaml_tag__);
      if (tag.startsWith('!aiida_')) return { uuid: record.value };
      return untag(record.value);
    }
    return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, untag(v)]));
  }
  return value;
}

function camel(name: string): string {
  return name.replace(/_([a-z])/g, (_m, letter: string) => letter.toUpperCase());
}
