/**
 * Synthetic GP2GP traffic shaped like the national figures (0171.02 volumes, NHS England dashboards):
 * about 87% of transfers integrated within 8 days, ~5% late, 3–4% failed with realistic NACK codes,
 * large messages, internal transfers and registrations with no request. Deterministic for a seed, so
 * tests, the demo, the chaos suite and benchmarks can replay the same days. Identifiers are random
 * UUIDs and made-up registration ids: no patient data.
 */
import type { HookEvent } from '../mi/events';
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
  const uuid = () => {
    const hex = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16)).join('');
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`.toUpperCase();
  };
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
  return events;
}
