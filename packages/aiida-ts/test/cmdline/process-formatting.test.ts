import { describe, expect, it } from 'vitest';
import {
  formatAtTime,
  formatProcessState,
  formatPythonDatetime,
  formatState,
  formatTimeDelta,
} from '../../src/tools/process-info/formatting.js';
import { processListFilters } from '../../src/cmdline/process/list-query.js';
import { projectionLabel } from '../../src/cmdline/process/projections.js';
import { tabulate } from '../../src/tools/process-info/tabulate.js';

// The expected strings were printed by Python's tabulate 0.10.0, which aiida-core uses for these tables.
describe('tabulate', () => {
  it('simple format: columns at least two wider than the header, numbers right-aligned', () => {
    expect(tabulate([[1, 'a']], { headers: ['PK', 'Created'] })).toBe(
      '  PK  Created\n----  ---------\n   1  a',
    );
    expect(tabulate([], { headers: ['PK', 'Created'] })).toBe('PK    Created\n----  ---------');
    expect(
      tabulate([[12, '1s ago', 'OuterWorkChain', '⏵ Waiting', null]], {
        headers: ['PK', 'Created', 'Process label', 'Process State', 'Process status'],
      }),
    ).toBe(
      '  PK  Created    Process label    Process State    Process status\n' +
        '----  ---------  ---------------  ---------------  ----------------\n' +
        '  12  1s ago     OuterWorkChain   ⏵ Waiting',
    );
  });

  it('simple format without headers: a rule above and below the rows', () => {
    expect(
      tabulate(
        [
          ['users', 1],
          ['nodes', 12],
        ],
        { format: 'simple' },
      ),
    ).toBe('-----  --\nusers   1\nnodes  12\n-----  --');
  });

  it('empty cells do not change a column type; numeric strings are numbers; booleans are text', () => {
    expect(
      tabulate(
        [
          [1, null, 'a'],
          [22, 3, ''],
        ],
        { headers: ['PK', 'Exit status', 'L'] },
      ),
    ).toBe('  PK    Exit status  L\n----  -------------  ---\n   1                 a\n  22              3');
    expect(
      tabulate(
        [
          [1, '12'],
          [2, '3'],
        ],
        { headers: ['PK', 'B'] },
      ),
    ).toBe('  PK    B\n----  ---\n   1   12\n   2    3');
    expect(
      tabulate(
        [
          [1, '12'],
          [2, 'ab'],
        ],
        { headers: ['PK', 'B'] },
      ),
    ).toBe('  PK  B\n----  ---\n   1  12\n   2  ab');
    expect(
      tabulate(
        [
          [1, true],
          [2, false],
        ],
        { headers: ['PK', 'B'] },
      ),
    ).toBe('  PK  B\n----  -----\n   1  True\n   2  False');
  });

  it('multi-line cells, plain format', () => {
    expect(
      tabulate(
        [
          ['type', 'x'],
          ['state', 'Excepted <Trace\nValueError: boom>'],
          ['pk', '5'],
        ],
        {
          headers: ['Property', 'Value'],
        },
      ),
    ).toBe(
      'Property    Value\n----------  -----------------\ntype        x\nstate       Excepted <Trace\n            ValueError: boom>\npk          5',
    );
    expect(
      tabulate([
        [1, 'x'],
        [22, 'yy'],
      ]),
    ).toBe(' 1  x\n22  yy');
    expect(tabulate([['There are 3 log messages'], ['Run']], { headers: ['Log messages'] })).toBe(
      'Log messages\n------------------------\nThere are 3 log messages\nRun',
    );
  });
});

describe('formatting of states and times', () => {
  it('states with aiida symbols', () => {
    expect(formatState('created', false, null)).toBe('⏹ Created');
    expect(formatState('waiting', false, null)).toBe('⏵ Waiting');
    expect(formatState('running', false, null)).toBe('⏵ Running');
    expect(formatState('running', true, null)).toBe('⏸ Running');
    expect(formatState('waiting', true, null)).toBe('⏸ Waiting');
    expect(formatState('finished', false, 0)).toBe('⏹ Finished [0]');
    expect(formatState('finished', false, null)).toBe('⏹ Finished');
    expect(formatState('excepted', false, null)).toBe('⨯ Excepted');
    expect(formatState('killed', false, null)).toBe('☠ Killed');
    expect(formatState(null, false, null)).toBe('· None');
    expect(formatProcessState('finished')).toBe('Finished');
    expect(formatProcessState(undefined)).toBe('None');
  });

  it('relative times as str_timedelta with one field', () => {
    expect(formatTimeDelta(0)).toBe('0s ago');
    expect(formatTimeDelta(-5_000)).toBe('0s ago');
    expect(formatTimeDelta(59_999)).toBe('59s ago');
    expect(formatTimeDelta(5 * 60_000 + 7_000)).toBe('5m ago');
    expect(formatTimeDelta(3 * 3_600_000)).toBe('3h ago');
    expect(formatTimeDelta(12 * 86_400_000 + 3_600_000)).toBe('12D ago');
    expect(formatTimeDelta(120 * 86_400_000)).toBe('120D ago');
  });

  it('datetimes as Python prints them', () => {
    expect(formatPythonDatetime('2026-11-25T05:48:22.905350+00:00')).toBe('2026-11-25 05:48:22.905350+00:00');
    expect(formatPythonDatetime('2024-05-01T10:00:06.000000+00:00')).toBe('2024-05-01 10:00:06+00:00');
    expect(formatPythonDatetime(null)).toBe('None');
    const local = new Date(2024, 4, 1, 9, 8, 7);
    expect(formatAtTime(local)).toBe('at 09:08:07 on 2024-05-01');
  });

  it('projection labels as aiida names the columns', () => {
    expect(
      ['pk', 'ctime', 'mtime', 'state', 'process_label', 'exit_status', 'job_state', 'cached'].map((p) =>
        projectionLabel(p as Parameters<typeof projectionLabel>[0]),
      ),
    ).toEqual([
      'PK',
      'Created',
      'Modified',
      'Process State',
      'Process label',
      'Exit status',
      'Job state',
      '♻',
    ]);
  });
});

describe('process list filters', () => {
  const now = new Date('2024-05-10T00:00:00Z');
  it('active states by default; --all drops them; --failed and -E replace them with finished', () => {
    expect(processListFilters({}, now)).toEqual({
      'attributes.process_state': { in: ['created', 'waiting', 'running'] },
    });
    expect(processListFilters({ all: true }, now)).toEqual({});
    expect(processListFilters({ failed: true, processStates: ['killed'] }, now)).toEqual({
      'attributes.process_state': { '==': 'finished' },
      'attributes.exit_status': { '>': 0 },
    });
    expect(processListFilters({ all: true, exitStatus: 3 }, now)).toEqual({
      'attributes.process_state': { '==': 'finished' },
      'attributes.exit_status': { '==': 3 },
    });
  });

  it('labels with % or _ are LIKE patterns; paused; past days', () => {
    expect(processListFilters({ all: true, processLabel: 'Add%', paused: true, pastDays: 2 }, now)).toEqual({
      'attributes.process_label': { like: 'Add%' },
      'attributes.paused': true,
      ctime: { '>': new Date('2024-05-08T00:00:00Z') },
    });
    expect(processListFilters({ all: true, processLabel: 'Add' }, now)).toEqual({
      'attributes.process_label': 'Add',
    });
  });
});
