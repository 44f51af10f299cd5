/**
 * The server may hand an event's update to a worker in a workflow task that the worker then completes
 * without answering it — seen once in the chaos suite, around a worker SIGKILL and a Temporal restart.
 * The server then rejects the update itself ("wasn't processed by worker", type UnprocessedUpdate):
 * the event was not applied, and nothing about the event is wrong. The client must send it again, as it
 * does for an update aborted as a run ends, never answer "refused" (a GP system drops a refused event).
 *
 * Reproduced here with the real server: the worker is stopped, and one workflow task of the transfer
 * is taken by a bare poller that completes it with no commands and no messages (as a worker that knows
 * nothing of updates would), then a real worker comes back on the same task queue.
 */
import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticPractice } from '../../demo/traffic';
import type { HookEvent } from '../../mi/events';
import { transferQuery } from '../../messages/transfer';
import { reportingWorkflowId, transferWorkflowId } from '../../workflows/ids';
import { Gp2gpClient } from '../../client';
import { startPipeline, type TestPipeline } from '../support/pipeline';

const PRACTICE = syntheticPractice('E86002', '200000000862');
// The inbox workflow shares the task queue; polling rarely, it has no task waiting while the worker is away.
const PIPELINE = { supplierMailbox: 'X26SUP082', authorityMailbox: 'X26NHS082', practices: [PRACTICE], env: { GP2GP_INBOX_POLL_SECONDS: '300' } };

describe('an event whose update a worker completed a task without answering', () => {
  const taskQueue = `gp2gp-mi-test-${randomUUID()}`;
  const pipelines: TestPipeline[] = [];
  const clients: Gp2gpClient[] = [];
  beforeAll(async () => {
    pipelines.push(await startPipeline({ ...PIPELINE, taskQueue }));
  });
  afterAll(async () => {
    for (const c of clients) await c.close();
    for (const p of pipelines) await p.stop();
  });

  it('is sent again by the client and recorded, not refused', async () => {
    const first = pipelines[0]!;
    const registrationId = `REG-UNPROCESSED-${Date.now()}`;
    const workflowId = transferWorkflowId('RR', PRACTICE.ods, registrationId);
    const base = { practiceOds: PRACTICE.ods, registrationId };
    const at = (s: number) => new Date(Date.now() - 3_600_000 + s * 1000).toISOString();
    const registration: HookEvent = { ...base, type: 'registration', occurredAt: at(0), registrationType: 'new', registeringUser: 'L1' };
    const fragments: HookEvent = { ...base, type: 'fragments-received', occurredAt: at(10), fragmentsReceived: 1 };
    expect((await first.client.recordEvent(registration)).status).toBe('accepted');
    const { config } = first;
    await first.stop();
    pipelines.length = 0;

    const client = await Gp2gpClient.connect(config);
    clients.push(client);
    const answer = client.recordEvent(fragments, { deadline: Date.now() + 90_000 });

    expect(await completeWithoutAnswering(client, taskQueue, workflowId), 'the bare poller was given the update').toBeGreaterThan(0);

    pipelines.push(await startPipeline({ ...PIPELINE, taskQueue }));
    const outcome = await answer;
    expect(outcome.status, JSON.stringify(outcome)).toBe('accepted');
    const view = await client.temporal.workflow.getHandle(workflowId).query(transferQuery);
    expect(view.events).toHaveLength(2);
  }, 180_000);

  it('a submit is sent again too, not refused as if it asked for something wrong', async () => {
    const { config } = pipelines[0]!;
    await pipelines.pop()!.stop();
    const client = await Gp2gpClient.connect(config);
    clients.push(client);
    const answer = client.submit({ practiceOds: PRACTICE.ods }, { timeoutMs: 90_000 });
    // Reporting workflows run on the reporting queue (config.temporal.reportingTaskQueue).
    expect(await completeWithoutAnswering(client, config.temporal.reportingTaskQueue, reportingWorkflowId(PRACTICE.ods)), 'the bare poller was given the update').toBeGreaterThan(0);
    pipelines.push(await startPipeline({ ...PIPELINE, taskQueue }));
    const [submitted] = await answer;
    expect(submitted?.practiceOds).toBe(PRACTICE.ods);
  }, 180_000);
});

/**
 * The bare poller: takes workflow tasks from the queue until it gets the target workflow's task that
 * carries an update, and completes that one with no commands and no messages. Any other task it is
 * given (another workflow's) it fails, so that workflow's history keeps nothing this poller did and a
 * real worker takes the task again. Returns how many messages the completed task carried.
 */
async function completeWithoutAnswering(client: Gp2gpClient, taskQueue: string, workflowId: string): Promise<number> {
  const { connection, options } = client.temporal;
  const service = connection.workflowService;
  const identity = 'a worker that knows nothing of updates';
  const giveUpAt = Date.now() + 60_000;
  while (Date.now() < giveUpAt) {
    // A long poll, as a worker's: the server answers when a task comes, or empty after about a minute.
    const task = await connection.withDeadline(giveUpAt + 10_000, () =>
      service.pollWorkflowTaskQueue({ namespace: options.namespace, taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL }, identity }),
    );
    if (!task.taskToken?.length) continue;
    const carried = task.messages?.length ?? 0;
    if (task.workflowExecution?.workflowId === workflowId && carried > 0) {
      await service.respondWorkflowTaskCompleted({ namespace: options.namespace, taskToken: task.taskToken, identity, commands: [], messages: [] });
      return carried;
    }
    await service.respondWorkflowTaskFailed({ namespace: options.namespace, taskToken: task.taskToken, identity, failure: { message: 'not the task this test is waiting for' } });
  }
  return 0;
}
