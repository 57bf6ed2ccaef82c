/**
 * The built-in calculation jobs with files on `core.local` + `core.direct`: `core.templatereplacer` with input files,
 * local and remote copies and retrieve globs; stashing (copy and tar) and unstashing; `core.transfer`; the arithmetic
 * work flows. Plus the execmanager's retrieve-list and copy semantics on a real folder tree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ArithmeticAddCalculation,
  MultiplyAddWorkChain,
  StashCalculation,
  TemplatereplacerCalculation,
  TransferCalculation,
  UnstashCalculation,
  addMultiply,
  runGetNode,
  setLogSink,
} from '../../src/engine.js';
import {
  retrieveCalculation,
  retrieveFilesFromList,
} from '../../src/engine/processes/calcjobs/execmanager.js';
import {
  CalcJobNode,
  Dict,
  FolderData,
  RemoteData,
  RemoteStashCompressedData,
  RemoteStashFolderData,
  SinglefileData,
  type Int,
} from '../../src/orm.js';
import { LocalTransport } from '../../src/transports.js';
import { linkSummary, useEngine } from '../engine/helpers.js';
import { openSqliteDos } from '../storage/helpers.js';
import { setupComputer, type CodeFixture } from './helpers.js';

const engine = useEngine(openSqliteDos);
let fixture: CodeFixture;
let scratch: string;

beforeAll(async () => {
  fixture = await setupComputer(engine().storage);
  scratch = await mkdtemp(path.join(tmpdir(), 'aiida-ts-plugins-'));
});

afterAll(async () => {
  await fixture?.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

describe('core.templatereplacer', () => {
  it('writes the input from the template, copies local and remote files, retrieves globs and temporary files', async () => {
    const remoteFolder = path.join(scratch, 'remote-input');
    await mkdir(remoteFolder);
    await writeFile(path.join(remoteFolder, 'data.txt'), 'from the remote folder\n');
    const local = await SinglefileData.fromString('from a SinglefileData\n', 'local.txt');
    const remote = new RemoteData({ computer: fixture.computer, remotePath: remoteFolder });
    const { result, node } = await runGetNode(TemplatereplacerCalculation, {
      code: fixture.code,
      parameters: new Dict({ greeting: 'hello', count: 3 }),
      template: new Dict({
        input_file_template:
          'echo {greeting} {count}\ncat copied/local.txt\ncat remote/data.txt\n' +
          'mkdir -p out/a out/b\necho 1 > out/a/one.xml\necho 2 > out/b/two.xml\necho tmp > scratch.dat\n',
        input_file_name: 'job.sh',
        cmdline_params: ['job.sh'],
        output_file_name: 'job.out',
        files_to_copy: [
          ['local', 'copied/local.txt'],
          ['remote', 'remote'],
        ],
        retrieve_temporary_files: ['scratch.dat'],
      }),
      files: { local, remote },
      metadata: {
        options: {
          resources: { num_machines: 1, num_mpiprocs_per_machine: 1 },
          additional_retrieve_list: ['out/*/*.xml'],
        },
      },
    });
    expect(node.exitStatus).toBe(0);
    const parameters = (result as { output_parameters: Dict }).output_parameters.getDict();
    expect(parameters['value']).toBe('hello 3\nfrom a SinglefileData\nfrom the remote folder\n');
    expect(parameters['retrieved_temporary_files']).toEqual([['scratch.dat', 'tmp']]);
    const retrieved = (result as { retrieved: FolderData }).retrieved;
    // A glob keeps the base names of its matches (aiida's retrieve_files_from_list).
    expect(retrieved.repository.listObjectNames().sort()).toEqual([
      '_scheduler-stderr.txt',
      '_scheduler-stdout.txt',
      'job.out',
      'one.xml',
      'two.xml',
    ]);
    expect(await linkSummary(node, 'incoming')).toEqual([
      'input_calc code InstalledCode',
      'input_calc files__local SinglefileData',
      'input_calc files__remote RemoteData',
      'input_calc parameters Dict',
      'input_calc template Dict',
    ]);
    expect(await linkSummary(node, 'outgoing')).toEqual([
      'create output_parameters Dict',
      'create remote_folder RemoteData',
      'create retrieved FolderData',
    ]);
    // The copied files are in the working directory, never in the node's repository.
    const job = node as CalcJobNode;
    expect(job.repository.listObjectNames().sort()).toEqual(['.aiida', '_aiidasubmit.sh', 'job.sh']);
    expect(readFileSync(path.join(String(job.getRemoteWorkdir()), 'copied/local.txt'), 'utf8')).toBe(
      'from a SinglefileData\n',
    );
  });

  it('refuses unknown template keys before anything is uploaded', async () => {
    await expect(
      runGetNode(TemplatereplacerCalculation, {
        code: fixture.code,
        template: new Dict({ input_file_template: 'x', unknown_key: 1 }),
        metadata: { options: { resources: { num_machines: 1, num_mpiprocs_per_machine: 1 } } },
      }),
    ).rejects.toThrow(/The following keys could not be used in the template node: unknown_key/);
  });
});

