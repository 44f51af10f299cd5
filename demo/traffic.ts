/**
 * Synthetic GP2GP traffic shaped like the national figures (0171.02 volumes, NHS England dashboards):
 * about 87% of transfers integrated within 8 days, ~5% late, 3–4% failed with realistic NACK codes,
 * large messages, internal transfers and registrations with no request. Deterministic for a seed, so
 * tests, the demo, the chaos suite and benchmarks can replay the same days. Identifiers are random
 * UUIDs and made-up registration ids: no patient data.
 *
 * With `api: true` (the demo, when some practice reports to the GP Registrations MI API) the same
 * traffic is enriched for the API (withApiTraffic): the fields MESH MI lacks and the events of the
 * stages it has no event for, drawn from a second stream of the same seed, so the MESH events keep
 * their types, instants and identifiers. Without it (every existing caller) the output is unchanged.
 */
import type { ClinicalType, DegradeReason, DegradeType, EventOfType, HookEvent, IntegrationOutcome } from '../mi/events';
import type { PracticeSettings } from '../mi/practices';

/** Practice settings (HR fields) for a made-up practice: tests, benches, the chaos suite and the demo. */
export function syntheticPractice(ods: string, asid: string | number, overrides: Partial<PracticeSettings> = {}): PracticeSettings {
  return {
    ods,
    asid: String(asid),
    software: 'DEMO SUPPLIER LTD_Demo Clinical_3.2.1',
    applicationStatus: '110100000000000',
    maxMessageSizeMb: 5,
    maxAttachments: 99,
    maxAttachmentSizeMb: 5,
    largeMessageFactorA: 1,
    largeMessageFactorB: 1,
    ...overrides,
  };
}

/** mulberry32: a small, fast, seeded PRNG, good enough for test data (shared by tests and benches). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface TrafficOptions {
  practices: string[];
  /** UTC days (YYYY-MM-DD) on which registrations / requests start. */
  days: string[];
  /** Registrations per practice per day (each practice also receives requests from the others). */
  registrationsPerPracticeDay?: number;
  seed?: number;
  /** Events later than this instant are left out (a transfer still in progress). */
  notAfter?: string;
  /**
   * Also the GP Registrations MI API's fields and event types (withApiTraffic), so that every one of
   * its nine endpoints is used. Default false: the MESH MI traffic alone, as before issue 12.
   */
  api?: boolean;
}

/** NACK codes seen in practice (0083.08), with rough weights. */
const NACK_CODES: [string, number][] = [
  ['06', 3], ['07', 2], ['09', 1], ['10', 1], ['11', 2], ['12', 1], ['15', 2], ['17', 2], ['19', 1], ['20', 1],
  ['21', 1], ['23', 1], ['24', 1], ['25', 1], ['26', 1], ['28', 1], ['29', 1], ['30', 2], ['31', 1], ['99', 2],
];

