/**
 * core.ssh transfer throughput against OpenSSH's own `sftp` client doing the same transfers in the same
 * run, to a private sshd on 127.0.0.1 (needs openssh-server and openssh-client):
 *   - a tree of 1,000 small files, up (puttree) and down (gettree);
 *   - one 200 MB file, up (putfile) and down (getfile).
 * The big file is also compared with `scp`. Prints seconds, MB/s and the ratio ours / OpenSSH (target: at
 * most 1.5). Each figure is the best of
 * BENCH_REPEATS runs (default 2). Run: `npx tsx bench/transports.ts`.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { SshTransport } from '../src/transports.js';
import { startPrivateSshd, type PrivateSshd } from '@aiida-ts/test-services';

const run = promisify(execFile);
const SMALL_FILES = Number(process.env.BENCH_SMALL_FILES ?? 1000);
const BIG_MB = Number(process.env.BENCH_BIG_MB ?? 200);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 2);

async function makeSmallTree(root: string): Promise<number> {
  let bytes = 0;
  for (let i = 0; i < SMALL_FILES; i += 1) {
    const dir = path.join(root, `d${Math.floor(i / 100)}`);
    await fsp.mkdir(dir, { recursive: true });
    const data = randomBytes(512 + ((i * 7919) % 7680));
    bytes += data.length;
    await fsp.writeFile(path.join(dir, `f${i}.dat`), data);
  }
  return bytes;
}

async function makeBigFile(file: string): Promise<number> {
  const handle = await fsp.open(file, 'w');
  const block = randomBytes(1 << 20);
  for (let i = 0; i < BIG_MB; i += 1) await handle.write(block);
  await handle.close();
  return BIG_MB << 20;
}

async function sftpBatch(sshd: PrivateSshd, commands: string[]): Promise<void> {
  const batch = path.join(sshd.dir, 'batch');
  await fsp.writeFile(batch, `${commands.join('\n')}\n`);
  await run('sftp', [
    '-q',
    '-b',
    batch,
    '-i',
    sshd.clientKey,
    '-P',
    String(sshd.port),
    '-o',
    `UserKnownHostsFile=${sshd.knownHostsFile}`,
    '-o',
    'Compression=no',
    '-o',
    'BatchMode=yes',
    `${os.userInfo().username}@${sshd.host}`,
  ]);
}

async function scp(sshd: PrivateSshd, from: string, to: string): Promise<void> {
  await run('scp', [
    '-q',
    '-i',
    sshd.clientKey,
    '-P',
    String(sshd.port),
    '-o',
    `UserKnownHostsFile=${sshd.knownHostsFile}`,
    '-o',
    'Compression=no',
    '-o',
    'BatchMode=yes',
    from,
    to,
  ]);
}

/** sftp batch files split on whitespace; quote paths for it. */
const q = (p: string): string => `"${p}"`;

async function best(label: string, reset: () => Promise<void>, fn: () => Promise<void>): Promise<number> {
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < REPEATS; i += 1) {
    await reset();
    const start = process.hrtime.bigint();
    await fn();
    fastest = Math.min(fastest, Number(process.hrtime.bigint() - start) / 1e9);
  }
  process.stdout.write(`  ${label.padEnd(40)} ${fastest.toFixed(3)} s\n`);
  return fastest;
}

async function treeSize(root: string): Promise<number> {
  let total = 0;
  for (const entry of await fsp.readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await fsp.stat(path.join(entry.parentPath, entry.name))).size;
  }
  return total;
}

