/**
 * Transfer workflows on the real dev server: refusal at the door, and a final record that completed
 * (so its history stays small) being reopened by a late event without losing its earlier events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HookEvent } from '../mi/events';
import { transferWorkflowId } from '../workflows/ids';
import { transferQuery, type TransferResult } from '../workflows/transfer';
import { eventually, startPipeline, type TestPipeline } from './support/pipeline';

const PRACTICE = {
  ods: 'H88008',
  asid: '200000000008',
  software: 'Supplier_Product_1.0',
  applicationStatus: '110100000000000',
  maxMessageSizeMb: 5,
  maxAttachments: 99,
  maxAttachmentSizeMb: 5,
  largeMessageFactorA: 1,
  largeMessageFactorB: 1,
};

describe('transfer workflows', () => {
  let pipeline: TestPipeline;
  beforeAll(async () => {
    pipeline = await startPipeline({
      supplierMailbox: 'X26SUP004',
      authorityMailbox: 'X26NHS004',
      practices: [PRACTICE],
      // Final records complete after 3 s of quiet here (14 days in production).
      env: { GP2GP_TRANSFER_FINAL_QUIET_HOURS: String(3 / 3600) },
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

    // A late failure report for the same registration: a new run that remembers everything.
    const late: HookEvent = { type: 'request-failure', ...rr, occurredAt: `${day}T10:00:00Z`, failurePoint: 30, failureType: 1, fatal: false, errorCode: '99' };
    const [reopened] = await pipeline.client.recordEvents([late]);
    expect(reopened!.status).toBe('accepted');
    const view = await eventually(async () => {
      const v = await pipeline.client.temporal.workflow.getHandle(id).query(transferQuery);
      return v.forwarding ? undefined : v;
    }, 30_000, 'the reopened record');
    expect((await pipeline.client.temporal.workflow.getHandle(id).describe()).runId).not.toBe(firstRunId);
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
});
