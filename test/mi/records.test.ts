/**
 * The contract's merge rules, one by one (first failure unless fatal, later occurredAt wins, ties by
 * eventId, RR2 only once a request exists, SR15 "0" once sent cleanly), and record sets built from
 * whole records: which records a day includes, as of when, and in what order.
 */
import { describe, expect, it } from 'vitest';
import type { HookEvent } from '../../mi/events';
import { endOfDay, recordSet, recordSetFromRows } from '../../mi/record-set';
import { buildRow, firstEventAt, mergeEvents, recordDays, sameEventContent } from '../../mi/records';
import { PRACTICE } from './support';

const CONV = 'C2ACE0E0-D575-4272-BD27-0FF081C37440';
const CONV2 = 'D3BDF1F1-E686-4383-8E38-1AA092D48551';
const MSG = '58E88CD9-0565-4BA2-8BD0-463D6209CCBE';
const rr = (type: string, occurredAt: string, fields: Record<string, unknown> = {}) =>
  ({ type, practiceOds: 'A12345', registrationId: 'REG-1', occurredAt, ...fields }) as HookEvent;
const sr = (type: string, occurredAt: string, fields: Record<string, unknown> = {}) =>
  ({ type, practiceOds: 'A12345', conversationId: CONV, occurredAt, ...fields }) as HookEvent;
const failure = (occurredAt: string, failurePoint: number, fatal: boolean, more: Record<string, unknown> = {}) =>
  rr('request-failure', occurredAt, { failurePoint, failureType: 1, fatal, ...more });

/** RR8–RR14 of a row. */
const failureBlock = (row: string[]) => row.slice(7, 14);
const field = (row: string[], n: number) => row[n - 1];

describe('failure blocks: the first failure, unless a fatal one comes', () => {
  it('keeps the first non-fatal failure even when later ones happen (retries succeeded)', () => {
    const row = buildRow('RR', [failure('2026-03-27T10:05:00Z', 60, false, { retries: 1 }), failure('2026-03-27T10:00:00Z', 40, false, { errorCode: 'E1', retries: 2 })]);
    expect(failureBlock(row)).toEqual(['40', '2026-03-27T10:00:00', '', '1', 'E1', '', '2']);
  });

  it('a fatal failure replaces an earlier non-fatal one; a later non-fatal one does not replace it', () => {
    const events = [failure('2026-03-27T10:00:00Z', 40, false), failure('2026-03-27T10:05:00Z', 60, true, { errorCode: 'F' }), failure('2026-03-27T10:09:00Z', 70, false)];
    expect(failureBlock(buildRow('RR', events))).toEqual(['60', '2026-03-27T10:05:00', '', '1', 'F', '', '']);
  });

  it('of two fatal failures the later one is kept', () => {
    const events = [failure('2026-03-27T10:05:00Z', 60, true), failure('2026-03-27T10:00:00Z', 50, true)];
    expect(field(buildRow('RR', events), 8)).toBe('60');
  });

  it('the same rules on the sender side (SR15–SR21)', () => {
    const f = (at: string, point: number, fatal: boolean) => sr('extract-failure', at, { failurePoint: point, failureType: 2, fatal });
    expect(buildRow('SR', [f('2026-03-27T10:05:00Z', 60, false), f('2026-03-27T10:00:00Z', 10, false)]).slice(14, 16)).toEqual(['10', '2026-03-27T10:00:00']);
    expect(buildRow('SR', [f('2026-03-27T10:05:00Z', 60, true), f('2026-03-27T10:00:00Z', 10, false)]).slice(14, 16)).toEqual(['60', '2026-03-27T10:05:00']);
  });
});

