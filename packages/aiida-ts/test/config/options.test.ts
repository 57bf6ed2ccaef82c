import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import {
  OPTIONS,
  checkIdentifierPattern,
  getOption,
  getOptionNames,
  matchWildcard,
  optionJsonSchema,
  parseOptionValue,
  validateOption,
} from '../../src/config.js';

describe('options registry', () => {
  it('knows the options AiiDA names, each with a schema, a description and the right default', () => {
    const names = getOptionNames();
    for (const name of [
      'logging.aiida_loglevel',
      'logging.plumpy_loglevel',
      'logging.kiwipy_loglevel',
      'logging.db_loglevel',
      'daemon.default_workers',
      'daemon.worker_process_slots',
      'daemon.timeout',
      'caching.default_enabled',
      'caching.enabled_for',
      'caching.disabled_for',
      'storage.sandbox',
      'warnings.showdeprecations',
      'autofill.user.email',
      'autofill.user.first_name',
      'rmq.task_timeout',
    ]) {
      expect(names).toContain(name);
    }
    expect(getOption('daemon.default_workers').default).toBe(1);
    expect(getOption('daemon.worker_process_slots').default).toBe(200);
    expect(getOption('daemon.timeout').default).toBe(2);
    expect(getOption('logging.aiida_loglevel').default).toBe('REPORT');
    expect(getOption('logging.plumpy_loglevel').default).toBe('WARNING');
    expect(getOption('caching.enabled_for').default).toEqual([]);
    expect(getOption('rmq.task_timeout').default).toBe(10);
    expect(getOption('storage.sandbox').default).toBeUndefined();
    expect(getOption('autofill.user.email').globalOnly).toBe(true);
    expect(getOption('daemon.timeout').globalOnly).toBe(false);
    for (const option of OPTIONS) expect(option.description.length).toBeGreaterThan(10);
  });

  it('rejects an unknown option, suggesting the closest names', () => {
    expect(() => getOption('daemon.default_worker')).toThrow(ConfigurationError);
    expect(() => getOption('daemon.default_worker')).toThrow(
      /`daemon.default_worker` does not exist.*daemon.default_workers/,
    );
  });

  it('validates values against the option schema and names the option', () => {
    expect(validateOption('daemon.default_workers', 4)).toBe(4);
    expect(() => validateOption('daemon.default_workers', 0)).toThrow(/daemon.default_workers/);
    expect(() => validateOption('daemon.default_workers', 'four')).toThrow(ConfigurationError);
    expect(() => validateOption('logging.aiida_loglevel', 'LOUD')).toThrow(/logging.aiida_loglevel/);
    expect(() => validateOption('storage.sandbox', 'relative/path')).toThrow(/absolute path/);
  });

  it('parses command-line text into the option type', () => {
    expect(parseOptionValue('daemon.timeout', '5')).toBe(5);
    expect(() => parseOptionValue('daemon.timeout', '5s')).toThrow(/not an integer/);
    expect(parseOptionValue('caching.default_enabled', 'yes')).toBe(true);
    expect(parseOptionValue('caching.default_enabled', 'False')).toBe(false);
    expect(() => parseOptionValue('caching.default_enabled', 'maybe')).toThrow(/not a boolean/);
    expect(parseOptionValue('logging.aiida_loglevel', 'debug')).toBe('DEBUG');
    expect(
      parseOptionValue('caching.enabled_for', 'aiida.calculations:core.arithmetic.add  aiida.workflows:*'),
    ).toEqual(['aiida.calculations:core.arithmetic.add', 'aiida.workflows:*']);
    expect(parseOptionValue('autofill.user.email', 'me@example.org')).toBe('me@example.org');
  });

  it('validates caching identifier patterns as AiiDA does', () => {
    expect(checkIdentifierPattern('aiida.calculations:core.arithmetic.add')).toBeUndefined();
    expect(checkIdentifierPattern('aiida.calculations:*')).toBeUndefined();
    expect(checkIdentifierPattern('aiida.calcul*')).toBeUndefined();
    expect(checkIdentifierPattern('my.module.MyCalculation')).toBeUndefined();
    expect(checkIdentifierPattern('a:b:c')).toMatch(/at most one entry point string separator/);
    expect(checkIdentifierPattern('aiida.unknown_group:x')).toMatch(
      /does not match any of the AiiDA entry point group/,
    );
    expect(checkIdentifierPattern('my.1module')).toMatch(/not a valid identifier/);
    expect(checkIdentifierPattern('my.class.Thing')).toMatch(/reserved word/);
    expect(() => validateOption('caching.disabled_for', ['ok.name', 'x:y:z'])).toThrow(/\[1\].*at most one/);
    expect(
      matchWildcard('aiida.calculations:core.arithmetic.add', 'aiida.calculations:core.ar*thmetic.add'),
    ).toBe(true);
    expect(
      matchWildcard('aiida.calculations:core.templatereplacer', 'aiida.calculations:core.TEMPLATE*'),
    ).toBe(false);
  });

  it('describes an option as a JSON schema with its default', () => {
    const schema = optionJsonSchema(getOption('daemon.default_workers'));
    expect(schema).toMatchObject({ type: 'integer', minimum: 1, default: 1 });
    expect(optionJsonSchema(getOption('autofill.user.email'))).toMatchObject({
      type: 'string',
      global_only: true,
    });
  });
});
