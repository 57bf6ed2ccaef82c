import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InputPort, OutputPort, Port, PortNamespace, SpecError, UNSPECIFIED } from '../src/index.js';

describe('Port', () => {
  it('requires a value when required', () => {
    const port = new Port('required_value', { required: true });
    expect(port.validate(UNSPECIFIED)).toHaveLength(1);
    expect(port.validate(UNSPECIFIED)[0]).toEqual({
      path: 'required_value',
      message: "required value was not provided for 'required_value'",
    });
    expect(port.validate(5)).toEqual([]);
  });

  it('checks the value type', () => {
    const port = new Port('required_value', { validType: z.number().int() });
    expect(port.validate(5)).toEqual([]);
    expect(port.validate('a')).toHaveLength(1);
  });

  it('runs the validator with the port', () => {
    const seen: Port[] = [];
    const port = new Port('valid_with_validator', {
      validator: (value: unknown, p) => {
        seen.push(p);
        return typeof value === 'number' ? undefined : 'Not int';
      },
    });
    expect(port.validate(5)).toEqual([]);
    expect(port.validate('s')).toEqual([{ path: 'valid_with_validator', message: 'Not int' }]);
    expect(seen[0]).toBe(port);
  });

  it('does not run the validator of an optional port without a value', () => {
    const port = new Port('valid_with_validator', {
      required: false,
      validator: () => {
        throw new Error('must not be called');
      },
    });
    expect(port.validate(UNSPECIFIED)).toEqual([]);
    expect(port.validate(undefined)).toEqual([]);
  });

  it('returns the schema output (conversion)', () => {
    const port = new Port('n', { validType: z.union([z.number(), z.string().transform((s) => Number(s))]) });
    expect(port.parse('42')).toEqual({ ok: true, value: 42 });
  });

  it('rejects dots in names', () => {
    expect(() => new Port('a.b')).toThrow(SpecError);
  });
});

describe('InputPort', () => {
  it('has a default, validated at definition', () => {
    const port = new InputPort('test', { default: 5 });
    expect(port.default).toBe(5);
    expect(port.required).toBe(false);
    expect(() => new InputPort('test', { default: 4, validType: z.string() })).toThrow(SpecError);
  });

  it('validates with its validator', () => {
    const port = new InputPort('test', {
      validator: (value: number) => (value < 0 ? 'Only positive integers allowed' : undefined),
    });
    expect(port.validate(5)).toEqual([]);
    expect(port.validate(-5)).toHaveLength(1);
  });

  it('evaluates a function default lazily', () => {
    // Not evaluated at construction, so a wrong type does not fail here.
    expect(
      () => new InputPort('lambda_default', { default: () => 'string', validType: z.number() }),
    ).not.toThrow();
    let calls = 0;
    const port = new InputPort('test', {
      default: () => {
        calls += 1;
        return 5;
      },
    });
    expect(calls).toBe(0);
    expect(port.validate(UNSPECIFIED)).toEqual([]);
    expect(port.validate(3)).toEqual([]);
    expect(port.resolveDefault()).toBe(5);
    expect(calls).toBe(1);
    // A function can also be a plain value of the port.
    const fnPort = new InputPort('f', { validType: z.union([z.function(), z.number()]), default: () => 5 });
    const someFunction = (): string => 'string';
    expect(fnPort.validate(someFunction)).toEqual([]);
  });
});

describe('OutputPort', () => {
  it('keeps its properties', () => {
    const validator = (): undefined => undefined;
    const port = new OutputPort('output', {
      validType: z.number(),
      help: 'Help string',
      required: false,
      validator,
    });
    expect(port.name).toBe('output');
    expect(port.help).toBe('Help string');
    expect(port.required).toBe(false);
    expect(port.validator).toBe(validator);
    expect(port.getDescription()).toEqual({
      name: 'output',
      required: 'False',
      valid_type: 'number',
      help: 'Help string',
    });
  });
});

