import { connect } from 'node:net';
import { z } from 'zod';
import { DaemonError } from '../../../errors.js';

/** A request to the supervisor: one JSON line on its socket, answered by one JSON line. */
export const supervisorRequestSchema = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('status') }),
  z.object({ cmd: z.literal('incr'), n: z.number().int().min(1) }),
  z.object({ cmd: z.literal('decr'), n: z.number().int().min(1) }),
  z.object({ cmd: z.literal('restart'), timeoutMs: z.number().int().min(0) }),
  z.object({ cmd: z.literal('stop'), timeoutMs: z.number().int().min(0) }),
]);
export type SupervisorRequest = z.infer<typeof supervisorRequestSchema>;

/** One worker as the supervisor knows it. */
export const supervisedWorkerSchema = z.object({
  pid: z.number().int(),
  /** Its id in `aiida_ts_worker`, once it said it is ready. */
  workerId: z.string().nullable(),
  startedAt: z.string(),
  ready: z.boolean(),
  stopping: z.boolean(),
});
export type SupervisedWorker = z.infer<typeof supervisedWorkerSchema>;

/** The supervisor's view of the daemon. */
export const supervisorStatusSchema = z.object({
  profile: z.string(),
  pid: z.number().int(),
  startedAt: z.string(),
  /** How many workers it keeps running. */
  target: z.number().int(),
  workers: z.array(supervisedWorkerSchema),
  /** Workers restarted after they ended on their own (crashed, killed). */
  restarts: z.number().int(),
  /** When the next restart is due (a crashed worker waiting for its backoff), or null. */
  nextRestartAt: z.string().nullable(),
  logFile: z.string(),
});
export type SupervisorStatus = z.infer<typeof supervisorStatusSchema>;

const stoppedWorkerSchema = z.object({
  pid: z.number().int(),
  workerId: z.string().nullable(),
  /** `graceful`: stopped when asked; `forced`: stopped at once on the second request; `killed`: SIGKILLed. */
  how: z.enum(['graceful', 'forced', 'killed']),
});
export type StoppedWorker = z.infer<typeof stoppedWorkerSchema>;

/** What a stop or restart did to each worker. */
export const stopReportSchema = z.object({ workers: z.array(stoppedWorkerSchema) });
export type StopReport = z.infer<typeof stopReportSchema>;

export const supervisorResponseSchema = z.union([
  z.object({ ok: z.literal(true), status: supervisorStatusSchema, report: stopReportSchema.optional() }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
export type SupervisorResponse = z.infer<typeof supervisorResponseSchema>;

/**
 * Sends one request to the supervisor listening on `socket` and resolves with its answer; rejects with a
 * `DaemonError` when nothing listens or no answer comes within `timeoutMs`.
 */
export function callSupervisor(
  socket: string,
  request: SupervisorRequest,
  timeoutMs: number,
): Promise<{ status: SupervisorStatus; report: StopReport | undefined }> {
  return new Promise((resolve, reject) => {
    const connection = connect(socket);
    let buffer = '';
    let settled = false;
    const finish = (
      error: Error | undefined,
      value?: { status: SupervisorStatus; report: StopReport | undefined },
    ) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      connection.destroy();
      if (error !== undefined) reject(error);
      else if (value !== undefined) resolve(value);
    };
    const timer = setTimeout(
      () => finish(new DaemonError(`the daemon did not answer \`${request.cmd}\` within ${timeoutMs} ms`)),
      timeoutMs,
    );
    connection.setEncoding('utf8');
    connection.on('connect', () => connection.write(`${JSON.stringify(request)}\n`));
    connection.on('data', (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf('\n');
      if (end < 0) return;
      let answer: SupervisorResponse;
      try {
        answer = supervisorResponseSchema.parse(JSON.parse(buffer.slice(0, end)));
      } catch (error) {
        finish(
          new DaemonError(`the daemon answered something unreadable: ${String(error)}`, { cause: error }),
        );
        return;
      }
      if (answer.ok) finish(undefined, { status: answer.status, report: answer.report });
      else finish(new DaemonError(answer.error));
    });
    connection.on('error', (error) =>
      finish(new DaemonError(`cannot reach the daemon at ${socket}: ${error.message}`, { cause: error })),
    );
    connection.on('close', () =>
      finish(new DaemonError('the daemon closed the connection without an answer')),
    );
  });
}
