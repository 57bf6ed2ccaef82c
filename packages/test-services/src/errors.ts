const BRAND = Symbol.for('@aiida-ts/test-services.ServiceError');

/**
 * The root of every error this package throws: a private service that could not be started, reached or
 * stopped. `service` names which one (`sshd`, `slurm`, `sge`, `rabbitmq`, `postgres`, …).
 */
export class ServiceError extends Error {
  readonly service: string;
  readonly [BRAND] = true;

  constructor(service: string, message: string, options?: ErrorOptions) {
    super(`private ${service}: ${message}`, options);
    this.name = 'ServiceError';
    this.service = service;
  }
}

/** A condition awaited with {@link waitFor} did not hold before its deadline. */
export class ServiceTimeoutError extends ServiceError {
  constructor(service: string, message: string, options?: ErrorOptions) {
    super(service, message, options);
    this.name = 'ServiceTimeoutError';
  }
}

/** A program the service needs is not installed; the message says which Debian packages provide it. */
export class ServiceMissingError extends ServiceError {
  constructor(service: string, message: string, options?: ErrorOptions) {
    super(service, message, options);
    this.name = 'ServiceMissingError';
  }
}

/** Whether `value` is an error of this package (also across copies of the module). */
export function isServiceError(value: unknown): value is ServiceError {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}