describe('other field groups: the later occurredAt wins, ties broken by eventId', () => {
  const ack = (at: string, ackStatus: number, ackCode: string, eventId?: string) =>
    rr('extract-acknowledged', at, { ackStatus, ackCode, actingUser: '1234567890', ...(eventId ? { eventId } : {}) });

  it('a later acknowledgement replaces an earlier one, in any arrival order', () => {
    const early = ack('2026-03-27T10:00:00Z', 2, '11');
    const late = ack('2026-03-27T11:00:00Z', 1, '0');
    for (const events of [[early, late], [late, early]]) expect(buildRow('RR', events).slice(21, 24)).toEqual(['1', '0', '2026-03-27T11:00:00']);
  });

  it('at the same instant, the larger eventId wins, whichever arrived first', () => {
    const a = ack('2026-03-27T10:00:00Z', 2, '11', 'event-a');
    const b = ack('2026-03-27T10:00:00Z', 3, '12', 'event-b');
    expect(field(buildRow('RR', [a, b]), 22)).toBe('3');
    expect(field(buildRow('RR', [b, a]), 22)).toBe('3');
  });

  it('a later instant written in an earlier-looking zone still counts as later', () => {
    const utc = ack('2026-03-27T10:30:00Z', 2, '11');
    const offset = ack('2026-03-27T06:00:00-05:00', 1, '0'); // 11:00Z
    expect(field(buildRow('RR', [offset, utc]), 22)).toBe('1');
  });

  it('RR4 comes from whichever of registration and request named a target practice last', () => {
    const reg = rr('registration', '2026-03-27T09:00:00Z', { targetOds: 'B23456', registrationType: 'new', registeringUser: 'L1' });
    const req = rr('ehr-requested', '2026-03-27T09:10:00Z', { conversationId: CONV, requestMessageId: MSG, targetOds: 'C34567' });
    const reqWithout = rr('ehr-requested', '2026-03-27T09:10:00Z', { conversationId: CONV, requestMessageId: MSG });
    expect(field(buildRow('RR', [reg, req]), 4)).toBe('C34567');
    expect(field(buildRow('RR', [reg, reqWithout]), 4)).toBe('B23456');
  });

  it('RR30 is the acknowledgement failure\'s retries when there is one, else the acknowledgement\'s', () => {
    const okAck = { ...ack('2026-03-27T10:00:00Z', 1, '0'), retries: 0 } as HookEvent;
    const ackFailure = rr('extract-ack-failure', '2026-03-27T10:01:00Z', { failureType: 2, errorCode: '500', retries: 4 });
    expect(field(buildRow('RR', [okAck]), 30)).toBe('0');
    expect(buildRow('RR', [okAck, ackFailure]).slice(25, 30)).toEqual(['2026-03-27T10:01:00', '2', '500', '', '4']);
  });

  it('RR19 lists the large message reasons once each, ascending', () => {
    const received = rr('ehr-received', '2026-03-27T10:00:00Z', { extractMessageId: MSG, largeMessageReasons: [4, 2, 3] });
    expect(field(buildRow('RR', [received]), 19)).toBe('234');
  });
});

