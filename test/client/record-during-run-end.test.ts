/**
 * An event that reaches a transfer just as its run ends (continue-as-new here, completion after the
 * quiet period likewise) makes the server reject that run's last workflow task, and the update with
 * it ("unexpected workflow task failure"). The event was not applied, so nothing is lost — but the
 * hooks client must not throw for it (it throws only when Temporal cannot be reached): it sends the
 * event again, which the next run takes. Each run here ends after one event, and the events of one
 * transfer arrive all at once (as a batch through the HTTP API can send them), so the race is hit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticPractice } from '../../demo/traffic';
import type { HookEvent } from '../../mi/events';
import { transferQuery } from '../../messages/transfer';
import { transferWorkflowId } from '../../workflows/ids';
import { startPipeline, type TestPipeline } from '../support/pipeline';

const PRACTICE = syntheticPractice('E86001', '200000000861');

describe('an event arriving as a transfer run ends', () => {
  let pipeline: TestPipeline;
  beforeAll(async () => {
    pipeline = await startPipeline({
      supplierMailbox: 'X26SUP081',
      authorityMailbox: 'X26NHS081',
      practices: [PRACTICE],
      env: { GP2GP_TRANSFER_EVENTS_PER_RUN: '1' },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('is sent again by the client, never thrown, and every event is recorded', async () => {
    // "duplicate" for a first send is allowed: the event got in as the run ended, but its answer did not
    // come back, so the client sent it again and the next run found it recorded.
    const t0 = Date.now() - 3_600_000;
    const at = (s: number) => new Date(t0 + s * 1000).toISOString();
    const results = { rejected: 0, answered: 0 };
    const transfers: { workflowId: string; events: number }[] = [];
    for (let transfer = 0; transfer < 4; transfer++) {
      const registrationId = `REG-RUNEND-${transfer}-${Date.now()}`;
      const base = { practiceOds: PRACTICE.ods, registrationId };
      const events: HookEvent[] = [
        { ...base, type: 'registration', occurredAt: at(0), registrationType: 'new', registeringUser: 'L1' },
        ...Array.from({ length: 15 }, (_, i) => ({ ...base, type: 'fragments-received', occurredAt: at(10 + i), fragmentsReceived: i + 1 }) as HookEvent),
      ];
      // Staggered a few milliseconds apart, so some arrive while a run's last task is in flight.
      const settled = await Promise.allSettled(events.map((e, i) => new Promise((r) => setTimeout(r, i * 15)).then(() => pipeline.client.recordEvent(e))));
      transfers.push({ workflowId: transferWorkflowId('RR', PRACTICE.ods, registrationId), events: events.length });
      for (const s of settled) {
        if (s.status === 'rejected') {
          results.rejected++;
          console.log(`rejected: ${(s.reason as Error).message}`);
        }
        else if (s.value.status === 'accepted' || s.value.status === 'duplicate') results.answered++;
        else console.log(JSON.stringify(s.value).slice(0, 300));
      }
    }
    expect(results).toEqual({ rejected: 0, answered: 64 });
    // The latest run of each transfer holds every event (runs carry their events on).
    for (const t of transfers) {
      const view = await pipeline.client.temporal.workflow.getHandle(t.workflowId).query(transferQuery);
      expect(view.events, t.workflowId).toHaveLength(t.events);
    }
  }, 240_000);
});
