/**
 * Dual-run, end to end, on the real stack (Temporal dev server, MESH sandbox, the test run's API
 * stand-in), with outputs `both`: a realistic day of three practices — both roles of one conversation
 * (one practice's RR, another's SR), NACKs of the request and of the extract, failures at the sender and
 * at the PDS trace, degrades, documents (one failed), transfer compatibility (one not compatible), ready
 * to integrate, four integration outcomes, an internal transfer, a registration with no
 * request and one from a GP system that sends no API fields — in through the hooks (the TypeScript
 * client for two practices, the HTTP API for the third), each record's events arriving in a realistic
 * disorder (retried hooks) and some sent twice. It gives
 *  (a) the Authority's MESH record sets byte-equal to `gp2gp-mi render` of the same events, and
 *  (b) at the stand-in exactly the API events apiEventsOf implies for each record's events (computed
 *      here, offline), each once (endpoint + body), each valid per validateApiRequest.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApi, clientBackend } from '../../api/app';
import { syntheticPractice } from '../../demo/traffic';
import { recordKeyOf, type HookEvent } from '../../mi/events';
import { apiEventsOf } from '../../mi/registrations-api-mapping';
import { API_ENDPOINTS, validateApiRequest, type ApiEndpoint } from '../../mi/registrations-api';
import { transferQuery } from '../../messages/transfer';
import type { RecordedRequest } from '../../stack/registrations-api-stand-in';
import { transferWorkflowId } from '../../workflows/ids';
import { offlineRender, waitForForwarding } from '../support/offline-render';
import { eventually, startPipeline, type TestPipeline } from '../support/pipeline';
import { recordSetsOf } from '../support/record-sets';

const SUPPLIER = 'X26E2E051';
const [A, B, C] = ['K51001', 'L51002', 'M51003'] as const;
const PRACTICES = [A, B, C].map((ods, i) => syntheticPractice(ods, `20000000005${i + 1}`));
/** Previous practices outside this service (an internal transfer's, a non-GP2GP practice's). */
const OTHER_SAME_SYSTEM = 'N51099';
const NOT_ELIGIBLE = 'N51098';
const TOKEN = randomUUID();

const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const at = (hhmmss: string) => `${day}T${hhmmss}Z`;
const uuid = () => randomUUID().toUpperCase();
const USER = '123456789012';

/** One record's events, in the order its GP system's hooks deliver them (retries make it differ from occurredAt). */
interface Arrival {
  via: 'client' | 'http';
  events: HookEvent[];
}

/** The API fields a registration carries at a GP system that reports to the API. */
const apiFields = (conversationId: string, trace: { matched: boolean; reason?: string } = { matched: true }) => ({
  conversationId,
  multifactorAuthenticationPresent: true,
  demographicTraceStatus: { ...trace, multifactorAuthenticationPresent: true },
  gpLinksComplete: true,
});

