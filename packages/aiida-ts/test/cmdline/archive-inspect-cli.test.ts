/**
 * `verdi archive version|info|migrate` run as the executable on the archives aiida-core 2.8 wrote. aiida-core ran
 * the same commands from the fixture folder with bare file names and recorded their output, so the fixtures are
 * copied into the sandbox and `verdi` runs there: the output must be the recorded one, byte for byte.
 */
import { copyFileSync, existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_NAMES, LEGACY_NAMES, fixture, legacyFixture } from '../tools/archive-support.js';
import { expectExit, pythonZip, readExpectedSummary } from './archive-cli-support.js';
import { verdiSandbox, type VerdiResult } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-archive-inspect-');
const verdi = (args: readonly string[]): Promise<VerdiResult> =>
  sandbox.verdi(args, { cwd: sandbox.base, env: { TZ: 'UTC' } });

interface LegacyExpected {
  readonly verdi_archive_version: string;
  readonly verdi_archive_info: { returncode: number; stdout: string; stderr_tail: string };
  readonly migration: { returncode: number; stdout_tail: string; stderr_tail: string };
  readonly migrated_content: { node_count: number; link_count: number; nodes: { uuid: string }[] } | null;
}
const legacyExpected = (version: string): LegacyExpected =>
  JSON.parse(
    readFileSync(legacyFixture(version).replace(/\.aiida$/, '.expected.json'), 'utf8'),
  ) as LegacyExpected;

beforeAll(() => {
  for (const name of FIXTURE_NAMES) copyFileSync(fixture(name), join(sandbox.base, `${name}.aiida`));
  for (const version of [...LEGACY_NAMES, '0.1'])
    copyFileSync(legacyFixture(version), join(sandbox.base, basename(legacyFixture(version))));
});
afterAll(() => sandbox.cleanup());

describe('verdi archive version', () => {
  it.each(FIXTURE_NAMES)('prints what aiida-core printed for %s', async (name) => {
    const result = await verdi(['archive', 'version', `${name}.aiida`]);
    expectExit(result, 0);
    expect(result.stdout).toBe(readExpectedSummary(name).verdi_archive_version);
  });

  it.each([...LEGACY_NAMES, '0.1'])('reads the legacy format %s', async (version) => {
    const result = await verdi(['archive', 'version', basename(legacyFixture(version))]);
    expectExit(result, 0);
    expect(result.stdout).toBe(legacyExpected(version).verdi_archive_version);
  });

  it('fails clearly on a file that is not an archive', async () => {
    const result = await verdi(['archive', 'version', 'missing.aiida']);
    expect(result.code).not.toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^Critical: archive file version unreadable: .*missing\.aiida/);
  });
});

describe('verdi archive info', () => {
  it.each(FIXTURE_NAMES)(
    'prints the summary and the detailed summary aiida-core printed for %s',
    async (name) => {
      const expected = readExpectedSummary(name);
      const plain = await verdi(['archive', 'info', `${name}.aiida`]);
      expectExit(plain, 0);
      expect(plain.stdout).toBe(expected.verdi_archive_info);
      const detailed = await verdi(['archive', 'info', '--detailed', `${name}.aiida`]);
      expectExit(detailed, 0);
      expect(detailed.stdout).toBe(expected.verdi_archive_info_detailed);
    },
  );

  it('prints the detailed summary as JSON', async () => {
    const result = await verdi(['archive', 'info', '--detailed', '--json', 'workchains.aiida']);
    expectExit(result, 0);
    const info = result.json<{
      metadata: { export_version: string };
      entities: { Nodes: { count: number }; Links: { count: number }; Logs: { count: number } };
    }>();
    const expected = readExpectedSummary('workchains');
    expect(info.metadata.export_version).toBe('main_0001');
    expect(info.entities.Nodes.count).toBe(expected.nodes.length);
    expect(info.entities.Links.count).toBe(expected.links.length);
    expect(info.entities.Logs.count).toBe(expected.logs.length);
  });

  it.each(['0.4', 'main_0000'])(
    'refuses the older format %s as aiida-core does, asking to migrate',
    async (version) => {
      const result = await verdi(['archive', 'info', basename(legacyFixture(version))]);
      const expected = legacyExpected(version).verdi_archive_info;
      expect(result.code).toBe(expected.returncode);
      expect(result.stdout).toBe(expected.stdout);
      expect(result.stderr).toBe(expected.stderr_tail);
    },
  );
});

