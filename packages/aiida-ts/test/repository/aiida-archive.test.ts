import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import yauzl from 'yauzl';
import type { Entry, ZipFile } from 'yauzl';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskObjectStoreRepositoryBackend, Repository, makeHash } from '../../src/repository.js';
import type { Hashable } from '../../src/repository.js';
import { readAll } from './backend-contract.js';

const ARCHIVES = '/work/shared/fixtures/aiida-archives';

/** Python class paths of the node types whose `_aiida_hash` depends only on class, attributes and files. */
const DATA_CLASSES: Record<string, string> = {
  'data.core.array.ArrayData.': 'aiida.orm.nodes.data.array.array.ArrayData',
  'data.core.array.xy.XyData.': 'aiida.orm.nodes.data.array.xy.XyData',
  'data.core.folder.FolderData.': 'aiida.orm.nodes.data.folder.FolderData',
  'data.core.singlefile.SinglefileData.': 'aiida.orm.nodes.data.singlefile.SinglefileData',
};

async function extractZip(zipPath: string, target: string): Promise<void> {
  const zip = await new Promise<ZipFile>((done, fail) => {
    yauzl.open(zipPath, { lazyEntries: true }, (error, file) => (error ? fail(error) : done(file)));
  });
  await new Promise<void>((done, fail) => {
    zip.on('error', fail);
    zip.on('end', done);
    zip.on('entry', (entry: Entry) => {
      const destination = resolve(target, entry.fileName);
      if (!destination.startsWith(resolve(target) + sep)) {
        fail(new Error(`zip entry escapes the target: ${entry.fileName}`));
        return;
      }
      if (entry.fileName.endsWith('/')) {
        mkdir(destination, { recursive: true }).then(() => zip.readEntry(), fail);
        return;
      }
      zip.openReadStream(entry, (error, stream) => {
        if (error) {
          fail(error);
          return;
        }
        mkdir(dirname(destination), { recursive: true })
          .then(() => pipeline(stream, createWriteStream(destination)))
          .then(() => zip.readEntry(), fail);
      });
    });
    zip.readEntry();
  });
  zip.close();
}

interface NodeRow {
  id: number;
  node_type: string;
  attributes: string;
  extras: string;
  repository_metadata: string;
  dbcomputer_id: number | null;
}

describe.each(['calcjob', 'data_types', 'calcfunctions'])(
  'repository of the real aiida archive %s.aiida',
  (name) => {
    let dir: string;
    let container: DiskObjectStoreRepositoryBackend;
    let nodes: NodeRow[];

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'aiida-ts-archive-'));
      await extractZip(join(ARCHIVES, `${name}.aiida`), join(dir, 'archive'));
      const db = new Database(join(dir, 'archive', 'db.sqlite3'), { readonly: true });
      nodes = db
        .prepare<[], NodeRow>(
          "SELECT id, node_type, attributes, extras, repository_metadata, dbcomputer_id FROM db_dbnode WHERE repository_metadata != '{}'",
        )
        .all();
      db.close();
      container = new DiskObjectStoreRepositoryBackend({ folder: join(dir, 'container') });
      await container.initialise();
    });

    afterAll(async () => {
      await container.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('imports repo/<sha256> objects under the same keys', async () => {
      const names = await readdir(join(dir, 'archive', 'repo'));
      expect(names.length).toBeGreaterThan(0);
      const keys = await container.addObjectsToPack(
        names.map((file) => createReadStream(join(dir, 'archive', 'repo', file))),
      );
      expect(keys).toEqual(names);
    });

    it('reads every node’s files through its repository_metadata, and serialises it back unchanged', async () => {
      expect(nodes.length).toBeGreaterThan(0);
      for (const node of nodes) {
        const metadata = JSON.parse(node.repository_metadata) as unknown;
        const repository = Repository.fromSerialized(container, metadata, { frozen: true });
        expect(JSON.stringify(repository.serialize())).toBe(JSON.stringify(metadata));
        for await (const { path, filenames } of repository.walk()) {
          for (const file of filenames) {
            const filePath = path === '.' ? file : `${path}/${file}`;
            const content = await readAll(await repository.open(filePath));
            expect(content.length).toBe(await repository.getObjectSize(filePath));
            expect(repository.getFile(filePath).key).toBe(createHash('sha256').update(content).digest('hex'));
          }
        }
      }
    });

    it('reproduces aiida’s _aiida_hash of data nodes from class, attributes and Repository.hash()', async () => {
      const dataNodes = nodes.filter((node) => node.node_type in DATA_CLASSES);
      if (name === 'calcfunctions') {
        expect(dataNodes).toHaveLength(0);
        return;
      }
      expect(dataNodes.length).toBeGreaterThan(0);
      for (const node of dataNodes) {
        const repository = Repository.fromSerialized(container, JSON.parse(node.repository_metadata), {
          frozen: true,
        });
        const hash = makeHash({
          class: `<class '${DATA_CLASSES[node.node_type] as string}'>`,
          attributes: JSON.parse(node.attributes) as Hashable,
          repository_hash: await repository.hash(),
          computer_uuid: null,
        });
        expect(hash, `node ${node.id} (${node.node_type})`).toBe(
          (JSON.parse(node.extras) as { _aiida_hash: string })._aiida_hash,
        );
      }
    });
  },
);
