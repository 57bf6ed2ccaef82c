import { z } from 'zod';
import { OPTIONS } from './options.js';

/** Protocols the RabbitMQ broker accepts. */
export const BrokerProtocol = z.enum(['amqp', 'amqps']);

/** Defaults of the RabbitMQ connection, as AiiDA's `BROKER_DEFAULTS`. */
export const BROKER_DEFAULTS = {
  broker_protocol: 'amqp',
  broker_username: 'guest',
  broker_password: 'guest',
  broker_host: '127.0.0.1',
  broker_port: 5672,
  broker_virtual_host: '',
  broker_parameters: {},
} as const satisfies BrokerConfig;

/** Names of the process-control (broker) backends; `null` in the file means "no broker". */
export const BrokerBackend = z.enum(['core.rabbitmq']);
export type BrokerBackend = z.infer<typeof BrokerBackend>;

/** `process_control.config` of a profile: the RabbitMQ connection, keys as AiiDA writes them. */
export const BrokerConfigSchema = z
  .object({
    broker_protocol: BrokerProtocol,
    broker_username: z.string(),
    broker_password: z.string(),
    broker_host: z.string().min(1),
    broker_port: z.number().int().min(1).max(65_535),
    broker_virtual_host: z.string(),
    broker_parameters: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  })
  .strict();
export type BrokerConfig = z.infer<typeof BrokerConfigSchema>;

/** `process_control` of a profile. Every broker key is optional in the file; missing ones take the defaults. */
export const ProcessControlSchema = z
  .object({
    backend: BrokerBackend.nullable(),
    config: BrokerConfigSchema.partial().nullable().optional(),
  })
  .strict();
export type ProcessControlData = z.infer<typeof ProcessControlSchema>;

/** `storage` of a profile: the backend's entry point name and its own configuration (validated by the backend). */
export const StorageSchema = z
  .object({
    backend: z.string().min(1),
    config: z.record(z.string(), z.unknown()),
  })
  // Migrations keep private keys such as `_v6_backend` so that a downgrade can restore the old value.
  .catchall(z.unknown());
export type StorageData = z.infer<typeof StorageSchema>;

const globalOnlyNames = new Set<string>(
  OPTIONS.filter((option) => option.globalOnly).map((option) => option.name),
);

/**
 * The strict object schema of an `options` block, with only the known options `options` holds: the same issues
 * (in the same order: the registry's) and the same output as the schema of every option, which every command would
 * pay ~10 ms to build when reading `config.json`. Unknown keys stay out of the shape, so `strict` still reports them.
 */
function presentOptionsSchema(
  options: Record<string, unknown>,
  scope: 'global' | 'profile',
): z.ZodType<OptionsData> {
  const shape: Record<string, z.ZodType> = {};
  for (const option of OPTIONS) {
    if (!Object.hasOwn(options, option.name) || (scope === 'profile' && option.globalOnly)) continue;
    shape[option.name] = option.schema.optional();
  }
  return z.object(shape).strict();
}

function optionsOf(scope: 'global' | 'profile') {
  return (options: Record<string, unknown>, ctx: z.RefinementCtx): OptionsData => {
    const result = presentOptionsSchema(options, scope).safeParse(options);
    if (result.success) return result.data;
    for (const issue of result.error.issues) ctx.addIssue({ ...issue });
    return z.NEVER;
  };
}

/** The global `options` of the configuration: every known option, each optional. */
export const GlobalOptionsSchema = z.looseObject({}).transform(optionsOf('global'));

/** The `options` of one profile: every option that is not global-only, each optional. */
export const ProfileOptionsSchema = z
  .record(z.string(), z.unknown())
  .superRefine((options, ctx) => {
    for (const key of Object.keys(options)) {
      if (globalOnlyNames.has(key)) {
        ctx.addIssue({ code: 'custom', path: [key], message: 'this option can only be set globally' });
      }
    }
  })
  .transform(optionsOf('profile'));

export type OptionsData = Record<string, unknown>;

/** A profile name: it names folders and databases, so it is kept to a safe set of characters. */
export const ProfileName = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.@+-]*$/, 'a profile name may hold letters, digits and `_.@+-` only');

/** One profile in `config.json`, with AiiDA's keys. */
export const ProfileSchema = z
  .object({
    PROFILE_UUID: z.string().min(1),
    storage: StorageSchema,
    process_control: ProcessControlSchema,
    default_user_email: z.string().nullable().optional(),
    test_profile: z.boolean().optional(),
    options: ProfileOptionsSchema.optional(),
  })
  .strict();
export type ProfileData = z.infer<typeof ProfileSchema>;

/** `CONFIG_VERSION` block. */
export const ConfigVersionSchema = z
  .object({
    CURRENT: z.number().int().min(0),
    OLDEST_COMPATIBLE: z.number().int().min(0),
  })
  .strict();

/** The whole `config.json` at the current version. */
export const ConfigSchema = z
  .object({
    $schema: z.string().optional(),
    CONFIG_VERSION: ConfigVersionSchema,
    profiles: z.record(ProfileName, ProfileSchema).optional(),
    default_profile: z.string().optional(),
    options: GlobalOptionsSchema.optional(),
  })
  .strict()
  .superRefine((config, ctx) => {
    const name = config.default_profile;
    if (name !== undefined && !(name in (config.profiles ?? {}))) {
      ctx.addIssue({
        code: 'custom',
        path: ['default_profile'],
        message: `profile \`${name}\` does not exist`,
      });
    }
  });
export type ConfigData = z.infer<typeof ConfigSchema>;
