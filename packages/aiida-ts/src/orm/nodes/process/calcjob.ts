import { ValidationError } from '../../../errors.js';
import { LinkType } from '../../links.js';
import type { Node } from '../node.js';
import { registerNodeClass } from '../registry.js';
import { CalculationNode } from './process.js';
import { nowTimestamp } from '../../../storage/dialect.js';

/** The active states of a calculation job (the `state` attribute), aiida-core's `CalcJobState` values. */
export const CalcJobState = {
  UPLOADING: 'uploading',
  SUBMITTING: 'submitting',
  WITHSCHEDULER: 'withscheduler',
  STASHING: 'stashing',
  UNSTASHING: 'unstashing',
  RETRIEVING: 'retrieving',
  PARSING: 'parsing',
} as const;
export type CalcJobState = (typeof CalcJobState)[keyof typeof CalcJobState];

const CALC_JOB_STATES = new Set<string>(Object.values(CalcJobState));

/** One entry of a retrieve list: a path, or `[remote, local, depth]`. */
export type RetrieveListItem = string | readonly [string, string, number | null];

/** The attribute keys of calculation jobs. */
export const CalcJobAttribute = {
  IMPORTED: 'imported',
  STATE: 'state',
  REMOTE_WORKDIR: 'remote_workdir',
  RETRIEVE_LIST: 'retrieve_list',
  RETRIEVE_TEMPORARY_LIST: 'retrieve_temporary_list',
  JOB_ID: 'job_id',
  SCHEDULER_STATE: 'scheduler_state',
  SCHEDULER_LAST_CHECK_TIME: 'scheduler_lastchecktime',
  SCHEDULER_LAST_JOB_INFO: 'last_job_info',
  SCHEDULER_DETAILED_JOB_INFO: 'detailed_job_info',
} as const;

function validateRetrieveList(list: unknown): RetrieveListItem[] {
  if (!Array.isArray(list)) throw new ValidationError('file retrieve list has to be a list or tuple');
  return list.map((item: unknown, i) => {
    if (typeof item === 'string') return item;
    if (!Array.isArray(item) || item.length !== 3) {
      throw new ValidationError(
        `retrieve list item ${i} should be a string or a list of length 3 [remote, local, depth]`,
      );
    }
    const [remote, local, depth] = item as unknown[];
    if (typeof remote !== 'string')
      throw new ValidationError(`retrieve list item ${i}: the remote path should be a string`);
    if (typeof local !== 'string')
      throw new ValidationError(`retrieve list item ${i}: the local path should be a string`);
    if (depth !== null && !Number.isInteger(depth)) {
      throw new ValidationError(`retrieve list item ${i}: the depth should be an integer or null`);
    }
    return [remote, local, depth as number | null] as const;
  });
}

/** The record of a calculation job: a code run on a computer through a scheduler. */
export class CalcJobNode extends CalculationNode {
  static override readonly updatableAttributes: readonly string[] = [
    ...CalculationNode.updatableAttributes,
    ...Object.values(CalcJobAttribute),
  ];

  /** The active state (`uploading`, …), or null; a corrupt stored value reads as null. */
  getState(): CalcJobState | null {
    const state = this.base.attributes.get(CalcJobAttribute.STATE, null);
    return typeof state === 'string' && CALC_JOB_STATES.has(state) ? (state as CalcJobState) : null;
  }
  async setState(state: CalcJobState): Promise<void> {
    if (!CALC_JOB_STATES.has(state))
      throw new ValidationError(`${String(state)} is not a valid CalcJobState`);
    await this.setAttribute(CalcJobAttribute.STATE, state);
  }
  async deleteState(): Promise<void> {
    await this.deleteAttribute(CalcJobAttribute.STATE);
  }

  getRemoteWorkdir(): string | null {
    return this.base.attributes.get(CalcJobAttribute.REMOTE_WORKDIR, null) as string | null;
  }
  async setRemoteWorkdir(path: string): Promise<void> {
    await this.setAttribute(CalcJobAttribute.REMOTE_WORKDIR, path);
  }

  getRetrieveList(): RetrieveListItem[] | null {
    return this.base.attributes.get(CalcJobAttribute.RETRIEVE_LIST, null) as RetrieveListItem[] | null;
  }
  async setRetrieveList(list: readonly RetrieveListItem[]): Promise<void> {
    await this.setAttribute(CalcJobAttribute.RETRIEVE_LIST, validateRetrieveList(list));
  }
  getRetrieveTemporaryList(): RetrieveListItem[] | null {
    return this.base.attributes.get(CalcJobAttribute.RETRIEVE_TEMPORARY_LIST, null) as
      RetrieveListItem[] | null;
  }
  async setRetrieveTemporaryList(list: readonly RetrieveListItem[]): Promise<void> {
    await this.setAttribute(CalcJobAttribute.RETRIEVE_TEMPORARY_LIST, validateRetrieveList(list));
  }

