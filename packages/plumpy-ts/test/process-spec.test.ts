import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ExitCode,
  InputPort,
  PortNamespace,
  Process,
  ProcessSpec,
  SpecError,
  ValidationError,
} from '../src/index.js';

describe('ProcessSpec', () => {
  it('has input and output namespaces', () => {
    const spec = new ProcessSpec();
    expect(spec.inputs.name).toBe('inputs');
    expect(spec.outputs.name).toBe('outputs');
  });

  it('supports dynamic outputs with a value type', () => {
    const spec = new ProcessSpec();
    spec.outputs.dynamic = true;
    spec.outputs.validType = z.string();
    expect(spec.outputs.validate({ dummy: 'foo' })).toEqual([]);
    expect(spec.outputs.validate({ dummy: 5 })).toHaveLength(1);
    spec.outputs.dynamic = false;
    spec.outputs.validType = undefined;
    expect(spec.outputs.validate({ dummy: 'foo' })).toHaveLength(1);
    spec.configureOutputs({ dynamic: true, validType: z.string() });
    expect(spec.outputs.validate({ dummy: 'foo' })).toEqual([]);
    expect(spec.outputs.validate({ dummy: 5 })).toHaveLength(1);
  });

  it('describes itself', () => {
    expect(new ProcessSpec().input('test').getDescription()).not.toEqual({});
    const description = new ProcessSpec().output('test').getDescription() as {
      outputs: Record<string, unknown>;
    };
    expect(description.outputs['test']).toEqual({ name: 'test', required: 'True' });
    expect(typeof new ProcessSpec().input('x', { validType: z.number(), default: 1 }).toString()).toBe(
      'string',
    );
  });

  it('makes namespaces for dotted names', () => {
    const spec = new ProcessSpec().input('some.name.space.a', { validType: z.number() });
    expect(spec.inputs.getPort('some')).toBeInstanceOf(PortNamespace);
    expect(spec.inputs.getPort('some.name')).toBeInstanceOf(PortNamespace);
    expect(spec.inputs.getPort('some.name.space')).toBeInstanceOf(PortNamespace);
    expect(spec.inputs.getPort('some.name.space.a')).toBeInstanceOf(InputPort);
  });

  it('validates a port with a default through its validator', () => {
    const spec = new ProcessSpec().input('dict', {
      default: { key: 'value' },
      validator: (value: unknown) =>
        (value as { key?: string }).key !== 'value' ? 'Invalid dictionary' : undefined,
    });
    expect(spec.inputs.preProcess({})).toEqual({ dict: { key: 'value' } });
    expect(spec.inputs.validate(spec.inputs.preProcess({}))).toEqual([]);
    expect(spec.inputs.validate({ dict: { wrong_key: 'value' } })).toHaveLength(1);
  });

  it('runs a namespace validator with all inputs', () => {
    const spec = new ProcessSpec()
      .input('a', { required: false })
      .input('b', { required: false })
      .configureInputs({
        validator: (inputs) => ('a' in inputs !== 'b' in inputs ? undefined : 'Must have a OR b in inputs'),
      });
    expect(spec.inputs.validate(spec.inputs.preProcess({ a: 'a' }))).toEqual([]);
    expect(spec.inputs.validate(spec.inputs.preProcess({ b: 'b' }))).toEqual([]);
    expect(spec.inputs.validate({})).toHaveLength(1);
    expect(spec.inputs.validate({ a: 'a', b: 'b' })).toHaveLength(1);
  });

  it('cannot change once sealed', () => {
    const spec = new ProcessSpec();
    spec.seal();
    expect(spec.sealed).toBe(true);
    expect(() => spec.input('x')).toThrow(SpecError);
    expect(() => spec.output('x')).toThrow(SpecError);
    expect(() => spec.inputNamespace('x')).toThrow(SpecError);
    expect(() => spec.exitCode(1, 'E', 'm')).toThrow(SpecError);
  });

  it('keeps exit codes by label and by status', () => {
    const spec = new ProcessSpec().exitCode(418, 'ERROR_TEAPOT', 'I am a {kind}', { invalidatesCache: true });
    const code = spec.exitCodes.get('ERROR_TEAPOT');
    expect(code.status).toBe(418);
    expect(code.label).toBe('ERROR_TEAPOT');
    expect(code.invalidatesCache).toBe(true);
    expect(spec.exitCodes.byStatus(418)?.label).toBe('ERROR_TEAPOT');
    expect(code.format({ kind: 'teapot' }).message).toBe('I am a teapot');
    expect(() => code.format({})).toThrow(SpecError);
    expect(() => spec.exitCode(-1, 'NEG', 'no')).toThrow(SpecError);
    expect(() => spec.exitCode(1.5, 'FRAC', 'no')).toThrow(SpecError);
    expect(() => spec.exitCode(1, 5 as unknown as string, 'no')).toThrow(SpecError);
    expect(() => spec.exitCodes.get('UNKNOWN' as 'ERROR_TEAPOT')).toThrow(SpecError);
    expect(new ExitCode().status).toBe(0);
    expect(new ExitCode(3, { message: 'x' }).equals(new ExitCode(3, { message: 'x' }))).toBe(true);
  });

  it('clones deeply, unsealed', () => {
    const spec = new ProcessSpec().input('a', { default: 1 });
    spec.seal();
    const copy = spec.clone();
    expect(copy.sealed).toBe(false);
    copy.input('b');
    expect(spec.hasInput('b')).toBe(false);
    (copy.inputs.get('a') as InputPort).default = 2;
    expect((spec.inputs.get('a') as InputPort).default).toBe(1);
  });
});

describe('custom port classes (the hooks aiida-ts builds on)', () => {
  /** An input port that also takes numbers written as strings (as aiida's serializers convert values). */
  class LenientPort extends InputPort {
    override parseValue(
      value: unknown,
    ): { success: true; data: unknown } | ReturnType<InputPort['parseValue']> {
      return super.parseValue(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value);
    }
  }
  class LenientSpec extends ProcessSpec {
    protected override makeInputPort(
      name: string,
      options: ConstructorParameters<typeof InputPort>[1],
    ): InputPort {
      return new LenientPort(name, options);
    }
  }
  class LenientProcess extends Process {
    static override get specClass(): typeof LenientSpec {
      return LenientSpec;
    }
  }

  it('makes ports of the spec class of the process class, also in subclasses', async () => {
    class Sum extends LenientProcess.define((spec) =>
      spec.input('a', { validType: z.number() }).output('a', { validType: z.number() }),
    ) {
      override run(): void {
        this.out('a', this.inputs.a);
      }
    }
    expect(LenientProcess.spec()).toBeInstanceOf(LenientSpec);
    expect(Sum.spec()).toBeInstanceOf(LenientSpec);
    expect(Sum.spec().inputs.get('a')).toBeInstanceOf(LenientPort);
    expect(await new Sum({ inputs: { a: '42' as unknown as number } }).execute()).toEqual({ a: 42 });
    expect(() => new Sum({ inputs: { a: 'x' as unknown as number } })).toThrow(ValidationError);
  });

  it('copies the ports of a parent with another spec class', () => {
    class Plain extends Process.define((spec) => spec.input('p', { default: 1 })) {}
    class Converted extends Plain {
      static override get specClass(): typeof LenientSpec {
        return LenientSpec;
      }
    }
    expect(Converted.spec()).toBeInstanceOf(LenientSpec);
    expect(Converted.spec().inputs.has('p')).toBe(true);
    expect(Plain.spec()).not.toBeInstanceOf(LenientSpec);
  });
});
