import { createHmac } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  appendKnownHost,
  formatKnownHostsLine,
  knownHostsName,
  loadKnownHosts,
  parseKnownHosts,
  verifyHostKey,
} from '../../src/transports.js';

/** A syntactically valid key blob of a given type (the contents do not matter to the parser). */
function blob(type: string, fill: number): Buffer {
  const name = Buffer.from(type);
  const head = Buffer.alloc(4);
  head.writeUInt32BE(name.length);
  return Buffer.concat([head, name, Buffer.alloc(32, fill)]);
}

const ed = blob('ssh-ed25519', 1);
const edOther = blob('ssh-ed25519', 2);
const ecdsa = blob('ecdsa-sha2-nistp256', 3);
const keyText = (key: Buffer, type = 'ssh-ed25519') => `${type} ${key.toString('base64')}`;
const line = (hosts: string, key: Buffer, type = 'ssh-ed25519') => `${hosts} ${keyText(key, type)}`;

describe('known_hosts', () => {
  it('names a host as OpenSSH does: bare for port 22, [host]:port otherwise, lower-cased', () => {
    expect(knownHostsName('Example.ORG', 22)).toBe('example.org');
    expect(knownHostsName('example.org', 2222)).toBe('[example.org]:2222');
  });

  it('skips comments, blank, malformed and inconsistent lines', () => {
    const text = [
      '# a comment',
      '',
      line('good.example', ed),
      'only-two fields',
      `bad.example ssh-ed25519 not*base64`,
      line('mismatch.example', ed, 'ssh-rsa'),
      `@unknown-marker ${line('x', ed)}`,
      `   ${line('indented.example', ed)}   `,
    ].join('\n');
    const entries = parseKnownHosts(text, 'kh');
    expect(entries.map((e) => e.hosts)).toEqual(['good.example', 'indented.example']);
    expect(entries[0]?.source).toBe('kh:3');
  });

  it('matches plain names, lists, wildcards and negations', () => {
    const entries = parseKnownHosts(
      [
        line('alpha,beta.example', ed),
        line('*.cluster.org,!evil.cluster.org', ed),
        line('node?.hpc', ed),
      ].join('\n'),
    );
    expect(verifyHostKey(entries, 'beta.example', 22, ed).status).toBe('known');
    expect(verifyHostKey(entries, 'ALPHA', 22, ed).status).toBe('known');
    expect(verifyHostKey(entries, 'login.cluster.org', 22, ed).status).toBe('known');
    expect(verifyHostKey(entries, 'evil.cluster.org', 22, ed).status).toBe('unknown');
    expect(verifyHostKey(entries, 'node1.hpc', 22, ed).status).toBe('known');
    expect(verifyHostKey(entries, 'node10.hpc', 22, ed).status).toBe('unknown');
    // A non-standard port only matches the [host]:port form.
    expect(verifyHostKey(entries, 'alpha', 2222, ed).status).toBe('unknown');
    const ported = parseKnownHosts(line('[alpha]:2222,[*.cluster.org]:2200', ed));
    expect(verifyHostKey(ported, 'alpha', 2222, ed).status).toBe('known');
    expect(verifyHostKey(ported, 'a.cluster.org', 2200, ed).status).toBe('known');
    expect(verifyHostKey(ported, 'alpha', 22, ed).status).toBe('unknown');
  });

  it('matches hashed names (HMAC-SHA1 of the name keyed with the salt)', () => {
    const salt = Buffer.alloc(20, 9);
    const hashed = (name: string) =>
      `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
    const entries = parseKnownHosts(
      [
        line(hashed('secret.example'), ed),
        line(hashed('[secret.example]:2222'), ecdsa, 'ecdsa-sha2-nistp256'),
      ].join('\n'),
    );
    expect(verifyHostKey(entries, 'secret.example', 22, ed).status).toBe('known');
    expect(verifyHostKey(entries, 'Secret.Example', 22, ed).status).toBe('known');
    expect(verifyHostKey(entries, 'secret.example', 2222, ecdsa).status).toBe('known');
    expect(verifyHostKey(entries, 'other.example', 22, ed).status).toBe('unknown');
    // The line written by formatKnownHostsLine with hashing round-trips.
    const written = parseKnownHosts(formatKnownHostsLine('h.example', 2022, ed, true));
    expect(written[0]?.hosts.startsWith('|1|')).toBe(true);
    expect(verifyHostKey(written, 'h.example', 2022, ed).status).toBe('known');
  });

  it('tells a changed key (same type) from an unknown type, and refuses revoked keys', () => {
    const entries = parseKnownHosts([line('host.example', ed), `@revoked * ${keyText(edOther)}`].join('\n'));
    expect(verifyHostKey(entries, 'host.example', 22, ed).status).toBe('known');
    expect(verifyHostKey(entries, 'host.example', 22, edOther).status).toBe('revoked');
    const plain = parseKnownHosts(line('host.example', ed));
    expect(verifyHostKey(plain, 'host.example', 22, edOther).status).toBe('changed');
    expect(verifyHostKey(plain, 'host.example', 22, ecdsa).status).toBe('unknown');
  });

  it('ignores @cert-authority lines for plain host keys', () => {
    const entries = parseKnownHosts(`@cert-authority *.example ${keyText(ed)}`);
    expect(entries[0]?.marker).toBe('cert-authority');
    expect(verifyHostKey(entries, 'a.example', 22, ed).status).toBe('unknown');
  });

  it('appends to a file (created 0600) and reads files back, a missing file counting as empty', async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'aiida-ts-kh-'));
    try {
      const file = path.join(dir, 'sub', 'known_hosts');
      await appendKnownHost(file, 'Host.Example', 2222, ed);
      await appendKnownHost(file, 'host.example', 22, ecdsa);
      expect((await fsp.stat(file)).mode & 0o777).toBe(0o600);
      const entries = await loadKnownHosts([file, path.join(dir, 'missing')]);
      expect(entries.map((e) => e.hosts)).toEqual(['[host.example]:2222', 'host.example']);
      expect(verifyHostKey(entries, 'host.example', 2222, ed).status).toBe('known');
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});
