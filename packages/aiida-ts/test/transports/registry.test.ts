import { describe, expect, it } from 'vitest';
import { MissingEntryPointError, ValidationError } from '../../src/errors.js';
import {
  createTransport,
  getTransportAuthOptions,
  getTransportClass,
  LocalTransport,
  SshTransport,
  transportEntryPoints,
} from '../../src/transports.js';

describe('transport registry', () => {
  it('knows core.local and core.ssh by entry point name', () => {
    expect(transportEntryPoints()).toEqual(expect.arrayContaining(['core.local', 'core.ssh']));
    expect(getTransportClass('core.local')).toBe(LocalTransport);
    expect(getTransportClass('core.ssh')).toBe(SshTransport);
    expect(getTransportClass('core.ssh').defaultSafeOpenInterval).toBe(15);
    expect(getTransportClass('core.local').defaultMinimumJobPollInterval).toBe(0.1);
  });

  it('names the known transports when asked for an unknown one', () => {
    expect(() => getTransportClass('core.ftp')).toThrow(MissingEntryPointError);
    expect(() => getTransportClass('core.ftp')).toThrow(/core\.local, core\.ssh/u);
  });

  it('creates closed transports from stored auth params', async () => {
    const local = createTransport('core.local', { use_login_shell: false });
    expect(local).toBeInstanceOf(LocalTransport);
    expect(local.isOpen).toBe(false);
    await local.open();
    expect((await local.execCommandWait('shopt -q login_shell || echo plain')).stdout).toBe('plain\n');
    await local.close();
    const ssh = createTransport(
      'core.ssh',
      { username: 'alice', port: 2222, safe_interval: 3 },
      { machine: 'hpc' },
    );
    expect(ssh).toBeInstanceOf(SshTransport);
    expect(ssh.hostname).toBe('hpc');
    expect(ssh.getSafeOpenInterval()).toBe(3);
    expect(ssh.gotocomputerCommand('/scratch')).toMatch(/^ssh -t 'hpc' -l 'alice' -p 2222 /u);
  });

  it('lists every failing key of bad auth params', () => {
    try {
      createTransport('core.ssh', { port: 'twenty-two', key_policy: 'Trust', whatever: 1 });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const paths = (error as ValidationError).issues.map((i) => i.path);
      expect(paths).toEqual(expect.arrayContaining(['port', 'key_policy']));
      expect((error as Error).message).toMatch(/whatever/u);
    }
  });

  it('describes auth options for verdi computer configure, with aiida defaults', () => {
    const options = getTransportAuthOptions('core.ssh');
    const byName = Object.fromEntries(options.map((o) => [o.name, o]));
    expect(options.map((o) => o.name)).toEqual([
      'username',
      'port',
      'look_for_keys',
      'key_filename',
      'timeout',
      'allow_agent',
      'proxy_jump',
      'proxy_command',
      'compress',
      'gss_auth',
      'gss_kex',
      'gss_deleg_creds',
      'gss_host',
      'load_system_host_keys',
      'key_policy',
      'max_io_allowed',
      'use_login_shell',
      'safe_interval',
    ]);
    expect(byName.key_policy).toMatchObject({ prompt: 'Key policy', default: 'RejectPolicy' });
    expect(byName.port).toMatchObject({ prompt: 'Port number', default: 22 });
    expect(byName.safe_interval?.default).toBe(15);
    expect(byName.use_login_shell?.switch).toBe(true);
    expect(byName.key_policy?.schema.safeParse('AutoAddPolicy').success).toBe(true);
    expect(getTransportAuthOptions('core.local').map((o) => [o.name, o.default])).toEqual([
      ['use_login_shell', true],
      ['safe_interval', 0],
    ]);
  });
});
