/**
 * Transfer outcomes on the real stack (issue 15): transfers of two practices with every class — judged
 * by the 14-day rule (one integrated only after the judgement instant), integrated within 3 and 8
 * days and late, technical failures (a fatal code, a NACK), one integrated by an API-only event, some
 * in progress — recorded through the hooks client in the past (the correction window is widened for
 * it). Their reporting workflows keep the counts, and `gp2gp-mi outcomes --json` equals the offline
 * classification (mi/outcomes.ts classifyRecords) of the same events; the console's view counts the
 * overdue transfers and shows a delivered day with its submission.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { syntheticPractice } from '../demo/traffic';
import { showSubmission } from '../client/operations';
import { sinceDay } from '../client/outcomes';
import type { HookEvent } from '../mi/events';
import { classifyRecords, emptyOutcomeCounts, OUTCOME_CLASSES } from '../mi/outcomes';
import { eventually, runCli, startPipeline, type TestPipeline } from './support/pipeline';
import { registrationEvents } from './support/registrations-api';

const REQUESTER = 'P15001';
const SENDER = 'P15002';
/** Also posts to the GP Registrations MI API, with a key the API refuses. */
const DUAL = 'P15003';
const H = 3_600_000;
const D = 24 * H;
/** Fixed for the file: every instant is relative to it, hours away from any boundary of a class. */
const NOW = Date.now();
const at = (daysAgo: number, plusMs = 0) => new Date(NOW - daysAgo * D + plusMs).toISOString();
const suffix = randomUUID().slice(0, 8).toUpperCase();
const guid = () => randomUUID().toUpperCase();

/** One RR transfer of REQUESTER requested `daysAgo`, with the later stages given as [type, ms after the request, fields]. */
function rr(name: string, daysAgo: number, stages: [string, number, Record<string, unknown>?][] = []): HookEvent[] {
  const registrationId = `REG-${name}-${suffix}`;
  const conversationId = guid();
  const base = { practiceOds: REQUESTER, registrationId };
  return [
    { ...base, type: 'registration', occurredAt: at(daysAgo, -H), registrationType: 'new', registeringUser: 'L12345' },
    { ...base, type: 'ehr-requested', occurredAt: at(daysAgo), conversationId, requestMessageId: guid() },
    ...stages.map(([type, after, fields]) => ({ ...base, type, occurredAt: at(daysAgo, after), ...fields })),
  ] as HookEvent[];
}
const received = (after: number): [string, number, Record<string, unknown>] => ['ehr-received', after, { extractMessageId: guid() }];
const acked = (after: number, ackCode = '0'): [string, number, Record<string, unknown>] => [
  'extract-acknowledged',
  after,
  { ackStatus: ackCode === '0' ? 1 : 7, ackCode, actingUser: 'SYSTEM' },
];

/** One SR transfer of `practiceOds` received `daysAgo`, with later stages as for rr(). */
function sr(practiceOds: string, daysAgo: number, stages: [string, number, Record<string, unknown>?][] = []): HookEvent[] {
  const conversationId = guid();
  return [
    { type: 'request-received', practiceOds, conversationId, requestMessageId: guid(), requestingOds: 'B23456', occurredAt: at(daysAgo) },
    ...stages.map(([type, after, fields]) => ({ type, practiceOds, conversationId, occurredAt: at(daysAgo, after), ...fields })),
  ] as HookEvent[];
}
const sent: [string, number, Record<string, unknown>] = ['ehr-sent', H, { extractMessageId: guid(), largeMessaging: false }];