describe('PortNamespace', () => {
  const name = 'port';

  it('is a mapping of ports', () => {
    const namespace = new PortNamespace(name);
    expect(namespace.name).toBe(name);
    expect(namespace.size).toBe(0);
    expect(() => namespace.set('key', 5 as unknown as Port)).toThrow(SpecError);
    expect(namespace.get('non_existent')).toBeUndefined();
  });

  it('becomes dynamic with a value type', () => {
    expect(new PortNamespace('', { dynamic: true }).validType).toBeUndefined();
    expect(new PortNamespace('', { dynamic: true }).dynamic).toBe(true);
    const typed = new PortNamespace('', { validType: z.number() });
    expect(typed.dynamic).toBe(true);
    // `dynamic: false` is ignored when a value type is given (as plumpy).
    expect(new PortNamespace('', { dynamic: false, validType: z.number() }).dynamic).toBe(true);
    const namespace = new PortNamespace(name);
    expect(namespace.dynamic).toBe(false);
    namespace.validType = z.union([z.string(), z.number()]);
    expect(namespace.dynamic).toBe(true);
    namespace.validType = undefined;
    // Clearing the type leaves `dynamic` alone.
    expect(namespace.dynamic).toBe(true);
  });

  it('validates explicit ports first, then the namespace validator with every value', () => {
    const namespace = new PortNamespace(name);
    namespace.set('explicit', new InputPort('explicit', { validType: z.number() }));
    const received: unknown[] = [];
    namespace.validator = (values: Record<string, number>, port) => {
      received.push(values, port);
      return (values['explicit'] ?? 0) < 0 || (values['dynamic'] ?? 0) < 0
        ? 'Only positive integers allowed'
        : undefined;
    };
    namespace.validType = z.number();
    expect(namespace.validate({ explicit: 1, dynamic: 5 })).toEqual([]);
    expect(received[0]).toEqual({ explicit: 1, dynamic: 5 });
    expect(received[1]).toBe(namespace);
    expect(namespace.validate({ dynamic: -5 })).toHaveLength(1);
    namespace.required = false;
    expect(namespace.validate(undefined)).toEqual([]);
  });

  it('gets nested ports', () => {
    const namespace = new PortNamespace(name);
    expect(() => namespace.getPort(5 as unknown as string)).toThrow(SpecError);
    expect(() => namespace.getPort('sub')).toThrow(SpecError);
    const sub = namespace.createPortNamespace('sub');
    expect(namespace.getPort('sub')).toBe(sub);
    expect(() => namespace.getPort('sub.name.space')).toThrow(SpecError);
    const deep = namespace.createPortNamespace('sub.name.space');
    expect(namespace.getPort('sub.name.space')).toBe(deep);
    const port = new InputPort(name);
    deep.set(name, port);
    expect(namespace.getPort(`sub.name.space.${name}`)).toBe(port);
    expect(namespace.findPort('sub.missing')).toBeUndefined();
  });

  it('creates namespaces on the fly in a dynamic namespace', () => {
    const namespace = new PortNamespace(name, { dynamic: true });
    const sub = namespace.getPort('undefined', { createDynamically: true });
    expect(sub).toBeInstanceOf(PortNamespace);
    expect((sub as PortNamespace).dynamic).toBe(true);
    expect(sub.name).toBe('undefined');
    const nested = namespace.getPort('nested.undefined', { createDynamically: true });
    expect((nested as PortNamespace).dynamic).toBe(true);
    expect(nested.name).toBe('undefined');
  });

  it('creates nested namespaces but never over a port', () => {
    const namespace = new PortNamespace(name);
    expect(() => namespace.createPortNamespace(5 as unknown as string)).toThrow(SpecError);
    namespace.createPortNamespace('sub');
    namespace.createPortNamespace('some.nested.sub.space');
    const space = namespace.createPortNamespace('sub.nested.space');
    space.set(name, new InputPort(name));
    expect(() => namespace.createPortNamespace(`sub.nested.space.${name}.further`)).toThrow(SpecError);
  });

  it('validates nested dynamic values and names the failing path', () => {
    const namespace = new PortNamespace(name);
    const sub = namespace.createPortNamespace('sub.space');
    sub.validType = z.number().int();
    expect(sub.dynamic).toBe(true);
    expect(namespace.validate(5)).toHaveLength(1);
    expect(namespace.validate({ sub: { space: { output: 5 } } })).toEqual([]);
    // A dynamic namespace accepts nested mappings of valid leaves.
    expect(namespace.validate({ sub: { space: { output: { invalid: 5 } } } })).toEqual([]);
    const issues = namespace.validate({ sub: { space: { output: '5' } } });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toBe('port.sub.space.output');
  });

  it('lists every failing path', () => {
    const namespace = new PortNamespace('inputs');
    namespace.set('a', new InputPort('a', { validType: z.number() }));
    namespace.set('b', new InputPort('b', { validType: z.string() }));
    namespace.createPortNamespace('c').set('d', new InputPort('d'));
    const issues = namespace.validate({ a: 'x', b: 1, e: 3 });
    expect(issues.map((i) => i.path)).toEqual(['inputs.a', 'inputs.b', 'inputs.c.d', 'inputs']);
  });

  it('requires its required ports', () => {
    const namespace = new PortNamespace(name);
    namespace.createPortNamespace('sub.space').validType = z.number();
    namespace.set(
      'required_port',
      new OutputPort('required_port', { validType: z.number(), required: true }),
    );
    expect(namespace.validate({})).toHaveLength(1);
    expect(namespace.validate({ sub: { space: { output: 5 } } })).toHaveLength(1);
    expect(namespace.validate({ sub: { space: { output: 5 } }, required_port: 1 })).toEqual([]);
    expect(namespace.validate({ required_port: 1 })).toEqual([]);
  });

  it('does not populate defaults of a lazy namespace that is not given', () => {
    const base = new PortNamespace('base');
    const normal = base.createPortNamespace('normal', { populateDefaults: true });
    normal.set('with_default', new InputPort('with_default', { default: 1, validType: z.number() }));
    normal.set('without_default', new InputPort('without_default', { validType: z.number() }));
    const processed = base.preProcess({});
    expect(processed['normal']).toEqual({ with_default: 1 });

    const lazyBase = new PortNamespace('base');
    const lazy = lazyBase.createPortNamespace('lazy', { populateDefaults: false, required: false });
    lazy.set('with_default', new InputPort('with_default', { default: 1, validType: z.number() }));
    lazy.set('without_default', new InputPort('without_default', { validType: z.number() }));
    expect(lazyBase.preProcess({})).toEqual({});
    // Once given (even empty), defaults are filled in.
    expect(lazyBase.preProcess({ lazy: {} })).toEqual({ lazy: { with_default: 1 } });
  });

  it('evaluates function defaults in preProcess, but not function values', () => {
    const namespace = new PortNamespace('base');
    namespace.set(
      'lambda_default',
      new InputPort('lambda_default', { default: () => 1, validType: z.union([z.function(), z.number()]) }),
    );
    let inputs = namespace.preProcess({});
    expect(inputs['lambda_default']).toBe(1);
    expect(namespace.validate(inputs)).toEqual([]);
    inputs = namespace.preProcess({ lambda_default: 5 });
    expect(inputs['lambda_default']).toBe(5);
    const someLambda = (): number => 5;
    inputs = namespace.preProcess({ lambda_default: someLambda });
    expect(inputs['lambda_default']).toBe(someLambda);
    expect(namespace.validate(inputs)).toEqual([]);
  });

  it('does not change the given values in preProcess', () => {
    const namespace = new PortNamespace('inputs');
    namespace.set('a', new InputPort('a', { default: 1 }));
    const given = {};
    namespace.preProcess(given);
    expect(given).toEqual({});
  });

  it('projects values onto its ports', () => {
    const namespace = new PortNamespace('inputs');
    namespace.set('a', new InputPort('a'));
    namespace.createPortNamespace('n').set('b', new InputPort('b'));
    expect(namespace.project({ a: 1, x: 2, n: { b: 3, y: 4 } })).toEqual({ a: 1, n: { b: 3 } });
  });
});
