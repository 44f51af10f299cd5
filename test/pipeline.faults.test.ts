/**
 * A permanent MESH fault ends a submission failed, with its reason; its days stay due in the
 * reporting workflow; after the operator fixes the configuration and restarts the worker, a replay
 * delivers them — each row once in the Authority's mailbox.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { generateTraffic, syntheticPractice } from '../demo/traffic';
import { recordSetsOf } from './support/record-sets';
import { eventually, startPipeline, type TestPipeline } from './support/pipeline';
import { submissionQuery, type SubmissionView } from '../messages/submission';

const PRACTICE = syntheticPractice('D84004', '200000000004');

describe('a permanent MESH fault', () => {
  let pipeline: TestPipeline | undefined;
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('fails the submission with its reason, keeps the days due, and a replay after the fix delivers them', async () => {
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    // MESH refuses a send to a mailbox that does not exist (417, code 12 on real MESH).
    pipeline = await startPipeline({
      supplierMailbox: 'X26SUP002',
      authorityMailbox: 'X26NOSUCH1',
      practices: [PRACTICE],
    });
    const taskQueue = pipeline.config.temporal.taskQueue;
    const events = generateTraffic({ practices: [PRACTICE.ods], days: [day], registrationsPerPracticeDay: 3, seed: 7, notAfter: new Date().toISOString() });
    const outcomes = await pipeline.client.recordEvents(events);
    expect(outcomes.every((o) => o.status === 'accepted')).toBe(true);
    await eventually(async () => ((await pipeline!.client.reportingStatus(PRACTICE.ods)).pendingDays.includes(day) ? true : undefined));

    const [first] = await pipeline.client.submit({ days: [day] });
    const failedId = first!.result.submissions[0]!.submissionId;
    const failed = await eventually(async () => {
      const v: SubmissionView = await pipeline!.client.temporal.workflow.getHandle(failedId).query(submissionQuery);
      return v.status === 'failed' ? v : undefined;
    }, 60_000, 'the submission to fail');
    expect(failed.reason).toMatch(/send failed/);
    expect(failed.reason).toMatch(/recipient|X26NOSUCH1|12/i);
    const status = await eventually(async () => {
      const v = await pipeline!.client.reportingStatus(PRACTICE.ods);
      return v.recentFailures.length ? v : undefined;
    });
    expect(status.recentFailures[0]).toMatchObject({ submissionId: failedId, days: [day] });
    expect(status.pendingDays).toContain(day);
    expect(status.lastDeliveredDay).toBeUndefined();

    // The operator fixes MESH_TO and restarts the worker on the same task queue; the workflows wait.
    await pipeline.stop();
    pipeline = await startPipeline({ supplierMailbox: 'X26SUP002', authorityMailbox: 'X26NHS002', practices: [PRACTICE], taskQueue });
    const [replay] = await pipeline.client.submit({ days: [day] });
    const replayId = replay!.result.submissions[0]!.submissionId;
    expect(replayId).not.toBe(failedId);
    const received: string[] = [];
    const delivered = await eventually(async () => {
      for (const f of await pipeline!.authority.collect()) received.push(f.content);
      const v: SubmissionView = await pipeline!.client.temporal.workflow.getHandle(replayId).query(submissionQuery);
      return v.status === 'delivered' ? v : undefined;
    }, 60_000, 'the replayed submission to be delivered');
    expect(delivered.files).toHaveLength(1);
    expect(received).toHaveLength(1);
    const sets = recordSetsOf(received[0]!);
    expect([...sets.keys()]).toEqual([`${PRACTICE.ods} ${day}`]);
    const rows = sets.get(`${PRACTICE.ods} ${day}`)!.split('\r\n').filter((l) => /^(RR|SR),/.test(l));
    expect(new Set(rows).size).toBe(rows.length);
    expect(rows.length).toBeGreaterThan(0);
    // The submission tells its reporting workflow by signal once it is delivered: on a cluster that
    // can land a moment after the submission's own query says so (seen once in CI).
    const reported = await eventually(async () => {
      const v = await pipeline!.client.reportingStatus(PRACTICE.ods);
      return v.lastDeliveredDay ? v : undefined;
    }, 30_000, 'the reporting workflow to hear of the delivery');
    expect(reported.lastDeliveredDay).toBe(day);
  });

  it('releases the days of a submission terminated from outside at the next submit, which sends them again', async () => {
    // Yesterday was delivered above and is still held: an operator may send it again.
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const [first] = await pipeline!.client.submit({ days: [day] });
    const terminatedId = first!.result.submissions[0]!.submissionId;
    await pipeline!.client.temporal.workflow.getHandle(terminatedId).terminate('operator test');
    const [again] = await pipeline!.client.submit({ days: [day] });
    expect(again!.result.submissions.flatMap((s) => s.days)).toEqual([day]);
    const view = await pipeline!.client.reportingStatus(PRACTICE.ods);
    expect(view.recentFailures[0]).toMatchObject({ submissionId: terminatedId, days: [day] });
    expect(view.recentFailures[0]!.reason).toMatch(/ended \(terminated\) without reporting back/);
  });

  it('refuses to send a day it cannot rebuild completely, saying why', async () => {
    const before = new Date(Date.now() - 5 * 86_400_000).toISOString().slice(0, 10);
    await expect(pipeline!.client.submit({ practiceOds: PRACTICE.ods, days: [before] })).rejects.toThrow(/is before reporting for D84004 began .* and has no rows/);
  });
});