describe('verdi archive migrate', () => {
  it.each(['0.4', '0.13', 'main_0000'])(
    'migrates %s to the newest version, which info and version then read',
    async (version) => {
      const input = basename(legacyFixture(version));
      const output = `migrated-${version}.aiida`;
      const result = await verdi(['archive', 'migrate', input, output]);
      expectExit(result, 0);
      expect(result.stdout).toContain("Success: migrated the archive to version 'main_0001'");
      // the input is left as it was
      expect(statSync(join(sandbox.base, input)).size).toBe(statSync(legacyFixture(version)).size);

      const versionResult = await verdi(['archive', 'version', output]);
      expectExit(versionResult, 0);
      expect(versionResult.stdout).toContain(`Archive schema version of '${output}': 'main_0001'`);
      const expected = legacyExpected(version).migrated_content;
      if (expected === null) throw new Error(`${version} has no migrated content`);
      const info = await verdi(['archive', 'info', '--detailed', '--json', output]);
      expectExit(info, 0);
      const entities = info.json<{ entities: { Nodes: { count: number }; Links: { count: number } } }>()
        .entities;
      expect(entities.Nodes.count).toBe(expected.node_count);
      expect(entities.Links.count).toBe(expected.link_count);
      const zip = pythonZip(join(sandbox.base, output));
      expect(zip.names).toEqual(['db.sqlite3', 'metadata.json']);
      expect(zip.metadata.export_version).toBe('main_0001');
    },
  );

  it('migrates to an intermediate legacy version with --version, and never backwards', async () => {
    const forwards = await verdi([
      'archive',
      'migrate',
      '--version',
      '0.9',
      'export_0.4_simple.aiida',
      'to-0.9.aiida',
    ]);
    expectExit(forwards, 0);
    expect(forwards.stdout).toContain('0.4 -> 0.5 -> 0.6 -> 0.7 -> 0.8 -> 0.9');
    const version = await verdi(['archive', 'version', 'to-0.9.aiida']);
    expect(version.stdout).toContain("Archive schema version of 'to-0.9.aiida': '0.9'");
    const backwards = await verdi([
      'archive',
      'migrate',
      '--version',
      '0.4',
      'export_0.9_simple.aiida',
      'to-0.4.aiida',
    ]);
    expect(backwards.code).not.toBe(0);
    expect(backwards.stderr).toContain("No migration pathway available for '0.9' to '0.4'");
    expect(existsSync(join(sandbox.base, 'to-0.4.aiida'))).toBe(false);
  });

  it('refuses 0.1 as aiida-core does and writes nothing', async () => {
    const result = await verdi(['archive', 'migrate', 'export_0.1_simple.aiida', 'migrated-0.1.aiida']);
    const expected = legacyExpected('0.1').migration;
    expect(result.code).toBe(expected.returncode);
    expect(result.stderr).toBe(expected.stderr_tail);
    expect(existsSync(join(sandbox.base, 'migrated-0.1.aiida'))).toBe(false);
  });

  it('needs an output file or --in-place, and --force to overwrite', async () => {
    const input = 'export_main_0000_simple.aiida';
    const missing = await verdi(['archive', 'migrate', input]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no output file specified');

    const existing = 'existing.aiida';
    copyFileSync(fixture('calcjob'), join(sandbox.base, existing));
    const refused = await verdi(['archive', 'migrate', input, existing]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/^Critical: failed to migrate the archive file.*already exists/m);
    expect(readFileSync(join(sandbox.base, existing))).toEqual(readFileSync(fixture('calcjob')));
    const forced = await verdi(['archive', 'migrate', '--force', input, existing]);
    expectExit(forced, 0);
    expect(pythonZip(join(sandbox.base, existing)).metadata.export_version).toBe('main_0001');
  });

  it('migrates in place', async () => {
    const file = 'in-place.aiida';
    copyFileSync(legacyFixture('0.9'), join(sandbox.base, file));
    const both = await verdi(['archive', 'migrate', '--in-place', file, 'other.aiida']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('output file specified together with --in-place flag');
    const result = await verdi(['archive', 'migrate', '--in-place', file]);
    expectExit(result, 0);
    const version = await verdi(['archive', 'version', file]);
    expect(version.stdout).toContain(`Archive schema version of '${file}': 'main_0001'`);
  });
});