export function generateTraffic(options: TrafficOptions): HookEvent[] {
  const rand = prng(options.seed ?? 1);
  const pick = <T>(items: T[]): T => items[Math.floor(rand() * items.length)]!;
  const weighted = (items: [string, number][]): string => {
    const total = items.reduce((n, [, w]) => n + w, 0);
    let r = rand() * total;
    for (const [v, w] of items) if ((r -= w) < 0) return v;
    return items[0]![0];
  };
  const uuid = uuidOf(rand);
  // RR7 / RR31: a Smartcard (SDS) user id (up to 16 digits) or "L" + a local user id.
  const user = () =>
    rand() < 0.8 ? String(100_000_000_000 + Math.floor(rand() * 899_999_999_999)) : `L${Math.floor(rand() * 1e6)}`;
  const notAfter = options.notAfter ? Date.parse(options.notAfter) : Infinity;
  const events: HookEvent[] = [];
  const emit = (event: HookEvent) => {
    if (Date.parse(event.occurredAt) <= notAfter) events.push(event);
  };
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const minutes = (n: number) => n * 60_000;

  const perDay = options.registrationsPerPracticeDay ?? 4;
  for (const day of options.days) {
    const dayStart = Date.parse(`${day}T00:00:00Z`);
    for (const requester of options.practices) {
      for (let i = 0; i < perDay; i++) {
        const registrationId = `REG-${day.replaceAll('-', '')}-${requester}-${i + 1}`;
        const sender = options.practices.length > 1 ? pick(options.practices.filter((p) => p !== requester)) : requester;
        const internal = rand() < 0.05;
        let t = dayStart + minutes(8 * 60 + Math.floor(rand() * 9 * 60));
        const rr = { practiceOds: requester, registrationId };
        emit({
          type: 'registration',
          ...rr,
          occurredAt: iso(t),
          registrationType: internal ? 'internal' : rand() < 0.15 ? 'returning' : 'new',
          registeringUser: user(),
          ...(internal ? {} : { targetOds: sender }),
        });
        // About a third of registrations never lead to a GP2GP request (MI11: still an RR row).
        if (internal || rand() < 0.35) continue;

        const conversationId = uuid();
        t += minutes(2 + Math.floor(rand() * 30));
        if (rand() < 0.01) {
          emit({ type: 'request-failure', ...rr, occurredAt: iso(t), failurePoint: 20, failureType: 1, fatal: true, errorCode: '99', errorDescription: 'PDS trace failed' });
          continue;
        }
        const requestMessageId = uuid();
        emit({ type: 'ehr-requested', ...rr, occurredAt: iso(t), conversationId, requestMessageId, targetOds: sender });
        const sr = { practiceOds: sender, conversationId };
        emit({ type: 'request-received', ...sr, occurredAt: iso(t + 5_000), requestMessageId, requestingOds: requester });
        emit({ type: 'request-acknowledged', ...sr, occurredAt: iso(t + 6_000), ackCode: '0', ackMessageId: uuid() });
        const large = rand() < 0.1;
        t += minutes(5 + Math.floor(rand() * 20));
        if (rand() < 0.015) {
          emit({ type: 'extract-failure', ...sr, occurredAt: iso(t), failurePoint: 30, failureType: 2, fatal: true, errorCode: '10', errorDescription: 'Failed to generate EHR extract' });
          emit({ type: 'request-failure', ...rr, conversationId, occurredAt: iso(t + 60_000), failurePoint: 60, failureType: 2, fatal: true, errorCode: '10' });
          continue;
        }
        const extractMessageId = uuid();
        emit({ type: 'ehr-sent', ...sr, occurredAt: iso(t), extractMessageId, largeMessaging: large });
        emit({ type: 'ehr-received', ...rr, conversationId, occurredAt: iso(t + 30_000), extractMessageId, ...(large ? { largeMessageReasons: [1], fragmentsTotal: 3 } : {}) });
        if (large) {
          emit({ type: 'fragments-sent', ...sr, occurredAt: iso(t + minutes(3)), fragmentsTotal: 3, fragmentsAcceptedByTms: 3, fragmentsAcknowledged: 3 });
          emit({ type: 'fragments-received', ...rr, conversationId, occurredAt: iso(t + minutes(4)), fragmentsReceived: 3 });
        }
        // Integration: 87% within 8 days, ~5% late, ~3.5% NACK, the rest still pending.
        const r = rand();
        let ackAt: number | undefined;
        let nack: string | undefined;
        if (r < 0.87) ackAt = t + minutes(60 + Math.floor(rand() * 7 * 24 * 60));
        else if (r < 0.92) ackAt = t + minutes(8 * 24 * 60 + 60 + Math.floor(rand() * 5 * 24 * 60));
        else if (r < 0.955) {
          ackAt = t + minutes(30 + Math.floor(rand() * 24 * 60));
          nack = weighted(NACK_CODES);
        }
        if (ackAt === undefined) continue;
        emit({
          type: 'extract-acknowledged',
          ...rr,
          conversationId,
          occurredAt: iso(ackAt),
          ackStatus: nack ? (nack === '09' ? 4 : 7) : 1,
          ackCode: nack ?? '0',
          ackMessageId: uuid(),
          actingUser: rand() < 0.9 ? user() : 'SYSTEM',
        });
        emit({ type: 'conversation-closed', ...sr, occurredAt: iso(ackAt + 10_000) });
      }
    }
  }
  return options.api ? withApiTraffic(events, options) : events;
}

