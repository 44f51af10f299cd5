/**
 * The day's hand-over point on the real dev server (issue 13): rows of a day still open wait in their
 * transfers, none reaching the practice's reporting workflow before the point; at the point every
 * transfer hands over, and the reporting workflow holds them all. A late event (its day past the
 * point) still goes at once.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticPractice } from '../demo/traffic';
import type { HookEvent } from '../mi/events';
import { consoleQuery, type PracticeConsoleView } from '../messages/reporting';
import { transferQuery, type TransferView } from '../messages/transfer';
import { practiceSlotOffset } from '../mi/hand-over';
import { reportingWorkflowId, transferWorkflowId } from '../workflows/ids';
import { eventually, historySuffix, runCli, startPipeline, type TestPipeline } from './support/pipeline';

const PRACTICE = syntheticPractice('H88091', '200000000091');
const OTHER = syntheticPractice('H88092', '200000000092');
const TRANSFERS = 5;
/** Time enough to send every event before the point, on a loaded machine. */
const LEAD_MS = 40_000;
const SPREAD_MS = 10_000;

const hhmmss = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** The rows signals in a reporting workflow's history (none if it has not started). */
async function rowsSignals(pipeline: TestPipeline, ods: string): Promise<number> {
  const handle = pipeline.client.temporal.workflow.getHandle(reportingWorkflowId(ods));
  try {
    const history = await handle.fetchHistory();
    return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'rows').length;
  } catch (err) {
    if (/not found/i.test(String(err))) return 0;
    throw err;
  }
}

