/**
 * The product's core flow end to end, on the real Temporal dev server and the real MESH sandbox:
 * events in through the hooks client → transfer workflows → reporting → submissions → MESH → the
 * Authority's mailbox, compared byte for byte with the offline render of the same events.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTraffic, syntheticPractice } from '../demo/traffic';
import { recordKeyOf, type HookEvent } from '../mi/events';
import { inboxWorkflowId, reportingWorkflowId, transferWorkflowId } from '../workflows/ids';
import { offlineRender, waitForForwarding } from './support/offline-render';
import { eventually, historySuffix, startPipeline, type TestPipeline } from './support/pipeline';
import { recordSetsOf } from './support/record-sets';
import type { SubmissionView } from '../messages/submission';
import { submissionQuery } from '../messages/submission';

const PRACTICES = ['A81001', 'B82002', 'C83003'].map((ods, i) => syntheticPractice(ods, `20000000000${i + 1}`));

function utcDay(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/** Saves one history of each workflow type for the replay tests (test/replay.test.ts). */
async function saveHistories(pipeline: TestPipeline, events: HookEvent[], submissionId: string): Promise<void> {
  const dir = path.join(__dirname, 'histories');
  fs.mkdirSync(dir, { recursive: true });
  const rr = events.find((e) => e.type === 'extract-acknowledged')!;
  const sr = events.find((e) => e.type === 'conversation-closed')!;
  const ids: [string, string][] = [
    ['transferWorkflow.rr', transferWorkflowId('RR', rr.practiceOds, recordKeyOf(rr).key)],
    ['transferWorkflow.sr', transferWorkflowId('SR', sr.practiceOds, recordKeyOf(sr).key)],
    ['reportingWorkflow', reportingWorkflowId(PRACTICES[0]!.ods)],
    ['submissionWorkflow', submissionId],
    ['inboxWorkflow', inboxWorkflowId(pipeline.config.mesh.mailbox)],
  ];
  for (const [name, id] of ids) {
    const history = await pipeline.client.temporal.workflow.getHandle(id).fetchHistory();
    fs.writeFileSync(path.join(dir, `${name}${historySuffix()}.json`), historyToJSON(history));
  }
}