describe('stash and unstash', () => {
  it('stashes files of a finished job by copy and unstashes them into a new working directory', async () => {
    const target = path.join(scratch, 'stash-copy');
    const { result, node } = await runGetNode(ArithmeticAddCalculation, {
      x: 1,
      y: 2,
      code: fixture.code,
      metadata: {
        options: {
          stash: { target_base: target, source_list: ['aiida.in', 'aiida.out'], stash_mode: 'copy' },
        },
      },
    });
    expect(node.exitStatus).toBe(0);
    const stash = (result as unknown as { remote_stash: RemoteStashFolderData }).remote_stash;
    expect(stash).toBeInstanceOf(RemoteStashFolderData);
    const uuid = node.uuid;
    expect(stash.targetBasepath).toBe(path.join(target, uuid.slice(0, 2), uuid.slice(2, 4), uuid.slice(4)));
    expect(readFileSync(path.join(stash.targetBasepath, 'aiida.out'), 'utf8')).toBe('3\n');
    // the unstash step finds the working directory the upload just made at its first attempt (it read the node
    // before the upload's write had stored it, failed and waited for a retry)
    const lines: string[] = [];
    const restoreSink = setLogSink({ write: (line) => lines.push(line) });
    let unstash;
    try {
      unstash = await runGetNode(UnstashCalculation, {
        source_node: stash,
        metadata: {
          computer: fixture.computer,
          options: { unstash: { source_list: ['aiida.out'], unstash_target_mode: 'NewRemoteData' } },
        },
      });
    } finally {
      restoreSink();
    }
    expect(lines.filter((line) => line.includes('failed (attempt'))).toEqual([]);
    expect(unstash.node.exitStatus).toBe(0);
    const workdir = String((unstash.node as CalcJobNode).getRemoteWorkdir());
    expect(readFileSync(path.join(workdir, 'aiida.out'), 'utf8')).toBe('3\n');
  });

  it('stashes into a tar archive, and core.stash stashes a RemoteData without submitting a job', async () => {
    const target = path.join(scratch, 'stash-tar');
    const { result, node } = await runGetNode(ArithmeticAddCalculation, {
      x: 5,
      y: 6,
      code: fixture.code,
      metadata: {
        options: {
          stash: { target_base: target, source_list: ['aiida.out'], stash_mode: 'tar', dereference: false },
        },
      },
    });
    const stash = (result as unknown as { remote_stash: RemoteStashCompressedData }).remote_stash;
    expect(stash).toBeInstanceOf(RemoteStashCompressedData);
    expect(stash.targetBasepath).toBe(path.join(target, `${node.uuid}.tar`));
    expect(existsSync(stash.targetBasepath)).toBe(true);
    const remote = (result as { remote_folder: RemoteData }).remote_folder;
    const stashed = await runGetNode(StashCalculation, {
      source_node: remote,
      metadata: {
        computer: fixture.computer,
        options: {
          stash: {
            target_base: path.join(scratch, 'stash-calc'),
            source_list: ['aiida.in'],
            stash_mode: 'copy',
          },
        },
      },
    });
    expect(stashed.node.exitStatus).toBe(0);
    expect((stashed.node as CalcJobNode).getJobId()).toBeNull();
    const copy = (stashed.result as unknown as { remote_stash: RemoteStashFolderData }).remote_stash;
    expect(readFileSync(path.join(copy.targetBasepath, 'aiida.in'), 'utf8')).toBe('echo $((5 + 6))\n');
  });

  it('fails with ERROR_STASHING_FAILED when a required file is missing', async () => {
    const { node } = await runGetNode(ArithmeticAddCalculation, {
      x: 1,
      y: 1,
      code: fixture.code,
      metadata: {
        options: {
          stash: {
            target_base: path.join(scratch, 'stash-missing'),
            source_list: ['not-there.txt'],
            stash_mode: 'copy',
            fail_on_missing: true,
          },
        },
      },
    });
    expect(node.exitStatus).toBe(160);
    expect(node.exitMessage).toMatch(/not-there\.txt does not exist\. Stashing failed\./);
  });

  it('refuses invalid stash options at launch with aiida’s messages', async () => {
    await expect(
      runGetNode(ArithmeticAddCalculation, {
        x: 1,
        y: 1,
        code: fixture.code,
        metadata: { options: { stash: { target_base: 'relative', source_list: ['a'], stash_mode: 'copy' } } },
      }),
    ).rejects.toThrow(/`metadata.options.stash.target_base` should be an absolute filepath, got: relative/);
  });
});