describe('rows handed over at the day\'s hand-over point', () => {
  let pipeline: TestPipeline;
  let point: number;
  beforeAll(async () => {
    // The point must fall on the same UTC day as the events: near midnight, wait for the next day.
    const msToMidnight = 86_400_000 - (Date.now() % 86_400_000);
    if (msToMidnight < LEAD_MS + SPREAD_MS + 20_000) await new Promise((r) => setTimeout(r, msToMidnight + 1_000));
    point = Math.ceil((Date.now() + LEAD_MS) / 1000) * 1000;
    pipeline = await startPipeline({
      supplierMailbox: 'X26SUP091',
      authorityMailbox: 'X26NHS091',
      practices: [PRACTICE, OTHER],
      // Each practice's slot falls within 10 s of the point (30 minutes in production).
      env: { GP2GP_HAND_OVER_AT: hhmmss(point), GP2GP_HAND_OVER_SPREAD_SECONDS: String(SPREAD_MS / 1000) },
    });
  }, 120_000);
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('holds the open day\'s rows until the point, then the reporting workflow gets every transfer', async () => {
    const now = Date.now();
    const today = new Date(now).toISOString().slice(0, 10);
    const at = (minutesAgo: number) => new Date(Math.max(Date.parse(`${today}T00:00:00Z`), now - minutesAgo * 60_000)).toISOString();
    const events: HookEvent[] = [];
    for (let i = 1; i <= TRANSFERS; i++) {
      const rr = { practiceOds: PRACTICE.ods, registrationId: `REG-HOLD-${i}` };
      const conversationId = `2F1C3B4A-5D6E-4F70-8192-A3B4C5D6E7F${i}`;
      events.push(
        { type: 'registration', ...rr, occurredAt: at(10), registrationType: 'new', registeringUser: '123456789012', targetOds: 'A81001' },
        { type: 'ehr-requested', ...rr, occurredAt: at(9), conversationId, requestMessageId: `11111111-2222-4333-8444-55555555555${i}`, targetOds: 'A81001' },
      );
    }
    // A late event of the other practice: yesterday is past its point, so it goes at once.
    const yesterday = new Date(now - 86_400_000).toISOString().slice(0, 10);
    events.push({ type: 'registration', practiceOds: OTHER.ods, registrationId: 'REG-LATE-1', occurredAt: `${yesterday}T12:00:00Z`, registrationType: 'new', registeringUser: '123456789012' });
    const outcomes = await pipeline.client.recordEvents(events);
    expect(outcomes.map((o) => o.status)).toEqual(events.map(() => 'accepted'));
    expect(Date.now()).toBeLessThan(point);

    // Before the point: every transfer says what it holds and until when; reporting has nothing.
    const views = await Promise.all(
      Array.from({ length: TRANSFERS }, (_, i) =>
        pipeline.client.temporal.workflow.getHandle(transferWorkflowId('RR', PRACTICE.ods, `REG-HOLD-${i + 1}`)).query(transferQuery) as Promise<TransferView>,
      ),
    );
    // The practice's slot: the point plus its place in the spread, the same for all its transfers.
    const slot = new Date(point + practiceSlotOffset(PRACTICE.ods, SPREAD_MS)).toISOString();
    for (const view of views) expect(view).toMatchObject({ forwarding: true, rowsHeldUntil: slot });
    const shown = await runCli(pipeline, 'transfer', 'show', PRACTICE.ods, 'REG-HOLD-1');
    expect(shown.stdout).toContain(`rows         held for the day's hand-over point, ${slot}`);
    // The late event went at once.
    await eventually(async () => ((await rowsSignals(pipeline, OTHER.ods)) === 1 ? true : undefined), 20_000, 'the late row at the reporting workflow');
    expect(await rowsSignals(pipeline, PRACTICE.ods)).toBe(0);
    // The same transfer's next event is today's: held, and handed over at its practice's slot though
    // the run's timer was armed for its quiet end (weeks away) before it came.
    const lateKey = { practiceOds: OTHER.ods, registrationId: 'REG-LATE-1' };
    const [next] = await pipeline.client.recordEvents([
      { type: 'ehr-requested', ...lateKey, occurredAt: at(5), conversationId: '2F1C3B4A-5D6E-4F70-8192-A3B4C5D6E7AA', requestMessageId: '11111111-2222-4333-8444-5555555555AA', targetOds: 'A81001' },
    ]);
    expect(next!.status).toBe('accepted');
    const otherSlot = new Date(point + practiceSlotOffset(OTHER.ods, SPREAD_MS)).toISOString();
    const lateHandle = pipeline.client.temporal.workflow.getHandle(transferWorkflowId('RR', OTHER.ods, 'REG-LATE-1'));
    expect(await lateHandle.query(transferQuery)).toMatchObject({ forwarding: true, rowsHeldUntil: otherSlot });
    expect(Date.now()).toBeLessThan(point);

    // At the point every transfer hands over; the reporting workflow then counts all of them.
    const view = await eventually(
      async () => {
        const v = (await pipeline.client.temporal.workflow.getHandle(reportingWorkflowId(PRACTICE.ods)).query(consoleQuery).catch(() => undefined)) as PracticeConsoleView | undefined;
        const counted = v?.outcomes.filter((d) => d.day === today && d.side === 'RR').reduce((n, d) => n + Object.values(d.counts).reduce((a, b) => a + (b ?? 0), 0), 0);
        return counted === TRANSFERS ? v : undefined;
      },
      LEAD_MS + SPREAD_MS + 60_000,
      'every transfer counted by the reporting workflow',
    );
    expect(view.outcomes.length).toBeGreaterThan(0);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(slot));
    const signals = await rowsSignals(pipeline, PRACTICE.ods);
    console.log(`${TRANSFERS} transfers handed over at their practice's slot in ${signals} signal(s)`);
    expect(signals).toBeGreaterThanOrEqual(1);
    expect(signals).toBeLessThanOrEqual(TRANSFERS);
    for (let i = 1; i <= TRANSFERS; i++) {
      const v = (await pipeline.client.temporal.workflow.getHandle(transferWorkflowId('RR', PRACTICE.ods, `REG-HOLD-${i}`)).query(transferQuery)) as TransferView;
      expect(v.forwarding).toBe(false);
      expect(v.rowsHeldUntil).toBeUndefined();
    }
    await eventually(async () => ((await lateHandle.query(transferQuery)).forwarding ? undefined : true), SPREAD_MS + 30_000, 'the later event of the late transfer handed over at its slot');
    expect(await rowsSignals(pipeline, OTHER.ods)).toBe(2);
    // For the replay tests (test/replay.test.ts): runs that held rows for the point, and took them.
    if (process.env.SAVE_HISTORIES) {
      const dir = path.join(__dirname, 'histories');
      const ids: [string, string][] = [
        ['transferWorkflow.held', transferWorkflowId('RR', PRACTICE.ods, 'REG-HOLD-1')],
        ['transferWorkflow.late-then-held', transferWorkflowId('RR', OTHER.ods, 'REG-LATE-1')],
        ['reportingWorkflow.held', reportingWorkflowId(PRACTICE.ods)],
      ];
      for (const [name, id] of ids) {
        const history = await pipeline.client.temporal.workflow.getHandle(id).fetchHistory();
        fs.writeFileSync(path.join(dir, `${name}${historySuffix()}.json`), historyToJSON(history));
      }
    }
  }, 180_000);
});
