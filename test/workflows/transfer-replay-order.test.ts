/**
 * A transfer that posts to the API replays as it ran when a forward (a local activity) outlasts its
 * workflow task while posts are owed. Local activities and activities share one sequence of ids, and
 * sdk-core can hand a local activity's result to a replay together with the task's other jobs rather
 * than later, as in the first execution; since the 'posts-after-local-activities' patch a post starts
 * only while no local activity is in flight, so its id cannot depend on that. The chaos suite found
 * the failure on the cluster (a worker killed mid-forward while a post finished: "Activity id of
 * scheduled event '3' does not match activity id of activity command '4'"); this test does not kill
 * a worker, so it guards the slow-forward path's replay rather than reproducing that interleaving.
 * Runs on the test run's dev server with stand-in activities: what matters is only when they answer.
 */
import { randomUUID } from 'node:crypto';
import { Client, Connection, WithStartWorkflowOperation } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Worker } from '@temporalio/worker';
import { describe, expect, inject, it } from 'vitest';
import { generateTraffic, prng } from '../../demo/traffic';
import { withEventId } from '../../mi/event-id';
import { recordKeyOf } from '../../mi/events';
import { recordEventUpdate, transferQuery, type StoredEvent, type TransferActivities, type TransferInput } from '../../messages/transfer';
import { withApiStages } from '../chaos/registrations-api';
import { workflowBundle } from '../support/pipeline';

describe('transfer workflow: a forward outlasting its workflow task', () => {
  it('replays without non-determinism after a forward outlasted its workflow task with posts owed', async () => {
    const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    const notAfter = new Date().toISOString();
    // With the API's fields, so the first two events each imply a post (/registrations, /ehr-requests).
    const generated = generateTraffic({ practices: ['A12345'], days: [day], registrationsPerPracticeDay: 2, seed: 3, notAfter });
    const all = withApiStages(generated, { random: prng(4), notAfter }).map((e) => withEventId(e) as StoredEvent);
    const first = all[0]!;
    const { side, practiceOds, key } = recordKeyOf(first);
    const events = all.filter((e) => JSON.stringify(recordKeyOf(e)) === JSON.stringify({ side, practiceOds, key }));
    expect(events.length).toBeGreaterThanOrEqual(2);

    let forwards = 0;
    let posts = 0;
    const activities: TransferActivities = {
      // The first forward outlasts the workflow task (sdk-core completes the task at 80 % of its
      // 10 s timeout and the forward goes on); the rest answer at once.
      forwardRows: async () => {
        if (forwards++ === 0) await new Promise((resolve) => setTimeout(resolve, 9_500));
      },
      postApiEvent: async () => {
        posts++;
        return { status: 201 };
      },
      restorePreviousRecord: async () => [],
      restorePreviousRun: async () => ({ events: [] }),
    };
    const address = inject('temporalAddress');
    const namespace = inject('temporalNamespace');
    const taskQueue = `replay-order-${randomUUID()}`;
    const connection = await NativeConnection.connect({ address });
    const clientConnection = await Connection.connect({ address });
    const client = new Client({ connection: clientConnection, namespace });
    const worker = await Worker.create({ connection, namespace, taskQueue, workflowBundle: await workflowBundle(), activities });
    const workflowId = `replay-order-${randomUUID()}`;
    const input: TransferInput = { side, practiceOds, key, reopened: false, options: { outputs: 'both', reportingSystemSupplier: 'GP2GP-MI test' } };
    try {
      const history = await worker.runUntil(async () => {
        await client.workflow.executeUpdateWithStart(recordEventUpdate, {
          args: [events[0]!],
          startWorkflowOperation: new WithStartWorkflowOperation('transferWorkflow', { workflowId, taskQueue, args: [input], workflowIdConflictPolicy: 'USE_EXISTING' }),
        });
        // Answered when the task completed, the forward still running; the first post goes now.
        const handle = client.workflow.getHandle(workflowId);
        await handle.executeUpdate(recordEventUpdate, { args: [events[1]!] });
        // Settled: both events forwarded and posted.
        for (let i = 0; ; i++) {
          const view = await handle.query(transferQuery);
          if (forwards >= 2 && view.apiDelivery?.status === 'ok' && view.apiDelivery.posted >= 2 && view.apiDelivery.pending === 0 && !view.forwarding) break;
          if (i > 200) throw new Error(`not settled: ${forwards} forwards, ${JSON.stringify(view.apiDelivery)}`);
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        const h = await handle.fetchHistory();
        await handle.terminate('test done');
        return h;
      });
      expect(posts).toBeGreaterThanOrEqual(2);
      // The forward did outlast its workflow task: the first event was answered (its update completed
      // in history) before the forward's result was recorded (its local-activity marker).
      const E = temporal.api.enums.v1.EventType;
      const evs = history.events ?? [];
      const firstAnswered = evs.findIndex((e) => e.eventType === E.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED);
      const firstForward = evs.findIndex((e) => e.eventType === E.EVENT_TYPE_MARKER_RECORDED && e.markerRecordedEventAttributes?.markerName === 'core_local_activity');
      expect(firstAnswered).toBeGreaterThan(-1);
      expect(firstForward).toBeGreaterThan(firstAnswered);
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, workflowId);
    } finally {
      await clientConnection.close();
      await connection.close();
    }
  }, 60_000);
});
