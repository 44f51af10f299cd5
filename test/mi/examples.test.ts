/**
 * Every example record of 0171.02 §3.4, rebuilt from hook events and rendered byte for byte. The
 * printed examples are kept verbatim (lines re-joined where the PDF wrapped them) next to the line we
 * expect; where the print is broken, the correction is stated and is the smallest one that makes the
 * record fit the field table. SR2/SR3 follow the field table (request id, then conversation id), not
 * the §3.4.4 print, as the Authority's own loader does.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../mi/check';
import { renderRecordSets } from '../../mi/csv';
import type { HookEvent } from '../../mi/events';
import type { PracticeSettings } from '../../mi/practices';
import { recordSet, recordSetFromRows } from '../../mi/record-set';
import { buildRow } from '../../mi/records';
import { withApiExtrasArb } from './api-events';

const SPEC_PRACTICE: PracticeSettings = {
  ods: 'A81010',
  asid: '4297447031',
  software: 'IN PRACTICE SYSTEMS LTD_Vision 3_DLM 259',
  applicationStatus: '100000000000000',
  maxMessageSizeMb: 5,
  maxAttachments: 100,
  maxAttachmentSizeMb: 5,
  largeMessageFactorA: 1,
  largeMessageFactorB: 1,
};
const REQUESTER = { ...SPEC_PRACTICE, ods: 'D81008' };

const CONVERSATION = 'C2ACE0E0-D575-4272-BD27-0FF081C37440';
const rr = (type: string, occurredAt: string, fields: Record<string, unknown> = {}) =>
  ({ type, practiceOds: 'D81008', registrationId: 'REG-0001', occurredAt, ...fields }) as HookEvent;
const sr = (conversationId: string, type: string, occurredAt: string, fields: Record<string, unknown> = {}) =>
  ({ type, practiceOds: 'D81008', conversationId, occurredAt, ...fields }) as HookEvent;
const registration = (occurredAt: string, registeringUser = '1234567890') =>
  rr('registration', occurredAt, { targetOds: 'A81010', registrationType: 'new', registeringUser });

/** The rendered row line of a record, as it appears in a file (without its CRLF). */
function renderedRow(side: 'RR' | 'SR', events: HookEvent[]): string {
  const fields = buildRow(side, events);
  // The types and fields added for the GP Registrations MI API never change a MESH row.
  // (API fields go on events with an eventId, so the examples get ids; they change no row either.)
  const identified = events.map((e, i) => ({ ...e, eventId: `example-${i}` }));
  expect(buildRow(side, identified)).toEqual(fields);
  for (const enriched of fc.sample(withApiExtrasArb(side, 'REG-0001', identified), { numRuns: 20, seed: 12 })) {
    expect(buildRow(side, enriched)).toEqual(fields);
  }
  const file = renderRecordSets([recordSetFromRows(REQUESTER, '2010-08-24', [{ side, key: 'k', firstEventAt: '2010-08-24T00:00:00.000Z', fields }])]);
  return file.split('\r\n')[1]!;
}

