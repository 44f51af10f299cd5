/**
 * Delivery to the GP Registrations MI API through a proxy that misbehaves (test/support/fault-proxy.ts)
 * in front of a stand-in of its own: 503 and 429 answers, connections reset, and answers dropped after
 * the stand-in acted. Every API event arrives; the only repeats at the API follow dropped answers
 * (the API has no idempotency key: at-least-once), and each post made again after a lost answer is
 * counted in gp2gp_api_post_repeats.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../config';
import { syntheticPractice } from '../../demo/traffic';
import { apiEventsOf } from '../../mi/registrations-api-mapping';
import { transferQuery, type StoredEvent } from '../../messages/transfer';
import { METRICS } from '../../observability/metric-names';
import { startRegistrationsApiStandIn, type RegistrationsApiStandIn } from '../../stack/registrations-api-stand-in';
import { freePort } from '../../stack/servers';
import { workerRuntimeOptions } from '../../worker/main';
import { transferWorkflowId } from '../../workflows/ids';
import { startFaultProxy, type FaultProxy, type FaultRule } from '../support/fault-proxy';
import { sample } from '../support/operators';
import { eventually, startPipeline, type TestPipeline } from '../support/pipeline';
import { registrationEvents } from '../support/registrations-api';

const SUPPLIER = 'TESTSUPP2';
const PRACTICE = syntheticPractice('H88043', '200000000043');
const POSTS = /^\/gp-registrations-mi\/[a-z-]+$/;

describe('delivery to the GP Registrations MI API through faults', () => {
  let standIn: RegistrationsApiStandIn;
  let proxy: FaultProxy;
  let pipeline: TestPipeline;
  let metricsUrl: string;
  const apiKey = randomBytes(16).toString('hex');
  let faults: FaultRule['action'][] = [];

  beforeAll(async () => {
    // The Runtime is per process (each test file runs in its own fork): install it with metrics first.
    const port = await freePort();
    Runtime.install(workerRuntimeOptions({ ...loadConfig({}), metrics: { host: '127.0.0.1', port } }));
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    standIn = await startRegistrationsApiStandIn({ port: 0, apiKey, dir: path.join(inject('workDir'), `api-faults-${randomUUID()}`) });
    // Each fault once, then one request through, so every API event meets a fault and the test stays
    // quick (the activity's backoff starts at 1 s).
    faults = [{ status: 503 }, { status: 429 }, 'reset', 'drop-response', { status: 502 }, 'drop-response', 'reset', { status: 500 }];
    proxy = await startFaultProxy({
      target: standIn.origin,
      rules: faults.flatMap((action) => [
        { method: 'POST', path: POSTS, action },
        { method: 'POST', path: POSTS, action: 'forward' as const },
      ]),
    });
    pipeline = await startPipeline({
      supplierMailbox: 'X26SUP043',
      authorityMailbox: 'X26NHS043',
      practices: [PRACTICE],
      env: {
        GP2GP_OUTPUTS: 'both',
        GP2GP_REGISTRATIONS_API_URL: `${proxy.url}/gp-registrations-mi`,
        GP2GP_REGISTRATIONS_API_KEY: apiKey,
        GP2GP_REPORTING_SYSTEM_SUPPLIER: SUPPLIER,
      },
    });
  });
  afterAll(async () => {
    await pipeline?.stop();
    await proxy?.close();
    await standIn?.stop();
  });

  it('every API event arrives; repeats only after dropped answers, and counted', async () => {
    const before = await (await fetch(metricsUrl)).text();
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const transfers = [0, 1].map(() => ({ registrationId: `REG-FLT-${randomUUID().slice(0, 8)}`, conversationId: randomUUID().toUpperCase() }));
    const expected = new Map<string, ReturnType<typeof apiEventsOf>>();
    await Promise.all(
      transfers.map(async (t) => {
        const events = registrationEvents(PRACTICE.ods, t.registrationId, t.conversationId, day);
        const outcomes = await pipeline.client.recordEvents(events, { concurrency: 1 });
        expect(outcomes.map((o) => o.status)).toEqual(events.map(() => 'accepted'));
        const stored = events.map((e, i) => ({ ...e, eventId: (outcomes[i] as { eventId: string }).eventId }) as StoredEvent);
        expected.set(t.conversationId, apiEventsOf('RR', stored, { reportingSystemSupplier: SUPPLIER }));
      }),
    );
    const total = [...expected.values()].reduce((n, list) => n + list.length, 0);
    expect(total).toBeGreaterThan(proxy.pendingRules().length / 2);

    for (const t of transfers) {
      const handle = pipeline.client.temporal.workflow.getHandle(transferWorkflowId('RR', PRACTICE.ods, t.registrationId));
      await eventually(async () => {
        const v = await handle.query(transferQuery);
        return v.apiDelivery?.status === 'ok' && v.apiDelivery.posted === expected.get(t.conversationId)!.length ? v : undefined;
      }, 120_000, `every post of ${t.registrationId}`);
    }

    // Every fault was met.
    expect(proxy.pendingRules()).toEqual([]);
    const counts = proxy.counts();
    const drops = counts['drop-response'] ?? 0;
    const resets = counts.reset ?? 0;
    expect(drops).toBe(2);
    expect(resets).toBe(2);
    expect(counts['status 503']).toBe(1);
    expect(counts['status 429']).toBe(1);

    // Every API event arrived, in each transfer's order; the only repeats are the dropped answers'.
    const received = standIn.requests();
    let repeats = 0;
    for (const [conversationId, list] of expected) {
      const mine = received.filter((r) => r.body.conversationId === conversationId).map((r) => JSON.stringify(r.body));
      const firsts = [...new Set(mine)];
      expect(firsts).toEqual(list.map((e) => JSON.stringify(e.body)));
      repeats += mine.length - firsts.length;
    }
    expect(repeats).toBe(drops);

    // Counted: each post made again after a lost answer (a drop after the stand-in acted, or a reset
    // after sending — the client cannot tell which), so the count bounds the repeats from above.
    const after = await eventually(async () => {
      const text = await (await fetch(metricsUrl)).text();
      return sample(text, `${METRICS.apiPostRepeats}_total`) - sample(before, `${METRICS.apiPostRepeats}_total`) >= drops + resets ? text : undefined;
    }, 30_000, 'the repeats metric');
    const delta = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta(`${METRICS.apiPostRepeats}_total`)).toBe(drops + resets);
    // One accepted answer per API event (a dropped answer is a retried attempt, not an ok one).
    expect(delta(`${METRICS.apiPosts}_total`, { result: 'ok' })).toBe(total);
    expect(delta(`${METRICS.apiPosts}_total`, { result: 'retried' })).toBe(faults.length);
    expect(delta(`${METRICS.apiPosts}_total`, { result: 'retried', status: '503' })).toBe(1);
    expect(delta(`${METRICS.apiPosts}_total`, { result: 'retried', status: '429' })).toBe(1);
    expect(delta(`${METRICS.apiPosts}_total`, { result: 'failed' })).toBe(0);
  });
});