/** A random (version 4 shaped) UUID in upper case, from a seeded stream. */
function uuidOf(rand: () => number): () => string {
  return () => {
    const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`.toUpperCase();
  };
}

// ---- the GP Registrations MI API's additions -------------------------------------------------------

/** 0083.08 NACK codes and the API's integration outcome they mean (others: FAILED_TO_INTEGRATE). */
const NACK_OUTCOMES: Record<string, IntegrationOutcome> = {
  '15': 'SUPPRESSED_AND_REACTIVATED', // A-B-A: the extract was stored as a suppressed record
  '17': 'REJECTED', // A-B-A: rejected, wrong or inappropriate patient
  '28': 'REJECTED', // non A-B-A: rejected, wrong or inappropriate patient
};
/** Attachments as GP systems hold them: clinical type, MIME types, weight. */
const DOCUMENTS: [ClinicalType, string[], number][] = [
  ['SCANNED_DOCUMENT', ['application/pdf', 'image/tiff'], 8],
  ['ORIGINAL_TEXT_DOCUMENT', ['application/pdf', 'text/plain', 'application/rtf', 'application/msword'], 5],
  ['OCR_TEXT_DOCUMENT', ['text/plain'], 1],
  ['IMAGE', ['image/jpeg', 'image/png'], 2],
  ['AUDIO_DICTATION', ['audio/mpeg'], 1],
  ['OTHER', ['application/octet-stream'], 1],
];
const DEGRADE_CODES: { type: DegradeType; reason: DegradeReason; system: string; codes: string[] }[] = [
  { type: 'MEDICATION', reason: 'DRUG_NAME', system: 'http://snomed.info/sct', codes: ['322236009', '317896006', '39732311000001104'] },
  { type: 'DRUG_ALLERGY', reason: 'CODE', system: 'http://snomed.info/sct', codes: ['294505008', '91936005'] },
  { type: 'NON_DRUG_ALLERGY', reason: 'CODE', system: 'http://snomed.info/sct', codes: ['300913006'] },
  { type: 'RECORD_ENTRY', reason: 'NUMERIC_VALUE', system: 'http://snomed.info/sct', codes: ['1676331000000110', '271649006'] },
  { type: 'RECORD_ENTRY', reason: 'CODE', system: 'http://read.info/readv2', codes: ['EMISNQ123', '9N1y.'] },
  { type: 'REFERRAL', reason: 'CODE', system: 'http://snomed.info/sct', codes: ['183444007'] },
  { type: 'PLAN', reason: 'OTHER', system: 'http://snomed.info/sct', codes: ['390906007'] },
];

/**
 * The traffic a GP system that also reports to the GP Registrations MI API sends (issue 12): the same
 * MESH MI events with the API's fields, and the events of the stages MESH MI has no event for.
 *
 * - every registration: a conversation ID from the moment of registration (the request's, when one
 *   follows), multi-factor authentication, the PDS trace (not matched when the trace failed), GP Links;
 *   a transfer-compatibility a minute later (internal; compatible; or not, with the reason);
 * - a received EHR: 0–4 documents (a few not saved, with the reason), ready-to-integrate five minutes
 *   after it arrived, degrades in about one in five, and with its acknowledgement the integration
 *   outcome (a NACK's outcome from its code); an internal transfer: INTERNAL_TRANSFER;
 * - a sent EHR: the structured part's size, and placeholders in a few;
 * - a PDS trace failure says so (apiFailurePoint PATIENT_TRACE).
 * So that every endpoint is used even on a small run: when chance gave the traffic no NACK and no
 * failure (nothing for /errors), its last positive acknowledgement becomes a NACK; when it gave no
 * document or no degrade, the first received EHR gets one. Extras are drawn from a second stream of the
 * same seed (the same seed, the same events); events later than `notAfter` are left out, as before.
 * The input is not changed.
 */
export function withApiTraffic(events: readonly HookEvent[], options: Pick<TrafficOptions, 'practices' | 'seed' | 'notAfter'>): HookEvent[] {
  const rand = prng(((options.seed ?? 1) ^ 0x5eed_a91) >>> 0);
  const uuid = uuidOf(rand);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)]!;
  const chance = (p: number) => rand() < p;
  const notAfter = options.notAfter ? Date.parse(options.notAfter) : Infinity;
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const ms = (e: HookEvent) => Date.parse(e.occurredAt);

  const out = events.map((e) => ({ ...e }) as HookEvent);
  const byRegistration = new Map<string, Partial<{ [T in HookEvent['type']]: EventOfType<T> }>>();
  const sent = new Map<string, EventOfType<'ehr-sent'>>();
  for (const e of out) {
    if (e.type === 'ehr-sent') sent.set(e.conversationId, e);
    if (!('registrationId' in e)) continue;
    const record = byRegistration.get(e.registrationId) ?? {};
    (record as Record<string, HookEvent>)[e.type] = e;
    byRegistration.set(e.registrationId, record);
  }
  const acks = out.filter((e): e is EventOfType<'extract-acknowledged'> => e.type === 'extract-acknowledged');

  // Something for /errors on every run.
  const anyError = out.some((e) => e.type === 'request-failure' || e.type === 'extract-failure' || (e.type === 'extract-acknowledged' && e.ackCode !== '0'));
  const lastAck = [...acks].reverse().find((a) => a.ackCode === '0');
  if (!anyError && lastAck) Object.assign(lastAck, { ackStatus: 7, ackCode: '11' });

  // Events added after an event of the traffic (its anchor), in the order they happen.
  const added = new Map<HookEvent, HookEvent[]>();
  const add = (anchor: HookEvent, event: HookEvent) => {
    if (ms(event) > notAfter) return;
    added.set(anchor, [...(added.get(anchor) ?? []), event]);
  };
  const documents = (anchor: HookEvent, rr: { practiceOds: string; registrationId: string }, at: number, n: number, large: boolean) => {
    for (let i = 0; i < n; i++) {
      const [clinicalType, mimeTypes] = weightedDocument(rand);
      const successful = chance(0.97);
      add(anchor, {
        type: 'document-received',
        ...rr,
        occurredAt: iso(at + (i + 1) * 30_000),
        clinicalType,
        mimeType: pick(mimeTypes),
        sizeBytes: Math.floor((large ? 2_000_000 : 20_000) + rand() * (large ? 40_000_000 : 4_000_000)),
        successful,
        ...(successful ? {} : { reason: pick(['Unsupported file type', 'Attachment could not be saved: checksum mismatch']) }),
      });
    }
  };
  const degrades = (anchor: HookEvent, rr: { practiceOds: string; registrationId: string }, at: number, n: number) =>
    add(anchor, {
      type: 'degrades-identified',
      ...rr,
      occurredAt: iso(at),
      degrades: Array.from({ length: n }, () => {
        const d = pick(DEGRADE_CODES);
        return { type: d.type, reason: d.reason, coding: [{ code: pick(d.codes), system: d.system }] };
      }),
    });

  let documentsSeen = false;
  let degradesSeen = false;
  let firstReceived: { anchor: HookEvent; rr: { practiceOds: string; registrationId: string }; at: number; large: boolean } | undefined;
  for (const e of out) {
    if (e.type === 'registration') {
      const record = byRegistration.get(e.registrationId)!;
      const rr = { practiceOds: e.practiceOds, registrationId: e.registrationId };
      const traceFailed = record['request-failure']?.failurePoint === 20;
      const mfa = chance(0.85);
      Object.assign(e, {
        conversationId: record['ehr-requested']?.conversationId ?? record['request-failure']?.conversationId ?? uuid(),
        ...(chance(0.02) ? { apiRegistrationType: 'CHANGE_PATIENT_TYPE' } : {}),
        ...(record['extract-acknowledged']?.ackCode === '15' ? { returningPatient: true } : {}),
        multifactorAuthenticationPresent: mfa,
        demographicTraceStatus: traceFailed ? { matched: false, reason: 'No PDS trace results returned', multifactorAuthenticationPresent: mfa } : { matched: true, multifactorAuthenticationPresent: mfa },
        gpLinksComplete: chance(0.93),
      });
      const at = ms(e);
      if (e.registrationType === 'internal') {
        // Within one system: the previous practice is another of the same supplier's.
        const others = options.practices.filter((p) => p !== e.practiceOds);
        if (others.length === 0) continue;
        const previous = pick(others);
        add(e, { type: 'transfer-compatibility', ...rr, occurredAt: iso(at + 60_000), internalTransfer: true, transferCompatible: true, targetOds: previous });
        add(e, { type: 'integration-outcome', ...rr, occurredAt: iso(at + 600_000 + Math.floor(rand() * 3 * 3_600_000)), outcome: 'INTERNAL_TRANSFER' });
      } else if (record['ehr-requested'] || record['request-failure']) {
        add(e, { type: 'transfer-compatibility', ...rr, occurredAt: iso(at + 60_000), internalTransfer: false, transferCompatible: true });
      } else {
        const reason = e.targetOds === e.practiceOds ? 'Sending practice is the same as requesting practice' : 'Previous practice is not eligible for electronic transfer';
        add(e, { type: 'transfer-compatibility', ...rr, occurredAt: iso(at + 60_000), internalTransfer: false, transferCompatible: false, reason });
      }
    } else if (e.type === 'request-failure' && e.failurePoint === 20) {
      Object.assign(e, { apiFailurePoint: 'PATIENT_TRACE' });
    } else if (e.type === 'ehr-sent') {
      const large = e.largeMessaging;
      Object.assign(e, {
        ehrStructuredSizeBytes: Math.floor((large ? 3_000_000 : 40_000) + rand() * (large ? 6_000_000 : 2_000_000)),
        ...(chance(0.08)
          ? {
              placeholderDetails: Array.from({ length: 1 + Math.floor(rand() * 2) }, () => {
                const [clinicalType, mimeTypes] = weightedDocument(rand);
                return { clinicalType, generatedBy: chance(0.8) ? 'SENDER' : 'PRE_EXISTING', reason: pick(['FILE_TYPE_UNSUPPORTED', 'FILE_DELETED', 'FILE_NOT_FOUND', 'FILE_LOCKED', 'UNABLE_TO_DETERMINE_PROBLEM'] as const), originalMimeType: pick(mimeTypes) };
              }),
            }
          : {}),
      });
    } else if (e.type === 'ehr-received') {
      const record = byRegistration.get(e.registrationId)!;
      const rr = { practiceOds: e.practiceOds, registrationId: e.registrationId };
      // Documents arrive with the extract, or with its fragments; ready to integrate once all are in.
      const anchor: HookEvent = record['fragments-received'] ?? e;
      const at = ms(anchor);
      const large = e.largeMessageReasons !== undefined;
      firstReceived ??= { anchor, rr, at, large };
      if (chance(0.55)) {
        documents(anchor, rr, at, 1 + Math.floor(rand() * 4), large);
        documentsSeen = true;
      }
      add(anchor, { type: 'ready-to-integrate', ...rr, occurredAt: iso(at + 300_000) });
      if (chance(0.2)) {
        degrades(anchor, rr, at + 301_000, 1 + Math.floor(rand() * 3));
        degradesSeen = true;
      }
    } else if (e.type === 'extract-acknowledged') {
      const registration = byRegistration.get(e.registrationId)!.registration;
      const returning = registration?.registrationType === 'returning';
      const outcome: IntegrationOutcome =
        e.ackCode !== '0' ? (NACK_OUTCOMES[e.ackCode] ?? 'FAILED_TO_INTEGRATE') : returning && chance(0.25) ? 'INTEGRATED_AND_SUPPRESSED' : chance(0.02) ? 'FILED_AS_ATTACHMENT' : 'INTEGRATED';
      add(e, { type: 'integration-outcome', practiceOds: e.practiceOds, registrationId: e.registrationId, occurredAt: e.occurredAt, outcome });
    }
  }
  if (firstReceived && !documentsSeen) documents(firstReceived.anchor, firstReceived.rr, firstReceived.at, 1, firstReceived.large);
  if (firstReceived && !degradesSeen) degrades(firstReceived.anchor, firstReceived.rr, firstReceived.at + 301_000, 1);

  return out.flatMap((e) => [e, ...(added.get(e) ?? []).sort((a, b) => ms(a) - ms(b))]);
}

function weightedDocument(rand: () => number): [ClinicalType, string[]] {
  const total = DOCUMENTS.reduce((n, [, , w]) => n + w, 0);
  let r = rand() * total;
  for (const [type, mimes, w] of DOCUMENTS) if ((r -= w) < 0) return [type, mimes];
  return [DOCUMENTS[0]![0], DOCUMENTS[0]![1]];
}
