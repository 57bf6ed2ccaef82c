import type { Attributes, FileEntry, SFTPWrapper } from 'ssh2';

export type SftpAttributes = Attributes;
export type SftpDirEntry = FileEntry;

/** SFTP v3 status codes (draft-ietf-secsh-filexfer-02) and the POSIX reason each stands for. */
const STATUS_ERRNO: Readonly<Record<number, string>> = {
  2: 'ENOENT', // SSH_FX_NO_SUCH_FILE (OpenSSH also maps ENOTDIR and ELOOP here)
  3: 'EACCES', // SSH_FX_PERMISSION_DENIED
  4: 'EIO', // SSH_FX_FAILURE: everything else, EEXIST and ENOTEMPTY included
  5: 'EBADMSG', // SSH_FX_BAD_MESSAGE
  6: 'ENOTCONN', // SSH_FX_NO_CONNECTION
  7: 'ECONNRESET', // SSH_FX_CONNECTION_LOST
  8: 'ENOTSUP', // SSH_FX_OP_UNSUPPORTED
};

/** The POSIX reason of an ssh2 SFTP error, when it carries a status code. */
export function sftpErrno(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'number') return STATUS_ERRNO[code];
  return typeof code === 'string' ? code : undefined;
}

/** Promise form of one callback-style SFTP request. */
export function sftpCall<T>(
  sftp: SFTPWrapper,
  fn: (sftp: SFTPWrapper, done: (error: Error | null | undefined, value?: T) => void) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn(sftp, (error, value) => {
      if (error) reject(error);
      else resolve(value as T);
    });
  });
}
