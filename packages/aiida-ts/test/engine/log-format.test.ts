import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import {
  formatLogRecord,
  getLogFormat,
  LOG_FORMAT_ENV,
  parseLogFormat,
  setLogFormat,
} from '../../src/engine.js';

const REPORT = {
  level: 35,
  time: new Date(2024, 5, 19, 14, 3, 7).getTime(),
  pid: 4242,
  name: 'aiida',
  logger: 'aiida.orm.nodes.process.workflow.workchain.WorkChainNode',
  pk: 7,
  msg: '[7|SumOfSquares|setup]: summing',
};

describe('log records as aiida-core prints them', () => {
  afterEach(() => {
    setLogFormat(undefined);
    delete process.env[LOG_FORMAT_ENV];
  });

  it('halfverbose: aiida-core’s console format, with the node’s logger and 12-hour time', () => {
    expect(formatLogRecord(REPORT, 'halfverbose')).toBe(
      '06/19/2024 02:03:07 PM <4242> aiida.orm.nodes.process.workflow.workchain.WorkChainNode: [REPORT] ' +
        '[7|SumOfSquares|setup]: summing\n',
    );
    const midnight = {
      level: 40,
      time: new Date(2024, 0, 2, 0, 5, 9).getTime(),
      pid: 1,
      name: 'plumpy',
      msg: 'x',
    };
    expect(formatLogRecord(midnight, 'halfverbose')).toBe('01/02/2024 12:05:09 AM <1> plumpy: [WARNING] x\n');
    const noon = { ...midnight, time: new Date(2024, 0, 2, 12, 0, 0).getTime() };
    expect(formatLogRecord(noon, 'halfverbose')).toContain(' 12:00:00 PM ');
  });

  it('cli: aiida-core’s verdi format; the error’s stack follows the line', () => {
    expect(formatLogRecord(REPORT, 'cli')).toBe('Report: [7|SumOfSquares|setup]: summing\n');
    const error = { ...REPORT, level: 50, msg: 'boom', err: { stack: 'Error: boom\n    at here' } };
    expect(formatLogRecord(error, 'cli')).toBe('Error: boom\nError: boom\n    at here\n');
  });

  it('colours only the level, bold, in aiida-core’s colour, and only when asked', () => {
    expect(formatLogRecord(REPORT, 'cli', { color: true })).toBe(
      '\u001b[1m\u001b[34mReport\u001b[39m\u001b[22m: [7|SumOfSquares|setup]: summing\n',
    );
    expect(formatLogRecord(REPORT, 'halfverbose', { color: true })).toContain(
      '\u001b[1m\u001b[34m[REPORT]\u001b[39m\u001b[22m [7|SumOfSquares|setup]',
    );
    expect(formatLogRecord(REPORT, 'cli', { color: false })).not.toContain('\u001b[');
  });

  it('takes the format set in code, else AIIDA_TS_LOG_FORMAT, else halfverbose; names a wrong value', () => {
    expect(getLogFormat()).toBe('halfverbose');
    process.env[LOG_FORMAT_ENV] = 'json';
    expect(getLogFormat()).toBe('json');
    setLogFormat('cli');
    expect(getLogFormat()).toBe('cli');
    expect(parseLogFormat('json', '--log-format')).toBe('json');
    expect(() => parseLogFormat('pretty', '--log-format')).toThrow(ValidationError);
    expect(() => parseLogFormat('pretty', '--log-format')).toThrow(
      "--log-format: 'pretty' is not a log format (choose halfverbose, cli, json)",
    );
  });
});
