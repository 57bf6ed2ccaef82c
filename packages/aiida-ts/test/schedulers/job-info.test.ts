import { describe, expect, it } from 'vitest';
import { ValidationError } from '../../src/errors.js';
import {
  JobState,
  dateFromAiida,
  dateToAiida,
  jobInfoFromAiidaDict,
  jobInfoToAiidaDict,
  loadJobInfo,
  serializeJobInfo,
  type JobInfo,
} from '../../src/schedulers.js';

const sample: JobInfo = {
  jobId: '12345',
  jobState: JobState.QUEUED_HELD,
  title: 'aiida-42',
  jobOwner: 'alice',
  annotation: 'JobHeldUser',
  jobSubstate: 'PD',
  numMachines: 2,
  numMpiprocs: 8,
  queueName: 'debug',
  requestedWallclockTimeSeconds: null,
  allocatedMachines: [{ name: 'cn01', numCpus: 4, jobIndex: 0 }],
  submissionTime: new Date(Date.UTC(2024, 2, 4, 9, 12, 5, 123)),
  rawData: ['12345', 'PD'],
};

describe('JobInfo serialisation', () => {
  it('writes aiida’s keys, the state string and dates as {date, timezone}', () => {
    const dict = jobInfoToAiidaDict(sample);
    expect(dict).toEqual({
      job_id: '12345',
      job_state: 'queued held',
      title: 'aiida-42',
      job_owner: 'alice',
      annotation: 'JobHeldUser',
      job_substate: 'PD',
      num_machines: 2,
      num_mpiprocs: 8,
      queue_name: 'debug',
      requested_wallclock_time_seconds: null,
      allocated_machines: [{ name: 'cn01', num_cpus: 4, job_index: 0 }],
      submission_time: { date: '2024-03-04T09:12:05.123000', timezone: 'UTC' },
      raw_data: ['12345', 'PD'],
    });
  });

  it('round-trips through JSON', () => {
    expect(loadJobInfo(serializeJobInfo(sample))).toEqual(sample);
  });

  it('reads dates aiida wrote naive (local), in UTC, or in a named zone', () => {
    expect(dateFromAiida({ date: '2013-05-23T11:44:11.000000', timezone: null })).toEqual(
      new Date(2013, 4, 23, 11, 44, 11),
    );
    expect(dateFromAiida({ date: '2013-05-23T11:44:11.250000', timezone: 'UTC' }).toISOString()).toBe(
      '2013-05-23T11:44:11.250Z',
    );
    // Zurich is UTC+2 in summer and UTC+1 in winter.
    expect(
      dateFromAiida({ date: '2024-07-01T12:00:00.000000', timezone: 'Europe/Zurich' }).toISOString(),
    ).toBe('2024-07-01T10:00:00.000Z');
    expect(
      dateFromAiida({ date: '2024-01-01T12:00:00.000000', timezone: 'Europe/Zurich' }).toISOString(),
    ).toBe('2024-01-01T11:00:00.000Z');
    expect(dateToAiida(new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 6)))).toEqual({
      date: '2024-01-02T03:04:05.006000',
      timezone: 'UTC',
    });
  });

  it('refuses what aiida could not have written', () => {
    expect(() => jobInfoFromAiidaDict({ job_id: '1', job_state: 'failed' })).toThrow(ValidationError);
    expect(() => jobInfoFromAiidaDict({ job_state: 'done' })).toThrow('job_id');
    expect(() => loadJobInfo('{not json')).toThrow('not valid JSON');
    expect(() => dateFromAiida({ date: 'yesterday', timezone: 'UTC' })).toThrow('invalid serialised date');
    expect(() => dateFromAiida({ date: '2024-01-01T00:00:00.000000', timezone: 'Mars/Olympus' })).toThrow(
      'unknown time zone',
    );
  });

  it('reads a dictionary from aiida with None values and a numeric substate', () => {
    expect(
      jobInfoFromAiidaDict({
        job_id: '7',
        job_state: 'running',
        title: null,
        job_substate: 42,
        wallclock_time_seconds: 30,
        some_plugin_extra: 'kept out',
      }),
    ).toEqual({ jobId: '7', jobState: 'running', jobSubstate: '42', wallclockTimeSeconds: 30 });
  });
});
