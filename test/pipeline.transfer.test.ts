/**
 * Transfer workflows on the real dev server: refusal at the door, and a final record that completed
 * (so its history stays small) being reopened by a late event without losing its earlier events.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTraffic, syntheticPractice } from '../demo/traffic';
import type { HookEvent } from '../mi/events';
import { reportingWorkflowId, transferWorkflowId } from '../workflows/ids';
import { loadConfig } from '../config';
import { transferQuery, type TransferResult } from '../messages/transfer';
import { eventually, startPipeline, type TestPipeline } from './support/pipeline';
import { submissionQuery, type SubmissionView } from '../messages/submission';

const PRACTICE = syntheticPractice('H88008', '200000000008');
/** This (main) thread's depth before any worker starts: the worker's setting must not change it. */
const MAIN_THREAD_STACK_FRAMES = Error.stackTraceLimit;

/** How many times a run looked up an earlier run's events (restore local activities in its history). */
async function restoreLookups(handle: { fetchHistory(): Promise<{ events?: { markerRecordedEventAttributes?: { details?: Record<string, { payloads?: { data?: Uint8Array | null }[] | null }> | null } | null }[] | null }> }): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter((e) =>
    Object.values(e.markerRecordedEventAttributes?.details ?? {}).some((p) =>
      (p.payloads ?? []).some((x) => /"activity_type":"restorePrevious(Record|Run)"/.test(Buffer.from(x.data ?? []).toString('utf8'))),
    ),
  ).length;
}

