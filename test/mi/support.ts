/**
 * Shared test material for the MI core: demo practice settings, and fast-check generators of valid
 * hook events for one record (RR or SR) with deliberately few distinct instants, so that ties in
 * occurredAt — the hard case for "arrival order never matters" — are common.
 */
import fc from 'fast-check';
import type { HookEvent, Side } from '../../mi/events';
import { containsNhsNumber } from '../../mi/formats';
import type { PracticeSettings } from '../../mi/practices';

export const PRACTICE: PracticeSettings = {
  ods: 'A12345',
  asid: '200000000101',
  software: 'DEMO SUPPLIER LTD_Demo Clinical_3.2.1',
  applicationStatus: '111110000000000',
  maxMessageSizeMb: 5,
  maxAttachments: 99,
  maxAttachmentSizeMb: 5,
  largeMessageFactorA: 1,
  largeMessageFactorB: 1,
};

export const CONVERSATION_IDS = ['C2ACE0E0-D575-4272-BD27-0FF081C37440', 'D3BDF1F1-E686-4383-8E38-1AA092D48551'];

/** Drops undefined fields, as JSON would. */
export function compact<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const BASE_MS = Date.parse('2026-03-27T22:00:00Z');
/** 2026-03-27 22:00 to 2026-03-29 02:00 in 20-minute steps: three UTC days, many equal instants. */
export const instantArb = fc.integer({ min: 0, max: 84 }).map((n) => new Date(BASE_MS + n * 20 * 60_000).toISOString());

const uuid = fc.uuid().map((u) => u.toUpperCase());
const ods = fc.constantFrom('B23456', 'C34567', 'D81008');
const user = fc.constantFrom('1234567890', '555021935107', 'L42', 'Lreception.01');
const retries = fc.option(fc.integer({ min: 0, max: 99 }), { nil: undefined });
const errorCode = (max: number) => fc.option(fc.stringMatching(new RegExp(`^[A-Z0-9]{1,${max}}$`)), { nil: undefined });
const frag = fc.integer({ min: 0, max: 999 });

/** Free text that exercises rendering: commas, quotes, line breaks, tabs, non-ASCII, over-long. */
export const textArb = fc
  .array(fc.constantFrom('a', 'Z', ' ', ',', '"', '\n', '\r\n', '\t', 'é', '😀', '7', '-', 'timeout'), { minLength: 1, maxLength: 140 })
  .map((parts) => parts.join(''))
  .filter((t) => !containsNhsNumber(t));
const optText = fc.option(textArb, { nil: undefined });

function requesterFields(type: HookEvent['type']): fc.Arbitrary<Record<string, unknown>> {
  switch (type) {
    case 'registration':
      return fc.record({
        targetOds: fc.option(ods, { nil: undefined }),
        registrationType: fc.constantFrom('undetermined', 'new', 'returning', 'internal'),
        registeringUser: user,
      });
    case 'request-failure':
      return fc.record({
        conversationId: fc.option(fc.constantFrom(...CONVERSATION_IDS), { nil: undefined }),
        failurePoint: fc.constantFrom(10, 20, 30, 40, 50, 60, 70),
        failureType: fc.integer({ min: 0, max: 6 }),
        fatal: fc.boolean(),
        failedMessageId: fc.option(uuid, { nil: undefined }),
        errorCode: errorCode(8),
        errorDescription: optText,
        retries,
      });
    case 'ehr-requested':
      return fc.record({ conversationId: fc.constantFrom(...CONVERSATION_IDS), requestMessageId: uuid, targetOds: fc.option(ods, { nil: undefined }) });
    case 'ehr-received':
      return fc.record({
        extractMessageId: uuid,
        largeMessageReasons: fc.option(
          fc.oneof(fc.constant([0]), fc.uniqueArray(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 5 })),
          { nil: undefined },
        ),
        fragmentsTotal: fc.option(frag, { nil: undefined }),
      });
    case 'fragments-received':
      return fc.record({ fragmentsReceived: frag });
    case 'extract-acknowledged':
      return fc
        .integer({ min: 0, max: 7 })
        .chain((ackStatus) =>
          fc.record({
            ackStatus: fc.constant(ackStatus),
            // 01, 22 and 50 are in 0171.02's range 01–99 but not in 0083.08's list: accepted all the same.
            ackCode: ackStatus === 1 ? fc.constant('0') : ackStatus >= 2 ? fc.constantFrom('06', '11', '12', '99', '01', '50') : fc.constantFrom('0', '06', '22'),
            ackMessageId: fc.option(uuid, { nil: undefined }),
            actingUser: fc.oneof(user, fc.constant('SYSTEM')),
            retries,
          }),
        );
    case 'extract-ack-failure':
      return fc.record({ failureType: fc.constantFrom(1, 2), errorCode: fc.stringMatching(/^[A-Z0-9]{1,8}$/), errorDescription: optText, retries });
    default:
      throw new Error(`not a requester event: ${type}`);
  }
}

