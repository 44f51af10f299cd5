/**
 * Operations against the running stack (the run's Temporal dev server and MESH sandbox), through the
 * real `gp2gp-mi` command: visibility finds transfers by practice and conversation ID and submissions
 * by status; a submission failed by an injected MESH fault (MESH refuses the send: 417, code 12) is
 * listed by `submissions list --failed`, replayed by `submissions replay` (one id, and --all-failed),
 * and ends delivered, the Authority's mailbox holding each row once per day; a second replay sends
 * nothing again.
 */
import { syntheticPractice } from '../demo/traffic';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { findWorkflows, showSubmission, submissionsQuery, visibility, waitForSubmission } from '../client/operations';
import type { HookEvent } from '../mi/events';
import { reportingWorkflowId, transferWorkflowId } from '../workflows/ids';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy';
import { eventually, runCli, startPipeline, type TestPipeline } from './support/pipeline';
import { recordSetsOf } from './support/record-sets';

const practice = (ods: string, n: number) => syntheticPractice(ods, `20000000060${n}`);
const REQUESTER = 'P06001';
const SENDER = 'P06002';
/** A practice whose one transfer is integrated, so it completes and is shown from its result. */
const FINISHED = 'P06003';
const SUPPLIER = 'X26SUP006';
const AUTHORITY = 'X26NHS006';

const utcDay = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
const D1 = utcDay(-2);
const D2 = utcDay(-1);
const suffix = randomUUID().slice(0, 8).toUpperCase();
const REG_A = `REG-A-${suffix}`;
const REG_B = `REG-B-${suffix}`;
const CONVERSATION = randomUUID().toUpperCase();
const REG_C = `REG-C-${suffix}`;

