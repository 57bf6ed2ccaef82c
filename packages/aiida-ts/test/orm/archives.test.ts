import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArrayData,
  Bool,
  CalcFunctionNode,
  CalcJobNode,
  Comment,
  Computer,
  InstalledCode,
  Dict,
  EnumData,
  Float,
  FolderData,
  Group,
  Int,
  JsonableData,
  KpointsData,
  List,
  loadNode,
  type Node,
  ProcessNode,
  readNpy,
  RemoteData,
  SinglefileData,
  Str,
  StructureData,
  User,
  WorkChainNode,
  WorkFunctionNode,
  writeNpy,
  XyData,
} from '../../src/orm.js';
import { setDefaultStorage } from '../../src/storage/context.js';
import { SqliteTempStorage } from '../../src/storage/sqlite/sqlite-temp.js';
import { openArchive, readExpected, type ArchiveStorage, type ExpectedArchive } from './archive-fixtures.js';

const CLASS_OF: Record<string, abstract new (...args: never[]) => Node> = {
  'data.core.int.Int.': Int,
  'data.core.float.Float.': Float,
  'data.core.str.Str.': Str,
  'data.core.bool.Bool.': Bool,
  'data.core.dict.Dict.': Dict,
  'data.core.list.List.': List,
  'data.core.enum.EnumData.': EnumData,
  'data.core.jsonable.JsonableData.': JsonableData,
  'data.core.array.ArrayData.': ArrayData,
  'data.core.array.xy.XyData.': XyData,
  'data.core.array.kpoints.KpointsData.': KpointsData,
  'data.core.structure.StructureData.': StructureData,
  'data.core.singlefile.SinglefileData.': SinglefileData,
  'data.core.folder.FolderData.': FolderData,
  'data.core.remote.RemoteData.': RemoteData,
  'data.core.code.installed.InstalledCode.': InstalledCode,
  'process.calculation.calcfunction.CalcFunctionNode.': CalcFunctionNode,
  'process.calculation.calcjob.CalcJobNode.': CalcJobNode,
  'process.workflow.workchain.WorkChainNode.': WorkChainNode,
  'process.workflow.workfunction.WorkFunctionNode.': WorkFunctionNode,
};

const sha256 = (content: Buffer): string => createHash('sha256').update(content).digest('hex');

