/**
 * `verdi archive import` run as the executable into a profile made by `verdi presto`, with the archives aiida-core
 * 2.8 wrote: what the profile holds afterwards is read from its database and compared with the uuids, links and
 * groups aiida-core recorded for each archive. The tests run in order and share the profile.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, legacyFixture } from '../tools/archive-support.js';
import {
  expectExit,
  profileContents,
  profileDatabase,
  readExpectedSummary,
  type ExpectedSummary,
  type ProfileContents,
} from './archive-cli-support.js';
import { verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-archive-import-');
const verdi = sandbox.verdi;
let database = '';
const contents = (): ProfileContents => profileContents(database);

/** The links of an expected archive as `profileContents` writes them. */
const linksOf = (expected: ExpectedSummary): string[] =>
  expected.links.map((link) => `${link.source} ${link.type} ${link.label} ${link.target}`);
const uuidsOf = (expected: ExpectedSummary): string[] => expected.nodes.map((node) => node.uuid);

/** Serves the fixtures over HTTP: `/<name>.aiida`, and `/index.html` linking two of them. */
let server: Server;
let base = '';

beforeAll(async () => {
  expectExit(await verdi(['presto']), 0);
  database = profileDatabase(sandbox.configDir);
  server = createServer((request, response) => {
    const url = request.url ?? '/';
    if (url === '/index.html') {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end(
        '<html><body><a href="archives/data_types.aiida">data</a> <a href="notes.txt">notes</a> ' +
          `<a href='${base}/archives/calcjob.aiida'>calcjob</a></body></html>`,
      );
      return;
    }
    const match = /^\/archives\/(data_types|calcjob)\.aiida$/.exec(url);
    if (match?.[1] === undefined) {
      response.writeHead(404).end('not found');
      return;
    }
    response.writeHead(200, { 'content-type': 'application/zip' });
    response.end(readFileSync(fixture(match[1])));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  sandbox.cleanup();
});

describe('verdi archive import', () => {
  it('changes nothing with --dry-run, and says what it would add', async () => {
    const before = contents();
    const result = await verdi(['archive', 'import', '--dry-run', fixture('calcjob')]);
    expectExit(result, 0);
    expect(result.stdout).toContain('Report: Adding 7 new node(s)');
    expect(result.stdout).toContain(
      `Success: import dry-run of archive ${fixture('calcjob')} completed. Profile storage unmodified.`,
    );
    expect(contents()).toEqual(before);
  });

  it('imports an archive: its nodes, links, users and computer, in a new core.import group', async () => {
    const before = contents();
    const expected = readExpectedSummary('calcjob');
    const result = await verdi(['archive', 'import', fixture('calcjob')]);
    expectExit(result, 0);
    expect(result.stdout).toContain('Report: Adding 7 new node(s)');
    expect(result.stdout).toContain(`Success: imported archive ${fixture('calcjob')}`);
    // the table of parameters as aiida-core prints it (its first report, up to the blank line that ends it)
    const parameters = /^Report: Parameters\n[^]*?\n\n/m.exec(expected.reimport.stdout)?.[0];
    expect(parameters).toContain('Computer Authinfos');
    expect(result.stdout).toContain(parameters);
    const after = contents();
    expect(after.nodes).toEqual([...uuidsOf(expected)].sort());
    expect(after.links).toEqual(linksOf(expected).sort());
    expect(after.users).toEqual([...before.users, 'fixtures@aiida.localhost'].sort());
    expect(after.computers).toHaveLength(before.computers.length + 1);
    expect(after.groups).toEqual([
      { label: expect.stringMatching(/^\d{8}-\d{6}$/) as string, type: 'core.import', nodes: after.nodes },
    ]);
  });

  it('imports the same archive a second time as a no-op', async () => {
    const before = contents();
    const result = await verdi(['archive', 'import', fixture('calcjob')]);
    expectExit(result, 0);
    expect(result.stdout).toContain('Report: Skipping 7 existing Node(s)');
    expect(result.stdout).toContain('Report: Nothing new to import: no import group created');
    expect(contents()).toEqual(before);
  });

  it('adds the imported nodes to the group given with -G, creating it, and no import group', async () => {
    const before = contents();
    const expected = readExpectedSummary('calcfunctions');
    const result = await verdi(['archive', 'import', '-G', 'imported-here', fixture('calcfunctions')]);
    expectExit(result, 0);
    const after = contents();
    expect(after.nodes).toEqual([...before.nodes, ...uuidsOf(expected)].sort());
    expect(after.links).toEqual([...before.links, ...linksOf(expected)].sort());
    expect(after.groups).toEqual(
      [...before.groups, { label: 'imported-here', type: 'core', nodes: [...uuidsOf(expected)].sort() }].sort(
        (a, b) => a.label.localeCompare(b.label),
      ),
    );
  });

  it('imports comments and logs, and no group with --no-import-group', async () => {
    const before = contents();
    const expected = readExpectedSummary('workchains');
    const result = await verdi(['archive', 'import', '--no-import-group', fixture('workchains')]);
    expectExit(result, 0);
    const after = contents();
    expect(after.nodes).toEqual([...before.nodes, ...uuidsOf(expected)].sort());
    expect(after.links).toEqual([...before.links, ...linksOf(expected)].sort());
    expect(after.groups).toEqual(before.groups);
    expect(after.comments).toBe(before.comments + expected.comments.length);
    expect(after.logs).toBe(before.logs + expected.logs.length);
  });

  it('fails on a missing file with a usage error and changes nothing', async () => {
    const before = contents();
    const missing = join(sandbox.base, 'missing.aiida');
    const result = await verdi(['archive', 'import', missing]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`invalid value for ARCHIVES: path '${missing}' does not exist`);
    expect(contents()).toEqual(before);
  });

  /** data_types.aiida rewritten by Python's zipfile with `change` applied (it is imported for real below). */
  const hostile = (name: string, change: string): string => {
    const file = join(sandbox.base, name);
    execFileSync('python3', [
      '-c',
      `import sys, zipfile
src = zipfile.ZipFile(sys.argv[1])
out = zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_DEFLATED)
for info in src.infolist():
    data = src.read(info)
    ${change}
    out.writestr(info.filename, data)
`,
      fixture('data_types'),
      file,
    ]);
    return file;
  };

  it.each([
    [
      'a zip-slip entry',
      'zip-slip.aiida',
      'if info.filename == "metadata.json": out.writestr("../evil.txt", b"x")',
      /^Critical: an exception occurred while trying to import the archive .*zip-slip\.aiida: UnsafeArchiveError: refused archive .*\.\.\/evil\.txt/m,
    ],
    [
      'a repository object whose content does not match its key',
      'tampered.aiida',
      'data = data + b"tampered" if info.filename.startswith("repo/") and len(data) > 100 else data',
      /^Critical: an exception occurred while trying to import the archive .*tampered\.aiida: ImportValidationError: .*has the sha256 [0-9a-f]{64}: the archive is corrupt/m,
    ],
  ])('refuses %s with a clear error and changes nothing', async (_what, name, change, message) => {
    const before = contents();
    const file = hostile(name, change);
    const result = await verdi(['archive', 'import', file]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(message);
    expect(result.stdout).not.toContain('Success');
    expect(contents()).toEqual(before);
  });

  it('migrates an archive of an older format on the fly', async () => {
    const before = contents();
    const result = await verdi(['archive', 'import', '--no-import-group', legacyFixture('0.4')]);
    expectExit(result, 0);
    expect(result.stdout).toContain(
      `incompatible version detected for ${legacyFixture('0.4')}, trying migration`,
    );
    const expected = JSON.parse(
      readFileSync(legacyFixture('0.4').replace(/\.aiida$/, '.expected.json'), 'utf8'),
    ) as { migrated_content: { nodes: { uuid: string }[]; link_count: number } };
    const after = contents();
    expect(after.nodes).toEqual(
      [...before.nodes, ...expected.migrated_content.nodes.map((node) => node.uuid)].sort(),
    );
    expect(after.links).toHaveLength(before.links.length + expected.migrated_content.link_count);
  });

  it('refuses an archive of an older format with --no-migration', async () => {
    const before = contents();
    const result = await verdi(['archive', 'import', '--no-migration', legacyFixture('main_0000')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('IncompatibleStorageSchemaError');
    expect(contents()).toEqual(before);
  });
});

describe('verdi archive import over HTTP', () => {
  it('downloads and imports an archive from a URL', async () => {
    const before = contents();
    const expected = readExpectedSummary('data_types');
    const url = `${base}/archives/data_types.aiida`;
    const result = await verdi(['archive', 'import', '--no-import-group', url]);
    expectExit(result, 0);
    expect(result.stdout).toContain(`Report: downloading archive: ${url}`);
    expect(result.stdout).toContain(`Success: imported archive ${url}`);
    const after = contents();
    expect(after.nodes).toEqual([...before.nodes, ...uuidsOf(expected)].sort());
    expect(after.groups.map((group) => group.label)).toEqual(
      [...before.groups.map((group) => group.label), ...expected.groups.map((group) => group.label)].sort(),
    );
    for (const group of expected.groups)
      expect(after.groups.find((found) => found.label === group.label)?.nodes).toEqual(
        [...group.node_uuids].sort(),
      );
  });

  it('imports the archives a page links to with --webpages (here already imported: a no-op)', async () => {
    const before = contents();
    const result = await verdi(['archive', 'import', '--webpages', `${base}/index.html`]);
    expectExit(result, 0);
    expect(result.stdout).toContain('Success: 2 archive URLs discovered and added');
    expect(result.stdout).toContain(`Success: imported archive ${base}/archives/data_types.aiida`);
    expect(result.stdout).toContain(`Success: imported archive ${base}/archives/calcjob.aiida`);
    expect(contents()).toEqual(before);
  });

  it('fails clearly when the download fails, and changes nothing', async () => {
    const before = contents();
    const url = `${base}/archives/absent.aiida`;
    const result = await verdi(['archive', 'import', url]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`downloading archive ${url} failed`);
    expect(result.stderr).toContain('HTTP 404');
    expect(contents()).toEqual(before);
  });
});
