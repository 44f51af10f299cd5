/**
 * The project's description of the GP Registrations MI API's requests: a valid body for each of the
 * nine endpoints passes; every enum, required field and conditional rule of the API's descriptions is
 * refused with the field, the value and what is allowed.
 */
import { describe, expect, it } from 'vitest';
import { API_ENDPOINTS, validateApiRequest, type ApiEndpoint, type ApiProblem } from '../../mi/registrations-api';

const BASE = {
  conversationId: 'C2ACE0E0-D575-4272-BD27-0FF081C37440',
  registrationEventDateTime: '2020-02-08T08:30:25Z',
  reportingSystemSupplier: 'YGM24',
  reportingPracticeOdsCode: 'A12345',
  requestingPracticeOdsCode: 'A12345',
  sendingPracticeOdsCode: 'B23456',
};

export const VALID_BODIES: Record<ApiEndpoint, Record<string, unknown>> = {
  '/registrations': {
    ...BASE,
    payload: {
      registration: { type: 'NEW_GP_REGISTRATION', returningPatient: false, multifactorAuthenticationPresent: true },
      demographicTraceStatus: { matched: false, reason: 'No PDS trace results returned', multifactorAuthenticationPresent: true },
      gpLinks: { gpLinksComplete: true },
    },
  },
  '/transfer-compatibility-statuses': {
    ...BASE,
    payload: { transferCompatibilityStatus: { internalTransfer: false, transferCompatible: false, reason: 'Previous practice is not eligible for electronic transfer' } },
  },
  '/ehr-requests': { ...BASE },
  '/ehr-responses': {
    ...BASE,
    payload: {
      ehr: {
        ehrStructuredSizeBytes: 4096,
        placeholders: [
          { generatedBy: 'PRE_EXISTING', clinicalType: 'SCANNED_DOCUMENT', reason: 'FILE_NOT_FOUND', originalMimeType: 'application/pdf' },
          { generatedBy: 'SENDER', clinicalType: 'AUDIO_DICTATION', reason: 'FILE_DELETED', originalMimeType: 'audio/mpeg' },
        ],
      },
    },
  },
  '/document-responses': {
    ...BASE,
    payload: { attachment: { clinicalType: 'SCANNED_DOCUMENT', mimeType: 'application/pdf', sizeBytes: 3084322 }, documentMigration: { successful: false, reason: 'Large file size' } },
  },
  '/ready-to-integrate-statuses': { ...BASE },
  '/ehr-degrades': {
    reportingSystemSupplier: 'YGM24',
    payload: { degrades: [{ type: 'RECORD_ENTRY', reason: 'CODE', coding: [{ code: '1676331000000110', system: 'http://snomed.info/sct' }] }] },
  },
  '/ehr-integrations': { ...BASE, payload: { integration: { outcome: 'INTEGRATED' } } },
  '/errors': { ...BASE, payload: { error: { errorCode: '99', errorDescription: 'unexpected error', failurePoint: 'EHR_RESPONSE' } } },
};

function problems(endpoint: string, body: unknown): ApiProblem[] {
  const result = validateApiRequest(endpoint, body);
  if (result.ok) throw new Error(`expected ${endpoint} to refuse ${JSON.stringify(body)}`);
  expect(result.message).toBe(result.problems.map((p) => p.message).join('; '));
  return result.problems;
}
function one(endpoint: ApiEndpoint, body: unknown): ApiProblem {
  const list = problems(endpoint, body);
  expect(list, JSON.stringify(list)).toHaveLength(1);
  return list[0]!;
}
/** A valid body with a change at a dotted path (undefined deletes). */
function changed(endpoint: ApiEndpoint, path: string, value: unknown): Record<string, unknown> {
  const body = structuredClone(VALID_BODIES[endpoint]);
  const parts = path.split('.');
  let at: Record<string, unknown> = body;
  for (const p of parts.slice(0, -1)) at = at[p] as Record<string, unknown>;
  if (value === undefined) delete at[parts.at(-1)!];
  else at[parts.at(-1)!] = value;
  return body;
}

