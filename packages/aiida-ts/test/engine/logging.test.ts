import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { getConfig, setConfigDir } from 'aiida-ts/config';
import { configureLogging, getLogger, setLogSink, WorkChain } from 'aiida-ts/engine';
import { Log } from 'aiida-ts/orm';
import { BACKENDS, useEngine } from './helpers.js';

class Chatty extends WorkChain.define((spec) => spec) {
  static {
    this.outline('talk', 'stumble');
  }
  talk(): void {
    this.report('hello from the step');
  }
  stumble(): void {
    throw new Error('no more words');
  }
}

describe.each(BACKENDS.slice(0, 1))('logging on %s', (_name, open) => {
  const engine = useEngine(open);
  const folder = mkdtempSync(join(tmpdir(), 'aiida-ts-logging-'));
  const lines: Record<string, unknown>[] = [];
  let restore: () => void = () => undefined;

  beforeAll(() => {
    setConfigDir(folder);
    restore = setLogSink({ write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  });
  afterEach(() => {
    for (const name of ['logging.aiida_loglevel', 'logging.db_loglevel', 'logging.plumpy_loglevel'])
      getConfig().unsetOption(name);
    configureLogging();
    lines.length = 0;
  });
  afterAll(() => {
    restore();
    setConfigDir(undefined);
    rmSync(folder, { recursive: true, force: true });
  });

  it('shows reports on the terminal log at REPORT level, with the process pk and class, and stores them', async () => {
    const { node } = await engine()
      .runner.runGetNode(Chatty)
      .catch((error: unknown) => ({ node: undefined, error }));
    expect(node).toBeUndefined();
    const report = lines.find((line) => String(line['msg']).endsWith('hello from the step'))!;
    expect(report).toMatchObject({ name: 'aiida', level: 35, process: 'Chatty' });
    expect(typeof report['pk']).toBe('number');
    const stored = await Log.find({ nodeId: report['pk'] as number });
    expect(stored.map((log) => log.levelname)).toEqual(['REPORT', 'REPORT']);
    expect(stored[1]!.message).toContain('Error: no more words');
    const failure = lines.find((line) => String(line['msg']).includes('no more words'))!;
    expect(failure['pk']).toBe(report['pk']);
  });

  it('sets each logger’s level from the profile options (`verdi config set logging.*`)', async () => {
    getConfig().setOption('logging.aiida_loglevel', 'WARNING');
    getConfig().setOption('logging.db_loglevel', 'WARNING');
    configureLogging();
    expect(getLogger('aiida').level).toBe('warn');
    await engine()
      .runner.run(Chatty)
      .catch(() => undefined);
    expect(lines.some((line) => String(line['msg']).includes('hello from the step'))).toBe(false);
    const pk = Math.max(...(await Log.find({})).map((log) => log.nodeId));
    const newest = await engine()
      .runner.storage.executor()
      .selectFrom('db_dbnode')
      .select('id')
      .where('process_type', '=', 'logging_test.Chatty')
      .orderBy('id', 'desc')
      .executeTakeFirstOrThrow();
    expect(newest.id).toBeGreaterThan(pk);
    expect(await Log.find({ nodeId: newest.id })).toEqual([]);

    getConfig().setOption('logging.plumpy_loglevel', 'DEBUG');
    configureLogging();
    expect(getLogger('plumpy').level).toBe('debug');
    expect(getLogger('kiwipy').level).toBe('warn');
  });
});
