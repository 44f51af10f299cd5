/**
 * TransferRecord's posts to the GP Registrations MI API, without a server: which API event is next
 * (in order, one at a time, none before the earlier events are restored), a failed post blocking the
 * ones behind it until a replay, what is carried across continue-as-new and a reopen, what it shows
 * (query, details, GP2GP_ApiDelivery), and that a mesh-only record is unchanged.
 */
import { describe, expect, it } from 'vitest';
import type { StoredEvent, TransferInput } from '../../messages/transfer';
import { TransferRecord } from '../../workflows/transfer-record';

const ods = 'A81001';
const conversationId = '2F1C3B4A-5D6E-4F70-8192-A3B4C5D6E7F8';
const rr = (type: string, occurredAt: string, extra: Record<string, unknown> = {}) =>
  ({ type, practiceOds: ods, registrationId: 'REG-1', occurredAt, eventId: `${type}-${occurredAt}`, ...extra }) as unknown as StoredEvent;
const registration = rr('registration', '2026-11-01T09:00:00.000Z', {
  registrationType: 'new',
  registeringUser: 'L1',
  targetOds: 'B82002',
  conversationId,
  multifactorAuthenticationPresent: true,
  demographicTraceStatus: { matched: true, multifactorAuthenticationPresent: true },
  gpLinksComplete: true,
});
const requested = rr('ehr-requested', '2026-11-01T09:05:00.000Z', { conversationId, requestMessageId: conversationId });
const options = { outputs: 'both' as const, reportingSystemSupplier: 'SUPP1' };
const input = (extra: Partial<TransferInput> = {}): TransferInput => ({ side: 'RR', practiceOds: ods, key: 'REG-1', options, ...extra });
const at = '2026-11-01T10:00:00.000Z';

describe('TransferRecord: posting API events', () => {
  it('posts each API event once, in order, one at a time', () => {
    const r = new TransferRecord(input(), { now: 0, continued: true, api: true });
    expect(r.apiStatus()).toBe('ok');
    r.record(requested);
    r.record(registration);
    const first = r.startApiPost()!;
    expect(first.endpoint).toBe('/registrations');
    expect(first.body.reportingSystemSupplier).toBe('SUPP1');
    expect(r.nextApiPost()).toBeUndefined(); // one in flight at a time
    expect(r.apiStatus()).toBe('pending');
    r.apiPosted(first.id);
    const second = r.startApiPost()!;
    expect(second.endpoint).toBe('/ehr-requests');
    r.apiPosted(second.id);
    expect(r.nextApiPost()).toBeUndefined();
    expect(r.apiOutstanding).toBe(false);
    expect(r.apiStatus()).toBe('ok');
    // A re-sent hook event is a duplicate: nothing new to post.
    expect(r.record(registration).outcome).toBe('duplicate');
    expect(r.nextApiPost()).toBeUndefined();
    expect(r.view(0).apiDelivery).toEqual({ status: 'ok', posted: 2, pending: 0 });
  });

  it('a failed post blocks the ones behind it until replayed; it shows in the view, details and attributes', () => {
    const r = new TransferRecord(input({ events: [registration, requested] }), { now: 0, api: true });
    const first = r.startApiPost()!;
    r.apiPostFailed(first, 'POST /registrations: the API answered 401: Invalid ApiKey', at);
    expect(r.nextApiPost()).toBeUndefined();
    expect(r.apiOutstanding).toBe(true);
    expect(r.apiStatus()).toBe('failed');
    expect(r.view(0).apiDelivery).toMatchObject({ status: 'failed', posted: 0, pending: 2, failed: { id: first.id, endpoint: '/registrations', at } });
    const shown = r.shown(0);
    expect(shown.attributes?.apiDelivery).toBe('failed');
    expect(shown.details).toContain('API post FAILED (/registrations): POST /registrations: the API answered 401: Invalid ApiKey');
    expect(r.replayApiPosts()).toMatchObject({ replayed: { id: first.id }, pending: 2 });
    expect(r.startApiPost()!.id).toBe(first.id);
    expect(r.shown(0).attributes?.apiDelivery).toBe('pending');
  });

  it('posts nothing before a reopened record has its earlier events and posts back; then only the new', () => {
    const r = new TransferRecord(input(), { now: 0, api: true });
    expect(r.restored).toBe(false);
    r.record(requested);
    expect(r.nextApiPost()).toBeUndefined();
    r.restoreRun({ events: [registration], apiDelivery: { posted: ['RR/A81001/REG-1/registration-2026-11-01T09:00:00.000Z/registrations'] } });
    const next = r.startApiPost()!;
    expect(next.endpoint).toBe('/ehr-requests');
  });

  it('carries posted ids and a failure across continue-as-new and into its result; not while a post is in flight', () => {
    const r = new TransferRecord(input({ events: [registration, requested] }), { now: 0, api: true });
    const first = r.startApiPost()!;
    expect(r.continueAsNewInput(Date.now())).toBeUndefined();
    r.apiPosted(first.id);
    const second = r.startApiPost()!;
    r.apiPostFailed(second, 'refused', at);
    const next = r.continueAsNewInput(Date.now())!;
    expect(next.apiDelivery).toEqual({ posted: [first.id], failed: { id: second.id, endpoint: '/ehr-requests', reason: 'refused', at } });
    expect(r.result(0).apiDelivery).toEqual(next.apiDelivery);
    const continued = new TransferRecord(next, { now: 0, continued: true, api: true });
    expect(continued.apiStatus()).toBe('failed');
    continued.replayApiPosts();
    expect(continued.startApiPost()!.id).toBe(second.id);
  });

  it('outputs api: rows are not forwarded; outputs mesh (or a run of an earlier version): nothing of the API', () => {
    const apiOnly = new TransferRecord(input({ options: { outputs: 'api', reportingSystemSupplier: 'S' } }), { now: 0, continued: true, api: true });
    apiOnly.record(registration);
    expect(apiOnly.hasUnforwarded).toBe(false);
    expect(apiOnly.nextApiPost()?.endpoint).toBe('/registrations');

    for (const opts of [{ outputs: 'mesh' as const }, undefined]) {
      const mesh = new TransferRecord(input({ options: opts }), { now: 0, continued: true });
      mesh.record(registration);
      expect(mesh.hasUnforwarded).toBe(true);
      expect(mesh.nextApiPost()).toBeUndefined();
      expect(mesh.apiOutstanding).toBe(false);
      expect(mesh.view(0).apiDelivery).toBeUndefined();
      expect(mesh.shown(0).attributes).not.toHaveProperty('apiDelivery');
      expect(mesh.result(0)).not.toHaveProperty('apiDelivery');
      expect(mesh.replayRefusal()).toMatch(/does not report to the GP Registrations MI API/);
    }
  });
});