describe('the durable pipeline, end to end', () => {
  let pipeline: TestPipeline;
  const day1 = utcDay(-2);
  const day2 = utcDay(-1);
  let events: HookEvent[];

  beforeAll(async () => {
    pipeline = await startPipeline({ supplierMailbox: 'X26SUP001', authorityMailbox: 'X26NHS001', practices: PRACTICES });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('delivers every practice-day byte-equal to the offline render, and leaves our inbox empty', async () => {
    events = generateTraffic({
      practices: PRACTICES.map((p) => p.ods),
      days: [day1, day2],
      registrationsPerPracticeDay: 5,
      seed: 42,
      notAfter: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(events.length).toBeGreaterThan(40);
    // Arrival order never matters, and duplicates are answered, not applied twice.
    const shuffled = [...events].reverse();
    const duplicates = shuffled.filter((_, i) => i % 7 === 0);
    const outcomes = await pipeline.client.recordEvents([...shuffled, ...duplicates], { concurrency: 16 });
    const refused = outcomes.filter((o) => o.status === 'refused');
    expect(refused).toEqual([]);
    expect(new Set(outcomes.map((o) => o.eventId)).size).toBe(events.length);
    // The transfer workflows, not the client, tell a re-sent event from a new one: of the sends of each
    // eventId, exactly one was accepted and every other was answered "duplicate".
    const answers = new Map<string, string[]>();
    for (const o of outcomes) answers.set(o.eventId!, [...(answers.get(o.eventId!) ?? []), o.status].sort());
    for (const [eventId, statuses] of answers) {
      expect(statuses, eventId).toEqual(['accepted', ...Array<string>(statuses.length - 1).fill('duplicate')]);
    }
    expect(outcomes.filter((o) => o.status === 'duplicate')).toHaveLength(duplicates.length);

    // Rows reach the reporting workflows asynchronously: wait until every transfer has forwarded.
    await waitForForwarding(pipeline, events);
    const submitted = await pipeline.client.submit({ days: [day1, day2] });
    expect(submitted).toHaveLength(3);

    const received = new Map<string, string>();
    await eventually(async () => {
      for (const file of await pipeline.authority.collect()) {
        expect(file.metadata.workflowId).toBe('GP2GP_MI');
        expect(file.metadata.fileName).not.toMatch(/\s/);
        for (const [key, set] of recordSetsOf(file.content)) received.set(key, set);
      }
      return received.size >= 6 ? true : undefined;
    }, 60_000, 'six record sets in the Authority mailbox');

    const expected = offlineRender(events, pipeline.practicesFile, day1, day2, path.dirname(pipeline.practicesFile));
    expect([...received.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, set] of expected) expect(received.get(key), key).toBe(set);

    // Every submission ends delivered once the Authority has acknowledged its file.
    for (const { result } of submitted) {
      for (const s of result.submissions) {
        const view = await eventually(async () => {
          const v: SubmissionView = await pipeline.client.temporal.workflow.getHandle(s.submissionId).query(submissionQuery);
          return v.status === 'delivered' ? v : undefined;
        }, 60_000, `submission ${s.submissionId} delivered`);
        expect(view.files.every((f) => f.acknowledged)).toBe(true);
      }
    }
    for (const p of PRACTICES) {
      // Each submission tells its reporting workflow by signal, which may land a moment after its own
      // query says delivered.
      const view = await eventually(async () => {
        const v = await pipeline.client.reportingStatus(p.ods);
        return v.lastDeliveredDay === day2 && v.inFlight.length === 0 ? v : undefined;
      }, 30_000, `${p.ods}: its reporting workflow to hear of the deliveries`);
      expect(view.lastDeliveredDay).toBe(day2);
      expect(view.pendingDays).not.toContain(day1);
    }
    // Transfers on the transfers' queue; reporting workflows and their submissions on a queue of
    // their own, so the worker keeps them in a cache of their own.
    const { taskQueue, reportingTaskQueue } = pipeline.config.temporal;
    expect(reportingTaskQueue).toBe(`${taskQueue}-reporting`);
    const queueOf = async (id: string) => (await pipeline.client.temporal.workflow.getHandle(id).describe()).taskQueue;
    const rr = events.find((e) => e.type === 'registration')!;
    expect(await queueOf(transferWorkflowId('RR', rr.practiceOds, recordKeyOf(rr).key))).toBe(taskQueue);
    for (const p of PRACTICES) expect(await queueOf(reportingWorkflowId(p.ods))).toBe(reportingTaskQueue);
    expect(await queueOf(submitted[0]!.result.submissions[0]!.submissionId)).toBe(reportingTaskQueue);
    expect(await queueOf(inboxWorkflowId(pipeline.config.mesh.mailbox))).toBe(taskQueue);
    if (process.env.SAVE_HISTORIES) await saveHistories(pipeline, events, submitted[0]!.result.submissions[0]!.submissionId);
    // Nothing was left behind in our own inbox.
    const left: string[] = [];
    for await (const id of pipeline.supplierMesh.listInbox()) left.push(id);
    expect(left).toEqual([]);
  });

  it('answers a late event for a delivered day with a corrected record set for that ODS + date', async () => {
    const rr = events.find((e) => e.type === 'registration' && e.occurredAt.startsWith(day1) && e.practiceOds === 'B82002')!;
    const late: HookEvent = {
      type: 'request-failure',
      practiceOds: rr.practiceOds,
      registrationId: (rr as { registrationId: string }).registrationId,
      occurredAt: `${day1}T23:30:00Z`,
      failurePoint: 10,
      failureType: 1,
      fatal: false,
      errorCode: '99',
    };
    const [outcome] = await pipeline.client.recordEvents([late]);
    expect(outcome!.status).toBe('accepted');
    await waitForForwarding(pipeline, [late]);
    expect((await pipeline.client.reportingStatus('B82002')).pendingDays).toContain(day1);
    const [submitted] = await pipeline.client.submit({ practiceOds: 'B82002' });
    expect(submitted!.result.submissions.flatMap((s) => s.days)).toContain(day1);

    const corrected = await eventually(async () => {
      const files = await pipeline.authority.collect();
      const sets = files.flatMap((f) => [...recordSetsOf(f.content)]);
      return sets.find(([key]) => key === `B82002 ${day1}`)?.[1];
    }, 60_000, 'the corrected record set');
    const expected = offlineRender([...events, late], pipeline.practicesFile, day1, day1, path.dirname(pipeline.practicesFile));
    expect(corrected).toBe(expected.get(`B82002 ${day1}`));
    expect(corrected).toContain(`${day1}T23:30:00`);
  });
});
