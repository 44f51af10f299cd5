/**
 * Our inbox workflow on the real sandbox: an error REPORT about our message and GP2GP_MI_ACK business
 * acknowledgements (ACK and NACK) reach the submissions that sent the messages; a message nobody can
 * route stays visible; every message is acknowledged in MESH once recorded, leaving the inbox empty.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateTraffic, syntheticPractice } from '../demo/traffic';
import { inboxQuery } from '../messages/inbox';
import { inboxWorkflowId } from '../workflows/ids';
import { submissionQuery, type SubmissionView } from '../messages/submission';
import { collect, injectReport, sandboxClient } from './support/mesh';
import { eventually, startPipeline, type TestPipeline } from './support/pipeline';

const practice = (ods: string, n: number) => syntheticPractice(ods, `20000000001${n}`);
const PRACTICES = [practice('E85005', 1), practice('F86006', 2), practice('G87007', 3)];
const SUPPLIER = 'X26SUP003';
const AUTHORITY = 'X26NHS003';

describe('the inbox workflow routes what MESH and the Authority say about our files', () => {
  let pipeline: TestPipeline;
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const submissionOf: Record<string, { id: string; messageId: string }> = {};

  beforeAll(async () => {
    pipeline = await startPipeline({ supplierMailbox: SUPPLIER, authorityMailbox: AUTHORITY, practices: PRACTICES });
    const events = generateTraffic({ practices: PRACTICES.map((p) => p.ods), days: [day], registrationsPerPracticeDay: 2, seed: 11, notAfter: new Date().toISOString() });
    expect((await pipeline.client.recordEvents(events)).every((o) => o.status === 'accepted')).toBe(true);
    for (const p of PRACTICES) {
      await eventually(async () => ((await pipeline.client.reportingStatus(p.ods)).pendingDays.includes(day) ? true : undefined));
      const [submitted] = await pipeline.client.submit({ practiceOds: p.ods, days: [day] });
      const id = submitted!.result.submissions[0]!.submissionId;
      const view = await eventually(async () => {
        const v: SubmissionView = await pipeline.client.temporal.workflow.getHandle(id).query(submissionQuery);
        return v.status === 'awaiting-acknowledgement' ? v : undefined;
      }, 60_000, `${id} sent`);
      submissionOf[p.ods] = { id, messageId: view.files[0]!.messageId };
    }
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  const finalView = (ods: string) =>
    eventually(async () => {
      const v: SubmissionView = await pipeline.client.temporal.workflow.getHandle(submissionOf[ods]!.id).query(submissionQuery);
      return v.status === 'delivered' || v.status === 'failed' ? v : undefined;
    }, 60_000, `submission of ${ods} to end`);

  it('fails a submission on an error REPORT linked to its message', async () => {
    await injectReport({ mailboxId: SUPPLIER, linkedMessageId: submissionOf['E85005']!.messageId, workflowId: 'GP2GP_MI', code: '14', description: 'Message not collected by recipient after 5 days' });
    const view = await finalView('E85005');
    expect(view.status).toBe('failed');
    expect(view.reason).toMatch(/code 14|undeliverable/);
  });

  it('delivers on a business ACK and fails on a NACK, sent by the Authority with GP2GP_MI_ACK', async () => {
    const authority = sandboxClient(AUTHORITY);
    try {
      await authority.send({ to: SUPPLIER, workflowId: 'GP2GP_MI_ACK', body: JSON.stringify({ messageId: submissionOf['F86006']!.messageId, status: 'accepted' }) });
      await authority.send({
        to: SUPPLIER,
        workflowId: 'GP2GP_MI_ACK',
        body: JSON.stringify({ messageId: submissionOf['G87007']!.messageId, status: 'rejected', code: 'E01', reason: 'FR count does not match rows' }),
      });
    } finally {
      await authority.close();
    }
    expect((await finalView('F86006')).status).toBe('delivered');
    const nacked = await finalView('G87007');
    expect(nacked.status).toBe('failed');
    expect(nacked.reason).toMatch(/negative acknowledgement.*E01.*FR count/);
  });

  it('keeps a message it cannot route visible, leaves other workflows alone, and empties its share of the inbox', async () => {
    const stranger = sandboxClient(AUTHORITY);
    let otherWorkflowMessage: string;
    try {
      await stranger.send({ to: SUPPLIER, workflowId: 'GP2GP_MI', body: 'HR,not,for,us' });
      otherWorkflowMessage = (await stranger.send({ to: SUPPLIER, workflowId: 'SOMETHING_ELSE', body: 'hello' })).messageId;
    } finally {
      await stranger.close();
    }
    const inbox = pipeline.client.temporal.workflow.getHandle(inboxWorkflowId(SUPPLIER));
    const view = await eventually(async () => {
      const v = await inbox.query(inboxQuery);
      return v.unrouted.some((u) => u.workflowId === 'GP2GP_MI' && u.kind === 'other') ? v : undefined;
    }, 60_000, 'the unroutable message to be kept');
    expect(view.routed).toBeGreaterThanOrEqual(3);
    expect(view.unrouted.some((u) => u.workflowId === 'SOMETHING_ELSE')).toBe(false);
    const mesh = sandboxClient(SUPPLIER);
    try {
      await eventually(async () => ((await collect(mesh.listInbox({ workflowFilter: 'GP2GP_MI*' }))).length === 0 ? true : undefined), 30_000, 'no GP2GP_MI message left');
      expect(await collect(mesh.listInbox())).toEqual([otherWorkflowMessage]);
    } finally {
      await mesh.close();
    }
  });
});
