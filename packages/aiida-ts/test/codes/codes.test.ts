import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  InvalidOperationError,
  ModificationNotAllowedError,
  MultipleObjectsError,
  NotExistentError,
  ValidationError,
} from '../../src/errors.js';
import {
  AbstractCode,
  type Computer,
  InstalledCode,
  Int,
  listCodes,
  loadCode,
  loadNode,
  PortableCode,
  User,
} from '../../src/orm.js';
import { LocalTransport } from '../../src/transports.js';
import { localComputer, unique } from '../computers/helpers.js';
import { useStorage } from '../orm/setup.js';
import { openPsqlDos, openSqliteDos, openSqliteTemp } from '../storage/helpers.js';

const SQLITE_BACKENDS = [
  { name: 'core.sqlite_temp', open: openSqliteTemp },
  { name: 'core.sqlite_dos', open: openSqliteDos },
] as const;

async function codeFiles(root: string): Promise<string> {
  const dir = await mkdtemp(path.join(root, 'files-'));
  await writeFile(path.join(dir, 'run.sh'), '#!/bin/bash\necho "portable $@"\n');
  await mkdir(path.join(dir, 'bin', 'deeper'), { recursive: true });
  await writeFile(path.join(dir, 'bin', 'tool'), '#!/bin/sh\necho tool\n');
  await writeFile(path.join(dir, 'bin', 'deeper', 'data.txt'), 'nested');
  await mkdir(path.join(dir, 'empty'));
  return dir;
}

