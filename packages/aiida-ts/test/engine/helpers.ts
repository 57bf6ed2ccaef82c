import { afterAll, beforeAll } from 'vitest';
import { LocalCommunicator } from 'kiwipy-ts';
import { wirePlugins } from 'aiida-ts/config';
import { getManager, Runner } from 'aiida-ts/engine';
import { LinkType, type Node, setDefaultStorage } from 'aiida-ts/orm';
import type { StorageBackend } from 'aiida-ts/storage';
import { openPsqlDos, openSqliteDos, type TestStorage } from '../storage/helpers.js';

/** The two profile storages every engine test runs on. */
export const BACKENDS: readonly (readonly [string, () => Promise<TestStorage>])[] = [
  ['core.sqlite_dos', openSqliteDos],
  ['core.psql_dos', openPsqlDos],
];

/** A storage (default storage of the ORM) and a runner on it for the enclosing `describe`. */
export interface EngineFixture {
  readonly storage: StorageBackend;
  readonly runner: Runner;
  readonly communicator: LocalCommunicator;
}

/** Opens the storage and a runner (local communicator, fast polling) before the tests; closes them after. */
export function useEngine(open: () => Promise<TestStorage>): () => EngineFixture {
  let handle: TestStorage | undefined;
  let fixture: EngineFixture | undefined;
  beforeAll(async () => {
    // what loadProfile wires: computers reach the transport and scheduler registries, the built-in plugins load
    wirePlugins();
    handle = await open();
    setDefaultStorage(handle.storage);
    const communicator = new LocalCommunicator();
    fixture = {
      storage: handle.storage,
      communicator,
      runner: new Runner({ storage: handle.storage, communicator, pollInterval: 0.05 }),
    };
    // Process functions called directly (outside a process) and the launch API use the manager's runner.
    getManager().setRunner(fixture.runner);
  });
  afterAll(async () => {
    await fixture?.runner.close();
    await fixture?.communicator.close();
    setDefaultStorage(null);
    await handle?.cleanup();
  });
  return () => {
    if (fixture === undefined) throw new Error('engine not ready');
    return fixture;
  };
}

/** The links of a node in one direction as sorted `type label class` strings (for link-by-link checks). */
export async function linkSummary(node: Node, direction: 'incoming' | 'outgoing'): Promise<string[]> {
  const links =
    direction === 'incoming' ? await node.base.links.getIncoming() : await node.base.links.getOutgoing();
  return links
    .all()
    .map((link) => `${link.linkType} ${link.linkLabel} ${link.node.constructor.name}`)
    .sort();
}

/** The node at the other end of the only link with this type and label. */
export async function linked(
  node: Node,
  direction: 'incoming' | 'outgoing',
  type: LinkType,
  label: string,
): Promise<Node> {
  const links =
    direction === 'incoming'
      ? await node.base.links.getIncoming({ linkType: type })
      : await node.base.links.getOutgoing({ linkType: type });
  return links.getNodeByLabel(label);
}

export { LinkType };