describe('validateApiRequest accepts the API', () => {
  it('lists the nine endpoints in the API\'s order', () => {
    expect(API_ENDPOINTS).toHaveLength(9);
  });

  it.each(API_ENDPOINTS)('a valid %s body', (endpoint) => {
    expect(validateApiRequest(endpoint, VALID_BODIES[endpoint])).toEqual({ ok: true });
  });

  it('sendingPracticeOdsCode is optional for /registrations and /errors only', () => {
    for (const endpoint of API_ENDPOINTS) {
      if (endpoint === '/ehr-degrades') continue;
      const result = validateApiRequest(endpoint, changed(endpoint, 'sendingPracticeOdsCode', undefined));
      expect(result.ok, endpoint).toBe(endpoint === '/registrations' || endpoint === '/errors');
    }
  });

  it('reasons are optional when nothing is false; otherFailurePoint with OTHER', () => {
    expect(validateApiRequest('/registrations', changed('/registrations', 'payload.demographicTraceStatus', { matched: true, multifactorAuthenticationPresent: false }))).toEqual({ ok: true });
    expect(
      validateApiRequest('/transfer-compatibility-statuses', changed('/transfer-compatibility-statuses', 'payload.transferCompatibilityStatus', { internalTransfer: true, transferCompatible: true })),
    ).toEqual({ ok: true });
    expect(validateApiRequest('/document-responses', changed('/document-responses', 'payload.documentMigration', { successful: true }))).toEqual({ ok: true });
    expect(validateApiRequest('/errors', changed('/errors', 'payload.error', { errorCode: 'SDS_01', errorDescription: 'x', failurePoint: 'OTHER', otherFailurePoint: 'practice lookup' }))).toEqual({ ok: true });
    expect(validateApiRequest('/errors', changed('/errors', 'payload.error', { errorCode: 'A'.repeat(50), errorDescription: 'x', failurePoint: 'OTHER' }))).toEqual({ ok: true });
    expect(validateApiRequest('/ehr-responses', changed('/ehr-responses', 'payload.ehr', {}))).toEqual({ ok: true });
  });
});

