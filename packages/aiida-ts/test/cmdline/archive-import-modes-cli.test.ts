/**
 * `verdi archive import` run as the executable on nodes, extras and comments already in a `verdi presto` profile:
 * `--extras-mode-existing` and `--comment-mode` must settle them as aiida-core does. The profile's copy is edited
 * in its database between the imports, which each start from it.
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../tools/archive-support.js';
import { expectExit, profileDatabase, readExpectedSummary } from './archive-cli-support.js';
import { verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox('aiida-ts-verdi-archive-import-modes-');
const verdi = sandbox.verdi;
let database = '';

beforeAll(async () => {
  expectExit(await verdi(['presto']), 0);
  database = profileDatabase(sandbox.configDir);
  expectExit(await verdi(['archive', 'import', '--no-import-group', fixture('workchains')]), 0);
}, 60_000);
afterAll(() => sandbox.cleanup());

describe('verdi archive import on data already in the profile', () => {
  it('merges the extras of nodes already in the profile by --extras-mode-existing', async () => {
    const outer = readExpectedSummary('workchains').nodes.find((node) => node.label === 'outer-ok');
    if (outer === undefined) throw new Error('no outer-ok node in the fixture');
    const own = { fixture: 'changed here', mine: 1 };
    const db = new Database(database);
    const setExtras = (extras: object): void => {
      db.prepare('UPDATE db_dbnode SET extras = ? WHERE uuid = ?').run(JSON.stringify(extras), outer.uuid);
    };
    const extrasAfter = async (mode: string | undefined): Promise<unknown> => {
      setExtras(own);
      const options = mode === undefined ? [] : ['--extras-mode-existing', mode];
      expectExit(
        await verdi(['archive', 'import', '--no-import-group', ...options, fixture('workchains')]),
        0,
      );
      const row = db.prepare('SELECT extras FROM db_dbnode WHERE uuid = ?').get(outer.uuid) as {
        extras: string;
      };
      return JSON.parse(row.extras);
    };
    try {
      // as aiida-core merges them: the archive's extras as they are, `_aiida_hash` included
      expect(await extrasAfter(undefined)).toEqual(own);
      expect(await extrasAfter('none')).toEqual(own);
      expect(await extrasAfter('keep_existing')).toEqual({ ...outer.extras, ...own });
      expect(await extrasAfter('update_existing')).toEqual({ ...own, ...outer.extras });
      expect(await extrasAfter('mirror')).toEqual(outer.extras);
    } finally {
      db.close();
    }
  });

  it('settles comments already in the profile by --comment-mode', async () => {
    const comment = readExpectedSummary('workchains').comments[0];
    if (comment === undefined) throw new Error('no comment in the fixture');
    const db = new Database(database);
    const row = () =>
      db.prepare('SELECT content, mtime FROM db_dbcomment WHERE uuid = ?').get(comment.uuid) as {
        content: string;
        mtime: string;
      };
    const { mtime } = row();
    /** The comment's content after an import in `mode`, when the profile's copy was edited at `editedAt`. */
    const contentAfter = async (mode: string | undefined, editedAt: string): Promise<string> => {
      db.prepare('UPDATE db_dbcomment SET content = ?, mtime = ? WHERE uuid = ?').run(
        'edited here',
        editedAt,
        comment.uuid,
      );
      const options = mode === undefined ? [] : ['--comment-mode', mode];
      expectExit(
        await verdi(['archive', 'import', '--no-import-group', ...options, fixture('workchains')]),
        0,
      );
      return row().content;
    };
    // the same timestamp in the profile's own format, 25 years earlier
    const older = mtime.replace(/^2026/, '2001');
    expect(older).not.toBe(mtime);
    try {
      expect(await contentAfter(undefined, older)).toBe('edited here');
      expect(await contentAfter('leave', older)).toBe('edited here');
      expect(await contentAfter('newest', mtime)).toBe('edited here');
      expect(await contentAfter('newest', older)).toBe(comment.content);
      expect(await contentAfter('overwrite', mtime)).toBe(comment.content);
    } finally {
      db.close();
    }
  });
});
