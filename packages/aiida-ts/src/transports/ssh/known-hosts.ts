import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { fnmatchToRegExp } from '../fnmatch.js';

/**
 * OpenSSH `known_hosts` files (sshd(8), "SSH_KNOWN_HOSTS FILE FORMAT"), parsed and checked here because
 * ssh2 leaves host key checking to its caller. Supported: comma-separated host patterns with `*`, `?` and
 * `!` negation; `[host]:port` for ports other than 22; hashed names `|1|salt|hmac-sha1`; `@revoked` keys;
 * comments and blank lines. `@cert-authority` lines are skipped: host certificates are not offered.
 */

/** One usable line of a known_hosts file. */
export interface KnownHostEntry {
  readonly marker: 'revoked' | 'cert-authority' | undefined;
  /** The host field as written (patterns, or one hashed name). */
  readonly hosts: string;
  /** Key type as written (`ssh-ed25519`, `ecdsa-sha2-nistp256`, `ssh-rsa`, …). */
  readonly keyType: string;
  /** The public key blob (SSH wire format), base64-decoded. */
  readonly key: Buffer;
  /** File and line, for messages. */
  readonly source: string;
}

/** What the known_hosts files say about the key a host presented. */
export type HostKeyVerdict =
  | { readonly status: 'known'; readonly source: string }
  | { readonly status: 'revoked'; readonly source: string }
  /** The host is listed with another key of the same type: a changed key, maybe an attack. */
  | { readonly status: 'changed'; readonly source: string }
  | { readonly status: 'unknown' };

/** `host` for port 22, `[host]:port` otherwise, lower-cased: the name OpenSSH looks up and hashes. */
export function knownHostsName(host: string, port: number): string {
  const name = host.toLowerCase();
  return port === 22 ? name : `[${name}]:${port}`;
}

/** The key type named inside an SSH public key blob (its first string). */
export function keyTypeOfBlob(blob: Buffer): string {
  if (blob.length < 4) return '';
  const length = blob.readUInt32BE(0);
  if (length > blob.length - 4) return '';
  return blob.subarray(4, 4 + length).toString('latin1');
}

/** Parse the text of a known_hosts file; malformed lines are skipped as OpenSSH skips them. */
export function parseKnownHosts(text: string, fileName = 'known_hosts'): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  const lines = text.split(/\r?\n/u);
  for (let index = 0; index < lines.length; index += 1) {
    const line = (lines[index] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/[ \t]+/u);
    let marker: KnownHostEntry['marker'];
    if (fields[0]?.startsWith('@')) {
      const word = fields.shift();
      if (word === '@revoked') marker = 'revoked';
      else if (word === '@cert-authority') marker = 'cert-authority';
      else continue;
    }
    const [hosts, keyType, keyText] = fields;
    if (hosts === undefined || keyType === undefined || keyText === undefined) continue;
    if (!/^[A-Za-z0-9+/]+={0,2}$/u.test(keyText)) continue;
    const key = Buffer.from(keyText, 'base64');
    // The blob names its own type; a line whose two types disagree is corrupt.
    if (keyTypeOfBlob(key) !== keyType) continue;
    entries.push({ marker, hosts, keyType, key, source: `${fileName}:${index + 1}` });
  }
  return entries;
}

/** True when the hashed field `|1|salt|hash` is the HMAC-SHA1 of `name` keyed with the salt. */
function hashedNameMatches(field: string, name: string): boolean {
  const parts = field.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2] ?? '', 'base64');
  const expected = Buffer.from(parts[3] ?? '', 'base64');
  if (salt.length === 0 || expected.length !== 20) return false;
  const actual = createHmac('sha1', salt).update(name).digest();
  return timingSafeEqual(actual, expected);
}

/**
 * OpenSSH's `match_hostname`: the name must match a positive pattern and no negated one. Patterns compare
 * case-insensitively; `*` and `?` are the only wildcards (`[` is literal, as in `[host]:port`).
 */
function patternListMatches(patterns: string, name: string): boolean {
  let matched = false;
  for (const raw of patterns.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (pattern === '') continue;
    const literalBrackets = pattern.replace(/[[\]]/gu, (c) => `[${c}]`);
    if (fnmatchToRegExp(literalBrackets).test(name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** True when an entry's host field names `name` (a plain or hashed name). */
export function entryMatchesHost(entry: KnownHostEntry, name: string): boolean {
  return entry.hosts.startsWith('|')
    ? hashedNameMatches(entry.hosts, name)
    : patternListMatches(entry.hosts, name);
}

/** Check the key `host:port` presented against the entries, as OpenSSH's `check_host_in_hostkeys`. */
export function verifyHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  key: Buffer,
): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const presentedType = keyTypeOfBlob(key);
  for (const entry of entries) {
    if (entry.marker === 'revoked' && entry.key.equals(key))
      return { status: 'revoked', source: entry.source };
  }
  let changed: HostKeyVerdict | undefined;
  for (const entry of entries) {
    if (entry.marker !== undefined || !entryMatchesHost(entry, name)) continue;
    if (entry.key.equals(key)) return { status: 'known', source: entry.source };
    if (entry.keyType === presentedType) changed ??= { status: 'changed', source: entry.source };
  }
  return changed ?? { status: 'unknown' };
}

/** Key types the entries list for `host:port`, in file order (to ask the server for those first). */
export function knownKeyTypes(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostsName(host, port);
  const types: string[] = [];
  for (const entry of entries) {
    if (entry.marker === undefined && entryMatchesHost(entry, name) && !types.includes(entry.keyType)) {
      types.push(entry.keyType);
    }
  }
  return types;
}

/** Read and parse known_hosts files; a missing file counts as empty. */
export async function loadKnownHosts(files: readonly string[]): Promise<KnownHostEntry[]> {
  const entries: KnownHostEntry[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    entries.push(...parseKnownHosts(text, file));
  }
  return entries;
}

/** A known_hosts line for `host:port`, the name hashed (as `HashKnownHosts yes` writes it) or plain. */
export function formatKnownHostsLine(host: string, port: number, key: Buffer, hashed: boolean): string {
  const name = knownHostsName(host, port);
  let field = name;
  if (hashed) {
    const salt = randomBytes(20);
    field = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  }
  return `${field} ${keyTypeOfBlob(key)} ${key.toString('base64')}`;
}

/** Append a line for `host:port` to a known_hosts file (created with mode 0600 if missing). */
export async function appendKnownHost(file: string, host: string, port: number, key: Buffer): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const existing = await fsp.readFile(file, 'utf8');
    if (existing !== '' && !existing.endsWith('\n')) prefix = '\n';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await fsp.appendFile(file, `${prefix}${formatKnownHostsLine(host, port, key, false)}\n`, { mode: 0o600 });
}
