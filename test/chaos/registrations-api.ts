/**
 * The chaos suite's part for the GP Registrations MI API (issue 12): traffic that implies API events
 * at every endpoint, and the event-by-event proof that what reached the stand-in is exactly what the
 * accepted hook events imply (mi/registrations-api-mapping.ts, computed offline).
 *
 * The traffic: demo/traffic.ts makes MESH-shaped transfers. When it carries no API-only stage yet,
 * `withApiStages` adds, deterministically for a seed, what a GP system would also send: the API fields
 * on every registration (a conversation ID from registration, MFA, the PDS trace, GP Links), transfer
 * compatibility, documents, ready to integrate, degrades, the integration outcome, and the EHR's size
 * and placeholders on ehr-sent (the stages for about half the registrations, to keep the run short).
 * Events later than `notAfter` are left out, as the generator does.
 *
 * The proof (`proveApiDelivery`): expected = apiEventsOf over each transfer's accepted events; the
 * stand-in's accepted requests are compared with it as multisets of bodies (canonical JSON):
 *   lost      an expected body the stand-in never accepted;
 *   invented  an accepted body no transfer implies;
 *   repeats   an expected body accepted more than once (the API has no idempotency key: a post whose
 *             answer was lost is posted again). Each repeat is explained either by a lost answer at the
 *             proxy (dropped after the stand-in acted, or a reset) or by a worker SIGKILL / Temporal
 *             restart between the two copies (an activity whose completion was lost is run again).
 * Bodies are compared whole: a body never depends on the order events arrived in (the mapping's
 * property test).
 */
import type { HookEvent } from '../../mi/events';
import { recordKeyOf } from '../../mi/events';
import { apiEventsOf, type ApiEvent } from '../../mi/registrations-api-mapping';
import { validateApiRequest } from '../../mi/registrations-api';
import type { RecordedRequest } from '../../stack/registrations-api-stand-in';

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const MINUTE = 60_000;
/** Share of registrations (with a previous practice) that get the API-only stages. */
const STAGES_SHARE = 0.5;

/** True when the traffic already carries the API-only stages (demo/traffic.ts may make them itself). */
export function hasApiStages(events: readonly HookEvent[]): boolean {
  const types = new Set(events.map((e) => e.type));
  return ['transfer-compatibility', 'ready-to-integrate', 'integration-outcome'].every((t) => types.has(t as HookEvent['type']));
}

/**
 * The generated traffic with the API's stages added (see the file's comment). Events are copied, never
 * changed in place; the new ones keep the generator's shapes (UTC, whole seconds).
 */
