import { describe, expect, it } from 'vitest';
import {
  ClassNotFoundError,
  ClassRegistry,
  InMemoryPersister,
  PersistenceError,
  Process,
  ProcessLauncher,
  SpecError,
  createContinueBody,
  getObjectLoader,
  setObjectLoader,
  type LoadableClass,
  type ObjectLoader,
} from '../src/index.js';
import { DummyProcess } from '../src/testing.js';

class Jimmy extends Process {
  override run(): void {}
}

/** plumpy's CustomObjectLoader: one class under a special name, the rest as usual. */
class CustomObjectLoader implements ObjectLoader {
  readonly fallback = new ClassRegistry();
  identifyObject(cls: LoadableClass): string {
    return cls === Jimmy ? 'jimmy' : this.fallback.identifyObject(cls);
  }
  loadObject(identifier: string): LoadableClass {
    return identifier === 'jimmy' ? Jimmy : this.fallback.loadObject(identifier);
  }
}

describe('loaders', () => {
  it('registers classes by identifier and refuses a taken one', () => {
    const registry = new ClassRegistry();
    class A extends Process {}
    class B extends Process {}
    expect(registry.register(A, { identifier: 'pkg.A' })).toBe('pkg.A');
    expect(registry.register(A, { identifier: 'pkg.A' })).toBe('pkg.A');
    expect(() => registry.register(B, { identifier: 'pkg.A' })).toThrow(SpecError);
    expect(registry.loadObject('pkg.A')).toBe(A);
    expect(registry.identifyObject(A)).toBe('pkg.A');
    expect(() => registry.loadObject('pkg.B')).toThrow(ClassNotFoundError);
    expect(registry.unregister(A)).toBe(true);
    expect(registry.has('pkg.A')).toBe(false);
  });

  it('identifies unregistered classes by name, keeping same-named classes apart', () => {
    const registry = new ClassRegistry();
    const make = (): typeof Process => class Same extends Process {};
    const first = make();
    const second = make();
    expect(registry.identifyObject(first)).toBe('Same');
    expect(registry.identifyObject(second)).toBe('Same~2');
    expect(registry.loadObject('Same~2')).toBe(second);
  });

  it('can replace the default loader', () => {
    const mine = new ClassRegistry();
    const previous = setObjectLoader(mine);
    try {
      expect(getObjectLoader()).toBe(mine);
    } finally {
      setObjectLoader(previous);
    }
  });

  it('uses a custom loader for checkpoints and the launcher (plumpy test_loader_is_used)', async () => {
    const loader = new CustomObjectLoader();
    const persister = new InMemoryPersister();
    const process = new Jimmy({ persister, loader });
    await process.ready();
    expect((await persister.loadCheckpoint(process.pid))['class_name']).toBe('jimmy');
    const launcher = new ProcessLauncher({ persister, loader });
    expect(await launcher.handle(createContinueBody(process.pid))).toEqual({});
  });

  it('continues from a checkpoint (plumpy test_continue), and names the pid of a corrupt one', async () => {
    const persister = new InMemoryPersister();
    const process = new DummyProcess({ persister });
    await process.ready();
    const launcher = new ProcessLauncher({ persister });
    expect(await launcher.handle(createContinueBody(process.pid))).toEqual(DummyProcess.EXPECTED_OUTPUTS);

    persister.putRaw(
      'broken',
      '{"version": 1, "class_name": "DummyProcess", "pid": "broken", "state": {"label": "nowhere"}}',
    );
    const error = (await launcher
      .handle(createContinueBody('broken'))
      .catch((e: unknown) => e)) as PersistenceError;
    expect(error).toBeInstanceOf(PersistenceError);
    expect(error.pid).toBe('broken');
    expect(error.message).toContain('process broken: corrupt checkpoint');
  });
});
