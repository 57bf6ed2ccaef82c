import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { InputPort } from '../src/index.js';
import { Process, PortNamespace, ProcessSpec, SpecError } from '../src/index.js';

const validatorFunction = (): undefined => undefined;

class BaseNamespaceProcess extends Process.define((spec) =>
  spec.input('top').input('namespace.sub_one').input('namespace.sub_two').configureInputs({}),
) {
  static {
    const ns = this.spec().inputs.get('namespace') as PortNamespace;
    ns.validType = z.union([z.number().int(), z.number()]);
    ns.validator = validatorFunction;
  }
}

class BaseProcess extends Process.define((spec) =>
  spec
    .input('a', { validType: z.string(), default: 'a' })
    .input('b', { validType: z.string(), default: 'b' })
    .configureInputs({ dynamic: true, validType: z.string() }),
) {}

class ExposeProcess extends Process.define((spec) =>
  spec
    .exposeInputs(BaseProcess, { namespace: 'base.name.space' })
    .input('c', { validType: z.number(), default: 1 })
    .input('d', { validType: z.number(), default: 2 })
    .configureInputs({ dynamic: true, validType: z.number() }),
) {}

function portNames(cls: typeof Process, namespace?: string): string[] {
  const ns =
    namespace === undefined ? cls.spec().inputs : (cls.spec().inputs.getPort(namespace) as PortNamespace);
  return [...ns.keys()].sort();
}

function namespaceProperties(cls: typeof Process, namespace: string): Record<string, unknown> {
  const ns = cls.spec().inputs.getPort(namespace) as PortNamespace;
  return {
    help: ns.help,
    required: ns.required,
    validator: ns.validator,
    validType: ns.validType,
    dynamic: ns.dynamic,
    populateDefaults: ns.populateDefaults,
    hasDefault: ns.hasDefault(),
  };
}