function senderFields(type: HookEvent['type']): fc.Arbitrary<Record<string, unknown>> {
  switch (type) {
    case 'request-received':
      return fc.record({ requestMessageId: uuid, requestingOds: ods, requesterConfig: fc.option(fc.constantFrom('0000000000', '1000000000', '1100000000'), { nil: undefined }) });
    case 'request-acknowledged':
      return fc.record({
        ackCode: fc.constantFrom('0', '06', '07', '19', '01', '22', '50'),
        ackMessageId: fc.option(uuid, { nil: undefined }),
        failureType: fc.option(fc.constantFrom(1, 2), { nil: undefined }),
        errorCode: errorCode(10),
        errorDescription: optText,
        retries,
      });
    case 'extract-failure':
      return fc.record({
        failurePoint: fc.constantFrom(10, 20, 30, 40, 50, 60, 70),
        failureType: fc.integer({ min: 1, max: 4 }),
        fatal: fc.boolean(),
        failedMessageId: fc.option(uuid, { nil: undefined }),
        errorCode: errorCode(10),
        errorDescription: optText,
        retries,
      });
    case 'ehr-sent':
      return fc.record({
        extractMessageId: uuid,
        largeMessaging: fc.boolean(),
        placeholders: fc.option(
          fc.record({ fileTypeUnsupported: frag, deleted: frag, notFound: frag, locked: frag, undetermined: frag }),
          { nil: undefined },
        ),
      });
    case 'fragments-sent':
      return frag.chain((total) =>
        fc.record({ fragmentsTotal: fc.constant(total), fragmentsAcceptedByTms: fc.integer({ min: 0, max: total }), fragmentsAcknowledged: fc.integer({ min: 0, max: total }) }),
      );
    case 'conversation-closed':
      return fc.constant({});
    default:
      throw new Error(`not a sender event: ${type}`);
  }
}

const RR_TYPES = ['registration', 'request-failure', 'ehr-requested', 'ehr-received', 'fragments-received', 'extract-acknowledged', 'extract-ack-failure'] as const;
const SR_TYPES = ['request-received', 'request-acknowledged', 'extract-failure', 'ehr-sent', 'fragments-sent', 'conversation-closed'] as const;

/** One valid event of a record: `key` is the registrationId (RR) or conversationId (SR). */
export function eventArb(side: Side, key: string, practiceOds = PRACTICE.ods): fc.Arbitrary<HookEvent> {
  const types = side === 'RR' ? RR_TYPES : SR_TYPES;
  return fc.constantFrom<HookEvent['type']>(...types).chain((type) =>
    fc
      .record({
        fields: side === 'RR' ? requesterFields(type) : senderFields(type),
        occurredAt: instantArb,
        eventId: fc.option(fc.uuid(), { nil: undefined }),
      })
      .map(({ fields, occurredAt, eventId }) =>
        compact({
          type,
          practiceOds,
          ...(side === 'RR' ? { registrationId: key } : { conversationId: key }),
          occurredAt,
          eventId,
          ...fields,
        }) as unknown as HookEvent,
      ),
  );
}

/** The events of one record (1 to 12). */
export function recordEventsArb(side: Side, key: string, practiceOds = PRACTICE.ods): fc.Arbitrary<HookEvent[]> {
  return fc.array(eventArb(side, key, practiceOds), { minLength: 1, maxLength: 12 });
}

/** A side and the events of one record of that side. */
export const anyRecordArb: fc.Arbitrary<{ side: Side; key: string; events: HookEvent[] }> = fc.oneof(
  recordEventsArb('RR', 'REG-1').map((events) => ({ side: 'RR' as const, key: 'REG-1', events })),
  recordEventsArb('SR', CONVERSATION_IDS[0]!).map((events) => ({ side: 'SR' as const, key: CONVERSATION_IDS[0]!, events })),
);

/** The same instant written with a +01:00 offset: a different text for the same content. */
export function inPlusOne(iso: string): string {
  const local = new Date(Date.parse(iso) + 3_600_000).toISOString().slice(0, 19);
  return `${local}+01:00`;
}
