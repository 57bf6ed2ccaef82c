/**
 * What the communicator learns about the broker when it connects, from the server properties of the
 * connection: product, version, and from the version how the broker treats long-held deliveries.
 */
export interface BrokerInfo {
  readonly product: string;
  /** e.g. `3.10.8`; empty when the broker did not say. */
  readonly version: string;
  readonly platform: string;
  /** The parsed version, or null when it is not `major.minor.patch`. */
  readonly semver: readonly [number, number, number] | null;
  /**
   * The broker honours a per-queue `x-consumer-timeout` argument (RabbitMQ 3.12+), so the communicator
   * sets it on its task queues and long tasks keep their delivery.
   */
  readonly perQueueConsumerTimeout: boolean;
  /**
   * The delivery acknowledgement timeout this broker version applies to every channel unless configured
   * otherwise (ms): none before 3.8.15, 15 min in 3.8.15–3.8.16, 30 min since. The configured value is
   * not visible over AMQP; when a delivery exceeds it the broker closes the channel, which the
   * communicator survives (see the `consumerTimeout` event).
   */
  readonly defaultConsumerTimeoutMs: number | null;
  /** Every server property as the broker sent it. */
  readonly serverProperties: Readonly<Record<string, unknown>>;
}

const MINUTE = 60_000;

export function parseVersion(version: string): readonly [number, number, number] | null {
  const match = /^(\d+)\.(\d+)\.(\d+)/.exec(version);
  if (match === null) return null;
  return [Number(match[1]), Number(match[2]), Number(match[3])];
}

function atLeast(v: readonly [number, number, number], major: number, minor: number, patch: number): boolean {
  if (v[0] !== major) return v[0] > major;
  if (v[1] !== minor) return v[1] > minor;
  return v[2] >= patch;
}

/** Reads the server properties of a fresh connection. */
export function brokerInfo(serverProperties: Readonly<Record<string, unknown>>): BrokerInfo {
  const text = (key: string) => (typeof serverProperties[key] === 'string' ? serverProperties[key] : '');
  const product = text('product');
  const version = text('version');
  const semver = parseVersion(version);
  const isRabbit = /rabbitmq/i.test(product);
  let defaultConsumerTimeoutMs: number | null = null;
  if (isRabbit && semver !== null && atLeast(semver, 3, 8, 15)) {
    defaultConsumerTimeoutMs = atLeast(semver, 3, 8, 17) ? 30 * MINUTE : 15 * MINUTE;
  }
  return {
    product,
    version,
    platform: text('platform'),
    semver,
    perQueueConsumerTimeout: isRabbit && semver !== null && atLeast(semver, 3, 12, 0),
    defaultConsumerTimeoutMs,
    serverProperties,
  };
}

/** The channel-close text RabbitMQ uses when a delivery outlived `consumer_timeout`. */
export function isConsumerTimeout(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /delivery acknowledgement on channel \d+ timed out/i.test(message);
}
