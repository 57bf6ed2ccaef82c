import { z } from 'zod';
import { ValidationError } from '../errors.js';

/**
 * Prompt metadata of one auth parameter, for `verdi computer configure` (aiida's `auth_options`): read it
 * with `schema.shape.<key>.meta()`.
 */
// A type alias (not an interface) so it fits zod's index-signature metadata type.
export type AuthOptionMeta = {
  readonly prompt: string;
  readonly help: string;
  /** True when non-interactive `configure` may take the default without asking (aiida's flag). */
  readonly nonInteractiveDefault?: boolean;
  /** True for on/off options prompted as a switch. */
  readonly switch?: boolean;
};

const meta = (m: AuthOptionMeta): AuthOptionMeta => m;

/** aiida's `key_policy` values: what to do with a host key that `known_hosts` does not list. */
export const KeyPolicy = z.enum(['RejectPolicy', 'WarningPolicy', 'AutoAddPolicy']);
export type KeyPolicy = z.infer<typeof KeyPolicy>;

const useLoginShell = z
  .boolean()
  .default(true)
  .meta(
    meta({
      prompt: 'Use login shell when executing command',
      help:
        'Not using a login shell can help suppress spurious text output that can prevent AiiDA from parsing ' +
        'the output of commands, but may result in some startup files (.profile) not being sourced.',
      nonInteractiveDefault: true,
      switch: true,
    }),
  );

const safeInterval = (defaultSeconds: number) =>
  z
    .number()
    .nonnegative()
    .default(defaultSeconds)
    .meta(
      meta({
        prompt: 'Connection cooldown time (s)',
        help: 'Minimum time interval in seconds between opening new connections.',
        nonInteractiveDefault: true,
      }),
    );

/** Default `safe_interval` of `core.local`: a local "connection" costs nothing. */
export const LOCAL_DEFAULT_SAFE_INTERVAL = 0;
/** Default `safe_interval` of `core.ssh` (aiida's transport-wide default). */
export const SSH_DEFAULT_SAFE_INTERVAL = 15;

/** Auth params of `core.local`, snake_case as stored in an AuthInfo. */
export const LocalAuthParams = z.strictObject({
  use_login_shell: useLoginShell,
  safe_interval: safeInterval(LOCAL_DEFAULT_SAFE_INTERVAL),
});
export type LocalAuthParams = z.infer<typeof LocalAuthParams>;

const optionalText = (m: AuthOptionMeta) =>
  z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .meta(meta(m));

/** Auth params of `core.ssh`, snake_case as stored in an AuthInfo. */
export const SshAuthParams = z.strictObject({
  username: optionalText({
    prompt: 'User name',
    help: 'Login user name on the remote machine.',
    nonInteractiveDefault: true,
  }),
  port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .default(22)
    .meta(
      meta({ prompt: 'Port number', help: 'Port number of the SSH server.', nonInteractiveDefault: true }),
    ),
  look_for_keys: z
    .boolean()
    .default(true)
    .meta(
      meta({
        prompt: 'Look for keys',
        help: 'Automatically look for private keys in the ~/.ssh folder.',
        nonInteractiveDefault: true,
        switch: true,
      }),
    ),
  key_filename: z
    .string()
    .optional()
    .transform((v) => (v === '' ? undefined : v))
    .refine((v) => v === undefined || v.startsWith('/'), { message: 'key_filename must be an absolute path' })
    .meta(
      meta({
        prompt: 'SSH key file',
        help: 'Absolute path to your private SSH key. Leave empty to use the keys in ~/.ssh.',
        nonInteractiveDefault: true,
      }),
    ),
  timeout: z
    .number()
    .positive()
    .default(60)
    .meta(
      meta({
        prompt: 'Connection timeout in s',
        help: 'Time in seconds to wait for connection before giving up.',
        nonInteractiveDefault: true,
      }),
    ),
  allow_agent: z
    .boolean()
    .default(false)
    .meta(
      meta({
        prompt: 'Allow ssh agent',
        help: 'Switch to allow or disallow using an SSH agent (SSH_AUTH_SOCK).',
        nonInteractiveDefault: true,
        switch: true,
      }),
    ),
  proxy_jump: optionalText({
    prompt: 'SSH proxy jump',
    help:
      'SSH proxy jump for tunneling through other SSH hosts. Use a comma-separated list of hosts of the form ' +
      '[user@]host[:port]. If user or port are not specified for a host, the values of the target host are used.',
    nonInteractiveDefault: true,
  }),
  proxy_command: optionalText({
    prompt: 'SSH proxy command',
    help:
      'SSH proxy command for tunneling through a proxy server (%h, %p, %r and %% are replaced as by OpenSSH). ' +
      'For tunneling through another SSH host, consider the proxy jump option instead.',
    nonInteractiveDefault: true,
  }),
  compress: z
    .boolean()
    .default(true)
    .meta(
      meta({
        prompt: 'Compress file transfers',
        help: 'Turn file transfer compression on or off.',
        nonInteractiveDefault: true,
        switch: true,
      }),
    ),
  gss_auth: z
    .boolean()
    .default(false)
    .meta(
      meta({
        prompt: 'GSS auth',
        help: 'Enable when using GSS kerberos token to connect.',
        nonInteractiveDefault: true,
      }),
    ),
  gss_kex: z
    .boolean()
    .default(false)
    .meta(meta({ prompt: 'GSS kex', help: 'GSS kex for kerberos.', nonInteractiveDefault: true })),
  gss_deleg_creds: z
    .boolean()
    .default(false)
    .meta(
      meta({ prompt: 'GSS deleg_creds', help: 'GSS deleg_creds for kerberos.', nonInteractiveDefault: true }),
    ),
  gss_host: optionalText({ prompt: 'GSS host', help: 'GSS host for kerberos.', nonInteractiveDefault: true }),
  load_system_host_keys: z
    .boolean()
    .default(true)
    .meta(
      meta({
        prompt: 'Load system host keys',
        help: 'Load host keys from ~/.ssh/known_hosts and /etc/ssh/ssh_known_hosts.',
        nonInteractiveDefault: true,
        switch: true,
      }),
    ),
  key_policy: KeyPolicy.default('RejectPolicy').meta(
    meta({
      prompt: 'Key policy',
      help:
        'What to do when the host key is not in known_hosts: RejectPolicy refuses (default), WarningPolicy ' +
        'logs a warning and connects, AutoAddPolicy connects and records the key.',
      nonInteractiveDefault: true,
    }),
  ),
  max_io_allowed: z
    .number()
    .int()
    .min(1)
    .default(8)
    .meta(
      meta({
        prompt: 'Maximum number of concurrent I/O operations',
        help: 'Operations (commands, file transfers) allowed at once on one connection.',
        nonInteractiveDefault: true,
      }),
    ),
  use_login_shell: useLoginShell,
  safe_interval: safeInterval(SSH_DEFAULT_SAFE_INTERVAL),
});
export type SshAuthParams = z.infer<typeof SshAuthParams>;
/** What a caller may store: every key optional, defaults filled in on parse. */
export type SshAuthParamsInput = z.input<typeof SshAuthParams>;
export type LocalAuthParamsInput = z.input<typeof LocalAuthParams>;

/** Validate stored auth params of transport `name`, failing with a `ValidationError` that lists every bad key. */
export function parseAuthParams<S extends z.ZodType>(schema: S, name: string, value: unknown): z.output<S> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  throw new ValidationError(
    `invalid auth params for ${name}`,
    result.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.'),
      message:
        issue.code === 'unrecognized_keys'
          ? `${issue.message} (not an auth param of ${name})`
          : issue.message,
    })),
  );
}