describe('TransferRecord: a failed post changes the outcome summary reporting holds (issue 15)', () => {
  it('forwards the summary alone when a post fails and when it is replayed; one forward each', () => {
    const r = new TransferRecord(input({ events: [registration, requested] }), { now: 0, api: true, summaryForwards: true });
    expect(r.hasUnforwarded).toBe(false);
    const first = r.startApiPost()!;
    r.apiPostFailed(first, 'refused', at);
    expect(r.hasUnforwarded).toBe(true);
    const failed = r.startForwarding(Date.now())!;
    expect(failed).toMatchObject({ practiceOds: ods, rows: [], summaries: [{ side: 'RR', key: 'REG-1', apiPostFailed: true }] });
    r.forwarded();
    expect(r.hasUnforwarded).toBe(false);
    r.replayApiPosts();
    const replayed = r.startForwarding(Date.now())!;
    expect(replayed.summaries![0]).not.toHaveProperty('apiPostFailed');
    r.forwarded();
    expect(r.startForwarding(Date.now())).toBeUndefined();
  });

  it('a run of an earlier version (no patch), or a record that forwards no rows, never forwards it alone', () => {
    for (const [opts, summaryForwards] of [[options, false], [{ outputs: 'api' as const, reportingSystemSupplier: 'S' }, true]] as const) {
      const r = new TransferRecord(input({ events: [registration, requested], options: opts }), { now: 0, api: true, summaryForwards });
      r.apiPostFailed(r.startApiPost()!, 'refused', at);
      expect(r.hasUnforwarded).toBe(false);
      expect(r.startForwarding(Date.now())).toBeUndefined();
    }
  });

  it('a failed post is not held with rows waiting for the hand-over point: the console sees it at once (issue 13)', () => {
    const held = { ...options, handOverAtMs: (23 * 60 + 50) * 60_000 };
    const r = new TransferRecord(input({ reopened: false, options: held }), { now: 0, api: true, summaryForwards: true });
    r.record(registration);
    r.record(requested);
    const morning = Date.parse('2026-11-01T10:00:00Z');
    expect(r.forwardDue(morning)).toBe(false);
    r.apiPostFailed(r.startApiPost()!, 'refused', at);
    expect(r.forwardDue(morning)).toBe(true);
    expect(r.startForwarding(morning)).toMatchObject({ rows: [{ day: '2026-11-01' }], summaries: [{ apiPostFailed: true }] });
    r.forwarded();
    // The next event is held again, the failure having been handed over.
    r.record(rr('ehr-received', '2026-11-01T11:00:00.000Z', { conversationId, extractMessageId: conversationId }));
    expect(r.forwardDue(morning + 3_600_000)).toBe(false);
  });

  it('a reopened record does not forward the summary its earlier run already did', () => {
    const r = new TransferRecord(input(), { now: 0, api: true, summaryForwards: true });
    r.restoreRun({ events: [registration, requested], apiDelivery: { posted: [], failed: { id: 'x', endpoint: '/registrations', reason: 'refused', at } } });
    expect(r.hasUnforwarded).toBe(false);
  });
});