const EVENTS: HookEvent[] = [
  ...rr('3D', 10, [received(H), acked(2 * D)]),
  ...rr('8D', 12, [received(2 * H), acked(6 * D)]),
  ...rr('LATE', 15, [received(3 * H), acked(10 * D)]),
  // Integrated half a day after the judgement instant: the Authority counts a process failure.
  ...rr('AFTER', 15, [received(H), acked(14.5 * D)]),
  ...rr('FATAL', 5, [['request-failure', H, { failurePoint: 30, failureType: 1, fatal: true, errorCode: '06' }]]),
  ...rr('NACK', 4, [received(H), acked(D, '30')]),
  // Integrated, said only by an API-only event (MESH rows ignore it).
  ...rr('OUTCOME', 3, [received(H), ['integration-outcome', D, { outcome: 'INTEGRATED' }]]),
  // Requested two days ago, no extract: in progress and overdue (24 h).
  ...rr('OPEN', 2),
  // A registration alone is no transfer.
  { type: 'registration', practiceOds: REQUESTER, registrationId: `REG-ONLY-${suffix}`, occurredAt: at(1), registrationType: 'new', registeringUser: 'L12345' } as HookEvent,
  ...sr(REQUESTER, 3, [sent, ['conversation-closed', D]]),
  ...sr(SENDER, 9, [sent, ['conversation-closed', 2 * D]]),
  // Sent, never closed, and judged: a process failure.
  ...sr(SENDER, 15, [sent]),
  ...sr(SENDER, 6, [['extract-failure', 2 * H, { failurePoint: 30, failureType: 2, fatal: true, errorCode: '10' }]]),
  // Received a few hours short of a day ago: in progress, not yet overdue.
  ...sr(SENDER, 1, [['request-acknowledged', 60_000, { ackCode: '0' }]]).map((e) => ({ ...e, occurredAt: new Date(Date.parse(e.occurredAt) + 6 * H).toISOString() }) as HookEvent),
  // Integrated the day it was requested, 8 days ago; with what the API needs of a registration.
  ...registrationEvents(DUAL, `REG-DUAL-${suffix}`, guid(), at(8).slice(0, 10)),
];

