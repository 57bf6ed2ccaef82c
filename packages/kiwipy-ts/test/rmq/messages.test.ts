import fc from 'fast-check';
import { DecodeError, jsonCodec, RemoteError, Reply, ValidationError, CancelledError } from 'kiwipy-ts';
import {
  applyResponse,
  brokerInfo,
  describeError,
  encodeBroadcast,
  encodeTaskBody,
  exceptionResponse,
  isConsumerTimeout,
  parseBroadcast,
  parseResponse,
  parseTaskBody,
  pendingResponse,
  remoteErrorFromText,
  resolveOptions,
  resultResponse,
  cancelledResponse,
  rpcRoutingKey,
  topologyNames,
} from 'kiwipy-ts/rmq';
import { describe, expect, it } from 'vitest';

const json = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);

function wire(body: unknown): unknown {
  return jsonCodec.decode(jsonCodec.encode(body));
}

describe('kiwipy wire format', () => {
  it('names the topology as AiiDA does', () => {
    expect(topologyNames('aiida-1234')).toEqual({
      messageExchange: 'aiida-1234.messages',
      taskExchange: 'aiida-1234.tasks',
      taskQueue: 'aiida-1234.process.queue',
      deadLetterExchange: 'aiida-1234.tasks.dead-letter',
      deadLetterQueue: 'aiida-1234.tasks.dead-letter',
    });
    expect(rpcRoutingKey('42')).toBe('[rpc].42');
  });

  it('round-trips results of any JSON value', () => {
    fc.assert(
      fc.property(json, (value) => {
        expect(parseResponse(wire(resultResponse(value)))).toEqual({ kind: 'result', value });
      }),
    );
    expect(parseResponse(wire(resultResponse(undefined)))).toEqual({ kind: 'result', value: null });
  });

  it('writes kiwipy response dicts with exactly one outcome key', () => {
    expect(pendingResponse()).toEqual({ pending: null });
    expect(cancelledResponse('stop')).toEqual({ cancelled: 'stop' });
    expect(resultResponse(3)).toEqual({ result: 3 });
    expect(Object.keys(exceptionResponse(new Error('x')))).toEqual(['exception']);
  });

  it('refuses responses with none or several outcome keys', () => {
    expect(() => parseResponse({})).toThrow(DecodeError);
    expect(() => parseResponse({ result: 1, exception: 'x' })).toThrow(/exactly one of/);
    expect(() => parseResponse([1])).toThrow(/mapping/);
    expect(() => parseResponse('result')).toThrow(DecodeError);
    // Extra keys such as kiwipy's task `host` are fine.
    expect(parseResponse({ result: 1, host: { hostname: 'h', pid: 1 } })).toEqual({
      kind: 'result',
      value: 1,
    });
    expect(parseResponse({ pending: null })).toEqual({ kind: 'pending' });
  });

  it('sends an error as its message plus stack, and recovers both', () => {
    const error = new TypeError('bad input');
    const text = describeError(error);
    expect(text.startsWith('TypeError: bad input\n')).toBe(true);
    const remote = remoteErrorFromText(text);
    expect(remote.remoteMessage).toBe('TypeError: bad input');
    expect(remote.remoteStack).toBe(text);
    // A Python traceback (as a kiwipy worker sends it) splits the same way.
    const python = remoteErrorFromText('ValueError: nope\n  File "worker.py", line 3, in run');
    expect(python.remoteMessage).toBe('ValueError: nope');
    expect(remoteErrorFromText('just text').remoteStack).toBeUndefined();
    expect(describeError('a string')).toBe('a string');
    // Forwarding a remote error keeps the origin's text.
    expect(describeError(remote)).toBe(text);
  });

  it('settles a reply from each kind of response', async () => {
    const ok = new Reply<unknown>();
    expect(applyResponse(parseResponse({ pending: null }), ok)).toBe(false);
    await ok.accepted;
    expect(ok.settled).toBe(false);
    expect(applyResponse(parseResponse({ result: 5 }), ok)).toBe(true);
    expect(await ok).toBe(5);
    const failed = new Reply<unknown>();
    applyResponse(parseResponse({ exception: 'Error: no' }), failed);
    await expect(failed.result).rejects.toBeInstanceOf(RemoteError);
    const cancelled = new Reply<unknown>();
    applyResponse(parseResponse({ cancelled: null }), cancelled);
    await expect(cancelled.result).rejects.toBeInstanceOf(CancelledError);
  });

  it('encodes tasks as [task, no_reply] and refuses anything else', () => {
    fc.assert(
      fc.property(json, fc.boolean(), (task, noReply) => {
        expect(parseTaskBody(wire(encodeTaskBody(task, noReply)))).toEqual({ task, noReply });
      }),
    );
    expect(() => parseTaskBody({ task: 1 })).toThrow(DecodeError);
    expect(() => parseTaskBody([1])).toThrow(/\[task, no_reply\]/);
    expect(() => parseTaskBody([1, 'yes'])).toThrow(DecodeError);
  });

  it('encodes broadcasts with kiwipy keys and decodes them back', () => {
    const message = { body: { a: 1 }, sender: 5, subject: 'state_changed.x', correlationId: 'c' };
    expect(encodeBroadcast(message)).toEqual({
      body: { a: 1 },
      sender: 5,
      subject: 'state_changed.x',
      correlation_id: 'c',
    });
    expect(parseBroadcast(wire(encodeBroadcast(message)))).toEqual(message);
    expect(() => parseBroadcast({ body: 1, subject: 3 })).toThrow(DecodeError);
    expect(() => parseBroadcast('hello')).toThrow(/body, sender, subject, correlation_id/);
  });
});