describe('conversation and record keys', () => {
  it('RR2 stays empty until a request exists', () => {
    const reg = rr('registration', '2026-03-27T09:00:00Z', { registrationType: 'new', registeringUser: 'L1' });
    const early = failure('2026-03-27T09:01:00Z', 20, false, { conversationId: CONV });
    expect(field(buildRow('RR', [reg, early]), 2)).toBe('');
    expect(field(buildRow('RR', [reg, failure('2026-03-27T09:01:00Z', 60, true, { conversationId: CONV })]), 2)).toBe(CONV);
    expect(field(buildRow('RR', [reg, rr('ehr-requested', '2026-03-27T09:02:00Z', { conversationId: CONV.toLowerCase(), requestMessageId: MSG })]), 2)).toBe(CONV);
  });

  it('SR3 is the record key, SR5 the practice, SR6 defaults to 0000000000 once the request is known', () => {
    const closed = sr('conversation-closed', '2026-03-27T12:00:00Z');
    expect(buildRow('SR', [closed]).slice(0, 7)).toEqual(['SR', '', CONV, '', 'A12345', '', '']);
    const request = sr('request-received', '2026-03-27T09:00:00Z', { requestMessageId: MSG, requestingOds: 'B23456' });
    expect(buildRow('SR', [request, closed]).slice(0, 7)).toEqual(['SR', MSG, CONV, 'B23456', 'A12345', '0000000000', '2026-03-27T09:00:00']);
  });

  it('SR15 is "0" (no failure) once the extract went without one', () => {
    const sent = sr('ehr-sent', '2026-03-27T10:00:00Z', { extractMessageId: MSG, largeMessaging: false });
    expect(field(buildRow('SR', [sent]), 15)).toBe('0');
    expect(field(buildRow('SR', [sr('request-received', '2026-03-27T09:00:00Z', { requestMessageId: MSG, requestingOds: 'B23456' })]), 15)).toBe('');
  });

  it('SR rows carry SR29–SR33 (placeholder counts) in full', () => {
    const sent = sr('ehr-sent', '2026-03-27T10:00:00Z', { extractMessageId: MSG, largeMessaging: true, placeholders: { fileTypeUnsupported: 1, deleted: 2, notFound: 3, locked: 4, undetermined: 5 } });
    const row = buildRow('SR', [sent]);
    expect(row).toHaveLength(33);
    expect(row.slice(23, 24)).toEqual(['1']);
    expect(row.slice(28)).toEqual(['1', '2', '3', '4', '5']);
  });

  it('RR rows have 31 fields, and free text is kept whole for the renderer', () => {
    const long = 'a'.repeat(500);
    const row = buildRow('RR', [failure('2026-03-27T10:00:00Z', 10, true, { errorDescription: long })]);
    expect(row).toHaveLength(31);
    expect(field(row, 13)).toBe(long);
  });
});

describe('duplicates and conflicts', () => {
  it('a duplicate eventId changes nothing; a conflicting one resolves the same way in any order', () => {
    const a = rr('fragments-received', '2026-03-27T10:00:00Z', { fragmentsReceived: 3, eventId: 'same' });
    const b = rr('fragments-received', '2026-03-27T10:00:00Z', { fragmentsReceived: 4, eventId: 'same' });
    expect(sameEventContent(a, b)).toBe(false);
    expect(buildRow('RR', [a, b])).toEqual(buildRow('RR', [b, a]));
    expect(mergeEvents([a, a, a]).events).toHaveLength(1);
  });

  it('events without eventId are duplicates when their content is the same', () => {
    const a = rr('fragments-received', '2026-03-27T10:00:00Z', { fragmentsReceived: 3 });
    const again = rr('fragments-received', '2026-03-27T11:00:00+01:00', { fragmentsReceived: 3 });
    expect(mergeEvents([a, again]).events).toHaveLength(1);
  });

  it('refuses events of two records, and a side that does not match', () => {
    expect(() => buildRow('RR', [rr('fragments-received', '2026-03-27T10:00:00Z', { fragmentsReceived: 1 }), { ...sr('conversation-closed', '2026-03-27T10:00:00Z') }])).toThrow(/share side and practice/);
    expect(() => buildRow('SR', [rr('fragments-received', '2026-03-27T10:00:00Z', { fragmentsReceived: 1 })])).toThrow(/buildRow\(SR\) was given RR events/);
    expect(() => buildRow('RR', [])).toThrow(/no events/);
  });
});

describe('days and first events', () => {
  const events = [
    rr('fragments-received', '2026-03-28T00:30:00+01:00', { fragmentsReceived: 1 }), // 27th UTC
    rr('fragments-received', '2026-03-29T08:00:00Z', { fragmentsReceived: 2 }),
    rr('fragments-received', '2026-03-27T22:00:00Z', { fragmentsReceived: 3 }),
  ];
  it('recordDays: the UTC days with events, ascending', () => {
    expect(recordDays(events)).toEqual(['2026-03-27', '2026-03-29']);
  });
  it('firstEventAt: the earliest instant, optionally up to a limit', () => {
    expect(firstEventAt(events)).toBe('2026-03-27T22:00:00.000Z');
    expect(firstEventAt(events, '2026-03-27T22:30:00Z')).toBe('2026-03-27T22:00:00.000Z');
    expect(firstEventAt(events, '2026-03-27T21:00:00Z')).toBeUndefined();
  });
});