/** The day: each record's events in arrival order. Practice A's GP system sends eventIds; B's and C's do not. */
function theDay(): Arrival[] {
  const arrivals: Arrival[] = [];
  const add = (practiceOds: string, events: HookEvent[]) => {
    const withIds = practiceOds === A ? events.map((e) => ({ ...e, eventId: randomUUID() }) as HookEvent) : events;
    arrivals.push({ via: practiceOds === C ? 'http' : 'client', events: withIds });
  };
  const request = (requester: string, sender: string, registrationId: string, conversationId: string, t: string, extra: Record<string, unknown> = {}) => {
    const rr = { practiceOds: requester, registrationId, conversationId };
    const requestMessageId = uuid();
    return {
      rr,
      sr: { practiceOds: sender, conversationId },
      requestMessageId,
      registration: { type: 'registration', ...rr, ...apiFields(conversationId), occurredAt: at(t), registrationType: 'new', registeringUser: USER, targetOds: sender, ...extra } as HookEvent,
    };
  };
  const regId = (ods: string, n: number) => `E2E-${ods}-${n}-${uuid().slice(0, 8)}`;

  // T1 (A requests from B): integrated, two documents (one failed), a placeholder, degrades. Retried
  // hooks: A's ehr-received after its documents, integration-outcome before ready-to-integrate; B's
  // request-received after its ehr-sent, the acknowledgement last.
  {
    const c = uuid();
    const t = request(A, B, regId(A, 1), c, '08:10:00');
    const extractMessageId = uuid();
    const compat = { type: 'transfer-compatibility', ...t.rr, occurredAt: at('08:11:00'), internalTransfer: false, transferCompatible: true, targetOds: B } as HookEvent;
    const requested = { type: 'ehr-requested', ...t.rr, occurredAt: at('08:12:00'), requestMessageId: t.requestMessageId, targetOds: B } as HookEvent;
    const received = { type: 'ehr-received', ...t.rr, occurredAt: at('08:20:30'), extractMessageId } as HookEvent;
    const doc1 = { type: 'document-received', ...t.rr, occurredAt: at('08:21:00'), clinicalType: 'SCANNED_DOCUMENT', mimeType: 'application/pdf', sizeBytes: 3084322, successful: true } as HookEvent;
    const doc2 = { type: 'document-received', ...t.rr, occurredAt: at('08:21:40'), clinicalType: 'IMAGE', mimeType: 'image/jpeg', sizeBytes: 120_448, successful: false, reason: 'IMG_DECODE: the image could not be decoded' } as HookEvent;
    const ready = { type: 'ready-to-integrate', ...t.rr, occurredAt: at('08:23:00') } as HookEvent;
    const degrades = {
      type: 'degrades-identified',
      ...t.rr,
      occurredAt: at('08:23:05'),
      degrades: [{ type: 'MEDICATION', reason: 'CODE', coding: [{ code: '3438311000001103', system: 'http://snomed.info/sct' }] }],
    } as HookEvent;
    const outcome = { type: 'integration-outcome', ...t.rr, occurredAt: at('14:40:00'), outcome: 'INTEGRATED' } as HookEvent;
    const ack = { type: 'extract-acknowledged', ...t.rr, occurredAt: at('14:40:10'), ackStatus: 1, ackCode: '0', ackMessageId: uuid(), actingUser: USER } as HookEvent;
    add(A, [t.registration, compat, requested, doc1, doc2, received, outcome, ready, degrades, ack]);
    add(B, [
      { type: 'ehr-sent', ...t.sr, occurredAt: at('08:20:00'), extractMessageId, largeMessaging: false, ehrStructuredSizeBytes: 48_213,
        placeholderDetails: [{ clinicalType: 'SCANNED_DOCUMENT', generatedBy: 'SENDER', reason: 'FILE_NOT_FOUND', originalMimeType: 'application/pdf' }] },
      { type: 'request-received', ...t.sr, occurredAt: at('08:12:05'), requestMessageId: t.requestMessageId, requestingOds: A },
      { type: 'conversation-closed', ...t.sr, occurredAt: at('14:40:20') },
      { type: 'request-acknowledged', ...t.sr, occurredAt: at('08:12:06'), ackCode: '0', ackMessageId: uuid() },
    ] as HookEvent[]);
  }

  // T2 (B requests from C): a returning patient, a large message in fragments, integrated and
  // suppressed. B's transfer-compatibility arrives before its (retried) registration.
  {
    const c = uuid();
    const t = request(B, C, regId(B, 1), c, '09:30:00', { registrationType: 'returning' });
    const extractMessageId = uuid();
    add(B, [
      { type: 'transfer-compatibility', ...t.rr, occurredAt: at('09:31:00'), internalTransfer: false, transferCompatible: true, targetOds: C },
      t.registration,
      { type: 'ehr-requested', ...t.rr, occurredAt: at('09:32:00'), requestMessageId: t.requestMessageId, targetOds: C },
      { type: 'ehr-received', ...t.rr, occurredAt: at('09:45:30'), extractMessageId, largeMessageReasons: [1], fragmentsTotal: 3 },
      { type: 'fragments-received', ...t.rr, occurredAt: at('09:49:00'), fragmentsReceived: 3 },
      { type: 'document-received', ...t.rr, occurredAt: at('09:49:30'), clinicalType: 'ORIGINAL_TEXT_DOCUMENT', mimeType: 'application/msword', sizeBytes: 41_200, successful: true },
      { type: 'ready-to-integrate', ...t.rr, occurredAt: at('09:50:00') },
      { type: 'degrades-identified', ...t.rr, occurredAt: at('09:50:02'),
        degrades: [
          { type: 'DRUG_ALLERGY', reason: 'DRUG_NAME', coding: [{ code: '294505008', system: 'http://snomed.info/sct' }] },
          { type: 'RECORD_ENTRY', reason: 'NUMERIC_VALUE', coding: [{ code: '1162737008', system: 'http://snomed.info/sct' }, { code: '44J3.', system: 'http://read.info/readv2' }] },
        ] },
      { type: 'integration-outcome', ...t.rr, occurredAt: at('16:05:00'), outcome: 'INTEGRATED_AND_SUPPRESSED' },
      { type: 'extract-acknowledged', ...t.rr, occurredAt: at('16:05:10'), ackStatus: 1, ackCode: '0', actingUser: USER },
    ] as HookEvent[]);
    add(C, [
      { type: 'request-received', ...t.sr, occurredAt: at('09:32:05'), requestMessageId: t.requestMessageId, requestingOds: B },
      { type: 'request-acknowledged', ...t.sr, occurredAt: at('09:32:06'), ackCode: '0' },
      { type: 'ehr-sent', ...t.sr, occurredAt: at('09:45:00'), extractMessageId, largeMessaging: true, ehrStructuredSizeBytes: 6_291_456 },
      { type: 'fragments-sent', ...t.sr, occurredAt: at('09:48:00'), fragmentsTotal: 3, fragmentsAcceptedByTms: 3, fragmentsAcknowledged: 3 },
      { type: 'conversation-closed', ...t.sr, occurredAt: at('16:05:20') },
    ] as HookEvent[]);
  }

  // T3 (C requests from A): the user rejects the EHR; C's NACK (30) arrives before its integration-outcome.
  {
    const c = uuid();
    const t = request(C, A, regId(C, 1), c, '10:00:00');
    const extractMessageId = uuid();
    add(C, [
      t.registration,
      { type: 'transfer-compatibility', ...t.rr, occurredAt: at('10:01:00'), internalTransfer: false, transferCompatible: true, targetOds: A },
      { type: 'ehr-requested', ...t.rr, occurredAt: at('10:02:00'), requestMessageId: t.requestMessageId, targetOds: A },
      { type: 'ehr-received', ...t.rr, occurredAt: at('10:10:30'), extractMessageId },
      { type: 'ready-to-integrate', ...t.rr, occurredAt: at('10:11:00') },
      { type: 'extract-acknowledged', ...t.rr, occurredAt: at('11:20:05'), ackStatus: 7, ackCode: '30', actingUser: USER, errorDescription: 'EHR rejected by the user: wrong patient' },
      { type: 'integration-outcome', ...t.rr, occurredAt: at('11:20:00'), outcome: 'REJECTED' },
    ] as HookEvent[]);
    add(A, [
      { type: 'request-received', ...t.sr, occurredAt: at('10:02:05'), requestMessageId: t.requestMessageId, requestingOds: C },
      { type: 'request-acknowledged', ...t.sr, occurredAt: at('10:02:06'), ackCode: '0' },
      { type: 'ehr-sent', ...t.sr, occurredAt: at('10:10:00'), extractMessageId, largeMessaging: false, ehrStructuredSizeBytes: 20_480 },
      { type: 'conversation-closed', ...t.sr, occurredAt: at('11:20:15') },
    ] as HookEvent[]);
  }

  // T4 (A requests from C): the sender fails to generate the extract; the requester's failure (60)
  // arrives before its (retried) ehr-requested.
  {
    const c = uuid();
    const t = request(A, C, regId(A, 2), c, '11:00:00');
    add(A, [
      t.registration,
      { type: 'transfer-compatibility', ...t.rr, occurredAt: at('11:00:40'), internalTransfer: false, transferCompatible: true, targetOds: C },
      { type: 'request-failure', ...t.rr, occurredAt: at('11:20:00'), failurePoint: 60, failureType: 2, fatal: true, errorCode: '10', errorDescription: 'Failed to generate EHR extract' },
      { type: 'ehr-requested', ...t.rr, occurredAt: at('11:01:00'), requestMessageId: t.requestMessageId, targetOds: C },
    ] as HookEvent[]);
    add(C, [
      { type: 'request-received', ...t.sr, occurredAt: at('11:01:05'), requestMessageId: t.requestMessageId, requestingOds: A },
      { type: 'request-acknowledged', ...t.sr, occurredAt: at('11:01:06'), ackCode: '0' },
      { type: 'extract-failure', ...t.sr, occurredAt: at('11:19:00'), failurePoint: 30, failureType: 2, fatal: true, errorCode: '10', errorDescription: 'Failed to generate EHR extract' },
    ] as HookEvent[]);
  }

  // T5 (B requests from A): A NACKs the request (19: not the patient's current practice).
  {
    const c = uuid();
    const t = request(B, A, regId(B, 2), c, '12:15:00');
    add(B, [
      t.registration,
      { type: 'transfer-compatibility', ...t.rr, occurredAt: at('12:15:30'), internalTransfer: false, transferCompatible: true, targetOds: A },
      { type: 'ehr-requested', ...t.rr, occurredAt: at('12:16:00'), requestMessageId: t.requestMessageId, targetOds: A },
      { type: 'request-failure', ...t.rr, occurredAt: at('12:17:00'), failurePoint: 60, failureType: 1, fatal: true, errorCode: '19' },
    ] as HookEvent[]);
    add(A, [
      { type: 'request-acknowledged', ...t.sr, occurredAt: at('12:16:06'), ackCode: '19', ackMessageId: uuid(), errorDescription: 'Sender check indicates that Requestor is not the patient’s current healthcare provider' },
      { type: 'request-received', ...t.sr, occurredAt: at('12:16:05'), requestMessageId: t.requestMessageId, requestingOds: B },
    ] as HookEvent[]);
  }

  // T6 (B): an internal transfer from a practice on the same system: no GP2GP request. The
  // registration names no previous practice (no RR4, as demo/traffic.ts sends it); the transfer
  // compatibility that follows does.
  {
    const c = uuid();
    const rr = { practiceOds: B, registrationId: regId(B, 3), conversationId: c };
    add(B, [
      { type: 'registration', ...rr, ...apiFields(c), occurredAt: at('13:00:00'), registrationType: 'internal', registeringUser: 'L4711' },
      { type: 'transfer-compatibility', ...rr, occurredAt: at('13:00:20'), internalTransfer: true, transferCompatible: true, targetOds: OTHER_SAME_SYSTEM },
      { type: 'ready-to-integrate', ...rr, occurredAt: at('13:00:40') },
      { type: 'integration-outcome', ...rr, occurredAt: at('13:05:00'), outcome: 'INTERNAL_TRANSFER' },
    ] as HookEvent[]);
  }

  // T7 (C): a registration with no request: no PDS match, the previous practice not GP2GP-eligible.
  {
    const c = uuid();
    const rr = { practiceOds: C, registrationId: regId(C, 2), conversationId: c };
    add(C, [
      { type: 'registration', ...rr, ...apiFields(c, { matched: false, reason: 'No PDS trace results returned' }), occurredAt: at('14:00:00'), registrationType: 'new', registeringUser: USER, targetOds: NOT_ELIGIBLE },
      { type: 'transfer-compatibility', ...rr, occurredAt: at('14:00:30'), internalTransfer: false, transferCompatible: false, reason: 'Previous practice is not eligible for electronic transfer', targetOds: NOT_ELIGIBLE },
    ] as HookEvent[]);
  }

  // T8 (C): the PDS trace fails before any request (MESH point 20; the API's PATIENT_TRACE).
  {
    const c = uuid();
    const rr = { practiceOds: C, registrationId: regId(C, 3) };
    add(C, [
      { type: 'request-failure', ...rr, occurredAt: at('15:10:30'), failurePoint: 20, failureType: 1, fatal: true, errorCode: '99', errorDescription: 'PDS trace failed', apiFailurePoint: 'PATIENT_TRACE' },
      { type: 'registration', ...rr, ...apiFields(c), occurredAt: at('15:10:00'), registrationType: 'returning', registeringUser: USER, targetOds: B },
    ] as HookEvent[]);
  }

  // T9 (A): a registration from a GP system that sends no API fields: MESH only, nothing for the API.
  add(A, [{ type: 'registration', practiceOds: A, registrationId: regId(A, 3), occurredAt: at('16:30:00'), registrationType: 'new', registeringUser: USER }] as HookEvent[]);

  return arrivals;
}