describe('options and broker info', () => {
  it('fills defaults and derives names from the prefix', () => {
    const options = resolveOptions({ prefix: 'aiida-abc' });
    expect(options.url).toBe('amqp://guest:guest@127.0.0.1:5672/');
    expect(options.taskQueue).toBe('aiida-abc.process.queue');
    expect(options.reconnect.enabled).toBe(true);
    expect(options.taskPrefetchCount).toBe(0);
    expect(resolveOptions({ taskQueue: 'custom' }).taskQueue).toBe('custom');
  });

  it('names every wrong option', () => {
    const error = (() => {
      try {
        resolveOptions({
          url: 'http://x',
          taskPrefetchCount: -1,
          heartbeat: 1.5,
          codec: {} as never,
          reconnect: { factor: 0.5 },
        });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ValidationError);
    const paths = (error as ValidationError).issues.map((issue) => issue.path).sort();
    expect(paths).toEqual(['codec', 'heartbeat', 'reconnect.factor', 'taskPrefetchCount', 'url']);
  });

  it('reads the consumer-timeout behaviour from the broker version', () => {
    const old = brokerInfo({ product: 'RabbitMQ', version: '3.8.9', platform: 'Erlang/OTP 23' });
    expect(old.defaultConsumerTimeoutMs).toBeNull();
    expect(old.perQueueConsumerTimeout).toBe(false);
    expect(brokerInfo({ product: 'RabbitMQ', version: '3.8.15' }).defaultConsumerTimeoutMs).toBe(15 * 60_000);
    const here = brokerInfo({ product: 'RabbitMQ', version: '3.10.8' });
    expect(here.defaultConsumerTimeoutMs).toBe(30 * 60_000);
    expect(here.perQueueConsumerTimeout).toBe(false);
    expect(brokerInfo({ product: 'RabbitMQ', version: '3.12.0' }).perQueueConsumerTimeout).toBe(true);
    expect(brokerInfo({ product: 'RabbitMQ', version: '4.1.2' }).perQueueConsumerTimeout).toBe(true);
    expect(brokerInfo({}).semver).toBeNull();
    expect(
      isConsumerTimeout(
        new Error(
          'Channel closed by server: 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - delivery acknowledgement on channel 2 timed out. Timeout value used: 5000 ms."',
        ),
      ),
    ).toBe(true);
    expect(isConsumerTimeout(new Error('Channel closed by server: 404 (NOT-FOUND)'))).toBe(false);
  });
});
