/**
 * A transfer that posts to the API replays as it ran after its worker was killed mid-forward while
 * posts were owed. Local activities and activities share one sequence of ids, and sdk-core hands a
 * local activity's result to a replay together with the task's other jobs, not later as in the first
 * execution; before the 'posts-after-local-activities' patch, a post scheduled while a re-run forward
 * was in flight took an id the replay gave the next forward ("Activity id of scheduled event '3' does
 * not match activity id of activity command '4'"), and the record stalled — found by the chaos suite
 * on the cluster. Here: a worker process whose forward never answers is SIGKILLed after the first
 * event was answered and its post made, a second event arrives, an in-process worker takes over.
 * Stand-in activities (test/fixtures/transfer-activities.ts): what matters is only when they answer.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { generateTraffic, prng } from '../../demo/traffic';
import { withEventId } from '../../mi/event-id';
import { recordKeyOf } from '../../mi/events';
import { recordEventUpdate, transferQuery, type StoredEvent, type TransferInput } from '../../messages/transfer';
import { withApiStages } from '../chaos/registrations-api';
import { standInTransferActivities } from '../fixtures/transfer-activities';
import { workflowBundle } from '../support/pipeline';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('transfer workflow: a worker killed mid-forward while posts are owed', () => {
  it('replays without non-determinism once another worker has taken the record on', async () => {
    const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    const notAfter = new Date().toISOString();
    // With the API's fields, so the first two events each imply a post (/registrations, /ehr-requests).
    const generated = generateTraffic({ practices: ['A12345'], days: [day], registrationsPerPracticeDay: 2, seed: 3, notAfter });
    const all = withApiStages(generated, { random: prng(4), notAfter }).map((e) => withEventId(e) as StoredEvent);
    const { side, practiceOds, key } = recordKeyOf(all[0]!);
    const events = all.filter((e) => recordKeyOf(e).key === key);

    const address = inject('temporalAddress');
    const namespace = inject('temporalNamespace');
    const taskQueue = `replay-order-${randomUUID()}`;
    const workflowId = `replay-order-${randomUUID()}`;
    const clientConnection = await Connection.connect({ address });
    const client = new Client({ connection: clientConnection, namespace });
    const doomed = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '..', 'fixtures', 'slow-forward-worker.ts')], {
      env: { ...process.env, TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace, TEMPORAL_TASK_QUEUE: taskQueue },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const connection = await NativeConnection.connect({ address });
    try {
      await new Promise<void>((resolve, reject) => {
        doomed.stdout!.on('data', (d: Buffer) => d.toString().includes('worker ready') && resolve());
        doomed.once('exit', (code) => reject(new Error(`the first worker exited (${code})`)));
      });
      const input: TransferInput = { side, practiceOds, key, reopened: false, options: { outputs: 'both', reportingSystemSupplier: 'GP2GP-MI test' } };
      // Answered when sdk-core completes the task with the forward still running (at 80 % of 10 s).
      await client.workflow.executeUpdateWithStart(recordEventUpdate, {
        args: [events[0]!],
        startWorkflowOperation: new WithStartWorkflowOperation('transferWorkflow', { workflowId, taskQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING' }),
      });
      await sleep(1_000);
      doomed.kill('SIGKILL');
      const handle = client.workflow.getHandle(workflowId);
      // Waits for the dead worker's task to time out; then the next worker takes both.
      const second = handle.executeUpdate(recordEventUpdate, { args: [events[1]!] });

      let posts = 0;
      const worker = await Worker.create({
        connection,
        namespace,
        taskQueue,
        workflowBundle: await workflowBundle(),
        activities: standInTransferActivities(async () => void (await sleep(1_000)), () => posts++),
      });
      const history = await worker.runUntil(async () => {
        await second;
        for (let i = 0; ; i++) {
          const view = await client.withDeadline(Date.now() + 10_000, () => handle.query(transferQuery));
          if (view.apiDelivery?.status === 'ok' && view.apiDelivery.pending === 0 && view.apiDelivery.posted >= 2 && !view.forwarding) break;
          if (i > 300) throw new Error(`not settled: ${JSON.stringify(view.apiDelivery)}`);
          await sleep(100);
        }
        const h = await handle.fetchHistory();
        await handle.terminate('test done');
        return h;
      });
      expect(posts).toBeGreaterThanOrEqual(1);
      // The kill did land mid-task: the dead worker's workflow task timed out.
      const E = temporal.api.enums.v1.EventType;
      expect((history.events ?? []).some((e) => e.eventType === E.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT)).toBe(true);
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId);
    } finally {
      doomed.kill('SIGKILL');
      await clientConnection.close();
      await connection.close();
    }
  }, 90_000);
});