  getJobId(): string | null {
    const id = this.base.attributes.get(CalcJobAttribute.JOB_ID, null);
    return id === null ? null : typeof id === 'string' ? id : JSON.stringify(id);
  }
  async setJobId(jobId: string | number): Promise<void> {
    await this.setAttribute(CalcJobAttribute.JOB_ID, String(jobId));
  }

  getSchedulerState(): string | null {
    return this.base.attributes.get(CalcJobAttribute.SCHEDULER_STATE, null) as string | null;
  }
  /** Sets the scheduler's job state and the time it was checked (now). */
  async setSchedulerState(state: string): Promise<void> {
    await this.setAttributes({
      [CalcJobAttribute.SCHEDULER_STATE]: state,
      [CalcJobAttribute.SCHEDULER_LAST_CHECK_TIME]: nowTimestamp(),
    });
  }
  getSchedulerLastCheckTime(): Date | null {
    const value = this.base.attributes.get(CalcJobAttribute.SCHEDULER_LAST_CHECK_TIME, null);
    return typeof value === 'string' ? new Date(value) : null;
  }

  getLastJobInfo(): Record<string, unknown> | null {
    return this.base.attributes.get(CalcJobAttribute.SCHEDULER_LAST_JOB_INFO, null) as Record<
      string,
      unknown
    > | null;
  }
  async setLastJobInfo(info: Record<string, unknown>): Promise<void> {
    await this.setAttribute(CalcJobAttribute.SCHEDULER_LAST_JOB_INFO, info);
  }
  getDetailedJobInfo(): Record<string, unknown> | null {
    return this.base.attributes.get(CalcJobAttribute.SCHEDULER_DETAILED_JOB_INFO, null) as Record<
      string,
      unknown
    > | null;
  }
  async setDetailedJobInfo(info: Record<string, unknown> | null): Promise<void> {
    await this.setAttribute(CalcJobAttribute.SCHEDULER_DETAILED_JOB_INFO, info);
  }

  /** A metadata option (`resources`, `max_wallclock_seconds`, …) stored as an attribute of the same name. */
  getOption(name: string): unknown {
    return this.base.attributes.get(name, null);
  }
  /** Sets an option (unstored only: options are fixed once the job is stored). */
  setOption(name: string, value: unknown): void {
    this.base.attributes.set(name, value);
  }
  getOptions(names: readonly string[]): Record<string, unknown> {
    return Object.fromEntries(
      names.filter((n) => this.base.attributes.has(n)).map((n) => [n, this.base.attributes.get(n)]),
    );
  }

  /** The job's `retrieved` output folder, or null. */
  async getRetrievedNode(): Promise<Node | null> {
    const links = await this.base.links.getOutgoing({
      linkType: LinkType.CREATE,
      linkLabelFilter: 'retrieved',
    });
    return links.first()?.node ?? null;
  }

  /** The job's `remote_folder` output, or null. */
  async getRemoteFolder(): Promise<Node | null> {
    const links = await this.base.links.getOutgoing({
      linkType: LinkType.CREATE,
      linkLabelFilter: 'remote_folder',
    });
    return links.first()?.node ?? null;
  }

  async #retrievedFile(optionName: string): Promise<string | null> {
    const filename = this.getOption(optionName);
    if (typeof filename !== 'string') return null;
    const retrieved = await this.getRetrievedNode();
    if (retrieved === null || !retrieved.repository.hasObject(filename)) return null;
    return retrieved.repository.getObjectContent(filename, 'utf8');
  }

  /** The scheduler's stdout from the `retrieved` folder (option `scheduler_stdout`), or null. */
  async getSchedulerStdout(): Promise<string | null> {
    return this.#retrievedFile('scheduler_stdout');
  }
  /** The scheduler's stderr from the `retrieved` folder (option `scheduler_stderr`), or null. */
  async getSchedulerStderr(): Promise<string | null> {
    return this.#retrievedFile('scheduler_stderr');
  }

  /** The state as a description ('' when no state). */
  getDescription(): string {
    return this.getState() ?? '';
  }
}
registerNodeClass(CalcJobNode, {
  group: 'aiida.node',
  name: 'process.calculation.calcjob',
  className: 'CalcJobNode',
  fallback: true,
});