/** Key order aside, so bodies built from the same facts compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
const requestKey = (endpoint: string, body: unknown) => `${endpoint} ${canonical(body)}`;

async function allStandInRequests(): Promise<RecordedRequest[]> {
  const answer = await fetch(`${new URL(inject('registrationsApiUrl')).origin}/_stand-in/requests`, { headers: { apikey: inject('registrationsApiKey') } });
  if (!answer.ok) throw new Error(`stand-in: ${answer.status}`);
  return ((await answer.json()) as { requests: RecordedRequest[] }).requests;
}

describe('dual-run end to end: one day of hook events, outputs both', () => {
  let pipeline: TestPipeline;
  let http: Awaited<ReturnType<typeof buildApi>>;
  let httpBase: string;

  beforeAll(async () => {
    pipeline = await startPipeline({
      supplierMailbox: 'X26SUP051',
      authorityMailbox: 'X26NHS051',
      practices: PRACTICES,
      env: {
        GP2GP_OUTPUTS: 'both',
        GP2GP_REGISTRATIONS_API_URL: inject('registrationsApiUrl'),
        GP2GP_REGISTRATIONS_API_KEY: inject('registrationsApiKey'),
        GP2GP_REPORTING_SYSTEM_SUPPLIER: SUPPLIER,
      },
    });
    http = await buildApi({ backend: clientBackend(pipeline.client), tokens: [TOKEN], rateLimitPerMinute: 1_000_000, logger: false });
    await http.listen({ host: '127.0.0.1', port: 0 });
    httpBase = `http://127.0.0.1:${(http.server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    await http?.close();
    await pipeline?.stop();
  });

  /** One event through the hooks: the TypeScript client, or POST /v1/events. Returns its status. */
  async function send(via: Arrival['via'], event: HookEvent): Promise<string> {
    if (via === 'client') {
      const outcome = await pipeline.client.recordEvent(event);
      if (outcome.status === 'refused') throw new Error(`refused: ${outcome.message}`);
      return outcome.status;
    }
    const res = await fetch(`${httpBase}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(event) });
    const answer = (await res.json()) as { status: string; error?: { message: string } };
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${JSON.stringify(answer)}`);
    return answer.status;
  }

  it('gives the MESH files of the offline render and exactly the expected API events, each once, each valid', async () => {
    const arrivals = theDay();
    const events = arrivals.flatMap((a) => a.events);
    // Each record's events in its own arrival order; the records all at once.
    const statuses = await Promise.all(arrivals.map(async (a) => {
      const out: string[] = [];
      for (const e of a.events) out.push(await send(a.via, e));
      return out;
    }));
    expect(statuses.flat()).toEqual(events.map(() => 'accepted'));
    // Re-sent hooks (every third event, by both routes): answered, never applied or posted twice.
    const resent = arrivals.flatMap((a) => a.events.filter((_, i) => i % 3 === 1).map((e) => [a.via, e] as const));
    expect(resent.length).toBeGreaterThan(10);
    expect(await Promise.all(resent.map(([via, e]) => send(via, e)))).toEqual(resent.map(() => 'duplicate'));

    // Expected, offline: apiEventsOf over each record's events (grouped as the service groups them).
    const records = new Map<string, { side: 'RR' | 'SR'; events: HookEvent[] }>();
    for (const e of events) {
      const { side, practiceOds, key } = recordKeyOf(e);
      const id = transferWorkflowId(side, practiceOds, key);
      records.set(id, { side, events: [...(records.get(id)?.events ?? []), e] });
    }
    const expectedByRecord = new Map([...records].map(([id, r]) => [id, apiEventsOf(r.side, r.events, { reportingSystemSupplier: SUPPLIER })]));
    const expected = [...expectedByRecord.values()].flat();
    // The day uses every endpoint.
    expect(new Set(expected.map((e) => e.endpoint))).toEqual(new Set(API_ENDPOINTS));
    const perEndpoint = (list: { endpoint: ApiEndpoint }[]) => Object.fromEntries(API_ENDPOINTS.map((ep) => [ep, list.filter((e) => e.endpoint === ep).length]));
    expect(perEndpoint(expected)).toEqual({
      '/registrations': 8, // T1–T8; not T9 (no API fields)
      '/transfer-compatibility-statuses': 7,
      '/ehr-requests': 5,
      '/ehr-responses': 3,
      '/document-responses': 3,
      '/ready-to-integrate-statuses': 4,
      '/ehr-degrades': 2,
      '/ehr-integrations': 4,
      '/errors': 6, // T3 NACK, T4 RR failure + SR extract failure, T5 RR failure + SR NACK, T8 PDS trace
    });

    // Every record has posted all its API events (and still forwarded its rows for MESH).
    for (const [id, want] of expectedByRecord) {
      await eventually(async () => {
        const view = await pipeline.client.temporal.workflow.getHandle(id).query(transferQuery);
        return view.outputs === 'both' && view.apiDelivery?.status === 'ok' && view.apiDelivery.posted === want.length && view.apiDelivery.pending === 0 ? true : undefined;
      }, 60_000, `${id} to post its ${want.length} API events`);
    }

    // (b) What the stand-in accepted of this test (it is shared: ours by supplier, practice or conversation).
    const ours = new Set<string>([A, B, C]);
    const conversations = new Set(events.map((e) => e.conversationId?.toUpperCase()).filter((c) => c !== undefined));
    const received = (await allStandInRequests()).filter(
      (r) =>
        r.body.reportingSystemSupplier === SUPPLIER ||
        ours.has(r.body.reportingPracticeOdsCode as string) ||
        conversations.has(r.body.conversationId as string),
    );
    for (const r of received) expect(validateApiRequest(r.endpoint, r.body), `${r.endpoint} ${JSON.stringify(r.body)}`).toEqual({ ok: true });
    expect(received.map((r) => requestKey(r.endpoint, r.body)).sort()).toEqual(expected.map((e) => requestKey(e.endpoint, e.body)).sort());
    // Each once: no two accepted requests are the same.
    expect(new Set(received.map((r) => requestKey(r.endpoint, r.body))).size).toBe(received.length);
    expect(received.every((r) => r.body.reportingSystemSupplier === SUPPLIER)).toBe(true);

    // (a) MESH: the Authority's record sets are those of `gp2gp-mi render` of the same events.
    await waitForForwarding(pipeline, events);
    const submitted = await pipeline.client.submit({ days: [day] });
    expect(submitted).toHaveLength(3);
    const sets = new Map<string, string>();
    await eventually(async () => {
      for (const file of await pipeline.authority.collect()) for (const [key, set] of recordSetsOf(file.content)) sets.set(key, set);
      return sets.size >= 3 ? true : undefined;
    }, 60_000, 'three record sets in the Authority mailbox');
    const rendered = offlineRender(events, pipeline.practicesFile, day, day, path.dirname(pipeline.practicesFile));
    expect([...sets.keys()].sort()).toEqual([A, B, C].map((ods) => `${ods} ${day}`));
    expect([...rendered.keys()].sort()).toEqual([...sets.keys()].sort());
    for (const [key, set] of rendered) expect(sets.get(key), key).toBe(set);
  });
});
