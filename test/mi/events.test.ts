/**
 * The hook event contract's validation: every refusal names the field, shows the value (shortened when
 * long) and says what is allowed; several problems come back together; good events come back
 * normalised. Plus keys, days and content-derived event ids.
 */
import { describe, expect, it } from 'vitest';
import { contentEventId, withEventId } from '../../mi/event-id';
import { EVENT_TYPES, recordKeyOf, utcDayOf, utcInstant, validateEvent, type FieldProblem, type HookEvent } from '../../mi/events';
import { sameEventContent } from '../../mi/records';

const NOW = new Date('2026-03-27T12:00:00Z');
const AT = '2026-03-27T10:00:00Z';
const CONV = 'C2ACE0E0-D575-4272-BD27-0FF081C37440';
const MSG = '58E88CD9-0565-4BA2-8BD0-463D6209CCBE';
const rr = { practiceOds: 'A12345', registrationId: 'REG-1', occurredAt: AT };
const sr = { practiceOds: 'A12345', conversationId: CONV, occurredAt: AT };

/** One valid event of each of the 18 types, with every optional field used somewhere (the API-only fields: API_FIELDS below). */
const VALID: Record<HookEvent['type'], Record<string, unknown>> = {
  registration: { type: 'registration', ...rr, targetOds: 'B23456', registrationType: 'new', registeringUser: 'L12345' },
  'request-failure': { type: 'request-failure', ...rr, conversationId: CONV, failurePoint: 60, failureType: 6, fatal: true, failedMessageId: MSG, errorCode: '06', errorDescription: 'Patient not at surgery', retries: 2 },
  'ehr-requested': { type: 'ehr-requested', ...rr, conversationId: CONV, requestMessageId: MSG, targetOds: 'B23456' },
  'ehr-received': { type: 'ehr-received', ...rr, extractMessageId: MSG, largeMessageReasons: [2, 3, 4], fragmentsTotal: 12 },
  'fragments-received': { type: 'fragments-received', ...rr, fragmentsReceived: 7 },
  'extract-acknowledged': { type: 'extract-acknowledged', ...rr, ackStatus: 1, ackCode: '0', ackMessageId: MSG, actingUser: 'SYSTEM', retries: 0 },
  'extract-ack-failure': { type: 'extract-ack-failure', ...rr, failureType: 2, errorCode: 'SEF001', errorDescription: 'refused', retries: 3 },
  'request-received': { type: 'request-received', ...sr, requestMessageId: MSG, requestingOds: 'B23456', requesterConfig: '1100000000' },
  'request-acknowledged': { type: 'request-acknowledged', ...sr, ackCode: '19', ackMessageId: MSG, failureType: 1, errorCode: '19', errorDescription: 'not the current provider', retries: 0 },
  'extract-failure': { type: 'extract-failure', ...sr, failurePoint: 60, failureType: 4, fatal: false, failedMessageId: MSG, errorCode: '20', errorDescription: 'TMS said no', retries: 1 },
  'ehr-sent': { type: 'ehr-sent', ...sr, extractMessageId: MSG, largeMessaging: true, placeholders: { fileTypeUnsupported: 1, deleted: 0, notFound: 2, locked: 0, undetermined: 0 } },
  'fragments-sent': { type: 'fragments-sent', ...sr, fragmentsTotal: 10, fragmentsAcceptedByTms: 10, fragmentsAcknowledged: 9 },
  'conversation-closed': { type: 'conversation-closed', ...sr, eventId: 'gp-system-event-42' },
  // the types added for the GP Registrations MI API (MESH rows ignore them)
  'transfer-compatibility': { type: 'transfer-compatibility', ...rr, conversationId: CONV, internalTransfer: false, transferCompatible: false, reason: 'Previous practice is not eligible for electronic transfer', targetOds: 'B23456' },
  'document-received': { type: 'document-received', ...rr, clinicalType: 'SCANNED_DOCUMENT', mimeType: 'application/pdf', sizeBytes: 3084322, successful: false, reason: 'Large file size' },
  'ready-to-integrate': { type: 'ready-to-integrate', ...rr },
  'integration-outcome': { type: 'integration-outcome', ...rr, outcome: 'INTEGRATED_AND_SUPPRESSED' },
  'degrades-identified': { type: 'degrades-identified', ...rr, degrades: [{ type: 'RECORD_ENTRY', reason: 'CODE', coding: [{ code: '1676331000000110', system: 'http://snomed.info/sct' }] }] },
};

