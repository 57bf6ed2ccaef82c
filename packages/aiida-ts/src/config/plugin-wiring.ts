import {
  hasDefaultComputerPluginHooks,
  setDefaultComputerPluginHooks,
  type ComputerPluginHooks,
} from '../orm/entities/computer.js';
import { registerCoreEntryPoints } from '../plugins/core-entry-points.js';
import { registerEntryPoint } from '../plugins/entry-points.js';
import { ensureContainerRepositoryFactory } from './repository-wiring.js';

let registries: Promise<Required<ComputerPluginHooks>> | undefined;

/**
 * The transport and scheduler registries, imported on first use: ssh2 and the scheduler plugins take a noticeable
 * time to load, which a command that never opens a transport should not pay. Nothing they import leads back here, so
 * this dynamic import defers a cost; it does not hide an import cycle.
 */
function registryHooks(): Promise<Required<ComputerPluginHooks>> {
  registries ??= import('../computers/plugin-hooks.js').then((module) => module.defaultComputerPluginHooks);
  return registries;
}

/** The registries behind computers, each hook loading them on first use. */
const registryComputerHooks: Required<ComputerPluginHooks> = {
  async validateAuthParams(transportType, authParams) {
    await (await registryHooks()).validateAuthParams(transportType, authParams);
  },
  async safeOpenInterval(transportType, authParams) {
    return (await registryHooks()).safeOpenInterval(transportType, authParams);
  },
  async createTransport(options) {
    return (await registryHooks()).createTransport(options);
  },
  async createScheduler(options) {
    return (await registryHooks()).createScheduler(options);
  },
};

let coreEntryPointsRegistered = false;

/**
 * Wires what a profile's storage meets once opened to the plugins that serve it: the disk-objectstore container of
 * the `*_dos` storages, the transport and scheduler registries behind `Computer.getTransport()`/`getScheduler()`, and
 * aiida-core's built-in entry points (calculations, parsers, workflows; each imported on first use). The lower layers
 * (ORM, storage, plugin registry) know none of them. `loadProfile`, `aiida-ts/testing` and the engine's `Runner` call
 * it; call it yourself after opening a storage by hand. Idempotent; hooks installed with `setComputerPluginHooks` win.
 */
export function wirePlugins(): void {
  ensureContainerRepositoryFactory();
  if (!hasDefaultComputerPluginHooks()) setDefaultComputerPluginHooks(registryComputerHooks);
  if (!coreEntryPointsRegistered) {
    coreEntryPointsRegistered = true;
    registerCoreEntryPoints(registerEntryPoint);
  }
}
