/**
 * Sending an update until a workflow has taken it. Some of the server's answers mean the update was
 * never applied, through no fault of what it asked: sent again it is taken (or, for an event that did
 * get in after all, answered "duplicate"). Every update we send is safe to send again for that reason.
 */
import { ApplicationFailure, isGrpcServiceError, ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';

const FAILED_PRECONDITION = 9;
const DEADLINE_EXCEEDED = 4;
const UNAVAILABLE = 14;

/**
 * The server's answers to an update that was not applied:
 * - its run ended under it (continue-as-new, or completion): the run's last workflow task was refused
 *   ("unexpected workflow task failure", FAILED_PRECONDITION), the update aborted by the server
 *   (UNAVAILABLE), or by the workflow closing (NOT_FOUND);
 * - a worker completed the workflow task that carried it without answering it, and the server rejected
 *   it on the worker's behalf (failure type UnprocessedUpdate; seen around a worker kill and a Temporal
 *   restart). Not the workflow's answer: a validator's refusal is another failure, never retried.
 */
export function updateNotApplied(err: unknown): boolean {
  if (err instanceof WorkflowUpdateFailedError) {
    return err.cause instanceof ApplicationFailure && err.cause.type === 'UnprocessedUpdate';
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

/** gRPC's DEADLINE_EXCEEDED, bare or wrapped by the SDK. */
export function isDeadlineExceeded(err: unknown): boolean {
  const cause = err instanceof ServiceError ? err.cause : err;
  return isGrpcServiceError(cause) && cause.code === DEADLINE_EXCEEDED;
}

/**
 * Runs `send` again, after a short pause growing to a second, each time the server says the update was
 * not applied, until `deadline` (epoch ms); any other error, or the last one, is thrown. Never thrown
 * for a not-applied update while time is left: a caller would take it for the request's fault, or for
 * Temporal being unreachable.
 */
export async function sendUntilApplied<T>(send: () => Promise<T>, deadline: number): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      const pause = Math.min(1_000, 50 * 2 ** attempt);
      if (!updateNotApplied(err) || Date.now() + pause >= deadline) throw err;
      await new Promise((r) => setTimeout(r, pause));
    }
  }
}
