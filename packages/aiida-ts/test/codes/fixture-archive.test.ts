import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeNodeHash, HASH_EXTRA_KEY } from '../../src/engine/caching/hash.js';
import { CalcJobNode, Computer, InstalledCode, loadCode, loadComputer, loadNode } from '../../src/orm.js';
import { buildJobTemplateCodeInfo, CodeRunMode } from '../../src/schedulers.js';
import { withStorage } from '../../src/storage/context.js';
import {
  openArchive,
  readExpected,
  type ArchiveStorage,
  type ExpectedArchive,
} from '../orm/archive-fixtures.js';
import { openSqliteTemp, type TestStorage } from '../storage/helpers.js';

const CODE_UUID = '3c871527-44f7-4a87-9a82-9ff083b902a9';

describe('the InstalledCode and computer of the aiida-core 2.8 calcjob archive', () => {
  let archive: ArchiveStorage;
  let expected: ExpectedArchive;
  let fresh: TestStorage;
  beforeAll(async () => {
    archive = await openArchive('calcjob');
    expected = await readExpected('calcjob');
    fresh = await openSqliteTemp();
  });
  afterAll(async () => {
    await archive.cleanup();
    await fresh.cleanup();
  });

  const wantCode = () => expected.nodes.find((node) => node.uuid === CODE_UUID)!;
  const wantComputer = () => expected.computers[0]!;

  it('load as InstalledCode and Computer with every field aiida wrote', async () => {
    const storage = archive.storage;
    const code = await loadCode<InstalledCode>('bash@localhost', { storage });
    const want = wantCode();
    expect(code).toBeInstanceOf(InstalledCode);
    expect(code.uuid).toBe(CODE_UUID);
    expect(code.nodeType).toBe(want.node_type);
    expect(code.label).toBe('bash');
    expect(code.description).toBe(want.description);
    expect(code.fullLabel).toBe('bash@localhost');
    expect(Object.entries(code.attributes.all())).toEqual(Object.entries(want.attributes));
    expect(code.filepathExecutable).toBe('/bin/bash');
    expect(code.defaultCalcJobPlugin).toBe('core.arithmetic.add');
    expect(code.withMpi).toBeNull();
    expect(code.useDoubleQuotes).toBe(false);
    expect(code.wrapCmdlineParams).toBe(false);
    expect(code.prependText).toBe('');
    expect(code.appendText).toBe('');
    expect(code.isHidden).toBe(false);
    expect(await computeNodeHash(code)).toBe(want.extras[HASH_EXTRA_KEY]);
    for (const identifier of [code.pk!, CODE_UUID, CODE_UUID.slice(0, 8), 'bash']) {
      expect((await loadCode(identifier, { storage })).uuid).toBe(CODE_UUID);
    }

    const computer = await loadComputer('localhost', { storage });
    const wantedComputer = wantComputer();
    expect(computer.uuid).toBe(wantedComputer.uuid);
    expect(computer.description).toBe(wantedComputer.description);
    expect(computer.transportType).toBe('core.local');
    expect(computer.schedulerType).toBe('core.direct');
    expect(computer.metadata).toEqual(wantedComputer.metadata);
    expect(computer.getWorkdir()).toBe('/scratch/{username}/aiida_run/');
    expect(computer.getMinimumJobPollInterval()).toBe(0);
    expect(computer.getDefaultMpiprocsPerMachine()).toBe(1);
    expect(code.canRunOnComputer(computer)).toBe(true);
    // the archive carries no authinfo: the computer is not configured for its user
    expect(await computer.isUserConfigured(await code.getUser())).toBe(false);
    expect((await code.getUser()).email).toBe(want.user_email);

    const calcjob = (await code.base.links.getOutgoing()).one();
    expect(calcjob.linkLabel).toBe('code');
    expect(calcjob.node).toBeInstanceOf(CalcJobNode);
    expect((await calcjob.node.getComputer())?.uuid).toBe(computer.uuid);
  });

  it('give the run line and submission script aiida wrote for the job', async () => {
    const storage = archive.storage;
    const code = await loadCode<InstalledCode>(CODE_UUID, { storage });
    const computer = await loadComputer('localhost', { storage });
    const calcjob = await loadNode<CalcJobNode>('dbc1f62e-d8b5-4e69-8a2e-69ede6695c8f', { storage });
    const template = JSON.parse(
      await calcjob.repository.getObjectContent('.aiida/job_tmpl.json', 'utf8'),
    ) as {
      codes_info: {
        prepend_cmdline_params: string[];
        cmdline_params: string[];
        use_double_quotes: boolean[];
      }[];
    };
    const wanted = template.codes_info[0]!;
    expect(code.getExecutableCmdlineParams()).toEqual(wanted.cmdline_params);
    expect(code.getPrependCmdlineParams()).toEqual(wanted.prepend_cmdline_params);
    expect([computer.getUseDoubleQuotes(), code.useDoubleQuotes]).toEqual(wanted.use_double_quotes);

    const scheduler = await computer.getScheduler();
    const [executable, ...parameters] = code.getExecutableCmdlineParams();
    const script = scheduler.getSubmitScript({
      shebang: computer.getShebang(),
      schedOutputPath: '_scheduler-stdout.txt',
      schedErrorPath: '_scheduler-stderr.txt',
      schedJoinFiles: false,
      prependText: code.prependText,
      appendText: code.appendText,
      jobResource: scheduler.createJobResource({ num_machines: 1, num_mpiprocs_per_machine: 1 }),
      importSysEnvironment: true,
      maxWallclockSeconds: 60,
      codesRunMode: CodeRunMode.SERIAL,
      codesInfo: [
        buildJobTemplateCodeInfo({
          withmpi: code.withMpi ?? false,
          mpirunCommand: computer.getMpirunCommand(),
          jobResource: scheduler.createJobResource({ num_machines: 1, num_mpiprocs_per_machine: 1 }),
          executable: executable!,
          cmdlineParams: parameters,
          stdinName: 'aiida.in',
          stdoutName: 'aiida.out',
          useDoubleQuotes: [computer.getUseDoubleQuotes(), code.useDoubleQuotes],
          wrapCmdlineParams: code.wrapCmdlineParams,
        }),
      ],
    });
    const written = (await calcjob.repository.getObjectContent('_aiidasubmit.sh', 'utf8')).split('\n');
    const lines = script.split('\n');
    // The parts a code and its computer decide: the shebang and the run line of the code.
    expect(lines[0]).toBe(written[0]);
    const runLine = written.find((line) => line.includes('/bin/bash') && !line.startsWith('#!'));
    expect(runLine).toBe("'/bin/bash' < 'aiida.in' > 'aiida.out'");
    expect(lines).toContain(runLine);
    expect(lines.length).toBe(written.length);
  });

  it('are reproduced exactly by building them anew: same metadata, attributes and node hash', async () => {
    const want = wantCode();
    const wantedComputer = wantComputer();
    await withStorage(fresh.storage, async () => {
      const computer = await new Computer({
        uuid: wantedComputer.uuid,
        label: wantedComputer.label,
        hostname: wantedComputer.hostname,
        description: wantedComputer.description,
        transportType: wantedComputer.transport_type,
        schedulerType: wantedComputer.scheduler_type,
        metadata: { minimum_scheduler_poll_interval: 0.0, default_mpiprocs_per_machine: 1 },
        workdir: '/scratch/{username}/aiida_run/',
      }).store();
      const code = await new InstalledCode(
        { computer, filepathExecutable: '/bin/bash', defaultCalcJobPlugin: 'core.arithmetic.add' },
        { label: 'bash', description: want.description },
      ).store();
      const reloaded = await loadCode<InstalledCode>('bash@localhost');
      expect(Object.entries(reloaded.attributes.all())).toEqual(Object.entries(want.attributes));
      // The `_aiida_hash` given at store is the one aiida-core gave.
      expect(reloaded.extras.all()).toEqual({ hidden: false, [HASH_EXTRA_KEY]: want.extras[HASH_EXTRA_KEY] });
      expect((await Computer.get({ pk: computer.pk! })).metadata).toEqual(wantedComputer.metadata);
      expect(await computeNodeHash(code)).toBe(want.extras[HASH_EXTRA_KEY]);
    });
  });
});
