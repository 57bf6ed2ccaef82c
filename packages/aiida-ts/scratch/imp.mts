import { openSqliteDos, openPsqlDos } from '../test/storage/helpers.ts';
import { importArchive } from '../src/tools/archive/import.ts';
import { createArchive } from '../src/tools/archive/create.ts';
const which = process.argv[2] ?? 'sqlite';
const t = which === 'pg' ? await openPsqlDos() : await openSqliteDos();
try {
  for (const name of ['calcfunctions', 'workchains', 'data_types', 'calcjob']) {
    const r = await importArchive(`/work/shared/fixtures/aiida-archives/${name}.aiida`, { storage: t.storage, onReport: (m) => console.log('  ', m) });
    console.log(name, JSON.stringify(r.counts), r.importGroup);
    const r2 = await importArchive(`/work/shared/fixtures/aiida-archives/${name}.aiida`, { storage: t.storage });
    console.log(' again', JSON.stringify(r2.counts), r2.importGroup);
  }
  const out = await createArchive('/tmp/adhoc/all.aiida', { storage: t.storage, overwrite: true, onReport: console.log });
  console.log(out);
} finally { await t.cleanup(); }