describe('0171.02 §3.4 example records, from events', () => {
  it('§3.4.1 header and §3.4.2 footer: a record set of 5 RR and 2 SR rows', () => {
    const printedHeader = 'HR,A81010,4297447031,"IN PRACTICE SYSTEMS LTD_Vision 3_DLM 259",100000000000000,2010-03-27,5.0,100,5.0,1.0,1.0';
    const printedFooter = 'FR,5,2,A81010,2010-03-27';
    const records = [
      ...[1, 2, 3, 4, 5].map((n) => ({
        side: 'RR' as const,
        key: `REG-${n}`,
        events: [
          { type: 'registration', practiceOds: 'A81010', registrationId: `REG-${n}`, occurredAt: `2010-03-27T0${n}:00:00Z`, registrationType: 'new', registeringUser: '1234567890' } as HookEvent,
        ],
      })),
      ...['C2ACE0E0-D575-4272-BD27-0FF081C37401', 'C2ACE0E0-D575-4272-BD27-0FF081C37402'].map((conversationId) => ({
        side: 'SR' as const,
        key: conversationId,
        events: [
          {
            type: 'request-received',
            practiceOds: 'A81010',
            conversationId,
            occurredAt: '2010-03-27T12:00:00Z',
            requestMessageId: 'B2ACE0E0-D575-4272-BD27-0FF081C37440',
            requestingOds: 'D81008',
          } as HookEvent,
        ],
      })),
    ];
    const lines = renderRecordSets([recordSet(SPEC_PRACTICE, '2010-03-27', records)]).split('\r\n');
    expect(lines[0]).toBe(printedHeader);
    expect(lines[8]).toBe(printedFooter);
    expect(lines).toHaveLength(10); // 9 records, each followed by CRLF
  });

  it('§3.4.3.1 failure to trigger GP2GP because no Smartcard was used', () => {
    // Printed with a stray "10" in RR9 that pushes the time into RR10 and the failure type into RR11:
    //   RR,,D81008,A81010,2010-03-27T13:14:24,1,L123456789012,10,10,2010-03-27T13:14:24,1,,,,,,,,,,,,,,,,,,,,
    // Corrected: RR8 10 (PDS trace), RR9 the time, RR10 null (no message), RR11 1.
    const expected = 'RR,,D81008,A81010,2010-03-27T13:14:24,1,L123456789012,10,2010-03-27T13:14:24,,1,,,,,,,,,,,,,,,,,,,,';
    const events = [
      registration('2010-03-27T13:14:24Z', 'L123456789012'),
      rr('request-failure', '2010-03-27T13:14:24Z', { failurePoint: 10, failureType: 1, fatal: true }),
    ];
    expect(renderedRow('RR', events)).toBe(expected);
  });

  it('§3.4.3.2 SDS failure (the <placeholders> filled with code 24 of 0083.08)', () => {
    const printed =
      'RR,,D81008,A81010,2010-08-24T13:14:24,1,1234567890,20,2010-08-24T13:15:24,58E88CD9-0565-4BA2-8BD0-463D6209CCBE,3,<SDS error code>,<SDS error description>,0,,,,,,,,,,,,,,,,,';
    const description = 'SDS lookup provided zero or more than one result';
    const expected = printed.replace('<SDS error code>', '24').replace('<SDS error description>', `"${description}"`);
    const events = [
      registration('2010-08-24T13:14:24Z'),
      rr('request-failure', '2010-08-24T13:15:24Z', {
        failurePoint: 20,
        failureType: 3,
        fatal: true,
        failedMessageId: '58E88CD9-0565-4BA2-8BD0-463D6209CCBE',
        errorCode: '24',
        errorDescription: description,
        retries: 0,
      }),
    ];
    expect(renderedRow('RR', events)).toBe(expected);
  });

  it('§3.4.3.3 failed to send the request to Spine (failure point 60, as its title says)', () => {
    // Printed with RR8 = 20 (copied from §3.4.3.2) next to a conversation id; the contract gives RR2 a
    // value only once a request exists, i.e. for "Send Request" = 60. Placeholders filled.
    const printed =
      'RR,C2ACE0E0-D575-4272-BD27-0FF081C37440,D81008,A81010,2010-08-24T13:14:24,1,1234567890,20,2010-08-24T13:15:24,58E88CD9-0565-4BA2-8BD0-463D6209CCBE,2,<TMS error code>,<TMS error description>,3,,,,,,,,,,,,,,,,,';
    const expected = printed.replace(',20,', ',60,').replace('<TMS error code>', '500').replace('<TMS error description>', '"Internal Server Error, retry limit reached"');
    const events = [
      registration('2010-08-24T13:14:24Z'),
      rr('request-failure', '2010-08-24T13:15:24Z', {
        conversationId: CONVERSATION,
        failurePoint: 60,
        failureType: 2,
        fatal: true,
        failedMessageId: '58E88CD9-0565-4BA2-8BD0-463D6209CCBE',
        errorCode: '500',
        errorDescription: 'Internal Server Error, retry limit reached',
        retries: 3,
      }),
    ];
    expect(renderedRow('RR', events)).toBe(expected);
  });

  it('§3.4.3.4 NACK returned from the sending practice (as printed, straight quotes)', () => {
    const printed =
      'RR,C2ACE0E0-D575-4272-BD27-0FF081C37440,D81008,A81010,2010-08-24T13:14:24,1,1234567890,60,2010-08-24T13:22:07,58E88CD9-0565-4BA2-8BD0-463D6244DF56,3,6,”Patient not at surgery”,0,58E88CD9-0565-4BA2-8BD0-463D34053B8E,2010-08-24T13:15:24,,,,,,,,,,,,,,,';
    const expected = printed.replaceAll('”', '"');
    const events = [
      registration('2010-08-24T13:14:24Z'),
      rr('ehr-requested', '2010-08-24T13:15:24Z', { conversationId: CONVERSATION, requestMessageId: '58E88CD9-0565-4BA2-8BD0-463D34053B8E' }),
      rr('request-failure', '2010-08-24T13:22:07Z', {
        conversationId: CONVERSATION,
        failurePoint: 60,
        failureType: 3,
        fatal: true,
        failedMessageId: '58E88CD9-0565-4BA2-8BD0-463D6244DF56',
        errorCode: '6',
        errorDescription: 'Patient not at surgery',
        retries: 0,
      }),
    ];
    expect(renderedRow('RR', events)).toBe(expected);
  });

  it('§3.4.3.5 success', () => {
    // Printed three fields short from RR19 on (RR20, RR21 and RR23 dropped, a stray space before RR25),
    // which moves every later value three places left:
    //   …,58E88CD9-0565-4BA2-8BD0-463D63249234,0,1,2010-08-25T09:01:22, 58E88CD9-0565-4BA2-8BD0-463D34053B8E,,,,,0,,,,
    // Corrected: RR19 0 (not large), RR20/21 null, RR22 1 (integrated), RR23 0 (ACK sent), RR24, RR25,
    // RR26–29 null, RR30 0 (no retries), RR31 the integrating user (mandatory; not legible in the print).
    const expected =
      'RR,C2ACE0E0-D575-4272-BD27-0FF081C37440,D81008,A81010,2010-08-24T13:14:24,1,1234567890,,,,,,,,58E88CD9-0565-4BA2-8BD0-463D6244DF56,2010-08-24T13:15:24,2010-08-24T13:23:34,58E88CD9-0565-4BA2-8BD0-463D63249234,0,,,1,0,2010-08-25T09:01:22,58E88CD9-0565-4BA2-8BD0-463D34053B8E,,,,,0,1234567890';
    const events = [
      registration('2010-08-24T13:14:24Z'),
      rr('ehr-requested', '2010-08-24T13:15:24Z', { conversationId: CONVERSATION, requestMessageId: '58E88CD9-0565-4BA2-8BD0-463D6244DF56' }),
      rr('ehr-received', '2010-08-24T13:23:34Z', { conversationId: CONVERSATION, extractMessageId: '58E88CD9-0565-4BA2-8BD0-463D63249234', largeMessageReasons: [0] }),
      rr('extract-acknowledged', '2010-08-25T09:01:22Z', {
        conversationId: CONVERSATION,
        ackStatus: 1,
        ackCode: '0',
        ackMessageId: '58E88CD9-0565-4BA2-8BD0-463D34053B8E',
        actingUser: '1234567890',
        retries: 0,
      }),
    ];
    expect(renderedRow('RR', events)).toBe(expected);
  });

  it('§3.4.4.1 NACK returned from the sending practice (SR2/SR3 in table order)', () => {
    const printed =
      'SR,C2ACE0E0-D575-4272-BD27-0FF081C37440,B2ACE0E0-D575-4272-BD27-0FF081C37440,A81010,D81008,1000000000,2010-08-24T13:14:27,2010-08-24T13:21:54,06,58E88CD9-0565-4BA2-8BD0-463D6209CCBE,1,06,"Patient not at surgery",0,,,,,,,,,,,,,,';
    const expected = swapSr2Sr3(printed);
    const events = [
      sr(CONVERSATION, 'request-received', '2010-08-24T13:14:27Z', { requestMessageId: 'B2ACE0E0-D575-4272-BD27-0FF081C37440', requestingOds: 'A81010', requesterConfig: '1000000000' }),
      sr(CONVERSATION, 'request-acknowledged', '2010-08-24T13:21:54Z', {
        ackCode: '06',
        ackMessageId: '58E88CD9-0565-4BA2-8BD0-463D6209CCBE',
        failureType: 1,
        errorCode: '06',
        errorDescription: 'Patient not at surgery',
        retries: 0,
      }),
    ];
    expect(renderedRow('SR', events)).toBe(expected);
  });

  it('§3.4.4.2 success (SR2/SR3 in table order)', () => {
    // Printed one "0" short in SR24–SR27, so the closing time lands in SR27 and SR28 is empty:
    //   …,2010-08-24T13:23:25,0,0,0,2010-08-25T09:01:32,
    // The note says the final date closes the conversation: SR24–SR27 0, SR28 the closing time.
    const printed =
      'SR,C2ACE0E0-D575-4272-BD27-0FF081C37441,B2ACE0E0-D575-4272-BD27-0FF081C37441,A81010,D81008,1000000000,2010-08-24T13:14:27,2010-08-24T13:21:54,0,58E88CD9-0565-4BA2-8BD0-463D6209CCBF,,,,0,0,,,,,,,58E88CD9-0565-4BA2-1234-463D6209CCBE,2010-08-24T13:23:25,0,0,0,2010-08-25T09:01:32,';
    const expected = swapSr2Sr3(printed).replace(',0,0,0,2010-08-25T09:01:32,', ',0,0,0,0,2010-08-25T09:01:32');
    const conversation = 'C2ACE0E0-D575-4272-BD27-0FF081C37441';
    const events = [
      sr(conversation, 'request-received', '2010-08-24T13:14:27Z', { requestMessageId: 'B2ACE0E0-D575-4272-BD27-0FF081C37441', requestingOds: 'A81010', requesterConfig: '1000000000' }),
      sr(conversation, 'request-acknowledged', '2010-08-24T13:21:54Z', { ackCode: '0', ackMessageId: '58E88CD9-0565-4BA2-8BD0-463D6209CCBF', retries: 0 }),
      sr(conversation, 'ehr-sent', '2010-08-24T13:23:25Z', { extractMessageId: '58E88CD9-0565-4BA2-1234-463D6209CCBE', largeMessaging: false }),
      sr(conversation, 'fragments-sent', '2010-08-24T13:23:25Z', { fragmentsTotal: 0, fragmentsAcceptedByTms: 0, fragmentsAcknowledged: 0 }),
      sr(conversation, 'conversation-closed', '2010-08-25T09:01:32Z'),
    ];
    expect(renderedRow('SR', events)).toBe(expected);
  });

  it('every example, corrected, passes the checker inside a record set', () => {
    const rows = [
      'RR,C2ACE0E0-D575-4272-BD27-0FF081C37440,D81008,A81010,2010-08-24T13:14:24,1,1234567890,60,2010-08-24T13:22:07,58E88CD9-0565-4BA2-8BD0-463D6244DF56,3,6,"Patient not at surgery",0,58E88CD9-0565-4BA2-8BD0-463D34053B8E,2010-08-24T13:15:24,,,,,,,,,,,,,,,',
      'SR,B2ACE0E0-D575-4272-BD27-0FF081C37440,C2ACE0E0-D575-4272-BD27-0FF081C37440,A81010,D81008,1000000000,2010-08-24T13:14:27,2010-08-24T13:21:54,06,58E88CD9-0565-4BA2-8BD0-463D6209CCBE,1,06,"Patient not at surgery",0,,,,,,,,,,,,,,',
    ];
    const file = ['HR,D81008,4297447031,"IN PRACTICE SYSTEMS LTD_Vision 3_DLM 259",100000000000000,2010-08-24,5.0,100,5.0,1.0,1.0', ...rows, 'FR,1,1,D81008,2010-08-24', ''].join('\r\n');
    expect(checkFile(file)).toEqual({ problems: [], recordSets: 1, rows: 2 });
  });
});

function swapSr2Sr3(line: string): string {
  const f = line.split(',');
  [f[1], f[2]] = [f[2]!, f[1]!];
  return f.join(',');
}
