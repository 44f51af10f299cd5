/**
 * The hook contract's additions for the GP Registrations MI API: new optional fields on existing types
 * and five new (requester) types, refused with the same clear errors (field, value, allowed).
 */
import { describe, expect, it } from 'vitest';
import { API_ONLY_EVENT_TYPES, isApiOnlyEventType, sideOf, validateEvent, type FieldProblem } from '../../mi/events';

const NOW = new Date('2026-03-27T12:00:00Z');
const AT = '2026-03-27T10:00:00Z';
const CONV = 'C2ACE0E0-D575-4272-BD27-0FF081C37440';
const rr = { practiceOds: 'A12345', registrationId: 'REG-1', occurredAt: AT };
const sr = { practiceOds: 'A12345', conversationId: CONV, occurredAt: AT, extractMessageId: CONV, largeMessaging: false };
const REGISTRATION = {
  type: 'registration',
  ...rr,
  conversationId: CONV,
  registrationType: 'returning',
  registeringUser: 'L42',
  apiRegistrationType: 'CHANGE_PATIENT_TYPE',
  returningPatient: true,
  multifactorAuthenticationPresent: false,
  demographicTraceStatus: { matched: false, reason: 'No PDS trace', multifactorAuthenticationPresent: false },
  gpLinksComplete: false,
};

function problems(input: unknown): FieldProblem[] {
  const result = validateEvent(input, { now: NOW });
  if (result.ok) throw new Error(`expected a refusal of ${JSON.stringify(input)}`);
  return result.problems;
}
const one = (input: unknown) => {
  const list = problems(input);
  expect(list, JSON.stringify(list)).toHaveLength(1);
  return list[0]!;
};