describe('core.transfer', () => {
  it('copies files of a FolderData and a RemoteData into a new folder and retrieves them, submitting no job', async () => {
    const remoteFolder = path.join(scratch, 'transfer-source');
    await mkdir(remoteFolder);
    await writeFile(path.join(remoteFolder, 'remote.txt'), 'remote\n');
    const folder = new FolderData();
    await folder.repository.putObjectFromBuffer('sub/local.txt', 'local\n');
    const { result, node } = await runGetNode(TransferCalculation, {
      instructions: new Dict({
        retrieve_files: true,
        local_files: [['folder', 'sub/local.txt', 'local.txt']],
        remote_files: [['remote', 'remote.txt', 'remote.txt']],
      }),
      source_nodes: {
        folder,
        remote: new RemoteData({ computer: fixture.computer, remotePath: remoteFolder }),
      },
      metadata: { computer: fixture.computer },
    });
    expect(node.exitStatus).toBe(0);
    expect((node as CalcJobNode).getJobId()).toBeNull();
    const retrieved = (result as { retrieved: FolderData }).retrieved;
    expect(await retrieved.repository.getObjectContent('local.txt', 'utf8')).toBe('local\n');
    expect(await retrieved.repository.getObjectContent('remote.txt', 'utf8')).toBe('remote\n');
  });
});

describe('the arithmetic work flows', () => {
  it('runs core.arithmetic.multiply_add (a work chain calling a calcfunction and a CalcJob) and add_multiply', async () => {
    const { result, node } = await runGetNode(MultiplyAddWorkChain, { x: 2, y: 3, z: 4, code: fixture.code });
    expect(node.exitStatus).toBe(0);
    expect(node.processType).toBe('aiida.workflows:core.arithmetic.multiply_add');
    expect((result as { result: Int }).result.value).toBe(10);
    const called = await node.getCalled();
    expect(called.map((child) => child.processType).sort()).toEqual([
      'aiida.calculations:core.arithmetic.add',
      'aiida.workflows.arithmetic.multiply_add.multiply',
    ]);
    const product = await addMultiply.runGetNode({ x: 1, y: 2, z: 3 });
    expect(product.node.processType).toBe('aiida.workflows:core.arithmetic.add_multiply');
    expect((product.result as unknown as Int).value).toBe(9);
  });
});

