import type { BrokerConfig } from '../../config/schema.js';

/** What a probe of the RabbitMQ server found. */
export type BrokerProbe =
  | { readonly reachable: true; readonly url: string; readonly version: string | undefined }
  | { readonly reachable: false; readonly url: string; readonly error: string };

/** The AMQP URL of a broker configuration, with the password hidden unless `withPassword`. */
export function brokerUrl(config: BrokerConfig, withPassword = false): string {
  const password = withPassword ? encodeURIComponent(config.broker_password) : '***';
  const query = new URLSearchParams(
    Object.fromEntries(Object.entries(config.broker_parameters).map(([key, value]) => [key, String(value)])),
  ).toString();
  const vhost = config.broker_virtual_host === '' ? '' : `/${encodeURIComponent(config.broker_virtual_host)}`;
  return (
    `${config.broker_protocol}://${encodeURIComponent(config.broker_username)}:${password}@` +
    `${config.broker_host}:${config.broker_port}${vhost}${query === '' ? '' : `?${query}`}`
  );
}

/**
 * Open (and close) one AMQP connection to see whether the broker accepts these credentials. Never throws: an
 * unreachable broker is an answer.
 */
export async function probeRabbitMq(config: BrokerConfig, timeoutMs = 5_000): Promise<BrokerProbe> {
  const { connect } = await import('amqplib');
  const url = brokerUrl(config);
  try {
    const connection = await connect(brokerUrl(config, true), { timeout: timeoutMs });
    const properties = (
      connection as unknown as { connection?: { serverProperties?: Record<string, unknown> } }
    ).connection?.serverProperties;
    await connection.close();
    const version = properties?.version;
    return { reachable: true, url, version: typeof version === 'string' ? version : undefined };
  } catch (error) {
    return { reachable: false, url, error: (error as Error).message || String(error) };
  }
}