describe('validateApiRequest refuses, naming field, value and what is allowed', () => {
  it('the conditional reasons', () => {
    expect(one('/registrations', changed('/registrations', 'payload.demographicTraceStatus.reason', undefined))).toEqual({
      field: 'payload.demographicTraceStatus.reason',
      allowed: 'a reason (non-empty text); required when matched is false',
      message: 'payload.demographicTraceStatus.reason: missing; allowed: a reason (non-empty text); required when matched is false',
    });
    expect(one('/transfer-compatibility-statuses', changed('/transfer-compatibility-statuses', 'payload.transferCompatibilityStatus.reason', undefined)).message).toBe(
      'payload.transferCompatibilityStatus.reason: missing; allowed: a reason (non-empty text); required when transferCompatible is false',
    );
    expect(one('/document-responses', changed('/document-responses', 'payload.documentMigration.reason', undefined)).field).toBe('payload.documentMigration.reason');
  });

  it('otherFailurePoint without OTHER', () => {
    expect(one('/errors', changed('/errors', 'payload.error.otherFailurePoint', 'PDS'))).toEqual({
      field: 'payload.error.otherFailurePoint',
      value: 'PDS',
      allowed: 'no otherFailurePoint unless failurePoint is OTHER (here "EHR_RESPONSE")',
      message: 'payload.error.otherFailurePoint: "PDS" is not allowed; allowed: no otherFailurePoint unless failurePoint is OTHER (here "EHR_RESPONSE")',
    });
  });

  it('every enum', () => {
    const cases: [ApiEndpoint, string, string][] = [
      ['/registrations', 'payload.registration.type', 'TEMPORARY'],
      ['/ehr-responses', 'payload.ehr.placeholders.0.clinicalType', 'PHOTO'],
      ['/ehr-responses', 'payload.ehr.placeholders.1.generatedBy', 'REQUESTER'],
      ['/ehr-responses', 'payload.ehr.placeholders.0.reason', 'FILE_TOO_BIG'],
      ['/document-responses', 'payload.attachment.clinicalType', 'scanned_document'],
      ['/ehr-degrades', 'payload.degrades.0.type', 'ALLERGY'],
      ['/ehr-degrades', 'payload.degrades.0.reason', 'UNKNOWN'],
      ['/ehr-integrations', 'payload.integration.outcome', 'MERGED'],
      ['/errors', 'payload.error.failurePoint', 'PDS'],
    ];
    for (const [endpoint, path, value] of cases) {
      const p = one(endpoint, changed(endpoint, path, value));
      expect(p.field).toBe(path.replace(/\.(\d+)/g, '[$1]'));
      expect(p.value).toBe(value);
      expect(p.allowed).toMatch(/^one of [A-Z_]+(, [A-Z_]+)+$/);
      expect(p.message).toBe(`${p.field}: "${value}" is not allowed; allowed: ${p.allowed}`);
    }
  });

  it('types, formats and empty strings', () => {
    expect(one('/ehr-requests', changed('/ehr-requests', 'registrationEventDateTime', '2020-02-08T09:30:25+01:00')).allowed).toBe('an ISO 8601 date-time in UTC (Z), e.g. 2020-02-08T08:30:25Z');
    expect(one('/ehr-requests', changed('/ehr-requests', 'reportingPracticeOdsCode', '')).message).toBe(
      'reportingPracticeOdsCode: "" is not allowed; allowed: the reporting practice\'s ODS code (a non-empty string)',
    );
    expect(one('/registrations', changed('/registrations', 'payload.gpLinks.gpLinksComplete', 'yes')).allowed).toBe('true or false');
    expect(one('/document-responses', changed('/document-responses', 'payload.attachment.sizeBytes', 1.5)).field).toBe('payload.attachment.sizeBytes');
    expect(one('/errors', changed('/errors', 'payload.error.errorCode', 'SEF-001')).allowed).toMatch(/letters, digits or underscores/);
    expect(one('/errors', changed('/errors', 'payload.error.errorCode', 'A'.repeat(51))).field).toBe('payload.error.errorCode');
    expect(one('/ehr-degrades', changed('/ehr-degrades', 'payload.degrades', [])).allowed).toBe('a list of degrades with at least one entry');
  });

  it('missing fields, all at once', () => {
    const list = problems('/ehr-integrations', { reportingSystemSupplier: 'YGM24' });
    expect(list.map((p) => p.field)).toEqual(['conversationId', 'registrationEventDateTime', 'reportingPracticeOdsCode', 'requestingPracticeOdsCode', 'sendingPracticeOdsCode', 'payload']);
    expect(list[0]!.message).toMatch(/^conversationId: missing; allowed: /);
    expect(list[0]).not.toHaveProperty('value');
  });

  it('unknown fields by name, and nothing that relates a degrade to a transfer', () => {
    const p = one('/ehr-requests', { ...BASE, payload: {} });
    expect(p.field).toBe('payload');
    expect(p.message).toMatch(/^payload: \{\} is an unknown field; allowed: the fields of an \/ehr-requests body: conversationId, /);
    const degrade = problems('/ehr-degrades', { ...VALID_BODIES['/ehr-degrades'], conversationId: BASE.conversationId, sendingPracticeOdsCode: 'B23456' });
    expect(degrade.map((d) => d.field)).toEqual(['conversationId', 'sendingPracticeOdsCode']);
    expect(degrade[0]!.allowed).toMatch(/nothing that relates a degrade to a transfer/);
    expect(one('/document-responses', changed('/document-responses', 'payload.attachment.MimeType', 'application/pdf')).field).toBe('payload.attachment.MimeType');
  });

  it('an unknown endpoint, and bodies that are not objects', () => {
    expect(one('/ehr-requests' as ApiEndpoint, null).field).toBe('body');
    expect(problems('/ehr-request', BASE)).toEqual([
      { field: 'endpoint', value: '/ehr-request', allowed: `one of ${API_ENDPOINTS.join(', ')}`, message: `endpoint: "/ehr-request" is not allowed; allowed: one of ${API_ENDPOINTS.join(', ')}` },
    ]);
    expect(problems('/errors', [1, 2])[0]!.field).toBe('body');
  });
});
