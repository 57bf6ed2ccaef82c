import { migrateArchive } from '../src/tools/archive/migrate.ts';
import { openSqliteDos } from '../test/storage/helpers.ts';
import { importArchive } from '../src/tools/archive/import.ts';
for (const v of ['0.1', '0.4', '0.9', '0.13', 'main_0000', 'main_0001']) {
  const out = `/tmp/adhoc/m_${v}.aiida`;
  try {
    await migrateArchive(`/work/shared/fixtures/aiida-archives/legacy/export_${v}_simple.aiida`, out, { force: true, onReport: (m) => console.log('  ', m) });
    const t = await openSqliteDos();
    const r = await importArchive(out, { storage: t.storage });
    console.log(v, JSON.stringify(r.counts));
    await t.cleanup();
  } catch (e) { console.log(v, 'ERR', (e as Error).name, (e as Error).message); }
}
