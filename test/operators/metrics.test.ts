/**
 * The worker's Prometheus endpoint: Temporal's own metrics and ours move as the pipeline works —
 * events accepted and refused (with the refused field as reason), rows forwarded and sent, rows per
 * record set, submissions delivered, MESH requests with their latency.
 */
import { Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config';
import { generateTraffic } from '../../demo/traffic';
import { freePort } from '../../stack/servers';
import { METRICS } from '../../observability/metric-names';
import { workerRuntimeOptions } from '../../worker/main';
import { recordEventUpdate } from '../../messages/transfer';
import { submissionQuery, type SubmissionView } from '../../messages/submission';
import { eventually } from '../support/pipeline';
import { PRACTICE, sample, startOperatorsPipeline, type OperatorsPipeline } from '../support/operators';

describe('worker metrics', () => {
  let pipeline: OperatorsPipeline | undefined;
  let metricsUrl: string;

  beforeAll(async () => {
    // The Runtime is per process (vitest runs each test file in its own fork): install it first.
    const port = await freePort();
    Runtime.install(workerRuntimeOptions({ ...loadConfig({}), metrics: { host: '127.0.0.1', port } }));
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    pipeline = await startOperatorsPipeline({ supplierMailbox: 'X26OPS003', authorityMailbox: 'X26OPS004' });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  const scrape = async () => await (await fetch(metricsUrl)).text();

  it('counts events, rows, submissions and MESH calls', async () => {
    const before = await scrape();
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const events = generateTraffic({ practices: [PRACTICE.ods], days: [day], registrationsPerPracticeDay: 4, seed: 5, notAfter: new Date().toISOString() });
    // A NACK code in the contract's range that 0083.08 does not list: accepted, and counted by code.
    const conversationId = '5A0C4C8E-0D2B-4E55-9C8B-7E1F0A2B3C4D';
    events.push(
      { type: 'request-received', practiceOds: PRACTICE.ods, conversationId, requestMessageId: conversationId, requestingOds: 'B23456', occurredAt: `${day}T09:00:00Z` },
      { type: 'request-acknowledged', practiceOds: PRACTICE.ods, conversationId, ackCode: '50', occurredAt: `${day}T09:01:00Z` },
    );
    const outcomes = await pipeline!.client.recordEvents(events);
    const accepted = outcomes.filter((o) => o.status === 'accepted');
    expect(accepted.length).toBe(events.length);

    // An event the client would never pass, sent straight to a transfer workflow: its validator refuses it.
    const first = accepted[0] as { workflowId: string };
    const bad = { ...events[0]!, eventId: 'metrics-test-bad', occurredAt: 'yesterday' };
    const refusal = await pipeline!.client.temporal.workflow
      .getHandle(first.workflowId)
      .executeUpdate(recordEventUpdate, { args: [bad as never] })
      .then(() => undefined, (err: Error) => err);
    expect((refusal?.cause as Error | undefined)?.message).toMatch(/^occurredAt/);

    await eventually(async () => ((await pipeline!.client.reportingStatus(PRACTICE.ods)).pendingDays.includes(day) ? true : undefined));
    const [submitted] = await pipeline!.client.submit({ days: [day] });
    const submissionId = submitted!.result.submissions[0]!.submissionId;
    const delivered = await eventually(async () => {
      await pipeline!.authority.collect();
      const v: SubmissionView = await pipeline!.client.temporal.workflow.getHandle(submissionId).query(submissionQuery);
      return v.status === 'delivered' ? v : undefined;
    }, 60_000, 'the submission to be delivered');
    const rowsInFile = delivered.files.reduce((n, f) => n + f.rows, 0);

    const after = await eventually(async () => {
      const text = await scrape();
      return sample(text, `${METRICS.submissions}_total`, { status: 'delivered' }) >= 1 ? text : undefined;
    }, 30_000, 'the delivered submission to be counted');
    const delta = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);

    expect(delta(`${METRICS.events}_total`, { outcome: 'accepted' })).toBe(accepted.length);
    expect(delta(`${METRICS.events}_total`, { outcome: 'refused', reason: 'occurredAt' })).toBe(1);
    expect(delta('gp2gp_unknown_nack_codes_total', { code: '50', event_type: 'request-acknowledged' })).toBe(1);
    expect(delta('gp2gp_unknown_nack_codes_total')).toBe(1);
    expect(delta(`${METRICS.rowsForwarded}_total`)).toBeGreaterThan(0);
    // The hand-over signals, each with the number of forwards it carried.
    expect(delta(`${METRICS.rowsHandOverForwards}_count`)).toBeGreaterThan(0);
    expect(delta(`${METRICS.rowsSent}_total`)).toBe(rowsInFile);
    expect(delta(`${METRICS.filesSent}_total`)).toBe(delivered.files.length);
    expect(delta(`${METRICS.recordSetRows}_count`)).toBe(1);
    expect(delta(`${METRICS.recordSetRows}_sum`)).toBe(rowsInFile);
    expect(delta(`${METRICS.submissions}_total`, { status: 'delivered' })).toBe(1);
    expect(delta(`${METRICS.meshRequests}_total`, { operation: 'send' })).toBeGreaterThanOrEqual(1);
    expect(delta(`${METRICS.meshLatency}_count`, { operation: 'send' })).toBeGreaterThanOrEqual(1);
    expect(delta(`${METRICS.meshRequests}_total`, { operation: 'track' })).toBeGreaterThanOrEqual(1);
    expect(sample(after, METRICS.practices)).toBe(1);
    // Temporal's own worker metrics, on the same endpoint.
    expect(sample(after, 'temporal_workflow_task_execution_latency_count')).toBeGreaterThan(0);
    expect(sample(after, 'temporal_activity_execution_latency_count', { activity_type: 'sendSubmissionFiles' })).toBeGreaterThan(0);
  });
});
