process.env.AIIDA_TS_PATH = '/root/.cache/aiida-ts/scale/sqlite-1e5/config';
const { loadProfile } = await import('../src/config/load-profile.js');
const { getStorage } = await import('../src/storage/context.js');
const orm = await import('../src/orm.js');
const { formatNodeInfo } = await import('../src/tools/process-info/node-info.js');
const { buildCallTree } = await import('../src/tools/process-info/call-graph.js');
await loadProfile('scale-1e5');
const storage = getStorage();
const which = process.argv[2];
for (let i = 0; i < 400; i++) {
  if (which === 'show') await formatNodeInfo(await orm.loadNode(20013));
  else await buildCallTree(await orm.loadNode(98002) as any);
}
await storage.close();