describe('the API-only types and fields', () => {
  it('are requester (RR) types', () => {
    expect(API_ONLY_EVENT_TYPES.map(sideOf)).toEqual(['RR', 'RR', 'RR', 'RR', 'RR']);
    expect(isApiOnlyEventType('ready-to-integrate')).toBe(true);
    expect(isApiOnlyEventType('registration')).toBe(false);
  });

  it('accepts the registration fields, the failure points and the EHR details', () => {
    expect(validateEvent(REGISTRATION, { now: NOW })).toMatchObject({ ok: true });
    expect(validateEvent({ type: 'request-failure', ...rr, failurePoint: 20, failureType: 1, fatal: true, apiFailurePoint: 'OTHER', otherFailurePoint: 'PDS update' }, { now: NOW }).ok).toBe(true);
    expect(validateEvent({ type: 'extract-acknowledged', ...rr, ackStatus: 3, ackCode: '11', actingUser: 'SYSTEM', apiFailurePoint: 'EHR_READY_TO_INTEGRATE', errorDescription: 'x' }, { now: NOW }).ok).toBe(true);
    expect(
      validateEvent(
        { type: 'ehr-sent', ...sr, ehrStructuredSizeBytes: 4096, placeholderDetails: [{ clinicalType: 'IMAGE', generatedBy: 'PRE_EXISTING', reason: 'FILE_LOCKED', originalMimeType: 'image/jpeg' }] },
        { now: NOW },
      ).ok,
    ).toBe(true);
  });

  it('refuses a bad enum, naming field, value and the allowed values', () => {
    expect(one({ type: 'integration-outcome', ...rr, outcome: 'MERGED' })).toEqual({
      field: 'outcome',
      value: 'MERGED',
      allowed: 'one of INTEGRATED, INTEGRATED_AND_SUPPRESSED, SUPPRESSED_AND_REACTIVATED, FILED_AS_ATTACHMENT, REJECTED, INTERNAL_TRANSFER, FAILED_TO_INTEGRATE',
      message:
        'outcome: "MERGED" is not allowed; allowed: one of INTEGRATED, INTEGRATED_AND_SUPPRESSED, SUPPRESSED_AND_REACTIVATED, FILED_AS_ATTACHMENT, REJECTED, INTERNAL_TRANSFER, FAILED_TO_INTEGRATE',
    });
    expect(one({ ...REGISTRATION, apiRegistrationType: 'TEMPORARY' }).message).toBe('apiRegistrationType: "TEMPORARY" is not allowed; allowed: one of NEW_GP_REGISTRATION, CHANGE_PATIENT_TYPE');
    expect(one({ type: 'extract-failure', practiceOds: 'A12345', conversationId: CONV, occurredAt: AT, failurePoint: 30, failureType: 1, fatal: false, apiFailurePoint: 'PDS' }).field).toBe('apiFailurePoint');
  });

  it('a reason is required when transferCompatible, successful or matched is false', () => {
    expect(one({ type: 'transfer-compatibility', ...rr, internalTransfer: false, transferCompatible: false })).toMatchObject({
      field: 'reason',
      message: expect.stringMatching(/^reason: missing; allowed: .*required when transferCompatible is false$/),
    });
    expect(validateEvent({ type: 'transfer-compatibility', ...rr, internalTransfer: true, transferCompatible: true }, { now: NOW }).ok).toBe(true);
    expect(one({ type: 'document-received', ...rr, clinicalType: 'IMAGE', mimeType: 'image/png', sizeBytes: 10, successful: false }).message).toMatch(/^reason: missing; allowed: .*required when successful is false/);
    const trace = one({ ...REGISTRATION, demographicTraceStatus: { matched: false, multifactorAuthenticationPresent: true } });
    expect(trace.field).toBe('demographicTraceStatus');
    expect(trace.message).toMatch(/lacks reason, which is required when matched is false; allowed: /);
  });

  it('the three registration fields of /registrations come together', () => {
    const { gpLinksComplete: _g, demographicTraceStatus: _d, ...partial } = REGISTRATION;
    const list = problems(partial);
    expect(list.map((p) => p.field)).toEqual(['multifactorAuthenticationPresent']);
    expect(list[0]!.message).toBe(
      'multifactorAuthenticationPresent: false is given without demographicTraceStatus and gpLinksComplete; allowed: true or false; given together with demographicTraceStatus and gpLinksComplete (the API\'s /registrations needs all three)',
    );
  });

  it('otherFailurePoint only with apiFailurePoint OTHER', () => {
    expect(one({ type: 'request-failure', ...rr, failurePoint: 20, failureType: 1, fatal: true, otherFailurePoint: 'PDS' }).message).toMatch(
      /^otherFailurePoint: "PDS" is only allowed with apiFailurePoint OTHER \(here undefined\); allowed: /,
    );
  });

  it('names the inner field of degrades and placeholders', () => {
    const degrade = one({ type: 'degrades-identified', ...rr, degrades: [{ type: 'MEDICATION', reason: 'CODE', coding: [{ code: '123', system: 'http://snomed.info/sct' }] }, { type: 'MEDICINE', reason: 'CODE', coding: [] }] });
    expect(degrade.field).toBe('degrades');
    expect(degrade.message).toMatch(/^degrades: .* has \[1\]\.type "MEDICINE", which is not allowed; type: one of MEDICATION, /);
    expect(one({ type: 'degrades-identified', ...rr, degrades: [] }).message).toMatch(/is not a list of 1 to 999 degrades/);
    const placeholder = one({ type: 'ehr-sent', ...sr, placeholderDetails: [{ clinicalType: 'IMAGE', generatedBy: 'SENDER', reason: 'FILE_LOCKED' }] });
    expect(placeholder.message).toMatch(/lacks \[0\]\.originalMimeType/);
    expect(one({ type: 'document-received', ...rr, clinicalType: 'IMAGE', mimeType: 'pdf', sizeBytes: 10, successful: true }).allowed).toBe('a MIME type (type/subtype), e.g. application/pdf');
    expect(one({ type: 'document-received', ...rr, clinicalType: 'IMAGE', mimeType: 'image/png', sizeBytes: -1, successful: true }).field).toBe('sizeBytes');
  });

  it('an unknown field on a new type lists the type\'s fields', () => {
    expect(one({ type: 'ready-to-integrate', ...rr, outcome: 'INTEGRATED' }).message).toBe(
      'outcome: "INTEGRATED" is an unknown field; allowed: the fields of a ready-to-integrate event: type, practiceOds, occurredAt, eventId, registrationId, conversationId',
    );
  });
});