function problems(input: unknown, options = { now: NOW }): FieldProblem[] {
  const result = validateEvent(input, options);
  if (result.ok) throw new Error('expected a refusal');
  expect(result.message).toBe(result.problems.map((p) => p.message).join('; '));
  return result.problems;
}
const one = (input: unknown) => {
  const list = problems(input);
  expect(list).toHaveLength(1);
  return list[0]!;
};
const withField = (type: HookEvent['type'], changes: Record<string, unknown>) => {
  const event: Record<string, unknown> = { ...VALID[type], ...changes };
  for (const [k, v] of Object.entries(changes)) if (v === undefined) delete event[k];
  return event;
};

describe('validateEvent accepts the contract', () => {
  it.each(EVENT_TYPES)('a valid %s event', (type) => {
    const result = validateEvent(VALID[type], { now: NOW });
    expect(result).toEqual({ ok: true, event: VALID[type] });
  });

  it('accepts occurredAt with any zone, fractions, and up to 5 minutes ahead (clock skew)', () => {
    for (const occurredAt of ['2026-03-27T11:00:00+01:00', '2026-03-27T05:00:00.1234567-05:00', '2026-03-27T12:04:59Z']) {
      expect(validateEvent({ ...VALID.registration, occurredAt }, { now: NOW }).ok).toBe(true);
    }
  });

  it('normalises GUIDs to upper case and keeps occurredAt as given', () => {
    const result = validateEvent({ ...VALID['ehr-requested'], conversationId: CONV.toLowerCase(), occurredAt: '2026-03-27T11:00:00+01:00' }, { now: NOW });
    expect(result).toMatchObject({ ok: true, event: { conversationId: CONV, occurredAt: '2026-03-27T11:00:00+01:00' } });
  });
});

