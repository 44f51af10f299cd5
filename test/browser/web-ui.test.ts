/**
 * The Temporal Web UI, in a real browser (Debian's Chromium driven by Playwright), the way an
 * on-call engineer uses it: a transfer found by its conversation ID, and a failed submission found by
 * its status, both through the UI's visibility query box. Screenshots go to test/.artifacts/.
 *
 * The submission fails for real: MESH refuses to send to a recipient mailbox that does not exist.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { generateTraffic, syntheticPractice } from '../../demo/traffic';
import { submissionQuery, type SubmissionView } from '../../messages/submission';
import { launchChromium, searchWorkflows, waitForUi, type Browser } from '../support/browser';
import { eventually, startPipeline, type TestPipeline } from '../support/pipeline';

const PRACTICE = syntheticPractice('E82001', '200000000901');
const OTHER = { ...PRACTICE, ods: 'E82002', asid: '200000000902' };

describe('the Temporal Web UI in Chromium', () => {
  let pipeline: TestPipeline | undefined;
  let browser: Browser | undefined;
  const uiUrl = inject('temporalUiUrl');
  const namespace = inject('temporalNamespace');

  beforeAll(async () => {
    // Fails (never skips) with the install instruction when Chromium is missing.
    browser = await launchChromium();
    pipeline = await startPipeline({
      supplierMailbox: 'X26OPS001',
      // Not a mailbox of the sandbox: MESH refuses the send, so the submission ends failed.
      authorityMailbox: 'X26NOSUCH7',
      practices: [PRACTICE, OTHER],
    });
    await waitForUi(uiUrl);
  });
  afterAll(async () => {
    await browser?.close();
    await pipeline?.stop();
  });

  it('finds a transfer by its conversation ID', async () => {
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const events = generateTraffic({ practices: [PRACTICE.ods, OTHER.ods], days: [day], registrationsPerPracticeDay: 3, seed: 21, notAfter: new Date().toISOString() });
    const outcomes = await pipeline!.client.recordEvents(events);
    expect(outcomes.filter((o) => o.status === 'refused')).toEqual([]);
    const requested = events.find((e) => e.type === 'ehr-requested')! as { conversationId: string; practiceOds: string; registrationId: string; targetOds: string };
    const rrId = `gp2gp-rr-${requested.practiceOds}-${requested.registrationId}`;
    const srId = `gp2gp-sr-${requested.targetOds}-${requested.conversationId}`;
    const query = `GP2GP_ConversationId = "${requested.conversationId}"`;
    // Visibility is eventually consistent: wait until the server itself answers the query.
    await eventually(async () => {
      const ids: string[] = [];
      for await (const w of pipeline!.client.temporal.workflow.list({ query })) ids.push(w.workflowId);
      return ids.includes(rrId) && ids.includes(srId) ? true : undefined;
    }, 60_000, 'both records to be searchable by conversation ID');

    const page = browser!.page;
    await searchWorkflows(page, uiUrl, namespace, query);
    await expect.poll(() => page.getByRole('link', { name: rrId, exact: true }).count()).toBeGreaterThan(0);
    await expect.poll(() => page.getByRole('link', { name: srId, exact: true }).count()).toBeGreaterThan(0);
    await browser!.screenshot('web-ui-transfer-by-conversation-id');

    // The record's own page: its summary and the conversation ID among its search attributes.
    await page.getByRole('link', { name: rrId, exact: true }).first().click();
    await page.waitForURL(/\/workflows\/gp2gp-rr-/);
    await expect.poll(() => page.getByText(rrId).count()).toBeGreaterThan(0);
    await browser!.screenshot('web-ui-transfer-workflow');
  });

  it('finds a failed submission by its status', async () => {
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await eventually(async () => ((await pipeline!.client.reportingStatus(PRACTICE.ods)).pendingDays.includes(day) ? true : undefined));
    const [submitted] = await pipeline!.client.submit({ practiceOds: PRACTICE.ods, days: [day] });
    const submissionId = submitted!.result.submissions[0]!.submissionId;
    const failed = await eventually(async () => {
      const v: SubmissionView = await pipeline!.client.temporal.workflow.getHandle(submissionId).query(submissionQuery).catch(() => undefined as never);
      return v?.status === 'failed' ? v : undefined;
    }, 60_000, 'the submission to fail');
    expect(failed.reason).toMatch(/send failed/);

    const query = `GP2GP_SubmissionStatus = "failed" AND GP2GP_PracticeOds = "${PRACTICE.ods}"`;
    await eventually(async () => {
      for await (const w of pipeline!.client.temporal.workflow.list({ query })) if (w.workflowId === submissionId) return true;
      return undefined;
    }, 60_000, 'the failed submission to be searchable by status');

    const page = browser!.page;
    await searchWorkflows(page, uiUrl, namespace, query);
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: submissionId, exact: true }) });
    await expect.poll(() => row.count()).toBe(1);
    await expect.poll(async () => (await row.innerText()).toLowerCase()).toContain('failed');
    await browser!.screenshot('web-ui-failed-submission-by-status');

    // Its page shows why it failed: MESH refused the recipient.
    await page.getByRole('link', { name: submissionId, exact: true }).click();
    await page.waitForURL(new RegExp(`/workflows/${submissionId}/`));
    await expect.poll(() => page.getByText(/send failed/).count()).toBeGreaterThan(0);
    await browser!.screenshot('web-ui-failed-submission');
  });
});
