/**
 * Sending an update until a workflow has taken it. Some of the server's answers mean the update was
 * not applied (or may not have been), through no fault of what it asked: sent again it is taken. Every
 * update we send is safe to send again — an event is recognised by its eventId, a submit skips days in
 * flight, a replay of API posts finds nothing left to replay — and is sent again under the same update
 * id, so an update that did get in is answered with its first result.
 */
import { randomUUID } from 'node:crypto';
import { ApplicationFailure, isGrpcServiceError, ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';

const FAILED_PRECONDITION = 9;
const DEADLINE_EXCEEDED = 4;
const UNAVAILABLE = 14;

/**
 * The server's answers to an update it did not see applied:
 * - its run ended under it (continue-as-new, completion, termination): the run's last workflow task was
 *   refused ("unexpected workflow task failure", FAILED_PRECONDITION), the update aborted by the server
 *   (UNAVAILABLE), or by the workflow closing (NOT_FOUND);
 * - an update failure the server wrote, not the workflow: a worker completed the workflow task that
 *   carried it without answering it (UnprocessedUpdate; seen around a worker kill and a Temporal
 *   restart), or the run ended after accepting it (AcceptedUpdateCompletedWorkflow).
 * A validator's refusal is the workflow's own failure (source: the SDK), never sent again.
 */
export function updateNotApplied(err: unknown): boolean {
  if (err instanceof WorkflowUpdateFailedError) {
    return err.cause instanceof ApplicationFailure && err.cause.failure?.source === 'Server';
  }
  const message = err instanceof Error ? err.message : '';
  if (err instanceof WorkflowNotFoundError) return /aborted by closing workflow/.test(message);
  const cause = err instanceof ServiceError ? err.cause : err;
  if (!isGrpcServiceError(cause)) return false;
  return (
    (cause.code === FAILED_PRECONDITION && /unexpected workflow task failure/.test(cause.message)) ||
    (cause.code === UNAVAILABLE && /update was aborted/.test(cause.message))
  );
}

/** An update still not applied at its deadline; `cause` is the server's last answer. */
export class UpdateNotAppliedError extends Error {
  override name = 'UpdateNotAppliedError';
  constructor(readonly lastAnswer: unknown) {
    super(`the update was not applied before its deadline; last answer: ${lastAnswer instanceof Error ? lastAnswer.message : String(lastAnswer)}`, { cause: lastAnswer });
  }
}

/** gRPC's DEADLINE_EXCEEDED, bare or wrapped by the SDK. */
export function isDeadlineExceeded(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(cause) && cause.code === DEADLINE_EXCEEDED;
}

/**
 * No answer in time: the SDK's update timeout, gRPC's deadline, or an update still not applied at its
 * deadline. The update may still run when a worker takes it.
 */
export function updateNotTakenInTime(err: unknown): boolean {
  return err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || err instanceof UpdateNotAppliedError || isDeadlineExceeded(err);
}

/**
 * Runs `send` (given one update id for every attempt) again, after a short pause growing to a second,
 * each time the server says the update was not applied, until `deadline` (epoch ms); then throws
 * UpdateNotAppliedError. Any other error is thrown as it is. Never a not-applied answer while time is
 * left: a caller would take it for the request's fault.
 */
export async function sendUntilApplied<T>(send: (updateId: string) => Promise<T>, deadline: number): Promise<T> {
  const updateId = randomUUID();
  for (let attempt = 1; ; attempt++) {
    try {
      return await send(updateId);
    } catch (err) {
      if (!updateNotApplied(err)) throw err;
      const pause = Math.min(1_000, 50 * 2 ** attempt, Math.max(0, deadline - Date.now()));
      if (pause <= 0) throw new UpdateNotAppliedError(err);
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