describe('record sets from records', () => {
  const reg = (id: string, at: string) => ({
    side: 'RR' as const,
    key: id,
    events: [{ type: 'registration', practiceOds: 'A12345', registrationId: id, occurredAt: at, registrationType: 'new', registeringUser: 'L1' } as HookEvent],
  });
  const request = (conversationId: string, at: string) => ({
    side: 'SR' as const,
    key: conversationId,
    events: [{ type: 'request-received', practiceOds: 'A12345', conversationId, occurredAt: at, requestMessageId: MSG, requestingOds: 'B23456' } as HookEvent],
  });

  it('holds every record with an event that day, each row as of the end of the day', () => {
    const spanning = {
      side: 'RR' as const,
      key: 'REG-9',
      events: [
        { type: 'registration', practiceOds: 'A12345', registrationId: 'REG-9', occurredAt: '2026-03-27T08:00:00Z', registrationType: 'new', registeringUser: 'L1' } as HookEvent,
        { type: 'ehr-requested', practiceOds: 'A12345', registrationId: 'REG-9', occurredAt: '2026-03-28T08:00:00Z', conversationId: CONV, requestMessageId: MSG } as HookEvent,
      ],
    };
    const day27 = recordSet(PRACTICE, '2026-03-27', [spanning, reg('REG-2', '2026-03-28T01:00:00Z')]);
    expect(day27.rows.map((r) => r.key)).toEqual(['REG-9']);
    expect(day27.rows[0]!.fields[1]).toBe(''); // the request came the next day
    const day28 = recordSet(PRACTICE, '2026-03-28', [spanning, reg('REG-2', '2026-03-28T01:00:00Z')]);
    expect(day28.rows.map((r) => [r.key, r.firstEventAt])).toEqual([
      ['REG-9', '2026-03-27T08:00:00.000Z'],
      ['REG-2', '2026-03-28T01:00:00.000Z'],
    ]);
    expect(day28.rows[0]!.fields[1]).toBe(CONV);
    expect(recordSet(PRACTICE, '2026-03-26', [spanning]).rows).toEqual([]);
  });

  it('orders RR rows before SR rows, each by first event, then key, whatever the input order', () => {
    const records = [request(CONV2, '2026-03-27T01:00:00Z'), reg('REG-B', '2026-03-27T05:00:00Z'), request(CONV, '2026-03-27T01:00:00Z'), reg('REG-A', '2026-03-27T05:00:00Z'), reg('REG-C', '2026-03-27T02:00:00Z')];
    const keys = recordSet(PRACTICE, '2026-03-27', records).rows.map((r) => r.key);
    expect(keys).toEqual(['REG-C', 'REG-A', 'REG-B', CONV, CONV2]);
    expect(recordSet(PRACTICE, '2026-03-27', [...records].reverse()).rows.map((r) => r.key)).toEqual(keys);
  });

  it('refuses records of another practice, two rows for one record, and a malformed day', () => {
    const foreign = { ...reg('REG-1', '2026-03-27T05:00:00Z'), events: [{ ...reg('REG-1', '2026-03-27T05:00:00Z').events[0]!, practiceOds: 'B23456' }] };
    expect(() => recordSet(PRACTICE, '2026-03-27', [foreign])).toThrow(/practice B23456, not A12345/);
    const row = { side: 'RR' as const, key: 'REG-1', firstEventAt: '2026-03-27T05:00:00.000Z', fields: [] };
    expect(() => recordSetFromRows(PRACTICE, '2026-03-27', [row, row])).toThrow(/two rows for RR REG-1/);
    expect(() => recordSetFromRows(PRACTICE, '27/03/2026', [])).toThrow(/allowed: a date YYYY-MM-DD/);
    expect(endOfDay('2026-03-27')).toBe('2026-03-27T23:59:59.999Z');
  });
});
