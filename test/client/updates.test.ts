/**
 * Which answers to an update mean "not applied, send it again", and how the client sends again. The
 * answers are built as the SDK builds them from the server's (the real server's answers are met in
 * record-unprocessed-update.test.ts and record-during-run-end.test.ts).
 */
import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { sendUntilApplied, UpdateNotAppliedError, updateNotApplied } from '../../client/updates';

/** An update failure as the SDK decodes it: `failure.source` is who wrote it (Server, or the worker's SDK). */
function updateFailure(type: string, source: string): WorkflowUpdateFailedError {
  const cause = ApplicationFailure.create({ message: `${type} by ${source}`, type, nonRetryable: true });
  cause.failure = { message: cause.message, source };
  return new WorkflowUpdateFailedError('Workflow Update failed', cause);
}

describe('updateNotApplied', () => {
  it('takes the server\'s own update failures for "not applied", never the workflow\'s refusal', () => {
    expect(updateNotApplied(updateFailure('UnprocessedUpdate', 'Server'))).toBe(true);
    expect(updateNotApplied(updateFailure('AcceptedUpdateCompletedWorkflow', 'Server'))).toBe(true);
    // A validator's refusal, written by the worker's SDK, whatever its type.
    expect(updateNotApplied(updateFailure('Error', 'TypeScriptSDK'))).toBe(false);
    expect(updateNotApplied(updateFailure('UnprocessedUpdate', 'TypeScriptSDK'))).toBe(false);
    expect(updateNotApplied(new WorkflowNotFoundError('workflow update was aborted by closing workflow', 'wf', undefined))).toBe(true);
    expect(updateNotApplied(new WorkflowNotFoundError('workflow not found', 'wf', undefined))).toBe(false);
    expect(updateNotApplied(new Error('anything else'))).toBe(false);
  });
});

describe('sendUntilApplied', () => {
  it('sends again under one update id until applied', async () => {
    const ids: string[] = [];
    const result = await sendUntilApplied(async (updateId) => {
      ids.push(updateId);
      if (ids.length < 3) throw updateFailure('UnprocessedUpdate', 'Server');
      return 'taken';
    }, Date.now() + 10_000);
    expect(result).toBe('taken');
    expect(ids).toHaveLength(3);
    expect(new Set(ids).size).toBe(1);
  });

  it('throws any other error at once, as it is', async () => {
    let calls = 0;
    const refusal = updateFailure('Error', 'TypeScriptSDK');
    await expect(
      sendUntilApplied(async () => {
        calls++;
        throw refusal;
      }, Date.now() + 10_000),
    ).rejects.toBe(refusal);
    expect(calls).toBe(1);
  });

  it('gives up at the deadline with UpdateNotAppliedError, carrying the last answer', async () => {
    const started = Date.now();
    const last = updateFailure('UnprocessedUpdate', 'Server');
    const err = await sendUntilApplied(async () => {
      throw last;
    }, started + 400).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpdateNotAppliedError);
    expect((err as UpdateNotAppliedError).lastAnswer).toBe(last);
    expect(Date.now() - started).toBeGreaterThanOrEqual(390);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
