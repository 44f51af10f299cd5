/**
 * A simulated month (issue 14): 20 practices × 31 days on the real Temporal dev server and the real
 * MESH sandbox, day by day in order, through the real hooks client, worker, reporting, submissions and
 * MESH — and at the end the Authority's latest record set of every ODS + date equals the offline render
 * of all the events: lost 0, duplicated 0, every history well inside Temporal's limits.
 *
 * Why the dev server and not the time-skipping test server: every hook event is an Update
 * (update-with-start), which the time-skipping test server does not handle reliably. So time is
 * shortened instead of skipped:
 * - the days are the 31 UTC days before today (backdated events; the correction window widened to 40
 *   days so the first day's events are accepted, and reporting starts on the month's first day,
 *   GP2GP_FIRST_DAY); each simulated day takes a few real seconds;
 * - a simulated day is: that day's hook events (demo/traffic.ts), late events for transfers that have
 *   completed, then the submissions the cadence makes at 00:05 the next day — every practice's due days
 *   up to that day for daily practices, and for weekly ones only at their Monday turn (the days up to
 *   Sunday) — through the client's `submit`, since the workflows' own cadence timers run on real time;
 * - a final transfer completes after 8 s without events (14 days in production), an unfinished one
 *   after 30 s (60 days), so transfers complete during the run and late events reopen them;
 * - the continue-as-new thresholds are lowered (40 signals per reporting run, 2 events per transfer
 *   run, 20 polls per inbox run: GP2GP_*_PER_RUN) so every long-lived workflow continues as new
 *   several times within the month;
 * - MESH is unreachable for three consecutive simulated days (72 hours): the worker reaches MESH through
 *   a TCP relay whose port is closed for that time (the sandbox other test files use keeps running).
 *   The submissions of those days keep failing to send (their send activity retried with backoff, the
 *   designed answer to a transient fault) and none reaches the Authority; when MESH is back they go out,
 *   and the days that became due meanwhile go with the next turn.
 *
 * The Authority side (stack/authority.ts) collects and acknowledges files all the time, straight from
 * the sandbox. What it received is judged like NHS England's loader: per ODS + date the latest record
 * set wins. (The workflows' own cadence runs on real time: a run spanning 00:05 UTC also sees it report
 * the real yesterday, a day after the month; that record set is compared with the render as well.)
 */
import * as path from 'node:path';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { generateTraffic, syntheticPractice } from '../demo/traffic';
import { mapConcurrent } from '../client/concurrency';
import { recordKeyOf, utcDayOf, type HookEvent } from '../mi/events';
import type { PracticeSettings } from '../mi/practices';
import { transferQuery } from '../messages/transfer';
import { inboxWorkflowId, reportingWorkflowId, submissionOfLocalId, transferWorkflowId } from '../workflows/ids';
import { offlineRender } from './support/offline-render';
import { startOutageProxy, type OutageProxy } from './support/outage-proxy';
import { eventually, startPipeline, type TestPipeline } from './support/pipeline';
import { recordSetsOf } from './support/record-sets';

const DAY_MS = 86_400_000;
const SUPPLIER = 'X26SUP071';
const AUTHORITY = 'X26NHS071';
/** 20 practices: every third one reports weekly, the others daily. */
const PRACTICES: PracticeSettings[] = Array.from({ length: 20 }, (_, i) =>
  syntheticPractice(`M31${String(i + 1).padStart(3, '0')}`, `2000000310${String(i + 1).padStart(2, '0')}`, { cadence: i % 3 === 2 ? 'weekly' : 'daily' }),
);
const ODS = PRACTICES.map((p) => p.ods);
const START = Date.now();
/** The month: the 31 UTC days before today, oldest first. */
const DAYS = Array.from({ length: 31 }, (_, i) => new Date(START - (31 - i) * DAY_MS).toISOString().slice(0, 10));
const FIRST = DAYS[0]!;
const LAST = DAYS[30]!;
const isSunday = (day: string) => new Date(`${day}T00:00:00Z`).getUTCDay() === 0;
/** Three consecutive days, the middle one a Sunday, so weekly practices' turn falls in the outage too. */
const OUTAGE_START = DAYS.findIndex((d, i) => i >= 13 && isSunday(d)) - 1;
const OUTAGE = new Set([OUTAGE_START, OUTAGE_START + 1, OUTAGE_START + 2]);

