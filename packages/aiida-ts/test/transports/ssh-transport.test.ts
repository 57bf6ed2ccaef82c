import os from 'node:os';
import { afterAll, beforeAll } from 'vitest';
import { SshTransport } from '../../src/transports.js';
import { startPrivateSshd, type PrivateSshd } from '@aiida-ts/test-services';
import { describeTransportContract } from './transport-contract.js';

let sshd: PrivateSshd;

beforeAll(async () => {
  sshd = await startPrivateSshd();
});

afterAll(async () => {
  await sshd.dispose();
});

describeTransportContract('core.ssh', {
  create: () =>
    SshTransport.fromAuthParams(
      sshd.host,
      {
        port: sshd.port,
        key_filename: sshd.clientKey,
        look_for_keys: false,
        load_system_host_keys: false,
        safe_interval: 0,
      },
      { knownHostsFiles: [sshd.knownHostsFile] },
    ),
  // SFTP starts in the account's home, whatever HOME the session has
  home: () => os.userInfo().homedir,
});