async function main(): Promise<void> {
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), 'aiida-ts-bench-transports-'));
  const sshd = await startPrivateSshd();
  const transport = SshTransport.fromAuthParams(
    sshd.host,
    {
      port: sshd.port,
      key_filename: sshd.clientKey,
      look_for_keys: false,
      load_system_host_keys: false,
      compress: false,
      safe_interval: 0,
    },
    { knownHostsFiles: [sshd.knownHostsFile] },
  );
  try {
    const localSmall = path.join(work, 'small');
    const smallBytes = await makeSmallTree(localSmall);
    const bigFile = path.join(work, 'big.bin');
    const bigBytes = await makeBigFile(bigFile);
    const remote = path.join(work, 'remote');
    const back = path.join(work, 'back');
    await fsp.mkdir(remote);
    await fsp.mkdir(back);
    const clean = async (...paths: string[]): Promise<void> => {
      for (const p of paths) await fsp.rm(p, { recursive: true, force: true });
    };
    await transport.open();

    process.stdout.write(
      `core.ssh vs OpenSSH sftp on 127.0.0.1 (compression off, best of ${REPEATS}); ` +
        `${SMALL_FILES} files = ${(smallBytes / 1024).toFixed(0)} KiB, one file = ${BIG_MB} MiB\n`,
    );
    const rows: [string, number, number, number][] = [];
    const scpRows: [string, number, number, number][] = [];

    // Small files, up.
    const oursSmallPut = await best(
      'core.ssh puttree (1000 small files)',
      () => clean(path.join(remote, 'ours')),
      () => transport.puttree(localSmall, path.join(remote, 'ours')),
    );
    const sftpSmallPut = await best(
      'sftp put -r (1000 small files)',
      () => clean(path.join(remote, 'theirs')),
      () => sftpBatch(sshd, [`put -r ${q(localSmall)} ${q(path.join(remote, 'theirs'))}`]),
    );
    if ((await treeSize(path.join(remote, 'ours'))) !== smallBytes) throw new Error('puttree lost data');
    if ((await treeSize(path.join(remote, 'theirs'))) !== smallBytes) throw new Error('sftp put lost data');
    rows.push(['small files up', oursSmallPut, sftpSmallPut, smallBytes]);

    // Small files, down.
    const oursSmallGet = await best(
      'core.ssh gettree (1000 small files)',
      () => clean(path.join(back, 'ours')),
      () => transport.gettree(path.join(remote, 'ours'), path.join(back, 'ours')),
    );
    const sftpSmallGet = await best(
      'sftp get -r (1000 small files)',
      () => clean(path.join(back, 'theirs')),
      () => sftpBatch(sshd, [`get -r ${q(path.join(remote, 'theirs'))} ${q(path.join(back, 'theirs'))}`]),
    );
    if ((await treeSize(path.join(back, 'ours'))) !== smallBytes) throw new Error('gettree lost data');
    rows.push(['small files down', oursSmallGet, sftpSmallGet, smallBytes]);

    // One big file, up.
    const oursBigPut = await best(
      `core.ssh putfile (${BIG_MB} MiB)`,
      () => clean(path.join(remote, 'big-ours')),
      () => transport.putfile(bigFile, path.join(remote, 'big-ours')),
    );
    const sftpBigPut = await best(
      `sftp put (${BIG_MB} MiB)`,
      () => clean(path.join(remote, 'big-theirs')),
      () => sftpBatch(sshd, [`put ${q(bigFile)} ${q(path.join(remote, 'big-theirs'))}`]),
    );
    const scpBigPut = await best(
      `scp to (${BIG_MB} MiB)`,
      () => clean(path.join(remote, 'big-scp')),
      () => scp(sshd, bigFile, `${os.userInfo().username}@${sshd.host}:${path.join(remote, 'big-scp')}`),
    );
    if ((await fsp.stat(path.join(remote, 'big-ours'))).size !== bigBytes)
      throw new Error('putfile lost data');
    rows.push(['big file up', oursBigPut, sftpBigPut, bigBytes]);
    scpRows.push(['big file up (scp)', oursBigPut, scpBigPut, bigBytes]);

    // One big file, down.
    const oursBigGet = await best(
      `core.ssh getfile (${BIG_MB} MiB)`,
      () => clean(path.join(back, 'big-ours')),
      () => transport.getfile(path.join(remote, 'big-ours'), path.join(back, 'big-ours')),
    );
    const sftpBigGet = await best(
      `sftp get (${BIG_MB} MiB)`,
      () => clean(path.join(back, 'big-theirs')),
      () => sftpBatch(sshd, [`get ${q(path.join(remote, 'big-ours'))} ${q(path.join(back, 'big-theirs'))}`]),
    );
    const scpBigGet = await best(
      `scp from (${BIG_MB} MiB)`,
      () => clean(path.join(back, 'big-scp')),
      () =>
        scp(
          sshd,
          `${os.userInfo().username}@${sshd.host}:${path.join(remote, 'big-ours')}`,
          path.join(back, 'big-scp'),
        ),
    );
    if ((await fsp.stat(path.join(back, 'big-ours'))).size !== bigBytes) throw new Error('getfile lost data');
    rows.push(['big file down', oursBigGet, sftpBigGet, bigBytes]);
    scpRows.push(['big file down (scp)', oursBigGet, scpBigGet, bigBytes]);

    process.stdout.write('\n  transfer              core.ssh        OpenSSH         ratio (ours/OpenSSH)\n');
    for (const [name, ours, theirs, bytes] of [...rows, ...scpRows]) {
      const mbps = (s: number): string => `${(bytes / 1e6 / s).toFixed(1).padStart(7)} MB/s`;
      process.stdout.write(
        `  ${name.padEnd(20)} ${mbps(ours)}    ${mbps(theirs)}    ${(ours / theirs).toFixed(2)}x${
          ours / theirs <= 1.5 ? '' : '  (above the 1.5x target)'
        }\n`,
      );
    }
  } finally {
    await transport.close();
    await sshd.dispose();
    await fsp.rm(work, { recursive: true, force: true });
  }
}

await main();