describe.each(['calcfunctions', 'workchains', 'data_types', 'calcjob'])(
  'aiida-core 2.8 archive %s read through the ORM',
  (name) => {
    let archive: ArchiveStorage;
    let expected: ExpectedArchive;

    beforeAll(async () => {
      archive = await openArchive(name);
      expected = await readExpected(name);
      setDefaultStorage(archive.storage);
    });

    afterAll(async () => {
      setDefaultStorage(null);
      await archive.cleanup();
    });

    it('has the expected entity counts', async () => {
      const info = await archive.storage.getInfo();
      expect(info.entities.Nodes.count).toBe(expected.entity_counts['nodes']);
      expect(info.entities.Links.count).toBe(expected.entity_counts['links']);
      expect(info.entities.Groups.count).toBe(expected.entity_counts['groups']);
      expect(info.entities.Comments.count).toBe(expected.entity_counts['comments']);
      expect(info.entities.Logs.count).toBe(expected.entity_counts['logs']);
      expect(info.entities.Users.count).toBe(expected.entity_counts['users']);
      expect(info.entities.Computers.count).toBe(expected.entity_counts['computers']);
    });

    it('loads every node as its class with identical columns, attributes, extras and repository metadata', async () => {
      for (const want of expected.nodes) {
        const node = await loadNode(want.uuid);
        const cls = CLASS_OF[want.node_type];
        expect(cls, want.node_type).toBeDefined();
        expect(node.constructor, want.node_type).toBe(cls);
        expect(node.nodeType).toBe(want.node_type);
        expect(node.processType).toBe(want.process_type);
        expect(node.label).toBe(want.label);
        expect(node.description).toBe(want.description);
        expect(node.ctimeIso).toBe(want.ctime);
        expect(node.mtimeIso).toBe(want.mtime);
        expect(node.attributes.all()).toEqual(want.attributes);
        expect(node.extras.all()).toEqual(want.extras);
        expect(node.repositoryMetadata).toEqual(want.repository_metadata);
        expect((await node.getUser()).email).toBe(want.user_email);
        expect((await node.getComputer())?.uuid ?? null).toBe(want.computer_uuid);
        expect(await loadNode(node.pk!)).toBeInstanceOf(cls!);
      }
    });

    it('reads every repository file with its exact content, and every directory', async () => {
      for (const want of expected.nodes) {
        const node = await loadNode(want.uuid);
        expect(await node.repository.listFilePaths()).toEqual(
          want.repository_files.map((f) => f.path).sort(),
        );
        for (const file of want.repository_files) {
          const content = await node.repository.getObjectContent(file.path);
          expect(content.length).toBe(file.size);
          expect(sha256(content)).toBe(file.sha256);
          if (file.text !== undefined) expect(content.toString('utf8')).toBe(file.text);
        }
        const dirs: string[] = [];
        for await (const entry of node.repository.walk()) {
          for (const dir of entry.dirnames)
            dirs.push(entry.path === '' || entry.path === '.' ? dir : `${entry.path}/${dir}`);
        }
        expect(dirs.sort()).toEqual([...want.repository_dirs].sort());
      }
    });

    it('has exactly the expected links, seen from both ends', async () => {
      const key = (l: { source: string; target: string; type: string; label: string }): string =>
        `${l.type} ${l.source} ${l.target} ${l.label}`;
      const incoming: string[] = [];
      const outgoing: string[] = [];
      for (const want of expected.nodes) {
        const node = await loadNode(want.uuid);
        for (const t of await node.links.getIncoming())
          incoming.push(
            key({ source: t.node.uuid, target: node.uuid, type: t.linkType, label: t.linkLabel }),
          );
        for (const t of await node.links.getOutgoing())
          outgoing.push(
            key({ source: node.uuid, target: t.node.uuid, type: t.linkType, label: t.linkLabel }),
          );
      }
      const want = expected.links.map(key).sort();
      expect(incoming.sort()).toEqual(want);
      expect(outgoing.sort()).toEqual(want);
    });

    it('reports the root processes with their state, exit status, inputs and outputs', async () => {
      for (const want of expected.root_processes) {
        const node = await loadNode<ProcessNode>(want.uuid);
        expect(node).toBeInstanceOf(ProcessNode);
        expect(await node.getCaller()).toBeNull();
        expect(node.processLabel).toBe(want.process_label);
        expect(node.processState).toBe(want.process_state);
        expect(node.exitStatus).toBe(want.exit_status);
        expect(node.exitMessage).toBe(want.exit_message);
        expect(node.isSealed).toBe(true);
        expect(node.isFinishedOk).toBe(want.process_state === 'finished' && want.exit_status === 0);
        const inputs = await node.links.getIncoming();
        expect(
          inputs
            .all()
            .map((t) => [t.linkLabel, t.linkType, t.node.uuid])
            .sort(),
        ).toEqual(want.inputs.map((i) => [i.label, i.type, i.uuid]).sort());
        // aiida's dump lists every outgoing link (created, returned and called)
        const outputs = await node.links.getOutgoing();
        expect(
          outputs
            .all()
            .map((t) => [t.linkLabel, t.linkType, t.node.uuid])
            .sort(),
        ).toEqual(want.outputs.map((o) => [o.label, o.type, o.uuid]).sort());
      }
    });

    it('has the expected users, computers, groups, comments and logs', async () => {
      expect(
        (await User.all()).map((u) => ({
          email: u.email,
          first_name: u.firstName,
          last_name: u.lastName,
          institution: u.institution,
        })),
      ).toEqual(expected.users);
      const computers = await Computer.all();
      expect(
        computers.map((c) => ({
          uuid: c.uuid,
          label: c.label,
          hostname: c.hostname,
          description: c.description,
          transport_type: c.transportType,
          scheduler_type: c.schedulerType,
          metadata: c.metadata,
        })),
      ).toEqual(expected.computers);
      for (const want of expected.groups) {
        const group = await Group.get({ uuid: want.uuid });
        expect([group.label, group.typeString, group.description, group.timeIso]).toEqual([
          want.label,
          want.type_string,
          want.description,
          want.time,
        ]);
        expect(group.extras.all()).toEqual(want.extras);
        expect((await group.getUser()).email).toBe(want.user_email);
        expect((await group.nodes()).map((n) => n.uuid).sort()).toEqual([...want.node_uuids].sort());
      }
      for (const want of expected.comments) {
        const node = await loadNode(want.node_uuid);
        const comment = (await node.comments.all()).find((c) => c.uuid === want.uuid)!;
        expect(comment).toBeInstanceOf(Comment);
        expect([
          comment.content,
          comment.ctimeIso,
          comment.mtimeIso,
          (await comment.getUser()).email,
        ]).toEqual([want.content, want.ctime, want.mtime, want.user_email]);
      }
      for (const want of expected.logs) {
        const node = await loadNode(want.node_uuid);
        const log = (await node.logs.all()).find((l) => l.uuid === want.uuid)!;
        expect([log.timeIso, log.loggername, log.levelname, log.message, log.metadata]).toEqual([
          want.time,
          want.loggername,
          want.levelname,
          want.message,
          want.metadata,
        ]);
      }
    });

    it('decodes the data types and rewrites their .npy files byte for byte', async () => {
      for (const want of expected.nodes) {
        const node = await loadNode(want.uuid);
        if (node instanceof Int || node instanceof Float || node instanceof Str || node instanceof Bool) {
          expect(node.value).toEqual(want.attributes['value']);
        }
        if (node instanceof ArrayData) {
          for (const arrayName of node.getArrayNames()) {
            const array = await node.getArray(arrayName);
            expect([...array.shape]).toEqual(want.attributes[`array|${arrayName}`]);
            const bytes = await node.repository.getObjectContent(`${arrayName}.npy`);
            expect(writeNpy(readNpy(bytes)).equals(bytes)).toBe(true);
          }
        }
        if (node instanceof StructureData) {
          expect(node.getFormula()).toMatch(/^(Si2|C2)$/);
          expect(node.sites).toHaveLength(2);
        }
        if (node instanceof KpointsData && want.label === 'mesh-4x4x2') {
          expect(node.getKpointsMesh()).toEqual({ mesh: [4, 4, 2], offset: [0.5, 0.5, 0] });
        }
        if (node instanceof XyData) expect((await node.getX()).name).toBe('energy');
        if (node instanceof SinglefileData)
          expect(await node.getContent('utf8')).toBe(want.repository_files[0]!.text);
        if (node instanceof EnumData)
          expect(node.getMember()).toEqual({
            name: 'CALL_CALC',
            value: 'call_calc',
            identifier: 'aiida.common.links:LinkType',
          });
        if (node instanceof RemoteData) expect(node.getRemotePath()).toBe(want.attributes['remote_path']);
      }
    });

    it('copies every data node into a fresh storage with the same attributes and repository metadata', async () => {
      const fresh = await new SqliteTempStorage().open();
      try {
        for (const want of expected.nodes.filter(
          (n) => n.node_type.startsWith('data.core.') && !n.node_type.includes('.code.'),
        )) {
          const node = await loadNode(want.uuid);
          if (node instanceof RemoteData) continue;
          const copy = await node.clone({ storage: fresh });
          await copy.store();
          expect(copy.attributes.all()).toEqual(want.attributes);
          expect(copy.repositoryMetadata).toEqual(want.repository_metadata);
          expect(await copy.repository.hash()).toBe(await node.repository.hash());
        }
      } finally {
        await fresh.close();
      }
    });
  },
);