/** One transfer between two practices of ours (requester P06001, sender P06002) and one lone registration. */
const EVENTS: HookEvent[] = [
  { type: 'registration', practiceOds: REQUESTER, registrationId: REG_A, occurredAt: `${D1}T09:00:00Z`, registrationType: 'new', registeringUser: 'L12345' },
  { type: 'ehr-requested', practiceOds: REQUESTER, registrationId: REG_A, conversationId: CONVERSATION.toLowerCase(), requestMessageId: randomUUID(), occurredAt: `${D1}T09:05:00Z` },
  { type: 'registration', practiceOds: REQUESTER, registrationId: REG_B, occurredAt: `${D2}T10:00:00Z`, registrationType: 'returning', registeringUser: 'L12345' },
  { type: 'request-received', practiceOds: SENDER, conversationId: CONVERSATION, requestMessageId: randomUUID(), requestingOds: REQUESTER, occurredAt: `${D1}T09:06:00Z` },
  { type: 'ehr-sent', practiceOds: SENDER, conversationId: CONVERSATION, extractMessageId: randomUUID(), largeMessaging: false, occurredAt: `${D2}T08:00:00Z` },
] as HookEvent[];
const FINISHED_EVENTS: HookEvent[] = [
  { type: 'registration', practiceOds: FINISHED, registrationId: REG_C, occurredAt: `${D1}T11:00:00Z`, registrationType: 'new', registeringUser: 'L12345' },
  { type: 'ehr-requested', practiceOds: FINISHED, registrationId: REG_C, conversationId: randomUUID(), requestMessageId: randomUUID(), occurredAt: `${D1}T11:01:00Z` },
  { type: 'ehr-received', practiceOds: FINISHED, registrationId: REG_C, extractMessageId: randomUUID(), occurredAt: `${D1}T11:10:00Z` },
  { type: 'extract-acknowledged', practiceOds: FINISHED, registrationId: REG_C, ackStatus: 1, ackCode: '0', actingUser: 'SYSTEM', occurredAt: `${D1}T12:00:00Z` },
] as HookEvent[];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe('operations: finding, listing and replaying', () => {
  let pipeline: TestPipeline;
  let proxy: FaultProxy;
  const failed: Record<string, string> = {};
  const replayed: Record<string, string> = {};
  const received: string[] = [];

  /** The real command, as an operator runs it, configured for this test's pipeline. */
  const cli = (...args: string[]): Promise<Run> => runCli(pipeline, ...args);
  const cliJson = async (...args: string[]): Promise<any> => {
    const run = await cli(...args, '--json');
    expect(run.stderr, args.join(' ')).toBe('');
    expect(run.code, args.join(' ')).toBe(0);
    return JSON.parse(run.stdout);
  };
  const found = async (query: string) => (await findWorkflows(pipeline.client.temporal, query)).map((w) => w.workflowId).sort();

  beforeAll(async () => {
    // Our MESH traffic goes through a proxy that can refuse a send the way MESH does.
    proxy = await startFaultProxy({ target: inject('meshUrl') });
    pipeline = await startPipeline({
      supplierMailbox: SUPPLIER,
      authorityMailbox: AUTHORITY,
      practices: [practice(REQUESTER, 1), practice(SENDER, 2), practice(FINISHED, 3)],
      // A final transfer completes after about 2 s without events (only FINISHED's is final).
      env: { MESH_URL: proxy.url, GP2GP_TRANSFER_FINAL_QUIET_HOURS: '0.0005' },
    });
    const outcomes = await pipeline.client.recordEvents([...EVENTS, ...FINISHED_EVENTS]);
    expect(outcomes.map((o) => o.status)).toEqual([...EVENTS, ...FINISHED_EVENTS].map(() => 'accepted'));
    for (const ods of [REQUESTER, SENDER]) {
      await eventually(async () => {
        const v = await pipeline.client.reportingStatus(ods);
        return v.pendingDays.includes(D1) && v.pendingDays.includes(D2) ? true : undefined;
      }, 60_000, `${ods} to have ${D1} and ${D2} pending`);
    }
  });
  afterAll(async () => {
    await pipeline?.stop();
    await proxy?.close();
  });

  it('finds transfers by practice and by conversation ID (visibility, and `transfer find`)', async () => {
    const rrA = transferWorkflowId('RR', REQUESTER, REG_A);
    const rrB = transferWorkflowId('RR', REQUESTER, REG_B);
    const sr = transferWorkflowId('SR', SENDER, CONVERSATION);
    await eventually(async () => {
      const ids = await found(visibility.practice(REQUESTER));
      return [rrA, rrB, reportingWorkflowId(REQUESTER)].every((id) => ids.includes(id)) && !ids.includes(sr) ? true : undefined;
    }, 60_000, 'the practice query to find its transfers and reporting workflow');
    // Both sides of one conversation, from two practices: the RR row got the ID from ehr-requested.
    const byConversation = await eventually(async () => {
      const ids = await found(visibility.transferByConversationId(CONVERSATION.toLowerCase()));
      return ids.length === 2 ? ids : undefined;
    }, 60_000, 'the conversation query to find both sides');
    expect(byConversation).toEqual([rrA, sr].sort());
    expect(await found(visibility.transferByRegistrationId(REG_B))).toEqual([rrB]);

    const cliFound = await cliJson('transfer', 'find', '--conversation-id', CONVERSATION);
    expect(cliFound.query).toBe(visibility.transferByConversationId(CONVERSATION));
    expect(cliFound.workflows.map((w: { workflowId: string }) => w.workflowId).sort()).toEqual([rrA, sr].sort());
  });

  it('shows a transfer record: its events and its row per day (`transfer show`)', async () => {
    const rr = await cliJson('transfer', 'show', REQUESTER, REG_A);
    expect(rr).toMatchObject({ side: 'RR', practiceOds: REQUESTER, key: REG_A, stage: 'ehr-requested', executionStatus: 'RUNNING' });
    expect(rr.events.map((e: { type: string }) => e.type).sort()).toEqual(['ehr-requested', 'registration']);
    expect(rr.rows.map((r: { day: string }) => r.day)).toEqual([D1]);
    expect(rr.rows[0].fields[0]).toBe('RR');
    expect(rr.rows[0].fields).toContain(CONVERSATION);

    // SR by conversation ID, in any case; the row changes from day to day.
    const sr = await cliJson('transfer', 'show', SENDER, CONVERSATION.toLowerCase());
    expect(sr).toMatchObject({ side: 'SR', practiceOds: SENDER, key: CONVERSATION, stage: 'ehr-sent' });
    expect(sr.rows.map((r: { day: string }) => r.day)).toEqual([D1, D2]);
    expect(sr.rows[0].fields).not.toEqual(sr.rows[1].fields);

    const text = await cli('transfer', 'show', REQUESTER, REG_A);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`${D1}  RR,`);
    // A completed record is shown from the workflow's result, rows rebuilt as the workflow builds them.
    const handle = pipeline.client.temporal.workflow.getHandle(transferWorkflowId('RR', FINISHED, REG_C));
    await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined), 60_000, `${REG_C} to complete`);
    const done = await cliJson('transfer', 'show', FINISHED, REG_C, '--side', 'rr');
    expect(done).toMatchObject({ side: 'RR', key: REG_C, executionStatus: 'COMPLETED', outcome: 'integrated', stage: 'extract-acknowledged' });
    expect(done.events).toHaveLength(4);
    expect(done.rows.map((r: { day: string }) => r.day)).toEqual([D1]);
    expect(done.rows[0].fields[0]).toBe('RR');

    const missing = await cli('transfer', 'show', REQUESTER, 'NO-SUCH-REG');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no RR or SR transfer record');
    const bad = await cli('transfer', 'show', 'not-ods', REG_A);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/practice: "not-ods" is not an ODS code/);
  });

  it('lists a submission failed by a MESH refusal (`submissions list --failed`), found by its status', async () => {
    // MESH refuses both practices' sends, as it does for an unregistered recipient.
    proxy.addRule({
      method: 'POST',
      path: new RegExp(`/messageexchange/${SUPPLIER}/outbox$`),
      action: { status: 417, body: JSON.stringify({ detail: [{ event: 'SEND', code: '12', msg: 'Unregistered to address' }] }) },
      times: 2,
    });
    const submitted = [
      ...(await pipeline.client.submit({ practiceOds: REQUESTER, days: [D1, D2] })),
      ...(await pipeline.client.submit({ practiceOds: SENDER, days: [D1, D2] })),
    ];
    for (const { practiceOds, result } of submitted) {
      expect(result.submissions).toHaveLength(1);
      expect(result.submissions[0]!.days).toEqual([D1, D2]);
      failed[practiceOds] = result.submissions[0]!.submissionId;
      const ended = await waitForSubmission(pipeline.client.temporal, failed[practiceOds]!);
      expect(ended).toMatchObject({ status: 'failed', executionStatus: 'FAILED', meshMessageIds: [] });
      expect(ended.reason).toMatch(/send failed.*(12|Unregistered)/);
    }
    expect(proxy.pendingRules()).toEqual([]);

    // Visibility by submission status (the README's queries).
    await eventually(async () => {
      const ids = await found(`${visibility.submissionsOfPractice(REQUESTER)} AND GP2GP_SubmissionStatus = "failed"`);
      return ids.length === 1 ? ids : undefined;
    }, 60_000, 'the failed submission in visibility');
    expect(await found(`${visibility.submissionsOfPractice(REQUESTER)} AND GP2GP_SubmissionStatus = "failed"`)).toEqual([failed[REQUESTER]]);
    const everyFailed = await found(visibility.failedSubmissions());
    expect(everyFailed).toEqual(expect.arrayContaining([failed[REQUESTER], failed[SENDER]]));
    expect(await found(`ExecutionStatus = "Failed" AND WorkflowType = "submissionWorkflow" AND GP2GP_PracticeOds = "${SENDER}"`)).toEqual([failed[SENDER]]);
    expect(await found(`${visibility.submissionsOfDay(D1)} AND GP2GP_PracticeOds = "${SENDER}"`)).toEqual([failed[SENDER]]);

    const list = await cliJson('submissions', 'list', '--failed', '--practice', REQUESTER);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ submissionId: failed[REQUESTER], practiceOds: REQUESTER, days: [D1, D2], status: 'failed', meshMessageIds: [] });
    expect(list[0].reason).toMatch(/send failed/);
    const table = await cli('submissions', 'list', '--failed', '--practice', SENDER, '--since', '1d');
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^ID\s+PRACTICE\s+DAYS\s+STATUS\s+REASON\s+MESH MESSAGE ID$/);
    expect(table.stdout).toContain(failed[SENDER]);
    expect(table.stdout).toContain(`${D1},${D2}`);
    const badSince = await cli('submissions', 'list', '--since', 'last tuesday');
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toContain('--since');

    const status = await cliJson('practices', 'status');
    for (const ods of [REQUESTER, SENDER]) {
      const s = status.find((x: { practiceOds: string }) => x.practiceOds === ods);
      expect(s).toMatchObject({ ok: true, pendingDays: expect.arrayContaining([D1, D2]) });
      expect(s.recentFailures[0]).toMatchObject({ submissionId: failed[ods], days: [D1, D2] });
      expect(s.lastDeliveredDay).toBeUndefined();
    }
  });

  it('replays them (`submissions replay <id>` and `--all-failed`) until delivered, each row once per day', async () => {
    const one = await cliJson('submissions', 'replay', failed[REQUESTER]!);
    expect(one.replays).toHaveLength(1);
    expect(one.replays[0]).toMatchObject({ practiceOds: REQUESTER, replayOf: [failed[REQUESTER]], skipped: [] });
    expect(one.replays[0].submissions).toHaveLength(1);
    expect(one.replays[0].submissions[0].days).toEqual([D1, D2]);
    replayed[REQUESTER] = one.replays[0].submissions[0].submissionId;
    expect(replayed[REQUESTER]).not.toBe(failed[REQUESTER]);

    // Scoped to this test's practice: the run's other tests have failed submissions of their own.
    const all = await cli('submissions', 'replay', '--all-failed', '--practice', SENDER);
    expect(all.code).toBe(0);
    const line = /^P06002: replayed (\S+) as (\S+) \((.*)\)$/m.exec(all.stdout);
    expect(line, all.stdout).not.toBeNull();
    expect(line![1]).toBe(failed[SENDER]);
    expect(line![3]).toBe(`${D1}, ${D2}`);
    replayed[SENDER] = line![2]!;

    // The Authority (our stand-in) downloads and acknowledges; the submissions then end delivered.
    for (const ods of [REQUESTER, SENDER]) {
      await eventually(async () => {
        for (const f of await pipeline.authority.collect()) received.push(f.content);
        return (await showSubmission(pipeline.client.temporal, replayed[ods]!)).status === 'delivered' ? true : undefined;
      }, 90_000, `${replayed[ods]} delivered`);
    }

    // Every record set (ODS + date) arrived exactly once, every row in it once.
    const sets: string[] = [];
    const rowsByKey = new Map<string, string[]>();
    for (const content of received) {
      for (const [key, set] of recordSetsOf(content)) {
        sets.push(key);
        rowsByKey.set(key, set.split('\r\n').filter((l) => /^(RR|SR),/.test(l)));
      }
    }
    expect(sets.sort()).toEqual([`${REQUESTER} ${D1}`, `${REQUESTER} ${D2}`, `${SENDER} ${D1}`, `${SENDER} ${D2}`]);
    const rows = (key: string) => rowsByKey.get(key)!;
    expect(rows(`${REQUESTER} ${D1}`)).toHaveLength(1); // REG_A
    expect(rows(`${REQUESTER} ${D2}`)).toHaveLength(1); // REG_B
    expect(rows(`${SENDER} ${D1}`)).toHaveLength(1); // the SR of the conversation
    expect(rows(`${SENDER} ${D2}`)).toHaveLength(1);
    for (const [key, lines] of rowsByKey) expect(new Set(lines).size, key).toBe(lines.length);
    expect(rows(`${REQUESTER} ${D1}`)[0]).toContain(CONVERSATION);

    const shown = await cliJson('submissions', 'show', replayed[REQUESTER]!);
    expect(shown).toMatchObject({ submissionId: replayed[REQUESTER], status: 'delivered', executionStatus: 'COMPLETED', days: [D1, D2] });
    expect(shown.meshMessageIds).toHaveLength(1);
    expect(shown.files[0]).toMatchObject({ acknowledged: true, rows: 2 });
  });

  it('replays nothing twice: delivered days are skipped, a delivered submission needs --force', async () => {
    const again = await cliJson('submissions', 'replay', '--all-failed', '--practice', REQUESTER);
    expect(again.replays).toEqual([
      {
        practiceOds: REQUESTER,
        replayOf: [failed[REQUESTER]],
        submissions: [],
        skipped: [
          { day: D1, reason: expect.stringContaining('delivered since') },
          { day: D2, reason: expect.stringContaining('delivered since') },
        ],
      },
    ]);
    const sameAgain = await cli('submissions', 'replay', failed[SENDER]!);
    expect(sameAgain.code).toBe(0);
    expect(sameAgain.stdout).toContain('nothing to send again');
    const delivered = await cli('submissions', 'replay', replayed[REQUESTER]!);
    expect(delivered.code).toBe(2);
    expect(delivered.stderr).toMatch(/is delivered, not failed; --force/);
    const usage = await cli('submissions', 'replay');
    expect(usage.code).toBe(2);
    const unknown = await cli('submissions', 'show', 'gp2gp-sub-NOPE-20200101-20200101-1');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('not found');

    // Nothing new reached the Authority.
    expect(await pipeline.authority.collect()).toEqual([]);

    // Visibility by status now: one failed and one delivered submission per practice.
    for (const ods of [REQUESTER, SENDER]) {
      await eventually(async () => {
        const ids = await found(submissionsQuery({ practiceOds: ods }));
        return ids.length === 2 ? true : undefined;
      }, 60_000, `${ods}'s two submissions in visibility`);
      expect(await found(`${visibility.submissionsOfPractice(ods)} AND GP2GP_SubmissionStatus = "delivered"`)).toEqual([replayed[ods]]);
      expect(await found(submissionsQuery({ practiceOds: ods, failed: true }))).toEqual([failed[ods]]);
    }
    const list = await cliJson('submissions', 'list', '--practice', REQUESTER);
    expect(list.map((s: { submissionId: string; status: string }) => [s.submissionId, s.status]).sort()).toEqual(
      [
        [failed[REQUESTER], 'failed'],
        [replayed[REQUESTER], 'delivered'],
      ].sort(),
    );

    const status = await cliJson('practices', 'status', '--practice', REQUESTER);
    expect(status[0]).toMatchObject({ ok: true, practiceOds: REQUESTER, lastDeliveredDay: D2 });
    expect(status[0].pendingDays).not.toContain(D1);
    expect(status[0].pendingDays).not.toContain(D2);
  });
  it('replays a submission an operator terminated, whose days were stuck "in flight"', async () => {
    // A late event corrects D1, so the day is due again.
    const late = { type: 'ehr-received', practiceOds: REQUESTER, registrationId: REG_A, extractMessageId: randomUUID(), occurredAt: `${D1}T20:00:00Z` } as HookEvent;
    expect((await pipeline.client.recordEvents([late]))[0]!.status).toBe('accepted');
    await eventually(async () => ((await pipeline.client.reportingStatus(REQUESTER)).pendingDays.includes(D1) ? true : undefined), 60_000, `${D1} due again`);
    const [started] = await pipeline.client.submit({ practiceOds: REQUESTER, days: [D1] });
    const stuck = started!.result.submissions[0]!.submissionId;
    await eventually(async () => ((await showSubmission(pipeline.client.temporal, stuck)).status === 'awaiting-acknowledgement' ? true : undefined), 60_000, 'the send');
    await pipeline.client.temporal.workflow.getHandle(stuck).terminate('operator: stuck, will replay');
    expect((await pipeline.client.reportingStatus(REQUESTER)).inFlight.map((f) => f.submissionId)).toContain(stuck);

    const listed = await eventually(async () => {
      const l = await cliJson('submissions', 'list', '--failed', '--practice', REQUESTER);
      return l.find((x: { submissionId: string }) => x.submissionId === stuck);
    }, 60_000, 'the terminated submission listed as failed');
    expect(listed).toMatchObject({ status: 'failed', executionStatus: 'TERMINATED', days: [D1] });
    expect(listed.reason).toMatch(/terminated/);

    const replay = await cliJson('submissions', 'replay', stuck);
    expect(replay.replays[0]).toMatchObject({ practiceOds: REQUESTER, skipped: [] });
    const replayId = replay.replays[0].submissions[0].submissionId;
    expect(replay.replays[0].submissions[0].days).toEqual([D1]);
    const files: string[] = [];
    await eventually(async () => {
      for (const f of await pipeline.authority.collect()) files.push(f.content);
      return (await showSubmission(pipeline.client.temporal, replayId)).status === 'delivered' ? true : undefined;
    }, 90_000, `${replayId} delivered`);
    // The terminated one had already reached the mailbox: the same record set twice, the later replacing
    // the earlier (MI10), each holding the corrected row once.
    const sets = files.flatMap((f) => [...recordSetsOf(f)]);
    expect(sets.map(([key]) => key)).toEqual([`${REQUESTER} ${D1}`, `${REQUESTER} ${D1}`]);
    expect(sets[1]![1]).toBe(sets[0]![1]);
    const rows = sets[1]![1].split('\r\n').filter((l) => l.startsWith('RR,'));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toContain(`${D1}T20:00:00`);
    // The delivered submission tells its reporting workflow by signal, a moment after its own status.
    const status = await eventually(async () => {
      const v = await pipeline.client.reportingStatus(REQUESTER);
      return v.inFlight.length === 0 ? v : undefined;
    }, 30_000, 'the reporting workflow to hear of the delivery');
    expect(status.inFlight).toEqual([]);
    expect(status.pendingDays).not.toContain(D1);
  });
});