describe('gp2gp-mi outcomes: the Authority\'s classes, kept by the reporting workflows', () => {
  let pipeline: TestPipeline;
  const cli = (...args: string[]) => runCli(pipeline, ...args);
  const cliJson = async (...args: string[]): Promise<any> => {
    const run = await cli(...args, '--json');
    expect(run.stderr, args.join(' ')).toBe('');
    expect(run.code, args.join(' ')).toBe(0);
    return JSON.parse(run.stdout);
  };

  beforeAll(async () => {
    pipeline = await startPipeline({
      supplierMailbox: 'X26SUP015',
      authorityMailbox: 'X26NHS015',
      practices: [
        syntheticPractice(REQUESTER, '200000001501'),
        syntheticPractice(SENDER, '200000001502'),
        syntheticPractice(DUAL, '200000001503', { outputs: 'both' }),
      ],
      env: {
        // Transfers requested 15 days ago (judged yesterday) can still be recorded.
        GP2GP_CORRECTION_WINDOW_DAYS: '20',
        GP2GP_REGISTRATIONS_API_URL: inject('registrationsApiUrl'),
        GP2GP_REGISTRATIONS_API_KEY: 'not-the-key',
        // This file's instants are relative to now, some of them on today's date: handed over with each
        // event, so the counts are complete at once (the day's hand-over point: pipeline.hand-over.test.ts).
        GP2GP_HAND_OVER_AT: 'immediate',
      },
    });
    const outcomes = await pipeline.client.recordEvents(EVENTS);
    expect(outcomes.filter((o) => o.status !== 'accepted')).toEqual([]);
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('--json equals the offline classification of the same events', async () => {
    const expected = classifyRecords(EVENTS, NOW);
    // Every class is exercised, on both roles.
    expect(expected.map((p) => p.practiceOds)).toEqual([REQUESTER, SENDER, DUAL]);
    expect(expected[0]!.bySide.RR).toEqual({
      'integrated-3d': 2,
      'integrated-8d': 1,
      'integrated-late': 1,
      'technical-failure': 2,
      'process-failure': 1,
      'in-progress': 1,
    });
    expect(expected[1]!.bySide.SR).toEqual({ ...emptyOutcomeCounts(), 'integrated-3d': 1, 'process-failure': 1, 'technical-failure': 1, 'in-progress': 1 });

    // The summaries reach the reporting workflows with the rows: counted once all have arrived.
    const report = await eventually(async () => {
      const r = await cliJson('outcomes');
      return JSON.stringify(r.practices) === JSON.stringify(expected) ? r : undefined;
    }, 90_000, 'outcomes --json to count every transfer');
    expect(report.practices).toEqual(expected);
    const totals = emptyOutcomeCounts();
    for (const p of expected) for (const c of OUTCOME_CLASSES) totals[c] += p.outcomes[c];
    expect(report.totals).toEqual(totals);
    expect(report.since).toBe(sinceDay(28, Date.parse(report.asOf)));

    // A shorter period counts fewer, exactly as the classification of the same days does.
    const week = await cliJson('outcomes', '--since', '1w', '--practice', REQUESTER);
    expect(week.practices).toEqual(classifyRecords(EVENTS, Date.parse(week.asOf), { sinceDay: week.since }).filter((p) => p.practiceOds === REQUESTER));
    expect(week.practices[0].outcomes['integrated-late']).toBe(0);
    expect(week.practices[0].outcomes['in-progress']).toBe(1);
  });

  it('prints a table per practice with the service totals; refuses bad options naming them', async () => {
    const text = await cli('outcomes');
    expect(text.code).toBe(0);
    const lines = text.stdout.trim().split('\n');
    expect(lines[1]).toMatch(/^PRACTICE\s+≤3 DAYS\s+≤8 DAYS\s+LATE\s+TECHNICAL\s+PROCESS\s+IN PROGRESS\s+TOTAL$/);
    // The requester's own SR record counts too (roles together; --json has them apart).
    expect(lines[2]!.split(/\s+/)).toEqual([REQUESTER, '3', '1', '1', '2', '1', '1', '9']);
    expect(lines[3]!.split(/\s+/)).toEqual([SENDER, '1', '0', '0', '1', '1', '1', '4']);
    expect(lines[4]!.split(/\s+/)).toEqual([DUAL, '1', '0', '0', '0', '0', '0', '1']);
    expect(lines[5]!.split(/\s+/)).toEqual(['SERVICE', '5', '1', '1', '3', '2', '2', '14']);

    const badSince = await cli('outcomes', '--since', 'last month');
    expect(badSince.code).toBe(2);
    expect(badSince.stderr).toContain('--since: "last month" is not allowed; allowed: a number of days or weeks back from today, e.g. 28d or 4w');
    expect((await cli('outcomes', '--since', '64d')).code).toBe(2);
    const unknown = await cli('outcomes', '--practice', 'Z99999');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('practice Z99999 is not configured');
  });

  it('the console view: overdue transfers, and a day delivered with its submission', async () => {
    const requester = await pipeline.client.practiceConsole(REQUESTER);
    const sender = await pipeline.client.practiceConsole(SENDER);
    expect(requester.overdueTransfers).toBe(1);
    expect(sender.overdueTransfers).toBe(0);
    expect(requester.apiPostsFailed).toBe(0);
    // The API refused DUAL's first post after its rows went: the transfer forwards its summary again
    // for that alone.
    await eventually(async () => ((await pipeline.client.practiceConsole(DUAL)).apiPostsFailed === 1 ? true : undefined), 60_000, `${DUAL}'s failed post in its console view`);

    // Reporting began today: earlier days with rows are pending, earlier days without any not reported.
    const withRows = at(9).slice(0, 10); // SENDER's request of 9 days ago
    const quiet = at(4).slice(0, 10); // no event of SENDER that day
    const dayIn = async (day: string) => (await pipeline.client.practiceConsole(SENDER, { calendarDays: 20 })).calendar.find((d) => d.day === day);
    expect((await pipeline.client.practiceConsole(SENDER, { calendarDays: 20 })).calendar).toHaveLength(20);
    expect(await dayIn(quiet)).toEqual({ day: quiet, state: 'not-reported' });
    expect(await dayIn(withRows)).toEqual({ day: withRows, state: 'pending' });

    const [submitted] = await pipeline.client.submit({ practiceOds: SENDER, days: [withRows] });
    const submissionId = submitted!.result.submissions[0]!.submissionId;
    expect(await dayIn(withRows)).toEqual({ day: withRows, state: 'in-flight', submissionId });
    await eventually(async () => {
      await pipeline.authority.collect();
      return (await showSubmission(pipeline.client.temporal, submissionId)).status === 'delivered' ? true : undefined;
    }, 90_000, `${submissionId} delivered`);
    const delivered = await eventually(async () => {
      const day = await dayIn(withRows);
      return day?.state === 'delivered' ? day : undefined;
    }, 30_000, 'the calendar to show the day delivered');
    expect(delivered).toEqual({ day: withRows, state: 'delivered', submissionId });
    expect((await pipeline.client.practiceConsole(SENDER)).failingSubmissions).toBe(0);
  });

  it("an idle practice's view is as of the caller's time, not its last workflow task", async () => {
    // REQUESTER has had nothing to do for a while; its workflow clock stopped at its last task.
    await new Promise((r) => setTimeout(r, 3_000));
    const before = Date.now();
    const view = await pipeline.client.practiceConsole(REQUESTER);
    expect(Date.parse(view.asOf)).toBeGreaterThanOrEqual(before - 1_000);
  });
});
