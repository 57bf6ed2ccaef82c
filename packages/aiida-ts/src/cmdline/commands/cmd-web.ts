import { Command } from 'commander';
import { defineCommandGroup, type Cli } from '../cli.js';
import { UsageError } from '../exit-codes.js';

/** Environment variable holding a fixed control token (else one is generated at each start). */
export const WEB_TOKEN_ENV = 'AIIDA_WEB_TOKEN';

interface WebOptions {
  host: string;
  port: string;
  token?: string;
  readOnly?: boolean;
  broker: boolean;
}

async function serve(cli: Cli, opts: WebOptions): Promise<void> {
  const port = Number(opts.port);
  if (!/^\d{1,5}$/.test(opts.port) || port > 65_535)
    throw new UsageError(`invalid value for --port: \`${opts.port}\` is not a port number (0 to 65535)`);
  if (opts.readOnly === true && opts.token !== undefined)
    throw new UsageError('--read-only and --token cannot be used together');
  const storage = await cli.storage();
  const profile = await cli.profile();
  let communicator;
  if (opts.broker) {
    const { connectProfileBroker } = await import('../../engine/manager.js');
    try {
      communicator = await connectProfileBroker(profile, { timeout: 2_000 });
    } catch (error) {
      cli.out.warning(
        `the broker cannot be reached (${(error as Error).message}): live updates come from reading the storage`,
      );
    }
  }
  const opened = communicator;
  if (opened !== undefined) cli.defer(() => opened.close());
  const configured = opts.token ?? process.env[WEB_TOKEN_ENV];
  const { createWebServer } = await import('../../web/server.js');
  const server = await createWebServer({
    storage,
    communicator: communicator ?? null,
    token:
      opts.readOnly === true ? null : configured === undefined || configured === '' ? 'generate' : configured,
  });
  cli.defer(() => server.close());
  const address = await server.listen({ host: opts.host, port });
  if (!['127.0.0.1', 'localhost', '::1'].includes(opts.host))
    cli.out.warning(
      `listening on ${opts.host}: anyone who can reach it reads the whole profile` +
        (server.context.token === null
          ? ''
          : ', and whoever has the token can pause, play and kill processes'),
    );
  cli.out.echo(`Serving profile \`${profile.name}\` at ${address}/ (API at ${address}/api/v4)`);
  if (server.context.token === null) cli.out.echo('Read-only: pause, play and kill are disabled.');
  else if (configured === undefined || configured === '')
    cli.out.echo(`Control token (pause/play/kill): ${server.context.token}`);
  else cli.out.echo('Control token: the one configured.');
  cli.out.echo(
    communicator === undefined ? 'Live updates: read from the storage.' : 'Live updates: from the broker.',
  );
  cli.out.echo('Press Ctrl+C to stop.');
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

export default defineCommandGroup({
  name: 'web',
  description: 'Serve the web page and the REST API (/api/v4) of the profile.',
  build(cli: Cli) {
    return new Command('web')
      .description(
        "Serve a page to watch processes live, walk the provenance graph and control runs, with aiida-core's REST " +
          'API under /api/v4. Bound to 127.0.0.1 by default. Pause, play and kill need the token printed at start ' +
          `(or given with --token or ${WEB_TOKEN_ENV}).`,
      )
      .option('-H, --host <host>', 'The address to listen on.', '127.0.0.1')
      .option('-P, --port <port>', 'The port to listen on (0 picks a free one).', '5000')
      .option('--token <token>', 'The token for pause/play/kill (default: a new random one, printed).')
      .option('--read-only', 'Refuse pause, play and kill.')
      .option('--no-broker', 'Do not connect to the broker: live updates come from reading the storage.')
      .action((opts: WebOptions) => serve(cli, opts));
  },
});
