import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProfile, setConfigDir, unloadProfile } from '../../src/config.js';
import { Int, Node } from '../../src/orm.js';
import { describeResult, VERDI_SOURCE, verdiSandbox } from './verdi-process.js';

const sandbox = verdiSandbox();
afterAll(() => sandbox.cleanup());
const { verdi } = sandbox;

const version = (
  JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;
// eslint-disable-next-line no-control-regex -- ANSI escape sequences are what the test looks for
const ANSI = /\u001b\[\d+m/;

describe('verdi', () => {
  it('prints its version and exits 0', async () => {
    const result = await verdi(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(`aiida-ts version ${version}`);
  });

  it('lists every command group in --help, with the global options', async () => {
    const result = await verdi(['--help']);
    expect(result.code, describeResult(result)).toBe(0);
    for (const group of [
      'config',
      'presto',
      'profile',
      'status',
      'storage',
      'user',
      'node',
      'group',
      'computer',
    ]) {
      expect(result.stdout).toMatch(new RegExp(`^  ${group}\\b`, 'm'));
    }
    expect(result.stdout).toContain('-p, --profile <name>');
    expect(result.stdout).toContain('-v, --verbosity <level>');
  });

  it('has --help on every group and subcommand', async () => {
    const node = await verdi(['node', '--help']);
    expect(node.code).toBe(0);
    expect(node.stdout).toContain('Usage: verdi node');
    const list = await verdi(['profile', 'setup', 'core.sqlite_dos', '--help']);
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('--profile-name <value>');
    expect(list.stdout).toContain('--filepath <value>');
    expect(list.stdout).toContain('--config <file-or-url>');
    const help = await verdi(['help', 'group']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: verdi group');
  });

  it('exits 2 with a suggestion on an unknown command, and on unknown options or missing arguments', async () => {
    const unknown = await verdi(['nod', 'list']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'nod'");
    expect(unknown.stderr).toContain('Did you mean node?');
    const option = await verdi(['config', 'list', '--bogus']);
    expect(option.code).toBe(2);
    expect(option.stderr).toContain("unknown option '--bogus'");
    const missing = await verdi(['config', 'get']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("missing required argument 'option'");
    const bare = await verdi([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain('Usage: verdi');
  });

  it('rejects a verbosity it does not know', async () => {
    const result = await verdi(['-v', 'loud', 'config', 'list']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("argument 'loud' is invalid");
  });

  it('names a profile that does not exist and exits 1', async () => {
    const result = await verdi(['-p', 'nope', 'storage', 'version']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Critical: profile `nope` does not exist/);
  });

  it('colours output only on request: never when piped, with FORCE_COLOR, never with NO_COLOR', async () => {
    const plain = await verdi(['config', 'list']);
    expect(plain.stdout).not.toMatch(ANSI);
    expect(plain.stderr).not.toMatch(ANSI);
    const forced = await verdi(['config', 'list'], { env: { FORCE_COLOR: '1' } });
    expect(forced.stdout).toMatch(ANSI);
    expect(forced.stderr).toMatch(ANSI);
    const disabled = await verdi(['config', 'list'], { env: { FORCE_COLOR: '1', NO_COLOR: '1' } });
    expect(disabled.stdout).not.toMatch(ANSI);
    expect(disabled.stderr).not.toMatch(ANSI);
  });

  it('ends quietly with exit code 0 when its reader closes the pipe early (`verdi node list | head -1`)', async () => {
    const piped = verdiSandbox();
    try {
      expect((await piped.verdi(['presto'])).code).toBe(0);
      // Enough nodes that the listing overflows the pipe buffer: verdi is still writing when the reader goes.
      setConfigDir(piped.configDir);
      try {
        await loadProfile();
        await Node.storeMany(Array.from({ length: 3000 }, (_, index) => new Int(index)));
      } finally {
        await unloadProfile();
        setConfigDir(undefined);
      }
      const child = spawn(
        process.execPath,
        ['--conditions=source', '--import', 'tsx', VERDI_SOURCE, 'node', 'list'],
        {
          cwd: join(import.meta.dirname, '..', '..'),
          env: { ...process.env, AIIDA_TS_PATH: piped.base },
        },
      );
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.stdout.once('data', () => child.stdout.destroy());
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr).not.toContain('EPIPE');
      expect(code).toBe(0);
    } finally {
      piped.cleanup();
    }
  });

  it('reports a broken configuration file naming the key, with exit code 1', async () => {
    const broken = verdiSandbox();
    try {
      const { mkdirSync, writeFileSync } = await import('node:fs');
      mkdirSync(broken.configDir, { recursive: true });
      writeFileSync(
        join(broken.configDir, 'config.json'),
        JSON.stringify({
          CONFIG_VERSION: { CURRENT: 9, OLDEST_COMPATIBLE: 9 },
          options: { 'daemon.timeout': 'x' },
        }),
      );
      const result = await broken.verdi(['config', 'list']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/Critical: invalid configuration file .*config\.json/);
      expect(result.stderr).toMatch(/options\.daemon\.timeout: .*number/);
    } finally {
      broken.cleanup();
    }
  });
});