describe('retrieve lists (aiida’s retrieve_files_from_list)', () => {
  it('keeps base names for paths and globs, and the last `depth` components for triples', async () => {
    const workdir = path.join(scratch, 'tree');
    await mkdir(path.join(workdir, 'path', 'sub'), { recursive: true });
    for (const file of ['file_a.txt', 'path/file_b.txt', 'path/sub/file_c.txt', 'path/sub/file_d.txt'])
      await writeFile(path.join(workdir, file), file);
    const transport = new LocalTransport();
    await transport.open();
    const retrieve = async (list: Parameters<typeof retrieveFilesFromList>[3]): Promise<string[]> => {
      const target = await mkdtemp(path.join(scratch, 'retrieved-'));
      await retrieveFilesFromList(transport, workdir, target, list);
      const out: string[] = [];
      const walk = async (dir: string, prefix: string): Promise<void> => {
        for (const entry of await readdir(dir, { withFileTypes: true })) {
          const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
          if (entry.isDirectory()) await walk(path.join(dir, entry.name), rel);
          else out.push(rel);
        }
      };
      await walk(target, '');
      return out.sort();
    };
    try {
      expect(await retrieve(['path/sub/file_c.txt', 'missing.txt'])).toEqual(['file_c.txt']);
      expect(await retrieve(['path/sub'])).toEqual(['sub/file_c.txt', 'sub/file_d.txt']);
      expect(await retrieve(['*.txt'])).toEqual(['file_a.txt']);
      expect(await retrieve(['*/*.txt'])).toEqual(['file_b.txt']);
      expect(await retrieve([['path/sub/file_c.txt', '.', 0]])).toEqual(['file_c.txt']);
      expect(await retrieve([['path/sub/file_c.txt', '.', 2]])).toEqual(['sub/file_c.txt']);
      expect(await retrieve([['path/sub/file_c.txt', '.', 3]])).toEqual(['path/sub/file_c.txt']);
      expect(await retrieve([['path/sub/*.txt', 'target', 1]])).toEqual([
        'target/file_c.txt',
        'target/file_d.txt',
      ]);
      expect(await retrieve([['path/*/file_*.txt', 'target', null]])).toEqual([
        'target/path/sub/file_c.txt',
        'target/path/sub/file_d.txt',
      ]);
    } finally {
      await transport.close();
    }
  });

  it('gives the same `retrieved` on core.local, where plain files go straight into the repository', async () => {
    const workdir = path.join(scratch, 'tree-retrieved');
    await mkdir(path.join(workdir, 'path', 'sub'), { recursive: true });
    for (const file of ['file_a.txt', 'path/file_b.txt', 'path/sub/file_c.txt', 'path/sub/file_d.txt'])
      await writeFile(path.join(workdir, file), `content of ${file}`);
    await writeFile(path.join(workdir, 'empty.txt'), '');
    const transport = new LocalTransport();
    await transport.open();
    const lists: Parameters<typeof retrieveFilesFromList>[3][] = [
      // plain files (the straight way), one missing, one empty, in an order that is not the names'
      ['path/file_b.txt', 'file_a.txt', 'missing.txt', 'empty.txt'],
      ['*.txt', ['path/sub/file_c.txt', '.', 0]],
      // a folder, sub folders and a name given twice: the general way
      ['path/sub'],
      [['path/sub/*.txt', 'target', 1]],
      ['file_a.txt', ['path/sub/file_c.txt', '.', 3]],
      ['path/file_b.txt', 'path/sub/../file_b.txt'],
    ];
    try {
      for (const list of lists) {
        const folder = await mkdtemp(path.join(scratch, 'retrieved-'));
        await retrieveFilesFromList(transport, workdir, folder, list);
        const expected = new FolderData();
        await expected.repository.putObjectFromTree(folder);
        const node = new CalcJobNode();
        node.base.attributes.set('retrieve_list', list);
        const temporary = await mkdtemp(path.join(scratch, 'temporary-'));
        const retrieved = await retrieveCalculation(node, transport, workdir, temporary, undefined, {
          mayBeRetrieved: false,
        });
        // the metadata names every file with the key of its content: equal metadata, equal files
        expect(retrieved?.repository.serialize(), JSON.stringify(list)).toEqual(
          expected.repository.serialize(),
        );
      }
    } finally {
      await transport.close();
    }
  });
});