describe('exposeInputs', () => {
  it('keeps an exposed dynamic namespace dynamic', () => {
    class Lower extends Process.define((spec) => spec.inputNamespace('foo', { dynamic: true })) {}
    class Upper extends Process.define((spec) => spec.exposeInputs(Lower)) {}
    expect((Lower.spec().inputs.get('foo') as PortNamespace).dynamic).toBe(true);
    expect((Upper.spec().inputs.get('foo') as PortNamespace).dynamic).toBe(true);
  });

  it('makes nested namespaces and keeps its own ports', () => {
    const inputs = ExposeProcess.spec().inputs;
    expect(inputs.has('base')).toBe(true);
    expect((inputs.get('base') as PortNamespace).has('name')).toBe(true);
    expect(inputs.getPort('base.name.space')).toBeInstanceOf(PortNamespace);
    expect(portNames(ExposeProcess)).toEqual(['base', 'c', 'd']);
    expect((inputs.get('c') as InputPort).default).toBe(1);
    expect((inputs.get('d') as InputPort).default).toBe(2);
  });

  it('deep-copies the exposed ports', () => {
    const exposed = ExposeProcess.spec().inputs.getPort('base.name.space') as PortNamespace;
    expect(portNames(ExposeProcess, 'base.name.space')).toEqual(['a', 'b']);
    expect((exposed.get('a') as InputPort).default).toBe('a');
    (BaseProcess.spec().inputs.get('a') as InputPort).default = 'c';
    expect((BaseProcess.spec().inputs.get('a') as InputPort).default).toBe('c');
    expect((exposed.get('a') as InputPort).default).toBe('a');
    (BaseProcess.spec().inputs.get('a') as InputPort).default = 'a';
  });

  it('copies the namespace properties, independently', () => {
    const inputs = ExposeProcess.spec().inputs;
    const exposed = inputs.getPort('base.name.space') as PortNamespace;
    const baseType = BaseProcess.spec().inputs.validType;
    expect(exposed.validType).toBe(baseType);
    expect(inputs.validType).not.toBe(baseType);
    const replacement = z.number();
    BaseProcess.spec().inputs.validType = replacement;
    expect(exposed.validType).toBe(baseType);
    BaseProcess.spec().inputs.validType = baseType;
  });

  it('excludes and includes ports', () => {
    class Exclude extends Process.define((spec) =>
      spec
        .exposeInputs(BaseProcess, { exclude: ['a'] })
        .input('c', { default: 1 })
        .input('d', { default: 2 }),
    ) {}
    expect(portNames(Exclude)).toEqual(['b', 'c', 'd']);
    class Include extends Process.define((spec) =>
      spec
        .exposeInputs(BaseProcess, { include: ['b'] })
        .input('c', { default: 1 })
        .input('d', { default: 2 }),
    ) {}
    expect(portNames(Include)).toEqual(['b', 'c', 'd']);
  });

  it('refuses exclude and include together', () => {
    expect(() => {
      class Both extends Process.define((spec) =>
        spec.exposeInputs(BaseProcess, { exclude: ['a'], include: ['b'] }),
      ) {}
      return Both;
    }).toThrow(SpecError);
  });

  it('overrides the top-level namespace properties with the exposed ones', () => {
    const child = new ProcessSpec()
      .input('a', { validType: z.number() })
      .input('b', { validType: z.string() });
    const boolType = z.boolean();
    Object.assign(child.inputs, {
      validator: validatorFunction,
      required: false,
      default: true,
      help: 'testing',
    });
    child.inputs.validType = boolType;
    const parent = new ProcessSpec().input('c', { validType: z.number() });
    parent.inputs.absorb(child.inputs, { exclude: [] });
    expect([...parent.inputs.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(parent.inputs.validator).toBe(validatorFunction);
    expect(parent.inputs.validType).toBe(boolType);
    expect(parent.inputs.required).toBe(false);
    expect(parent.inputs.dynamic).toBe(true);
    expect(parent.inputs.default).toBe(true);
    expect(parent.inputs.help).toBe('testing');
  });

  it('lets namespaceOptions override the exposed properties', () => {
    const child = new ProcessSpec()
      .input('a', { validType: z.number() })
      .input('b', { validType: z.string() });
    Object.assign(child.inputs, {
      validator: validatorFunction,
      required: false,
      default: true,
      help: 'testing',
    });
    child.inputs.validType = z.boolean();
    const parent = new ProcessSpec().input('c', { validType: z.number() });
    parent.inputs.absorb(child.inputs, {
      exclude: [],
      namespaceOptions: {
        validator: undefined,
        validType: undefined,
        required: true,
        dynamic: false,
        default: undefined,
        help: undefined,
      },
    });
    expect([...parent.inputs.keys()].sort()).toEqual(['a', 'b', 'c']);
    expect(parent.inputs.validator).toBeUndefined();
    expect(parent.inputs.validType).toBeUndefined();
    expect(parent.inputs.required).toBe(true);
    expect(parent.inputs.dynamic).toBe(false);
    expect(parent.inputs.hasDefault()).toBe(false);
    expect(parent.inputs.help).toBeUndefined();
  });

  it('copies properties onto a new namespace', () => {
    const child = new ProcessSpec()
      .input('a', { validType: z.number() })
      .input('b', { validType: z.string() });
    Object.assign(child.inputs, {
      validator: validatorFunction,
      required: false,
      default: true,
      help: 'testing',
    });
    child.inputs.validType = z.boolean();
    const parent = new ProcessSpec().input('c', { validType: z.number() });
    parent.inputs.createPortNamespace('namespace').absorb(child.inputs, { exclude: [] });
    const ns = parent.inputs.get('namespace') as PortNamespace;
    expect([...ns.keys()].sort()).toEqual(['a', 'b']);
    expect(ns.validator).toBe(validatorFunction);
    expect(ns.required).toBe(false);
    expect(ns.dynamic).toBe(true);
    expect(ns.default).toBe(true);
    expect(ns.help).toBe('testing');
  });

  it('rejects unknown namespace options', () => {
    const parent = new ProcessSpec();
    expect(() =>
      parent.inputs.absorb(new ProcessSpec().inputs, { namespaceOptions: { non_existent: null } as never }),
    ).toThrow(SpecError);
  });

  it('unwraps nested include rules', () => {
    class Top extends Process.define((spec) =>
      spec.exposeInputs(BaseNamespaceProcess, { namespace: 'base', include: ['top'] }),
    ) {}
    expect(portNames(Top)).toEqual(['base']);
    expect(portNames(Top, 'base')).toEqual(['top']);

    class Ns extends Process.define((spec) =>
      spec.exposeInputs(BaseNamespaceProcess, { namespace: 'base', include: ['namespace'] }),
    ) {}
    expect(portNames(Ns, 'base')).toEqual(['namespace']);
    expect(portNames(Ns, 'base.namespace')).toEqual(['sub_one', 'sub_two']);
    expect(namespaceProperties(Ns, 'base.namespace')).toEqual(
      namespaceProperties(BaseNamespaceProcess, 'namespace'),
    );

    class Sub extends Process.define((spec) =>
      spec.exposeInputs(BaseNamespaceProcess, { namespace: 'base', include: ['namespace.sub_two'] }),
    ) {}
    expect(portNames(Sub, 'base')).toEqual(['namespace']);
    expect(portNames(Sub, 'base.namespace')).toEqual(['sub_two']);
    expect(namespaceProperties(Sub, 'base.namespace')).toEqual(
      namespaceProperties(BaseNamespaceProcess, 'namespace'),
    );

    class Combination extends Process.define((spec) =>
      spec.exposeInputs(BaseNamespaceProcess, { namespace: 'base', include: ['namespace.sub_two', 'top'] }),
    ) {}
    expect(portNames(Combination, 'base')).toEqual(['namespace', 'top']);
    expect(portNames(Combination, 'base.namespace')).toEqual(['sub_two']);
  });

  it('unwraps nested exclude rules', () => {
    class Top extends Process.define((spec) =>
      spec.exposeInputs(BaseNamespaceProcess, { namespace: 'base', exclude: ['top'] }),
    ) {}
    expect(portNames(Top, 'base')).toEqual(['namespace']);
    expect(portNames(Top, 'base.namespace')).toEqual(['sub_one', 'sub_two']);
    expect(namespaceProperties(Top, 'base.namespace')).toEqual(
      namespaceProperties(BaseNamespaceProcess, 'namespace'),
    );

    class Ns extends Process.define((spec) =>
      spec.exposeInputs(BaseNamespaceProcess, { namespace: 'base', exclude: ['namespace'] }),
    ) {}
    expect(portNames(Ns, 'base')).toEqual(['top']);

    class Sub extends Process.define((spec) =>
      spec.exposeInputs(BaseNamespaceProcess, { namespace: 'base', exclude: ['namespace.sub_two'] }),
    ) {}
    expect(portNames(Sub, 'base')).toEqual(['namespace', 'top']);
    expect(portNames(Sub, 'base.namespace')).toEqual(['sub_one']);

    class Combination extends Process.define((spec) =>
      spec.exposeInputs(BaseNamespaceProcess, { namespace: 'base', exclude: ['namespace.sub_two', 'top'] }),
    ) {}
    expect(portNames(Combination, 'base')).toEqual(['namespace']);
    expect(portNames(Combination, 'base.namespace')).toEqual(['sub_one']);
  });

  it('does not call validators of excluded ports (plumpy issue 267)', () => {
    class Base extends Process.define((spec) =>
      spec.input('a', { required: false }).configureInputs({
        dynamic: true,
        validator: (value, port) => {
          if (port.findPort('a') === undefined) return undefined;
          return typeof value['a'] === 'string'
            ? undefined
            : `value for input \`a\` should be a str, but got: ${typeof value['a']}`;
        },
      }),
    ) {}
    class Exposing extends Process.define((spec) =>
      spec.exposeInputs(Base, { namespace: 'base', exclude: ['a'] }),
    ) {}
    expect(Exposing.spec().inputs.validate({})).toEqual([]);
  });

  it('records what was exposed and gives the inputs back for the child', async () => {
    class Child extends Process.define((spec) =>
      spec
        .input('x', { validType: z.number() })
        .input('y', { validType: z.number(), default: 2 })
        .output('sum', { validType: z.number() }),
    ) {
      override run(): void {
        this.out('sum', this.inputs.x + this.inputs.y);
      }
    }
    class Parent extends Process.define((spec) =>
      spec.exposeInputs(Child, { namespace: 'child' }).output('sum', { validType: z.number() }),
    ) {
      override async run(): Promise<void> {
        const outputs = await new Child({ inputs: this.exposedInputs(Child, 'child') }).execute();
        this.out('sum', outputs.sum);
      }
    }
    expect(Parent.spec().exposedInputs.get('child')?.get(Child)).toEqual(['x', 'y']);
    expect(await new Parent({ inputs: { child: { x: 1 } } }).execute()).toEqual({ sum: 3 });
  });

  it('exposes outputs', () => {
    class Child extends Process.define((spec) =>
      spec.output('a', { validType: z.number() }).output('n.b', { validType: z.string() }),
    ) {}
    class Parent extends Process.define((spec) =>
      spec.exposeOutputs(Child, { namespace: 'child', exclude: ['n'] }),
    ) {}
    expect([...(Parent.spec().outputs.getPort('child') as PortNamespace).keys()]).toEqual(['a']);
  });
});