describe.each(SQLITE_BACKENDS)('codes on $name', ({ open }) => {
  useStorage(open);
  let scratch: string;
  let computer: Computer;
  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'aiida-ts-codes-'));
    computer = await localComputer().store();
    await computer.configure({ use_login_shell: false });
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
  });

  describe('InstalledCode', () => {
    it("stores aiida's attributes, in aiida's order, and the hidden extra", async () => {
      const code = new InstalledCode(
        { computer, filepathExecutable: '/bin/bash', defaultCalcJobPlugin: 'core.arithmetic.add' },
        { label: unique('bash'), description: 'bash' },
      );
      expect(code.prependText).toBe('');
      expect(code.appendText).toBe('');
      expect(code.useDoubleQuotes).toBe(false);
      expect(code.withMpi).toBeNull();
      expect(code.wrapCmdlineParams).toBe(false);
      expect(code.isHidden).toBe(false);
      await code.store();
      expect(code.nodeType).toBe('data.core.code.installed.InstalledCode.');
      expect(code.entryPoint).toBe('aiida.data:core.code.installed');
      const loaded = await loadNode<InstalledCode>(code.pk!);
      expect(loaded).toBeInstanceOf(InstalledCode);
      expect(Object.entries(loaded.attributes.all())).toEqual([
        ['input_plugin', 'core.arithmetic.add'],
        ['append_text', ''],
        ['prepend_text', ''],
        ['use_double_quotes', false],
        ['with_mpi', null],
        ['wrap_cmdline_params', false],
        ['filepath_executable', '/bin/bash'],
      ]);
      expect(loaded.extras.all()).toEqual({ hidden: false, _aiida_hash: expect.any(String) as unknown });
      expect(loaded.computerId).toBe(computer.pk);
      expect(await loaded.getFullLabel()).toBe(`${code.label}@${computer.label}`);
      expect(code.fullLabel).toBe(`${code.label}@${computer.label}`);
      expect(() => loaded.fullLabel).not.toThrow();
    });

    it('checks its settings and refuses changes once stored', async () => {
      expect(() => new InstalledCode({ computer, filepathExecutable: '/bin/sh' }, { label: 'a@b' })).toThrow(
        /contains a `@`/,
      );
      expect(
        () =>
          new InstalledCode({
            computer,
            filepathExecutable: '/bin/sh',
            withMpi: 'False' as unknown as boolean,
          }),
      ).toThrow(ValidationError);
      expect(
        () =>
          new InstalledCode({ computer: 'localhost' as unknown as Computer, filepathExecutable: '/bin/sh' }),
      ).toThrow(/needs a `computer`/);
      expect(
        () => new InstalledCode({ computer, filepathExecutable: undefined as unknown as string }),
      ).toThrow(/filepath_executable/);
      const code = new InstalledCode(
        { computer, filepathExecutable: 'relative-name' },
        { label: unique('rel') },
      );
      code.label = unique('renamed');
      expect(() => {
        code.label = 'x@y';
      }).toThrow(ValidationError);
      code.withMpi = true;
      code.prependText = 'module load x';
      await code.store();
      expect(code.getExecutable()).toBe('relative-name');
      expect(() => {
        code.filepathExecutable = '/other';
      }).toThrow(ModificationNotAllowedError);
      expect(() => {
        code.withMpi = false;
      }).toThrow(ModificationNotAllowedError);
      await expect(code.setLabel('bad@label')).rejects.toBeInstanceOf(ValidationError);
      await code.setLabel(unique('relabelled'));

      const bare = new InstalledCode();
      await expect(bare.store()).rejects.toThrow('The `computer` is undefined.');
      bare.computer = computer;
      await expect(bare.store()).rejects.toThrow('The `filepath_executable` is not set.');
    });

    it('runs on its own computer only and builds its command line', async () => {
      const code = await new InstalledCode({ computer, filepathExecutable: '/usr/bin/env' }).store();
      const other = await localComputer().store();
      expect(code.canRunOnComputer(computer)).toBe(true);
      expect(code.canRunOnComputer(other)).toBe(false);
      expect(code.getExecutableCmdlineParams(['-i', 'x'])).toEqual(['/usr/bin/env', '-i', 'x']);
      expect(code.getExecutableCmdlineParams()).toEqual(['/usr/bin/env']);
      expect(code.getPrependCmdlineParams(['mpirun', '-np', '4'], ['--bind-to', 'core'])).toEqual([
        'mpirun',
        '-np',
        '4',
        '--bind-to',
        'core',
      ]);
      expect(code.getPrependCmdlineParams()).toEqual([]);
      const fromNode = await loadNode<InstalledCode>(code.uuid);
      expect(() => fromNode.fullLabel).toThrow(InvalidOperationError);
      expect(await fromNode.getFullLabel()).toBe(`@${computer.label}`);
    });

    it('hides and reveals, also once stored', async () => {
      const code = await new InstalledCode(
        { computer, filepathExecutable: '/bin/true', isHidden: true },
        { label: unique('hidden') },
      ).store();
      expect(code.isHidden).toBe(true);
      await code.reveal();
      expect((await loadCode(code.pk!)).isHidden).toBe(false);
      await code.hide();
      expect((await loadCode(code.uuid)).isHidden).toBe(true);
      await expect(code.setHidden('yes' as unknown as boolean)).rejects.toBeInstanceOf(ValidationError);
    });

    it('checks through the transport that the executable exists and is executable', async () => {
      const plain = path.join(scratch, 'not-executable');
      await writeFile(plain, 'data');
      await chmod(plain, 0o644);
      const good = new InstalledCode({ computer, filepathExecutable: '/bin/sh' });
      await good.validateFilepathExecutable();
      await expect(
        new InstalledCode({
          computer,
          filepathExecutable: path.join(scratch, 'missing'),
        }).validateFilepathExecutable(),
      ).rejects.toThrow(/does not exist on the computer/);
      await expect(
        new InstalledCode({ computer, filepathExecutable: plain }).validateFilepathExecutable(),
      ).rejects.toThrow(/might not actually be executable/);
      // a name looked up on PATH is not checked
      await new InstalledCode({ computer, filepathExecutable: 'no-such-tool' }).validateFilepathExecutable();
      const unconfigured = await localComputer().store();
      await expect(
        new InstalledCode({
          computer: unconfigured,
          filepathExecutable: '/bin/sh',
        }).validateFilepathExecutable(),
      ).rejects.toThrow(/Could not connect to the configured computer/);
    });
  });

  describe('PortableCode', () => {
    it('stores the files of a folder and needs the executable among them', async () => {
      const files = await codeFiles(scratch);
      const code = await PortableCode.fromFiles(
        { filepathExecutable: 'run.sh', filepathFiles: files, prependText: 'export X=1' },
        { label: unique('portable') },
      );
      expect(code.fullLabel).toBe(code.label);
      expect(await code.getFullLabel()).toBe(code.label);
      expect(code.canRunOnComputer(computer)).toBe(true);
      await code.store();
      const loaded = await loadCode<PortableCode>(code.pk!);
      expect(loaded).toBeInstanceOf(PortableCode);
      expect(loaded.nodeType).toBe('data.core.code.portable.PortableCode.');
      expect(await loaded.repository.listFilePaths()).toEqual(['bin/deeper/data.txt', 'bin/tool', 'run.sh']);
      expect(loaded.attributes.get('filepath_executable')).toBe('run.sh');
      expect(loaded.computerId).toBeNull();
      expect(loaded.toCliConfig()).toEqual({
        label: code.label,
        description: '',
        use_double_quotes: false,
        wrap_cmdline_params: false,
        prepend_text: 'export X=1',
        append_text: '',
        filepath_executable: 'run.sh',
      });

      await expect(
        PortableCode.fromFiles({ filepathExecutable: 'missing.sh', filepathFiles: files }).then((c) =>
          c.store(),
        ),
      ).rejects.toThrow(
        'The executable `missing.sh` is not one of the uploaded files in the node repository.',
      );
      await expect(
        PortableCode.fromFiles({ filepathExecutable: 'bin', filepathFiles: files }).then((c) => c.store()),
      ).rejects.toThrow(/not one of the uploaded files/);
      expect(() => new PortableCode({ filepathExecutable: '/abs/run.sh' })).toThrow(/should not be absolute/);
      await expect(
        PortableCode.fromFiles({ filepathExecutable: 'run.sh', filepathFiles: path.join(scratch, 'nope') }),
      ).rejects.toThrow(/does not exist/);
      await expect(
        PortableCode.fromFiles({ filepathExecutable: 'run.sh', filepathFiles: path.join(files, 'run.sh') }),
      ).rejects.toThrow(/is not a directory/);
      expect(() => {
        loaded.filepathExecutable = 'bin/tool';
      }).toThrow(ModificationNotAllowedError);
      await expect(loaded.repository.putObjectFromBuffer('new.txt', 'x')).rejects.toBeInstanceOf(
        ModificationNotAllowedError,
      );
    });

    it('prefixes ./ only for an executable in the top folder', () => {
      expect(new PortableCode({ filepathExecutable: 'run.sh' }).getExecutableCmdlineParams(['a'])).toEqual([
        './run.sh',
        'a',
      ]);
      expect(new PortableCode({ filepathExecutable: './run.sh' }).getExecutableCmdlineParams()).toEqual([
        './run.sh',
      ]);
      expect(new PortableCode({ filepathExecutable: 'bin/tool' }).getExecutableCmdlineParams()).toEqual([
        'bin/tool',
      ]);
      const code = new PortableCode({ filepathExecutable: 'bin/tool' });
      expect(() => code.validateWorkingDirectory(['aiida.in', 'bin/tool'])).toThrow(/also the executable/);
      code.validateWorkingDirectory(['aiida.in', 'tool']);
    });

    it('uploads its files through a transport and makes the executable runnable', async () => {
      const files = await codeFiles(scratch);
      const code = await PortableCode.fromFiles(
        { filepathExecutable: 'run.sh', filepathFiles: files },
        { label: unique('upload') },
      );
      await code.store();
      const remote = path.join(scratch, unique('workdir'));
      const transport = new LocalTransport({ machine: 'localhost', useLoginShell: false });
      await transport.open();
      try {
        await code.uploadFiles(transport, remote);
        // uploading again replaces the files
        await code.uploadFiles(transport, remote);
        const run = await transport.execCommandWait(code.getExecutableCmdlineParams(['hello']).join(' '), {
          workdir: remote,
        });
        expect(run.stdout).toBe('portable hello\n');
      } finally {
        await transport.close();
      }
      expect((await stat(path.join(remote, 'run.sh'))).mode & 0o777).toBe(0o755);
      expect(await readFile(path.join(remote, 'bin', 'deeper', 'data.txt'), 'utf8')).toBe('nested');
      expect((await readdir(remote)).sort()).toEqual(['bin', 'empty', 'run.sh']);

      const exported = path.join(scratch, unique('export'));
      await code.exportFiles(exported);
      expect(await readFile(path.join(exported, 'bin', 'tool'), 'utf8')).toBe('#!/bin/sh\necho tool\n');
    });
  });

  describe('loadCode and listCodes', () => {
    it('resolve full labels, pks, uuids and prefixes; ambiguity and absence are errors', async () => {
      const label = unique('shared');
      const second = await localComputer().store();
      const a = await new InstalledCode({ computer, filepathExecutable: '/bin/a' }, { label }).store();
      const b = await new InstalledCode(
        { computer: second, filepathExecutable: '/bin/b' },
        { label },
      ).store();
      const byFull = await loadCode<InstalledCode>(`${label}@${second.label}`);
      expect(byFull.uuid).toBe(b.uuid);
      expect(byFull.fullLabel).toBe(`${label}@${second.label}`);
      expect((await loadCode(`${label}@${computer.label}`)).uuid).toBe(a.uuid);
      await expect(loadCode(label)).rejects.toBeInstanceOf(MultipleObjectsError);
      expect((await loadCode(a.pk!)).uuid).toBe(a.uuid);
      expect((await loadCode(String(b.pk))).uuid).toBe(b.uuid);
      expect((await loadCode(a.uuid)).pk).toBe(a.pk);
      expect((await loadCode(a.uuid.slice(0, 10))).pk).toBe(a.pk);
      await expect(loadCode(`${label}@nowhere`)).rejects.toBeInstanceOf(NotExistentError);
      await expect(loadCode('no-such-code')).rejects.toThrow(/no code found with label `no-such-code`/);
      const digits = await new InstalledCode(
        { computer, filepathExecutable: '/bin/d' },
        { label: String(8_000_000 + a.pk!) },
      ).store();
      expect((await loadCode(`${digits.label}!`)).uuid).toBe(digits.uuid);
      expect((await loadCode(digits.label)).uuid).toBe(digits.uuid);
      // a data node that is not a code is not found
      const notACode = await new Int(5).store();
      await expect(loadCode(notACode.pk!)).rejects.toBeInstanceOf(NotExistentError);
      await expect(loadCode(notACode.uuid)).rejects.toBeInstanceOf(NotExistentError);
      await expect(loadCode(a.pk!, { subClasses: [PortableCode] })).rejects.toBeInstanceOf(NotExistentError);
      expect(await loadCode(a.pk!, { subClasses: [AbstractCode] })).toBeInstanceOf(InstalledCode);
    });

    it('list visible codes of the default user, with filters', async () => {
      const onComputer = await localComputer().store();
      const other = await new User({ email: `${unique('owner')}@example.com` }).store();
      const visible = await new InstalledCode(
        { computer: onComputer, filepathExecutable: '/bin/v', defaultCalcJobPlugin: 'core.templatereplacer' },
        { label: unique('visible') },
      ).store();
      const hidden = await new InstalledCode(
        { computer: onComputer, filepathExecutable: '/bin/h', isHidden: true },
        { label: unique('hidden') },
      ).store();
      const foreign = await new InstalledCode(
        { computer: onComputer, filepathExecutable: '/bin/f' },
        { label: unique('foreign'), user: other },
      ).store();
      const pks = (codes: AbstractCode[]) => codes.map((code) => code.pk);
      expect(pks(await listCodes({ computer: onComputer }))).toEqual([visible.pk]);
      expect(pks(await listCodes({ computer: onComputer, includeHidden: true }))).toEqual([
        visible.pk,
        hidden.pk,
      ]);
      expect(pks(await listCodes({ computer: onComputer, includeHidden: true, user: null }))).toEqual([
        visible.pk,
        hidden.pk,
        foreign.pk,
      ]);
      expect(pks(await listCodes({ computer: onComputer, user: other }))).toEqual([foreign.pk]);
      expect(
        pks(await listCodes({ defaultCalcJobPlugin: 'core.templatereplacer', computer: onComputer })),
      ).toEqual([visible.pk]);
      const all = await listCodes({ includeHidden: true });
      expect(all.every((code) => code instanceof AbstractCode)).toBe(true);
      expect(all.map((code) => code.fullLabel)).toContain(`${visible.label}@${onComputer.label}`);
    });
  });
});

describe('codes on core.psql_dos (fresh database)', () => {
  useStorage(openPsqlDos);

  it('store, load by full label and hide an installed and a portable code', async () => {
    const computer = await localComputer().store();
    const scratch = await mkdtemp(path.join(tmpdir(), 'aiida-ts-codes-pg-'));
    try {
      const label = unique('pg');
      const installed = await new InstalledCode(
        { computer, filepathExecutable: '/bin/bash', withMpi: false },
        { label },
      ).store();
      const portable = await (
        await PortableCode.fromFiles(
          { filepathExecutable: 'run.sh', filepathFiles: await codeFiles(scratch) },
          { label: unique('pg-portable') },
        )
      ).store();
      const loaded = await loadCode<InstalledCode>(`${label}@${computer.label}`);
      expect(loaded.uuid).toBe(installed.uuid);
      expect(loaded.withMpi).toBe(false);
      await loaded.hide();
      expect((await listCodes()).map((code) => code.pk)).toEqual([portable.pk]);
      expect(await (await loadCode<PortableCode>(portable.uuid)).repository.listFilePaths()).toContain(
        'run.sh',
      );
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  });
});