const FINAL_QUIET_S = 8;
const IDLE_S = 30;
const SIGNALS_PER_RUN = 40;
const EVENTS_PER_RUN = 2;
const POLLS_PER_RUN = 20;
/** Sane bounds per run, far inside Temporal's 51,200 events / 50 MB. */
const MAX_HISTORY_EVENTS = 10_000;
const MAX_HISTORY_BYTES = 5 * 1024 * 1024;

const transferIdOf = (e: HookEvent) => {
  const { side, practiceOds, key } = recordKeyOf(e);
  return transferWorkflowId(side, practiceOds, key);
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One record set as the Authority received it, in the order it was collected. */
interface Received {
  key: string;
  content: string;
  localId: string;
  messageId: string;
  /** Sequence of the submission within its practice (the last part of the submission id). */
  sequence: number;
}

/** Rows reach the reporting workflows asynchronously: waits until these transfers have forwarded them. */
async function waitForForwarding(client: Client, events: HookEvent[]): Promise<void> {
  await mapConcurrent([...new Set(events.map(transferIdOf))], 16, (id) =>
    eventually(async () => ((await client.workflow.getHandle(id).query(transferQuery)).forwarding ? undefined : true), 60_000, `${id} to forward its rows`),
  );
}

/** Every execution (all runs) on the task queues (transfers', reporting's), from visibility. */
async function executionsOn(client: Client, taskQueues: string[]): Promise<WorkflowExecutionInfo[]> {
  const out: WorkflowExecutionInfo[] = [];
  const query = taskQueues.map((q) => `TaskQueue = '${q}'`).join(' OR ');
  for await (const e of client.workflow.list({ query, pageSize: 1000 })) out.push(e);
  return out;
}

describe('a simulated month: 20 practices × 31 days', () => {
  let pipeline: TestPipeline;
  let proxy: OutageProxy;

  beforeAll(async () => {
    proxy = await startOutageProxy({ target: inject('meshUrl') });
    pipeline = await startPipeline({
      supplierMailbox: SUPPLIER,
      authorityMailbox: AUTHORITY,
      practices: PRACTICES,
      env: {
        // The worker reaches MESH through the relay that the outage closes.
        MESH_URL: proxy.url,
        GP2GP_FIRST_DAY: FIRST,
        GP2GP_CORRECTION_WINDOW_DAYS: '40',
        GP2GP_TRANSFER_FINAL_QUIET_HOURS: String(FINAL_QUIET_S / 3600),
        GP2GP_TRANSFER_IDLE_HOURS: String(IDLE_S / 3600),
        GP2GP_REPORTING_SIGNALS_PER_RUN: String(SIGNALS_PER_RUN),
        GP2GP_TRANSFER_EVENTS_PER_RUN: String(EVENTS_PER_RUN),
        GP2GP_INBOX_POLLS_PER_RUN: String(POLLS_PER_RUN),
      },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    await proxy?.close();
  });

  it('delivers the latest record set of every ODS + date equal to the offline render: lost 0, duplicated 0', { timeout: 20 * 60_000 }, async () => {
    const { client } = pipeline;
    const temporal = client.temporal;
    const taskQueue = pipeline.config.temporal.taskQueue;
    expect(OUTAGE_START).toBeGreaterThan(10);
    expect(OUTAGE_START + 2).toBeLessThan(28);

    // The reporting workflows run with each practice's cadence, from the month's first day.
    for (const p of PRACTICES) {
      const view = await eventually(() => client.reportingStatus(p.ods).catch(() => undefined), 60_000, `reporting of ${p.ods}`);
      expect(view.cadence).toBe(p.cadence);
    }

    // ---- the month's traffic, and the late events held back from it --------------------------------
    const traffic = generateTraffic({ practices: ODS, days: DAYS, registrationsPerPracticeDay: 1, seed: 2031, notAfter: `${LAST}T23:59:59Z` });
    const byTransfer = new Map<string, HookEvent[]>();
    for (const e of traffic) byTransfer.set(transferIdOf(e), [...(byTransfer.get(transferIdOf(e)) ?? []), e]);
    const lastDayOf = (id: string) => byTransfer.get(id)!.map((e) => utcDayOf(e.occurredAt)).sort().at(-1)!;
    // Late: the request acknowledgement of some closed SR transfers and the extract's arrival of some
    // integrated RR transfers, sent only once their transfer has completed (final and quiet).
    const late = new Map<HookEvent, string>();
    const pickLate = (side: 'SR' | 'RR', type: string, finalType: string) => {
      const candidates = [...byTransfer.entries()].filter(
        ([id, events]) =>
          id.startsWith(`gp2gp-${side.toLowerCase()}-`) &&
          events.some((e) => e.type === type) &&
          events.some((e) => e.type === finalType && (e.type !== 'extract-acknowledged' || e.ackCode === '0')) &&
          !events.some((e) => e.type === 'fragments-received' || e.type === 'fragments-sent') &&
          lastDayOf(id) <= DAYS[24]!,
      );
      // Eight of each, spread over the month.
      for (let j = 0; j < 8; j++) {
        const [id, events] = candidates[Math.floor((j * candidates.length) / 8)]!;
        late.set(events.find((e) => e.type === type)!, id);
      }
    };
    pickLate('SR', 'request-acknowledged', 'conversation-closed');
    pickLate('RR', 'ehr-received', 'extract-acknowledged');
    expect(late.size).toBe(16);
    const onTime = traffic.filter((e) => !late.has(e));
    const byDay = new Map<string, HookEvent[]>();
    for (const e of onTime) byDay.set(utcDayOf(e.occurredAt), [...(byDay.get(utcDayOf(e.occurredAt)) ?? []), e]);

    // ---- the Authority: collects and acknowledges all the time, straight from the sandbox -----------
    const received: Received[] = [];
    const collectorErrors: string[] = [];
    let collecting = true;
    const collectOnce = async () => {
      for (const file of await pipeline.authority.collect()) {
        const localId = file.metadata.localId ?? '';
        const sequence = Number(/-(\d+)$/.exec(submissionOfLocalId(localId) ?? '')?.[1] ?? NaN);
        for (const [key, content] of recordSetsOf(file.content)) received.push({ key, content, localId, messageId: file.messageId, sequence });
      }
    };
    const collector = (async () => {
      while (collecting) {
        await collectOnce().catch((err: Error) => collectorErrors.push(err.message));
        await sleep(250);
      }
    })();

    // ---- sending events, as a GP system does: each transfer's stages in order ------------------------
    const sentPerTransfer = new Map<string, number>();
    let eventsSent = 0;
    let resends = 0;
    /** Resends for an update the server aborted as the transfer's run ended: the client sends those again itself. */
    let runEndResends = 0;
    const resendReasons = new Set<string>();
    const resentTo = new Set<string>();
    const resentAnswers = { accepted: 0, duplicate: 0 };
    const send = async (events: HookEvent[]) => {
      const groups = new Map<string, HookEvent[]>();
      for (const e of events) groups.set(transferIdOf(e), [...(groups.get(transferIdOf(e)) ?? []), e]);
      await mapConcurrent([...groups.values()], 64, async (group) => {
        for (const event of group.sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt))) {
          for (let attempt = 1; ; attempt++) {
            try {
              const outcome = await client.recordEvent(event);
              // A resend after an answer that never came may find the event already recorded.
              expect(outcome.status === 'accepted' || (attempt > 1 && outcome.status === 'duplicate'), JSON.stringify(outcome)).toBe(true);
              if (attempt > 1) resentAnswers[outcome.status === 'accepted' ? 'accepted' : 'duplicate']++;
              break;
            } catch (err) {
              // Not a refusal: Temporal did not answer in time. A GP system sends the event again.
              if (attempt >= 3) throw err;
              resends++;
              if (/unexpected workflow task failure|update was aborted/.test((err as Error).message)) runEndResends++;
              resendReasons.add(`${(err as Error).name}: ${(err as Error).message}`.slice(0, 200));
              resentTo.add(transferIdOf(event));
              await sleep(1_000);
            }
          }
          eventsSent++;
          sentPerTransfer.set(transferIdOf(event), (sentPerTransfer.get(transferIdOf(event)) ?? 0) + 1);
        }
      });
    };

    // ---- late events: reopen completed transfers --------------------------------------------------
    let reopenedByLateEvents = 0;
    /** ODS + date already at the Authority when a late event of that day arrived: must be corrected. */
    const correctionsDue = new Map<string, number>();
    const sendLate = async (throughDay: number, wait: boolean): Promise<HookEvent[]> => {
      const sent: HookEvent[] = [];
      if (throughDay < 0) return sent;
      for (const [event, id] of [...late]) {
        if (lastDayOf(id) > DAYS[throughDay]!) continue;
        const completed = async () => {
          const d = await temporal.workflow.getHandle(id).describe();
          if (d.status.name !== 'COMPLETED') return undefined;
          // The completion is visible too (a reopened run finds its record through visibility).
          for await (const e of temporal.workflow.list({ query: `WorkflowId = '${id}' AND ExecutionStatus = 'Completed'`, pageSize: 1 })) {
            if (e.runId === d.runId) return d.runId;
          }
          return undefined;
        };
        const completedRun = wait ? await eventually(completed, 120_000, `${id} to complete after its quiet period`) : await completed();
        if (!completedRun) continue;
        const key = `${event.practiceOds} ${utcDayOf(event.occurredAt)}`;
        const before = received.filter((r) => r.key === key).length;
        await send([event]);
        late.delete(event);
        sent.push(event);
        if (before > 0) correctionsDue.set(key, before);
        // Reopened: a new run, holding the completed run's events and the late one.
        const d = await temporal.workflow.getHandle(id).describe();
        expect(d.runId).not.toBe(completedRun);
        const view = await temporal.workflow.getHandle(id).query(transferQuery);
        expect(view.events.length, `${id} restored its record`).toBe(sentPerTransfer.get(id));
        expect(view.events.length).toBe(byTransfer.get(id)!.length);
        reopenedByLateEvents++;
      }
      return sent;
    };

    // ---- the cadence: what each practice's turn at 00:05 after `day` sends --------------------------
    const submissions: string[] = [];
    const turn = async (dayIndex: number, everyone = false): Promise<string[]> => {
      const day = DAYS[dayIndex]!;
      const due = PRACTICES.filter((p) => everyone || p.cadence === 'daily' || isSunday(day));
      const started = await mapConcurrent(due, 8, async (p) => {
        const view = await client.reportingStatus(p.ods);
        const days = view.pendingDays.filter((d) => d <= day);
        if (!days.length) return [];
        const [result] = await client.submit({ practiceOds: p.ods, days });
        return result!.result.submissions.map((s) => s.submissionId);
      });
      const ids = started.flat();
      submissions.push(...ids);
      return ids;
    };
    const delivered = async (ids: string[], timeoutMs = 90_000) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`submissions not delivered within ${timeoutMs} ms: ${ids.join(', ')}`)), timeoutMs)));
      try {
        const results = await Promise.race([Promise.all(ids.map((id) => temporal.workflow.getHandle(id).result())), timeout]);
        results.forEach((r, i) => expect(r, ids[i]).toMatchObject({ status: 'delivered' }));
      } finally {
        clearTimeout(timer);
      }
    };

    // ---- the month, day by day ----------------------------------------------------------------------
    const outageSubmissions: string[] = [];
    let outageBegan = 0;
    let outageEnded = 0;
    let receivedBeforeOutage = 0;
    let failedSendAttempts = 0;
    for (let k = 0; k < DAYS.length; k++) {
      const day = DAYS[k]!;
      const todays = byDay.get(day) ?? [];
      const t0 = Date.now();
      await send(todays);
      const t1 = Date.now();
      const lateToday = await sendLate(k - 1, false);
      const t2 = Date.now();
      await waitForForwarding(temporal, [...todays, ...lateToday]);
      const t3 = Date.now();

      if (k === OUTAGE_START) {
        await proxy.down();
        outageBegan = Date.now();
        receivedBeforeOutage = received.length;
      }
      const started = await turn(k);
      if (OUTAGE.has(k)) {
        outageSubmissions.push(...started);
        // Each keeps trying: its send activity has failed at least once because MESH is unreachable.
        for (const id of started) {
          await eventually(async () => {
            const d = await temporal.workflow.getHandle(id).describe();
            const send = d.raw.pendingActivities?.find((a) => a.activityType?.name === 'sendSubmissionFiles');
            return d.status.name === 'RUNNING' && send && (send.attempt ?? 0) >= 2 && send.lastFailure ? true : undefined;
          }, 60_000, `${id} to fail to reach MESH`);
        }
        if (k === OUTAGE_START + 2) {
          for (const id of outageSubmissions) {
            const d = await temporal.workflow.getHandle(id).describe();
            failedSendAttempts += (d.raw.pendingActivities?.find((a) => a.activityType?.name === 'sendSubmissionFiles')?.attempt ?? 1) - 1;
          }
          await collectOnce();
          // Nothing of ours reached the Authority while MESH was unreachable.
          expect(received.length).toBe(receivedBeforeOutage);
          await proxy.up();
          outageEnded = Date.now();
        }
      } else {
        await delivered(started);
      }
      const t4 = Date.now();
      console.log(
        `day ${k + 1} ${day}${OUTAGE.has(k) ? ' (MESH unreachable)' : ''}: ${todays.length} events ${t1 - t0} ms, ${lateToday.length} late ${t2 - t1} ms, ` +
          `forwarded ${t3 - t2} ms, ${started.length} submissions ${t4 - t3} ms`,
      );
    }
    // MESH is back: every submission of the outage goes out.
    await delivered(outageSubmissions, 180_000);

    // After the month: the late events still held (their transfers complete first), then every
    // practice's next turn (weekly ones: the Monday after the month's last week), until nothing is due.
    const lastLate = await sendLate(30, true);
    await waitForForwarding(temporal, lastLate);
    expect(late.size).toBe(0);
    for (let round = 0; ; round++) {
      const started = await turn(30, true);
      if (!started.length) break;
      expect(round, 'a turn after the month that still finds days due').toBeLessThan(3);
      await delivered(started);
    }
    for (const ods of ODS) {
      const view = await client.reportingStatus(ods);
      expect(view.pendingDays.filter((d) => d <= LAST), ods).toEqual([]);
      expect(view.inFlight, ods).toEqual([]);
      expect(view.recentFailures, ods).toEqual([]);
    }
    await sleep(500);
    collecting = false;
    await collector;
    await collectOnce();
    expect(collectorErrors).toEqual([]);

    // ---- the Authority's latest record set of every ODS + date vs the offline render ----------------
    const allEvents = traffic;
    // A run that spans 00:05 UTC also sees the workflows' own cadence (real time) report the real
    // yesterday, a day after the month without events: it is rendered and compared too.
    const through = received.map((r) => r.key.slice(-10)).reduce((a, b) => (b > a ? b : a), LAST);
    const rendered = offlineRender(allEvents, pipeline.practicesFile, FIRST, through, path.dirname(pipeline.practicesFile));
    const expected = new Map([...rendered].filter(([key]) => key.slice(-10) <= LAST));
    expect(expected.size).toBe(ODS.length * DAYS.length);
    const afterMonth = [...new Set(received.map((r) => r.key))].filter((key) => key.slice(-10) > LAST);
    const latest = new Map<string, Received>();
    const deliveries = new Map<string, Received[]>();
    for (const r of received) {
      const earlier = latest.get(r.key);
      // Collected in the order sent: a later delivery of a day comes from a later submission.
      if (earlier) expect(r.sequence, r.key).toBeGreaterThan(earlier.sequence);
      latest.set(r.key, r);
      deliveries.set(r.key, [...(deliveries.get(r.key) ?? []), r]);
    }
    const lost = [...expected.keys()].filter((key) => latest.get(key)?.content !== expected.get(key));
    let lostRows = 0;
    for (const key of lost) {
      const got = new Set(latest.get(key)?.content.split('\r\n') ?? []);
      lostRows += expected.get(key)!.split('\r\n').filter((l) => /^(RR|SR),/.test(l) && !got.has(l)).length;
    }
    // Duplicated: a row twice in a record set, a record set of an ODS + date not expected, one sent
    // again unchanged, or a MESH message received twice.
    const rowTwice = received.filter((r) => {
      const rows = r.content.split('\r\n').filter((l) => /^(RR|SR),/.test(l));
      return new Set(rows).size !== rows.length;
    });
    const unexpected = received.filter((r) => !rendered.has(r.key));
    const afterMonthDifferent = afterMonth.filter((key) => latest.get(key)!.content !== rendered.get(key));
    const sentAgainUnchanged = [...deliveries.values()].flatMap((list) => list.filter((r, i) => i > 0 && r.content === list[i - 1]!.content));
    const messages = new Set(received.map((r) => `${r.messageId} ${r.key}`));
    const localIds = new Map<string, string>();
    for (const r of received) localIds.set(r.localId, localIds.get(r.localId) ?? r.messageId);
    const sentTwice = received.filter((r) => localIds.get(r.localId) !== r.messageId);
    const duplicated = rowTwice.length + unexpected.length + afterMonthDifferent.length + sentAgainUnchanged.length + (received.length - messages.size) + sentTwice.length;
    const corrections = [...deliveries.values()].reduce((n, list) => n + list.length - 1, 0);
    const correctedKeys = [...deliveries.entries()].filter(([, list]) => list.length > 1).map(([key]) => key);

    // ---- runs, continue-as-new, reopenings, completions, history sizes -------------------------------
    const executions = await executionsOn(temporal, [taskQueue, pipeline.config.temporal.reportingTaskQueue]);
    const runsOf = new Map<string, WorkflowExecutionInfo[]>();
    for (const e of executions) runsOf.set(e.workflowId, [...(runsOf.get(e.workflowId) ?? []), e]);
    for (const runs of runsOf.values()) runs.sort((a, b) => a.startTime.getTime() - b.startTime.getTime());
    const continuedAsNew = (id: string) => (runsOf.get(id) ?? []).filter((r) => r.status.name === 'CONTINUED_AS_NEW').length;
    const reportingCan = ODS.map((ods) => continuedAsNew(reportingWorkflowId(ods)));
    const inboxCan = continuedAsNew(inboxWorkflowId(SUPPLIER));
    const transferIds = [...runsOf.keys()].filter((id) => /^gp2gp-(rr|sr)-/.test(id));
    const transferCan = transferIds.map(continuedAsNew);
    const transferRuns = transferIds.flatMap((id) => runsOf.get(id)!);
    const completedTransferRuns = transferRuns.filter((r) => r.status.name === 'COMPLETED').length;
    const reopenings = transferIds.reduce((n, id) => n + runsOf.get(id)!.filter((r, i, runs) => i > 0 && runs[i - 1]!.status.name === 'COMPLETED').length, 0);
    // Sizes: visibility has them for closed runs; a running one (or one visibility lacks) is described.
    const sizes = await mapConcurrent(executions, 16, async (e) => {
      if (e.status.name !== 'RUNNING' && e.historyLength > 0 && e.historySize) return { id: e.workflowId, events: e.historyLength, bytes: e.historySize };
      const d = await temporal.workflow.getHandle(e.workflowId, e.runId).describe();
      return { id: e.workflowId, events: d.historyLength, bytes: d.historySize ?? 0 };
    });
    const biggestByEvents = sizes.reduce((a, b) => (b.events > a.events ? b : a));
    const biggestByBytes = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a));

    // Why an event needed sending again: the workflow task failures in those transfers' histories.
    const taskFailures = new Map<string, number>();
    for (const id of [...resentTo].slice(0, 5)) {
      for (const run of runsOf.get(id) ?? []) {
        const history = await temporal.workflow.getHandle(id, run.runId).fetchHistory();
        for (const e of history.events ?? []) {
          const a = e.workflowTaskFailedEventAttributes;
          if (!a) continue;
          const what = `${a.cause ?? '?'}: ${(a.failure?.message ?? '').slice(0, 120)}`;
          taskFailures.set(what, (taskFailures.get(what) ?? 0) + 1);
        }
      }
    }
    const outageRealS = Math.round((outageEnded - outageBegan) / 1000);
    const daily = PRACTICES.filter((p) => p.cadence === 'daily').length;
    const loadavg = (await import('node:os')).loadavg().map((n) => n.toFixed(2)).join(' ');
    console.log(
      [
        `simulated month ${FIRST} to ${LAST} (dev server, shortened durations; ${Math.round((Date.now() - START) / 1000)} s, load ${loadavg})`,
        `  practices ${PRACTICES.length} (${daily} daily, ${PRACTICES.length - daily} weekly), days ${DAYS.length}, events ${eventsSent} (${allEvents.length - onTime.length} late), transfers ${byTransfer.size}, events sent again after no answer ${resends}${resendReasons.size ? ` (${[...resendReasons].join('; ')}; then accepted ${resentAnswers.accepted}, duplicate ${resentAnswers.duplicate})` : ''}`,
        ...(taskFailures.size ? [`  workflow task failures in transfers that needed an event sent again: ${[...taskFailures].map(([w, n]) => `${n}× ${w}`).join('; ')}`] : []),
        `  submissions ${submissions.length}; record sets received ${received.length} for ${latest.size} ODS + dates (expected ${expected.size}${afterMonth.length ? `, and ${afterMonth.length} of the real yesterday, by the cadence at 00:05 UTC` : ''})`,
        `  continue-as-new runs: reporting ${reportingCan.reduce((a, b) => a + b, 0)} (each practice ${Math.min(...reportingCan)}–${Math.max(...reportingCan)}), transfers ${transferCan.reduce((a, b) => a + b, 0)} (${transferCan.filter((n) => n >= 2).length} transfers twice or more), inbox ${inboxCan}`,
        `  transfer runs completed after their quiet period ${completedTransferRuns}; reopenings ${reopenings} (${reopenedByLateEvents} by late events, checked restored)`,
        `  corrections ${corrections} (${correctedKeys.length} ODS + dates sent again; ${correctionsDue.size} due to late events of delivered days)`,
        `  outage: simulated days ${[...OUTAGE].map((k) => DAYS[k]).join(', ')} = 72 hours (${outageRealS} s real); ${outageSubmissions.length} submissions held (${failedSendAttempts} send attempts failed), all delivered after`,
        `  histories: ${executions.length} runs, largest ${biggestByEvents.events} events (${biggestByEvents.id}), ${Math.round(biggestByBytes.bytes / 1024)} KiB (${biggestByBytes.id})`,
        `  lost = ${lost.length} record sets (${lostRows} rows), duplicated = ${duplicated}`,
      ].join('\n'),
    );

    expect(lost, 'lost record sets').toEqual([]);
    expect(lostRows).toBe(0);
    expect(rowTwice.map((r) => r.key)).toEqual([]);
    expect(unexpected.map((r) => r.key)).toEqual([]);
    expect(afterMonthDifferent).toEqual([]);
    expect(sentAgainUnchanged.map((r) => r.key)).toEqual([]);
    expect(sentTwice.map((r) => r.localId)).toEqual([]);
    expect(duplicated).toBe(0);
    // An event reaching a transfer as its run ends is the client's to send again, never the caller's.
    expect(runEndResends, 'events thrown at the caller because their transfer run was ending').toBe(0);
    // Corrections: every day delivered before a late event of it was sent again.
    expect(corrections).toBeGreaterThan(0);
    for (const [key, before] of correctionsDue) expect(deliveries.get(key)!.length, key).toBeGreaterThan(before);
    // The console's calendar says the same: the days sent again are the corrected ones.
    const calendarCorrected: string[] = [];
    for (const ods of ODS) {
      const view = await client.practiceConsole(ods, { calendarDays: 40 });
      for (const d of view.calendar) if (d.state === 'corrected') calendarCorrected.push(`${ods} ${d.day}`);
      expect(view.calendar.filter((d) => d.day >= FIRST && d.day <= LAST).every((d) => d.state === 'delivered' || d.state === 'corrected'), ods).toBe(true);
    }
    expect(calendarCorrected.sort()).toEqual(correctedKeys.sort());
    // Reopenings, continue-as-new, the outage.
    expect(reopenedByLateEvents).toBe(16);
    expect(reopenings).toBeGreaterThanOrEqual(reopenedByLateEvents);
    expect(completedTransferRuns).toBeGreaterThan(0);
    expect(Math.min(...reportingCan), 'every reporting workflow continued as new at least twice').toBeGreaterThanOrEqual(2);
    expect(inboxCan, 'the inbox continued as new at least twice').toBeGreaterThanOrEqual(2);
    expect(transferCan.filter((n) => n >= 2).length, 'transfers that continued as new twice').toBeGreaterThan(0);
    expect(outageSubmissions.length).toBeGreaterThan(0);
    // Every history within Temporal's limits.
    expect(biggestByEvents.events).toBeLessThan(MAX_HISTORY_EVENTS);
    expect(biggestByBytes.bytes).toBeLessThan(MAX_HISTORY_BYTES);
  });
});