export function withApiStages(events: readonly HookEvent[], options: { random: () => number; notAfter: string }): HookEvent[] {
  const rand = options.random;
  const notAfter = Date.parse(options.notAfter);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const uuid = () => {
    const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`.toUpperCase();
  };
  const out: HookEvent[] = events.map((e) => ({ ...e }) as HookEvent);
  const added: HookEvent[] = [];
  const add = (e: HookEvent) => {
    if (Date.parse(e.occurredAt) <= notAfter) added.push(e);
  };

  // The requester's events by registration; the sender's by conversation.
  const byRegistration = new Map<string, HookEvent[]>();
  for (const e of out) {
    if (!('registrationId' in e)) continue;
    const k = `${e.practiceOds}/${e.registrationId}`;
    const list = byRegistration.get(k) ?? [];
    list.push(e);
    byRegistration.set(k, list);
  }

  for (const list of byRegistration.values()) {
    const reg = list.find((e) => e.type === 'registration');
    if (!reg || reg.type !== 'registration') continue;
    const rr = { practiceOds: reg.practiceOds, registrationId: reg.registrationId };
    const requested = list.find((e) => e.type === 'ehr-requested');
    // The API's conversation ID is made at registration and used throughout: the request's when there
    // is one, else a new one; every requester event of the registration carries it.
    const conversationId = requested?.conversationId ?? list.find((e) => e.conversationId)?.conversationId ?? uuid();
    for (const e of list) (e as { conversationId?: string }).conversationId = conversationId;
    const matched = rand() < 0.95;
    const mfa = rand() < 0.9;
    Object.assign(reg, {
      ...(rand() < 0.05 ? { apiRegistrationType: 'CHANGE_PATIENT_TYPE' } : {}),
      multifactorAuthenticationPresent: mfa,
      demographicTraceStatus: matched ? { matched: true, multifactorAuthenticationPresent: mfa } : { matched: false, reason: 'No PDS trace results returned', multifactorAuthenticationPresent: mfa },
      gpLinksComplete: rand() < 0.9,
    });
    const at = Date.parse(reg.occurredAt);
    // An internal registration names no previous practice: its stages need one, so it has none here.
    // The others: about half carry the API-only stages (enough for every endpoint, and the run stays
    // within CI's minutes); every registration carries the API fields and every ehr-sent its size.
    if (reg.registrationType === 'internal' || reg.targetOds === undefined || rand() >= STAGES_SHARE) continue;
    const compatible = requested !== undefined || list.some((e) => e.type === 'request-failure');
    add({
      type: 'transfer-compatibility',
      ...rr,
      conversationId,
      occurredAt: iso(at + MINUTE),
      internalTransfer: false,
      transferCompatible: compatible,
      ...(compatible ? {} : { reason: 'Previous practice is not eligible for electronic transfer' }),
      targetOds: reg.targetOds,
    });

    const received = list.find((e) => e.type === 'ehr-received');
    if (!received) continue;
    const t = Date.parse(received.occurredAt);
    const documents = rand() < 0.4 ? 1 + Math.floor(rand() * 2) : 0;
    for (let d = 0; d < documents; d++) {
      const successful = rand() < 0.9;
      add({
        type: 'document-received',
        ...rr,
        conversationId,
        occurredAt: iso(t + MINUTE + d * 20_000),
        clinicalType: pick(['SCANNED_DOCUMENT', 'ORIGINAL_TEXT_DOCUMENT', 'IMAGE', 'OTHER'] as const),
        mimeType: pick(['application/pdf', 'image/jpeg', 'text/plain']),
        sizeBytes: 10_000 + Math.floor(rand() * 4_000_000),
        successful,
        ...(successful ? {} : { reason: 'FILE_NOT_SAVED: the document could not be stored' }),
      });
    }
    add({ type: 'ready-to-integrate', ...rr, conversationId, occurredAt: iso(t + 2 * MINUTE) });
    if (rand() < 0.15) {
      add({
        type: 'degrades-identified',
        ...rr,
        conversationId,
        occurredAt: iso(t + 3 * MINUTE),
        degrades: [
          {
            type: pick(['MEDICATION', 'DRUG_ALLERGY', 'RECORD_ENTRY', 'PLAN'] as const),
            reason: pick(['CODE', 'NUMERIC_VALUE', 'DRUG_NAME', 'OTHER'] as const),
            coding: [{ code: String(100_000 + Math.floor(rand() * 900_000_000)), system: 'http://snomed.info/sct' }],
          },
        ],
      });
    }
    const ack = list.find((e) => e.type === 'extract-acknowledged');
    if (ack && ack.type === 'extract-acknowledged') {
      const integrated = ack.ackCode === '0';
      const outcome = integrated ? (reg.registrationType === 'returning' && rand() < 0.3 ? 'INTEGRATED_AND_SUPPRESSED' : 'INTEGRATED') : pick(['REJECTED', 'FAILED_TO_INTEGRATE'] as const);
      add({ type: 'integration-outcome', ...rr, conversationId, occurredAt: iso(Date.parse(ack.occurredAt) - 30_000), outcome });
    }
  }

  // The sender: the EHR's structured size, and sometimes a placeholder for an attachment not sent.
  for (const e of out) {
    if (e.type !== 'ehr-sent') continue;
    Object.assign(e, {
      ehrStructuredSizeBytes: 20_000 + Math.floor(rand() * 3_000_000),
      ...(rand() < 0.15
        ? { placeholderDetails: [{ clinicalType: 'SCANNED_DOCUMENT', generatedBy: pick(['SENDER', 'PRE_EXISTING'] as const), reason: pick(['FILE_TYPE_UNSUPPORTED', 'FILE_NOT_FOUND'] as const), originalMimeType: 'image/tiff' }] }
        : {}),
    });
  }
  return [...out, ...added];
}

// ---- the proof -----------------------------------------------------------------------------------

/** JSON with object keys sorted: the same body however its keys were ordered. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

/** The identity an API event is matched by: endpoint + its whole body (which never depends on arrival). */
function identity(endpoint: string, body: Record<string, unknown>): string {
  return `${endpoint} ${canonical(body)}`;
}

/** A span of time in which a post's completion could be lost by the pipeline itself (ms since epoch). */
export interface LossWindow {
  from: number;
  to: number;
  what: string;
}

export interface ApiProof {
  transfers: number;
  expected: number;
  received: number;
  byEndpoint: Record<string, { expected: number; received: number }>;
  lost: number;
  invented: number;
  repeats: number;
  /** Repeats whose earlier copy and repeat straddle a worker SIGKILL or a Temporal restart. */
  repeatsAcrossProcessLoss: number;
  /** The other repeats: only a lost answer at the proxy can explain them. */
  repeatsAfterLostAnswers: number;
  invalidReceived: string[];
  invalidExpected: string[];
  lostExamples: string[];
  inventedExamples: string[];
  endpointsUsed: number;
}

/** Expected API events of the accepted hook events, per transfer (side + practice + key). */
export function expectedApiEvents(accepted: readonly HookEvent[], reportingSystemSupplier: string): ApiEvent[] {
  const byTransfer = new Map<string, { side: 'RR' | 'SR'; events: HookEvent[] }>();
  for (const e of accepted) {
    const k = recordKeyOf(e);
    const id = `${k.side}/${k.practiceOds}/${k.key}`;
    const entry = byTransfer.get(id) ?? { side: k.side, events: [] };
    entry.events.push(e);
    byTransfer.set(id, entry);
  }
  return [...byTransfer.values()].flatMap((t) => apiEventsOf(t.side, t.events, { reportingSystemSupplier }));
}

export function proveApiDelivery(expected: readonly ApiEvent[], received: readonly RecordedRequest[], lossWindows: readonly LossWindow[]): ApiProof {
  const want = new Map<string, ApiEvent[]>();
  for (const e of expected) {
    const k = identity(e.endpoint, e.body);
    const list = want.get(k) ?? [];
    list.push(e);
    want.set(k, list);
  }
  const have = new Map<string, RecordedRequest[]>();
  for (const r of [...received].sort((a, b) => a.seq - b.seq)) {
    const k = identity(r.endpoint, r.body);
    const list = have.get(k) ?? [];
    list.push(r);
    have.set(k, list);
  }

  const byEndpoint: ApiProof['byEndpoint'] = {};
  for (const e of expected) (byEndpoint[e.endpoint] ??= { expected: 0, received: 0 }).expected++;
  for (const r of received) (byEndpoint[r.endpoint] ??= { expected: 0, received: 0 }).received++;

  let lost = 0;
  let invented = 0;
  let repeats = 0;
  let acrossLoss = 0;
  const lostExamples: string[] = [];
  const inventedExamples: string[] = [];
  for (const [k, wanted] of want) {
    const got = have.get(k) ?? [];
    if (got.length < wanted.length) {
      lost += wanted.length - got.length;
      if (lostExamples.length < 3) lostExamples.push(`${wanted[0]!.id}`);
    }
    if (got.length > wanted.length) {
      repeats += got.length - wanted.length;
      // The extra copies (the later ones): each explained by a process loss between it and the copy before.
      for (let i = wanted.length; i < got.length; i++) {
        const t1 = Date.parse(got[i - 1]!.receivedAt);
        const t2 = Date.parse(got[i]!.receivedAt);
        if (lossWindows.some((w) => w.from <= t2 && w.to >= t1)) acrossLoss++;
      }
    }
  }
  for (const [k, got] of have) {
    if (want.has(k)) continue;
    invented += got.length;
    if (inventedExamples.length < 3) inventedExamples.push(`#${got[0]!.seq} ${k.slice(0, 160)}`);
  }

  const invalidReceived = received.filter((r) => !validateApiRequest(r.endpoint, r.body).ok).map((r) => `#${r.seq} ${r.endpoint}`);
  const invalidExpected = expected.filter((e) => !validateApiRequest(e.endpoint, e.body).ok).map((e) => e.id);
  const transfers = new Set(expected.map((e) => e.id.split('/').slice(0, 3).join('/'))).size;
  return {
    transfers,
    expected: expected.length,
    received: received.length,
    byEndpoint,
    lost,
    invented,
    repeats,
    repeatsAcrossProcessLoss: acrossLoss,
    repeatsAfterLostAnswers: repeats - acrossLoss,
    invalidReceived,
    invalidExpected,
    lostExamples,
    inventedExamples,
    endpointsUsed: Object.values(byEndpoint).filter((c) => c.received > 0).length,
  };
}
