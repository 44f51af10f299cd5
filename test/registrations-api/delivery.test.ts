/**
 * Delivery to the GP Registrations MI API on the real stack (Temporal dev server, MESH sandbox, the
 * API stand-in of the test run): hook events in through the client, with outputs `both`, give their
 * API events at the stand-in once each, in order; a refusal (a bad API key) leaves the posts failed
 * with the API's reason — in the transfer's query, `transfer show` and the GP2GP_ApiDelivery search
 * attribute — and a replay after the fix delivers them.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { syntheticPractice } from '../../demo/traffic';
import type { HookEvent } from '../../mi/events';
import { apiEventsOf } from '../../mi/registrations-api-mapping';
import { transferQuery, type StoredEvent, type TransferResult, type TransferView } from '../../messages/transfer';
import { listFailedApiPosts, showTransfer, visibility } from '../../client/operations';
import { transferWorkflowId } from '../../workflows/ids';
import { eventually, historySuffix, runCli, startPipeline, workflowBundle, type TestPipeline } from '../support/pipeline';
import { registrationEvents, standInRequests } from '../support/registrations-api';

const SUPPLIER = 'TESTSUPP1';
const GOOD = syntheticPractice('H88041', '200000000041');
const REFUSED = syntheticPractice('H88042', '200000000042');

async function sendAll(pipeline: TestPipeline, events: HookEvent[]): Promise<StoredEvent[]> {
  const outcomes = await pipeline.client.recordEvents(events, { concurrency: 1 });
  expect(outcomes.map((o) => o.status)).toEqual(events.map(() => 'accepted'));
  return events.map((e, i) => ({ ...e, eventId: (outcomes[i] as { eventId: string }).eventId }) as StoredEvent);
}

async function viewWhen(pipeline: TestPipeline, workflowId: string, ok: (v: TransferView) => boolean, what: string): Promise<TransferView> {
  return await eventually(async () => {
    const v = await pipeline.client.temporal.workflow.getHandle(workflowId).query(transferQuery);
    return ok(v) ? v : undefined;
  }, 60_000, what);
}

const cli = runCli;

const yesterday = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const env = (apiKey: string) => ({
  GP2GP_OUTPUTS: 'both',
  GP2GP_REGISTRATIONS_API_URL: inject('registrationsApiUrl'),
  GP2GP_REGISTRATIONS_API_KEY: apiKey,
  GP2GP_REPORTING_SYSTEM_SUPPLIER: SUPPLIER,
});

describe('delivery to the GP Registrations MI API', () => {
  let pipeline: TestPipeline;
  beforeAll(async () => {
    pipeline = await startPipeline({
      supplierMailbox: 'X26SUP041',
      authorityMailbox: 'X26NHS041',
      practices: [GOOD],
      // Final records complete after 3 s of quiet here (14 days in production).
      env: { ...env(inject('registrationsApiKey')), GP2GP_TRANSFER_FINAL_QUIET_HOURS: String(3 / 3600) },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
  });

  it('posts each API event once, in order, and still forwards the rows for MESH', async () => {
    const conversationId = randomUUID().toUpperCase();
    const registrationId = `REG-API-${randomUUID().slice(0, 8)}`;
    const events = registrationEvents(GOOD.ods, registrationId, conversationId, yesterday());
    const stored = await sendAll(pipeline, events);
    // A re-sent event posts nothing new.
    const [again] = await pipeline.client.recordEvents([events[0]]);
    expect(again!.status).toBe('duplicate');

    const expected = apiEventsOf('RR', stored, { reportingSystemSupplier: SUPPLIER });
    expect(expected.map((e) => e.endpoint)).toEqual([
      '/registrations',
      '/transfer-compatibility-statuses',
      '/ehr-requests',
      '/ready-to-integrate-statuses',
      '/ehr-integrations',
    ]);
    const workflowId = transferWorkflowId('RR', GOOD.ods, registrationId);
    const view = await viewWhen(pipeline, workflowId, (v) => v.apiDelivery?.status === 'ok' && v.apiDelivery.posted === expected.length && !v.forwarding, 'all posted');
    expect(view.outputs).toBe('both');
    expect(view.apiDelivery).toEqual({ status: 'ok', posted: expected.length, pending: 0 });
    // MESH's side is unchanged: the rows reached the reporting workflow.
    expect(view.rows.length).toBeGreaterThan(0);

    const received = await standInRequests(conversationId);
    expect(received.map((r) => r.endpoint)).toEqual(expected.map((e) => e.endpoint));
    expect(received.map((r) => r.body)).toEqual(expected.map((e) => e.body));
    expect(received.every((r) => r.body.reportingSystemSupplier === SUPPLIER)).toBe(true);

    // Visible to operators: GP2GP_ApiDelivery = "ok", and `transfer show`.
    await eventually(async () => {
      const list = pipeline.client.temporal.workflow.list({ query: `WorkflowId = "${workflowId}" AND GP2GP_ApiDelivery = "ok"` });
      for await (const _ of list) return true;
      return undefined;
    }, 30_000, 'GP2GP_ApiDelivery = ok');
    const shown = await showTransfer(pipeline.client.temporal, GOOD.ods, registrationId);
    expect(shown.apiDelivery).toMatchObject({ status: 'ok', posted: expected.length });

    // A run of this version takes its API behaviours behind one patch: one marker, and one upsert of
    // TemporalChangeVersion (a visibility write) that sdk-core makes for every patch a new run uses.
    const history = await pipeline.client.temporal.workflow.getHandle(workflowId).fetchHistory();
    const historyEvents = history.events ?? [];
    const patchMarkers = historyEvents.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch');
    const versionUpserts = historyEvents.filter((e) => 'TemporalChangeVersion' in (e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ?? {}));
    expect([patchMarkers.length, versionUpserts.length]).toEqual([1, 1]);
  });

  it('a completed transfer reopened by a late event posts only the new API event', async () => {
    const conversationId = randomUUID().toUpperCase();
    const registrationId = `REG-REOPEN-${randomUUID().slice(0, 8)}`;
    const day = yesterday();
    const stored = await sendAll(pipeline, registrationEvents(GOOD.ods, registrationId, conversationId, day));
    const workflowId = transferWorkflowId('RR', GOOD.ods, registrationId);
    const handle = pipeline.client.temporal.workflow.getHandle(workflowId);
    const first = (await handle.result()) as TransferResult;
    const expected = apiEventsOf('RR', stored, { reportingSystemSupplier: SUPPLIER });
    expect(first.apiDelivery).toEqual({ posted: expected.map((e) => e.id) });
    expect(await standInRequests(conversationId)).toHaveLength(expected.length);

    const late = {
      type: 'document-received',
      practiceOds: GOOD.ods,
      registrationId,
      conversationId,
      occurredAt: `${day}T10:30:00Z`,
      clinicalType: 'SCANNED_DOCUMENT',
      mimeType: 'application/pdf',
      sizeBytes: 3084322,
      successful: true,
    } as HookEvent;
    const [reopened] = await sendAll(pipeline, [late]);
    const all = apiEventsOf('RR', [...stored, reopened!], { reportingSystemSupplier: SUPPLIER });
    expect(all).toHaveLength(expected.length + 1);
    await eventually(async () => ((await standInRequests(conversationId)).length === all.length ? true : undefined), 60_000, 'the late post');
    const second = (await pipeline.client.temporal.workflow.getHandle(workflowId).result()) as TransferResult;
    expect(second.apiDelivery?.posted).toHaveLength(all.length);
    const received = await standInRequests(conversationId);
    expect(received.map((r) => r.endpoint)).toEqual([...expected.map((e) => e.endpoint), '/document-responses']);
  });

  describe('a refused post (bad API key)', () => {
    let refused: TestPipeline | undefined;
    afterAll(async () => {
      await refused?.stop();
    });

    it('fails with the API reason, blocks the posts behind it, shows everywhere; a replay after the fix delivers', async () => {
      // Final records would complete after 2 s of quiet: not while a post is owed.
      const quiet = { GP2GP_TRANSFER_FINAL_QUIET_HOURS: String(2 / 3600) };
      refused = await startPipeline({ supplierMailbox: 'X26SUP042', authorityMailbox: 'X26NHS042', practices: [REFUSED], env: { ...env('not-the-key'), ...quiet } });
      const taskQueue = refused.config.temporal.taskQueue;
      const conversationId = randomUUID().toUpperCase();
      const registrationId = `REG-KEY-${randomUUID().slice(0, 8)}`;
      const stored = await sendAll(refused, registrationEvents(REFUSED.ods, registrationId, conversationId, yesterday()));
      const expected = apiEventsOf('RR', stored, { reportingSystemSupplier: SUPPLIER });
      const workflowId = transferWorkflowId('RR', REFUSED.ods, registrationId);

      const failed = await viewWhen(refused, workflowId, (v) => v.apiDelivery?.status === 'failed', 'the post failed');
      expect(failed.apiDelivery).toMatchObject({
        status: 'failed',
        posted: 0,
        pending: expected.length,
        failed: { id: expected[0]!.id, endpoint: '/registrations', reason: 'POST /registrations: the API answered 401: Invalid ApiKey' },
      });
      expect(await standInRequests(conversationId)).toEqual([]);

      // transfer show, the search attribute (the Web UI's query) and `api failed`.
      const shown = await showTransfer(refused.client.temporal, REFUSED.ods, registrationId);
      expect(shown.apiDelivery?.failed?.reason).toMatch(/401: Invalid ApiKey/);
      const show = await cli(refused, 'transfer', 'show', REFUSED.ods, registrationId);
      expect(show.code).toBe(0);
      expect(show.stdout).toContain('outputs      both');
      expect(show.stdout).toContain(`api          failed: 0 posted, ${expected.length} to post`);
      expect(show.stdout).toContain('api failed   /registrations at ');
      expect(show.stdout).toContain(`POST /registrations: the API answered 401: Invalid ApiKey (gp2gp-mi api replay ${workflowId})`);
      const listed = await eventually(async () => {
        const list = await listFailedApiPosts(refused!.client.temporal, { practiceOds: REFUSED.ods });
        return list.some((f) => f.workflowId === workflowId) ? list : undefined;
      }, 30_000, `${visibility.failedApiPosts(REFUSED.ods)}`);
      expect(listed.find((f) => f.workflowId === workflowId)).toMatchObject({ side: 'RR', key: registrationId, failed: { endpoint: '/registrations' } });
      const failedCli = await cli(refused, 'api', 'failed', '--practice', REFUSED.ods, '--json');
      expect(failedCli.stderr).toBe('');
      expect(JSON.parse(failedCli.stdout)).toMatchObject({
        query: 'WorkflowType = "transferWorkflow" AND GP2GP_ApiDelivery = "failed" AND GP2GP_PracticeOds = "H88042"',
        failed: [{ workflowId, failed: { reason: 'POST /registrations: the API answered 401: Invalid ApiKey' }, pending: expected.length }],
      });

      // The transfer does not complete meanwhile (its posts are owed), however quiet it is.
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      expect((await refused.client.temporal.workflow.getHandle(workflowId).describe()).status.name).toBe('RUNNING');

      // Fix the key: a worker with the right one takes over the task queue; then replay.
      await refused.stop();
      refused = await startPipeline({
        supplierMailbox: 'X26SUP042',
        authorityMailbox: 'X26NHS042',
        practices: [REFUSED],
        taskQueue,
        env: { ...env(inject('registrationsApiKey')), ...quiet },
      });
      const replay = await cli(refused, 'api', 'replay', '--practice', REFUSED.ods, '--json');
      expect(replay.stderr).toBe('');
      expect(replay.code).toBe(0);
      expect(JSON.parse(replay.stdout)).toEqual({ replays: [{ workflowId, result: { replayed: expect.objectContaining({ endpoint: '/registrations' }), pending: expected.length } }] });
      // A transfer that reports to MESH only has nothing to replay: refused, saying so.
      const meshOnly = await cli(refused, 'api', 'replay', transferWorkflowId('RR', REFUSED.ods, 'NO-SUCH-REG'));
      expect(meshOnly.code).toBe(1);
      expect(meshOnly.stderr).toMatch(/no workflow gp2gp-rr-H88042-NO-SUCH-REG/);
      // Delivered, and then (all posted, quiet) the transfer completes.
      const result = (await refused.client.temporal.workflow.getHandle(workflowId).result()) as TransferResult;
      expect(result.apiDelivery).toEqual({ posted: expected.map((e) => e.id) });
      const received = await standInRequests(conversationId);
      expect(received.map((r) => r.body)).toEqual(expected.map((e) => e.body));
      expect((await listFailedApiPosts(refused.client.temporal, { practiceOds: REFUSED.ods })).map((f) => f.workflowId)).not.toContain(workflowId);

      // Its history (a failed post, the replay update, the posts after it) replays on this code;
      // SAVE_HISTORIES=1 keeps it with the saved histories (test/replay.test.ts).
      const history = await refused.client.temporal.workflow.getHandle(workflowId).fetchHistory();
      await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, 'replay-api-delivery');
      if (process.env.SAVE_HISTORIES) fs.writeFileSync(path.join(__dirname, '..', 'histories', `transferWorkflow.api-replayed${historySuffix()}.json`), historyToJSON(history));
    });
  });
});