describe('validateEvent refuses, naming field, value and what is allowed', () => {
  it('a code out of range', () => {
    expect(one(withField('request-failure', { failurePoint: 15 }))).toEqual({
      field: 'failurePoint',
      value: 15,
      allowed: 'one of 10, 20, 30, 40, 50, 60, 70',
      message: 'failurePoint: 15 is not allowed; allowed: one of 10, 20, 30, 40, 50, 60, 70',
    });
    expect(one(withField('extract-failure', { failureType: 5 })).message).toBe('failureType: 5 is not allowed; allowed: one of 1, 2, 3, 4');
    expect(one(withField('extract-acknowledged', { ackStatus: 8, ackCode: '06' })).message).toBe('ackStatus: 8 is not allowed; allowed: one of 0, 1, 2, 3, 4, 5, 6, 7');
    expect(one(withField('registration', { registrationType: 'transferred' })).message).toBe(
      'registrationType: "transferred" is not allowed; allowed: one of undetermined, new, returning, internal',
    );
    expect(one(withField('request-failure', { retries: 100 })).message).toBe('retries: 100 is not allowed; allowed: a whole number from 0 to 99');
  });

  it('an unknown type, and a missing one', () => {
    expect(one({ ...rr, type: 'ehr-integrated' })).toMatchObject({ field: 'type', message: expect.stringMatching(/^type: "ehr-integrated" is not allowed; allowed: one of registration, request-failure, .*conversation-closed$/) });
    expect(one({ ...rr }).message).toMatch(/^type: missing; allowed: one of registration/);
    expect(one('registration')).toMatchObject({ field: 'event', message: 'event: "registration" is not allowed; allowed: a JSON object with a "type" field' });
  });

  it('a missing field', () => {
    expect(one(withField('registration', { registeringUser: undefined })).message).toMatch(/^registeringUser: missing; allowed: a Smartcard \(SDS\) user id/);
    expect(one(withField('ehr-requested', { conversationId: undefined })).message).toBe('conversationId: missing; allowed: a GUID: 8-4-4-4-12 hexadecimal digits');
  });

  it('a value of the wrong JSON type', () => {
    expect(one(withField('request-failure', { failurePoint: '60' })).message).toBe('failurePoint: "60" is not allowed; allowed: one of 10, 20, 30, 40, 50, 60, 70');
    expect(one(withField('request-failure', { fatal: 'yes' })).message).toBe('fatal: "yes" is not allowed; allowed: true or false');
    expect(one(withField('request-acknowledged', { ackCode: 6 })).message).toBe('ackCode: 6 is not allowed; allowed: "0" (ACK) or a two-digit NACK code from 01 to 99, as a string');
  });

  it('every NACK code 01–99 is accepted (0171.02 RR23, SR9); one outside 0083.08 comes back with a warning', () => {
    for (const ackCode of ['01', '22', '50', '98']) {
      for (const event of [withField('request-acknowledged', { ackCode }), withField('extract-acknowledged', { ackStatus: 2, ackCode })]) {
        expect(validateEvent(event, { now: NOW })).toEqual({
          ok: true,
          event,
          warnings: [{ field: 'ackCode', value: ackCode, message: `ackCode: "${ackCode}" is not a NACK code of 0083.08; accepted and reported as it is (0171.02 allows 01 to 99)` }],
        });
      }
    }
    for (const ackCode of ['0', '06', '30', '99']) expect(validateEvent(withField('request-acknowledged', { ackCode }), { now: NOW })).not.toHaveProperty('warnings');
  });

  it('ACK codes outside 0 and 01–99, and an ACK code that contradicts the acknowledgement status', () => {
    for (const ackCode of ['00', '100', '6', '1A', ' 6', '']) expect(one(withField('request-acknowledged', { ackCode })).field).toBe('ackCode');
    expect(one(withField('extract-acknowledged', { ackStatus: 1, ackCode: '06' })).message).toMatch(/^ackCode: "06" is not allowed with ackStatus 1 \(integrated: an ACK, "0"\); allowed:/);
    expect(one(withField('extract-acknowledged', { ackStatus: 2, ackCode: '0' })).message).toMatch(/^ackCode: "0" is not allowed with ackStatus 2 \(a NACK\); allowed:/);
  });

  it('malformed identifiers: ODS codes, GUIDs, user ids, requester configuration, error codes', () => {
    expect(one({ ...VALID.registration, practiceOds: 'a12345' }).message).toBe('practiceOds: "a12345" is not allowed; allowed: an ODS code: 3 to 10 upper-case letters or digits');
    expect(one(withField('ehr-requested', { requestMessageId: 'not-a-guid' })).message).toBe('requestMessageId: "not-a-guid" is not allowed; allowed: a GUID: 8-4-4-4-12 hexadecimal digits');
    expect(one(withField('registration', { registeringUser: 'jsmith' })).field).toBe('registeringUser');
    expect(one(withField('registration', { registeringUser: 'SYSTEM' })).field).toBe('registeringUser'); // only RR31 may be SYSTEM
    expect(one(withField('registration', { registeringUser: 'L12345678901234567' })).field).toBe('registeringUser'); // over 16
    expect(one(withField('request-received', { requesterConfig: '1000' })).message).toMatch(/^requesterConfig: "1000" is not allowed; allowed: 10 digits, each 0, 1 or 2/);
    expect(one(withField('request-failure', { errorCode: '123456789' })).message).toBe(
      'errorCode: "123456789" is not allowed; allowed: an error code of 1 to 8 letters, digits or ". _ : / -"',
    );
    expect(validateEvent(withField('extract-failure', { errorCode: '1234567890' }), { now: NOW }).ok).toBe(true); // SR19 has 10
    expect(one(withField('request-failure', { errorCode: '4,2' })).field).toBe('errorCode');
  });

  it('timestamps without a zone, impossible dates, and times in the future beyond the skew', () => {
    expect(one({ ...VALID.registration, occurredAt: '2026-03-27T10:00:00' }).message).toBe(
      'occurredAt: "2026-03-27T10:00:00" is not allowed; allowed: an ISO 8601 date-time with seconds and a zone (Z or ±hh:mm), e.g. 2026-03-27T13:05:21Z',
    );
    expect(one({ ...VALID.registration, occurredAt: '2026-02-30T10:00:00Z' }).field).toBe('occurredAt');
    expect(one({ ...VALID.registration, occurredAt: 1774605600000 }).field).toBe('occurredAt');
    expect(one({ ...VALID.registration, occurredAt: '2026-03-27T12:05:01Z' }).message).toBe(
      'occurredAt: "2026-03-27T12:05:01Z" is in the future; allowed: a time no later than 2026-03-27T12:05:00.000Z (now + 300 s of clock skew)',
    );
    expect(validateEvent({ ...VALID.registration, occurredAt: '2026-03-27T12:30:00Z' }, { now: NOW, maxFutureSkewMs: 3_600_000 }).ok).toBe(true);
  });

  it('unknown fields, by name (a misspelt optional field must not vanish silently)', () => {
    expect(one({ ...VALID['request-failure'], errorDescripton: 'typo' })).toMatchObject({
      field: 'errorDescripton',
      message: expect.stringMatching(/^errorDescripton: "typo" is an unknown field; allowed: the fields of a request-failure event: type, practiceOds, occurredAt, eventId, registrationId, conversationId, failurePoint/),
    });
  });

  it('free text with control characters, or with something that looks like an NHS number (MI24)', () => {
    expect(one(withField('request-failure', { errorDescription: 'bad\u0007bell' })).message).toMatch(/^errorDescription: "bad\\u0007bell" contains a control character; allowed: text of 1 to 4000/);
    expect(validateEvent(withField('request-failure', { errorDescription: 'line one\r\nline two\ttabbed' }), { now: NOW }).ok).toBe(true);
    expect(one(withField('request-failure', { errorDescription: 'patient 943 476 5919 not found' })).message).toMatch(/looks like it contains an NHS number/);
    expect(one({ ...VALID.registration, registrationId: '9434765919' }).message).toMatch(/^registrationId: "9434765919" looks like an NHS number/);
    // Ten digits that fail the modulus 11 check are not an NHS number (the spec's own user id 1234567890).
    expect(validateEvent(withField('request-failure', { errorDescription: 'code 1234567890' }), { now: NOW }).ok).toBe(true);
  });

  it('huge values are shown shortened, never echoed in full', () => {
    const huge = 'x'.repeat(100_000);
    const p = one(withField('request-failure', { errorDescription: huge }));
    expect(p.message.length).toBeLessThan(300);
    expect(p.message).toMatch(/^errorDescription: "x+… \(100000 characters\) is not allowed; allowed: text of 1 to 4000 characters/);
    expect(String(p.value).length).toBeLessThan(200);
    const big = one({ ...VALID.registration, colour: { nested: huge } });
    expect(big.message.length).toBeLessThan(400);
  });

  it('list and structure rules: large message reasons, placeholders, fragment counts', () => {
    expect(one(withField('ehr-received', { largeMessageReasons: [0, 2] })).message).toMatch(/^largeMessageReasons: \[0,2\] is not allowed; allowed: a list of distinct reasons from 0 to 5, with 0/);
    expect(one(withField('ehr-received', { largeMessageReasons: [2, 2] })).field).toBe('largeMessageReasons');
    expect(one(withField('ehr-received', { largeMessageReasons: [6] })).field).toBe('largeMessageReasons');
    expect(one(withField('ehr-sent', { placeholders: { deleted: 1 } })).field).toBe('placeholders');
    expect(one(withField('fragments-sent', { fragmentsAcknowledged: 11 })).message).toBe(
      'fragmentsAcknowledged: 11 is more than fragmentsTotal (10); allowed: a whole number from 0 to 999',
    );
  });

  it('reports every problem at once', () => {
    const list = problems({ type: 'request-failure', practiceOds: 'nope', occurredAt: 'yesterday', failurePoint: 15, failureType: 9, colour: 'red' });
    expect(list.map((p) => p.field).sort()).toEqual(['colour', 'failurePoint', 'failureType', 'fatal', 'occurredAt', 'practiceOds', 'registrationId'].sort());
  });
});

describe('keys, days and identity', () => {
  it('recordKeyOf: RR by registration, SR by conversation (upper case)', () => {
    expect(recordKeyOf(VALID['ehr-requested'] as unknown as HookEvent)).toEqual({ side: 'RR', practiceOds: 'A12345', key: 'REG-1' });
    expect(recordKeyOf({ ...VALID['ehr-sent'], conversationId: CONV.toLowerCase() } as unknown as HookEvent)).toEqual({ side: 'SR', practiceOds: 'A12345', key: CONV });
  });

  it('utcDayOf takes the UTC day, whatever the zone', () => {
    expect(utcDayOf('2026-03-28T00:30:00+01:00')).toBe('2026-03-27');
    expect(utcDayOf('2026-03-27T23:30:00-01:00')).toBe('2026-03-28');
    expect(utcDayOf('2026-03-27T23:59:59.999Z')).toBe('2026-03-27');
    expect(utcInstant('2026-03-28T00:30:00.5+01:00')).toBe('2026-03-27T23:30:00.500Z');
    expect(() => utcDayOf('2026-03-27')).toThrow(/not an ISO 8601 instant/);
  });

  it('withEventId keeps a given id and otherwise derives one from the content, stable across zones', () => {
    const given = VALID['conversation-closed'] as unknown as HookEvent;
    expect(withEventId(given).eventId).toBe('gp-system-event-42');
    const a = VALID.registration as unknown as HookEvent;
    const b = { ...a, occurredAt: '2026-03-27T11:00:00+01:00' } as HookEvent;
    const c = { ...a, registrationType: 'returning' } as HookEvent;
    expect(withEventId(a).eventId).toMatch(/^sha256-[0-9a-f]{32}$/);
    expect(withEventId(a).eventId).toBe(withEventId(b).eventId);
    expect(withEventId(a).eventId).not.toBe(withEventId(c).eventId);
    expect(contentEventId(a)).toBe(withEventId(a).eventId);
    expect(validateEvent(withEventId(a), { now: NOW }).ok).toBe(true);
  });

  it('sameEventContent ignores eventId, field order, zone and GUID case, and nothing else', () => {
    const a = VALID['ehr-requested'] as unknown as HookEvent;
    const reordered = Object.fromEntries(Object.entries(a).reverse()) as unknown as HookEvent;
    expect(sameEventContent(a, { ...reordered, eventId: 'x', occurredAt: '2026-03-27T05:00:00-05:00', conversationId: CONV.toLowerCase() } as HookEvent)).toBe(true);
    expect(sameEventContent(a, { ...a, targetOds: 'C34567' } as HookEvent)).toBe(false);
    expect(sameEventContent(a, { ...a, occurredAt: '2026-03-27T10:00:01Z' } as HookEvent)).toBe(false);
  });
});

describe('hostile shapes', () => {
  it('a deeply nested or huge value is refused with a short message, without overflowing the stack', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const wide = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`k${i}`, i]));
    const result = validateEvent({ type: 'registration', practiceOds: deep, registrationId: wide, occurredAt: '2026-11-20T10:00:00Z', registrationType: 'new', registeringUser: 'L1' });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.message).toMatch(/^practiceOds: \[\[\[\[…\]\]\]\] is not allowed/);
    expect(result.message).toMatch(/registrationId: \{"k0":0,.*,…\} is not allowed/);
    expect(result.message.length).toBeLessThan(1_000);
  });
});