describe('transfer workflows', () => {
  let pipeline: TestPipeline;
  beforeAll(async () => {
    pipeline = await startPipeline({
      supplierMailbox: 'X26SUP004',
      authorityMailbox: 'X26NHS004',
      practices: [PRACTICE],
      // Final records complete after 3 s of quiet here (14 days in production). Stack traces on, as
      // an operator turns them on to look at the Stack Trace tab (off by default, as in the other
      // pipeline tests; test/workflow-calls.test.ts holds both settings).
      // Three SDK workers share the transfers' queue and cache (GP2GP_TRANSFER_WORKERS).
      env: { GP2GP_TRANSFER_FINAL_QUIET_HOURS: String(3 / 3600), GP2GP_WORKFLOW_STACK_TRACES: 'on', GP2GP_TRANSFER_WORKERS: '3' },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('refuses malformed events at once, naming the field, and starts nothing for them', async () => {
    const [bad, foreign] = await pipeline.client.recordEvents([
      { type: 'registration', practiceOds: PRACTICE.ods, registrationId: 'REG-BAD-1', occurredAt: '2026-11-20T10:00:00Z', registrationType: 'sideways', registeringUser: 'L1' },
      { type: 'registration', practiceOds: 'Z99999', registrationId: 'REG-BAD-2', occurredAt: '2026-11-20T10:00:00Z', registrationType: 'new', registeringUser: 'L1' },
    ]);
    expect(bad).toMatchObject({ status: 'refused' });
    expect(bad!.status === 'refused' && bad!.message).toMatch(/registrationType/);
    expect(foreign!.status === 'refused' && foreign!.message).toMatch(/practiceOds: Z99999/);
    await expect(pipeline.client.temporal.workflow.getHandle(transferWorkflowId('RR', PRACTICE.ods, 'REG-BAD-1')).describe()).rejects.toThrow(/not found/i);
  });

  it('completes when final and quiet, and a late event reopens it with all earlier events', async () => {
    const day = new Date(Date.now() - 2 * 86_400_000).toISOString().slice(0, 10);
    const rr = { practiceOds: PRACTICE.ods, registrationId: 'REG-REOPEN-1' };
    const conversationId = '2F1C3B4A-5D6E-4F70-8192-A3B4C5D6E7F8';
    const events: HookEvent[] = [
      { type: 'registration', ...rr, occurredAt: `${day}T09:00:00Z`, registrationType: 'new', registeringUser: '123456789012', targetOds: 'A81001' },
      { type: 'ehr-requested', ...rr, occurredAt: `${day}T09:05:00Z`, conversationId, requestMessageId: '11111111-2222-4333-8444-555555555555', targetOds: 'A81001' },
      { type: 'ehr-received', ...rr, conversationId, occurredAt: `${day}T09:30:00Z`, extractMessageId: '66666666-7777-4888-8999-AAAAAAAAAAAA' },
      { type: 'extract-acknowledged', ...rr, conversationId, occurredAt: `${day}T11:00:00Z`, ackStatus: 1, ackCode: '0', actingUser: '123456789012' },
    ];
    const outcomes = await pipeline.client.recordEvents(events, { concurrency: 1 });
    expect(outcomes.map((o) => o.status)).toEqual(['accepted', 'accepted', 'accepted', 'accepted']);
    const id = transferWorkflowId('RR', PRACTICE.ods, rr.registrationId);
    const handle = pipeline.client.temporal.workflow.getHandle(id);
    const first = (await handle.result()) as TransferResult;
    expect(first.outcome).toBe('integrated');
    expect(first.events).toHaveLength(4);
    const firstRunId = (await handle.describe()).runId;
    // A brand-new record (its client saw no earlier run) never looked for earlier events: no visibility
    // query, no restore marker in its history.
    expect(await restoreLookups(handle)).toBe(0);
    // The event that started the run was held before the run first looked: no empty run's timer
    // (60 s) and no search-attribute upsert for an empty record, so one upsert per change of stage.
    const history = await handle.fetchHistory();
    const timers = (history.events ?? []).flatMap((e) => (e.timerStartedEventAttributes ? [Number(e.timerStartedEventAttributes.startToFireTimeout?.seconds ?? 0)] : []));
    expect(timers).not.toContain(60);
    const upserts = (history.events ?? []).filter((e) => e.upsertWorkflowSearchAttributesEventAttributes).length;
    expect(upserts).toBeLessThanOrEqual(events.length); // at most one per event (a new stage); 5 before

    // A late failure report for the same registration: a new run that remembers everything.
    const late: HookEvent = { type: 'request-failure', ...rr, occurredAt: `${day}T10:00:00Z`, failurePoint: 30, failureType: 1, fatal: false, errorCode: '99' };
    const [reopened] = await pipeline.client.recordEvents([late]);
    expect(reopened!.status).toBe('accepted');
    const view = await eventually(async () => {
      const v = await pipeline.client.temporal.workflow.getHandle(id).query(transferQuery);
      return v.forwarding ? undefined : v;
    }, 30_000, 'the reopened record');
    expect((await pipeline.client.temporal.workflow.getHandle(id).describe()).runId).not.toBe(firstRunId);
    // The reopened run did look (its client's start was refused under REJECT_DUPLICATE), once.
    expect(await restoreLookups(pipeline.client.temporal.workflow.getHandle(id))).toBe(1);
    expect(view.events).toHaveLength(5);
    expect(view.outcome).toBe('integrated');
    const row = view.rows.find((r) => r.day === day)!.fields;
    expect(row[0]).toBe('RR');
    expect(row).toContain(`${day}T10:00:00`);
    expect(row).toContain(`${day}T11:00:00`);
    // A re-sent old event is recognised as a duplicate even after the reopen.
    const [again] = await pipeline.client.recordEvents([events[0]]);
    expect(again!.status).toBe('duplicate');
  });

  it('gp2gp-mi events send and submit work on the same client, with line numbers and exit codes', async () => {
    const day = new Date(Date.now() - 3 * 86_400_000).toISOString().slice(0, 10);
    const events = generateTraffic({ practices: [PRACTICE.ods], days: [day], registrationsPerPracticeDay: 2, seed: 5, notAfter: new Date().toISOString() });
    const dir = path.dirname(pipeline.practicesFile);
    const file = path.join(dir, 'events.jsonl');
    const lines = events.map((e) => JSON.stringify(e));
    lines.splice(1, 0, '{"type":"registration","practiceOds":"H88008"}', 'not json');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: pipeline.config.temporal.address!,
      TEMPORAL_NAMESPACE: pipeline.config.temporal.namespace,
      TEMPORAL_TASK_QUEUE: pipeline.config.temporal.taskQueue,
      GP2GP_PRACTICES: pipeline.practicesFile,
    };
    const bin = path.join(__dirname, '..', 'bin', 'gp2gp-mi.js');
    // Asynchronous on purpose: the worker runs in this process and must keep polling meanwhile.
    const run = (args: string[]) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [bin, ...args], { env, encoding: 'utf8' }, (err, stdout, stderr) =>
          resolve({ status: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
        );
      });
    const sent = await run(['events', 'send', file]);
    expect(sent.status, sent.stderr).toBe(2);
    expect(sent.stdout).toContain(`${events.length} accepted, 0 duplicate, 2 refused`);
    expect(sent.stderr).toMatch(/events\.jsonl:2: refused: .*occurredAt: missing/);
    expect(sent.stderr).toMatch(/events\.jsonl:3: refused: not JSON/);

    const resent = await run(['events', 'send', '--json', file]);
    const outcomes = resent.stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: number; status: string });
    expect(outcomes.filter((o) => o.status !== 'refused').map((o) => o.status)).toEqual(events.map(() => 'duplicate'));

    // Every transfer forwards its rows before the day is submitted.
    for (const id of new Set(outcomes.flatMap((o) => ('workflowId' in o ? [(o as { workflowId: string }).workflowId] : [])))) {
      await eventually(async () => ((await pipeline.client.temporal.workflow.getHandle(id).query(transferQuery)).forwarding ? undefined : true));
    }
    const submitted = await run(['submit', '--practice', PRACTICE.ods, '--day', day]);
    expect(submitted.status, submitted.stderr).toBe(0);
    const id = /(gp2gp-sub-\S+)/.exec(submitted.stdout)![1]!;
    await eventually(async () => {
      await pipeline.authority.collect();
      const v: SubmissionView = await pipeline.client.temporal.workflow.getHandle(id).query(submissionQuery);
      return v.status === 'delivered' ? true : undefined;
    }, 60_000, 'the submitted day delivered');

    const today = await run(['submit', '--practice', PRACTICE.ods, '--day', new Date().toISOString().slice(0, 10)]);
    expect(today.status).not.toBe(0);
    expect(today.stderr).toMatch(/is not over yet/);
  });
  it('spreads the transfers over the workers GP2GP_TRANSFER_WORKERS starts, each task named by its worker', async () => {
    expect(() => loadConfig({ GP2GP_TRANSFER_WORKERS: '0' })).toThrow(/GP2GP_TRANSFER_WORKERS.*1 to 64/);
    expect(() => loadConfig({ GP2GP_TRANSFER_WORKERS: 'many' })).toThrow(/GP2GP_TRANSFER_WORKERS/);
    expect(pipeline.config.pipeline.transferWorkers).toBe(3);
    const occurredAt = new Date(Date.now() - 60_000).toISOString();
    const ids = Array.from({ length: 12 }, (_, i) => `REG-SPREAD-${i + 1}`);
    const answers = await pipeline.client.recordEvents(
      ids.map((registrationId) => ({ type: 'registration', practiceOds: PRACTICE.ods, registrationId, occurredAt, registrationType: 'new', registeringUser: 'L1' })),
      { concurrency: 12 },
    );
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => 'accepted'));
    const workers = new Set<string>();
    for (const registrationId of ids) {
      const history = await pipeline.client.temporal.workflow.getHandle(transferWorkflowId('RR', PRACTICE.ods, registrationId)).fetchHistory();
      for (const e of history.events ?? []) {
        const identity = e.workflowTaskStartedEventAttributes?.identity;
        if (!identity) continue;
        expect(identity).toMatch(/ transfers [1-3]\/3$/);
        workers.add(identity);
      }
    }
    // Twelve new transfers, each first task taken by whichever worker polled: all on one of three
    // would be a 1-in-177,147 chance.
    expect(workers.size).toBeGreaterThan(1);
    // All three poll the workflow tasks; only the first polls the activity tasks (the API's posts, the
    // inbox's MESH calls), so those run as many at a time as with one worker.
    const pollers = async (taskQueueType: temporal.api.enums.v1.TaskQueueType) => {
      const { pollers: list } = await pipeline.client.temporal.workflowService.describeTaskQueue({
        namespace: pipeline.config.temporal.namespace,
        taskQueue: { name: pipeline.config.temporal.taskQueue },
        taskQueueType,
      });
      return new Set((list ?? []).map((p) => (p.identity ?? '').replace(/^.* (transfers \d\/\d)$/, '$1')));
    };
    expect(await pollers(temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)).toEqual(new Set(['transfers 1/3', 'transfers 2/3', 'transfers 3/3']));
    expect(await pollers(temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)).toEqual(new Set(['transfers 1/3']));
  });

  it('with stack traces on, records short workflow stacks (GP2GP_WORKFLOW_STACK_FRAMES, default 5) that still show where each wait is', async () => {
    expect(() => loadConfig({ GP2GP_WORKFLOW_STACK_FRAMES: 'deep' })).toThrow(/GP2GP_WORKFLOW_STACK_FRAMES/);
    expect(() => loadConfig({ GP2GP_WORKFLOW_STACK_FRAMES: '2' })).toThrow(/GP2GP_WORKFLOW_STACK_FRAMES.*at least 3/);
    const registrationId = 'REG-STACK-1';
    const [answer] = await pipeline.client.recordEvents([
      { type: 'registration', practiceOds: PRACTICE.ods, registrationId, occurredAt: new Date(Date.now() - 60_000).toISOString(), registrationType: 'new', registeringUser: 'L1' },
    ]);
    expect(answer).toMatchObject({ status: 'accepted' });
    for (const [workflowId, ours] of [
      [transferWorkflowId('RR', PRACTICE.ods, registrationId), 'workflows/transfer.ts'],
      [reportingWorkflowId(PRACTICE.ods), 'workflows/reporting.ts'],
    ] as const) {
      // The SDK's stack-trace query (the Web UI's Stack Trace tab): one block per pending promise.
      const stacks = await pipeline.client.temporal.workflow.getHandle(workflowId).query<string>('__stack_trace');
      const blocks = stacks.split('\n\n').map((b) => b.split('\n').filter((line) => line.trim() !== ''));
      // 5 frames recorded, of which the SDK strips its hook's and Node's (V8's default of 10 showed 8).
      expect(Math.max(...blocks.map((b) => b.length)), stacks).toBeLessThanOrEqual(4);
      expect(stacks).toContain(ours);
      // The promises Promise.race makes inside are linked to it, not shown as blocks of their own (4 did).
      expect(stacks).not.toMatch(/at Function\.(race|all|allSettled|any) \(<anonymous>\)/);
    }
    expect(Error.stackTraceLimit).toBe(MAIN_THREAD_STACK_FRAMES);
  });
});
