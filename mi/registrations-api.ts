/**
 * The GP Registrations Management Information API (NHS England's successor to GP2GP MI over MESH),
 * described in the project's own words: its nine POST endpoints, the body each takes (common fields,
 * payload, every enum, and the conditional rules its descriptions state), the API-key header, the base
 * URLs and the answers it gives. One zod schema per endpoint body; `validateApiRequest` checks a body
 * against it and names, for every problem at once, the field, the value and what is allowed — the same
 * shape of refusal as the hook contract's (mi/events.ts).
 *
 * Used by the stand-in peer, the delivery client and the mapping's tests. It imports zod, so it is NOT
 * part of the workflow-safe core (mi/index.ts): the mapping (registrations-api-mapping.ts) imports
 * only its types.
 *
 * Facts kept from the API description (version 0.0.1) that are easy to get wrong:
 * - `/registrations` and `/errors` may omit `sendingPracticeOdsCode` (there may be no previous
 *   practice); the other transfer endpoints require it.
 * - `/ehr-degrades` MUST NOT carry conversationId, registrationEventDateTime or any practice ODS code:
 *   nothing may relate a degrade to a transfer. Its body is reportingSystemSupplier + payload only.
 * - `errorCode` holds only letters, digits and underscores, at most 50 characters; NACKs carry their
 *   acknowledgement response code.
 * - Reasons are required when `demographicTraceStatus.matched`, `transferCompatibilityStatus
 *   .transferCompatible` or `documentMigration.successful` is false; `otherFailurePoint` belongs to
 *   failurePoint OTHER only.
 * - The Attachment schema lists its property as `MimeType` but requires `mimeType`: the required name
 *   (which the request example uses) is the one described here.
 *
 * Unknown fields are refused, by name (as the hook contract does): a misspelt optional field would
 * otherwise vanish silently, and the project's own mapping never sends one.
 */
import { z } from 'zod';
import {
  API_ERROR_CODE_RE,
  API_FAILURE_POINTS,
  API_REGISTRATION_TYPES,
  CLINICAL_TYPES,
  DEGRADE_REASONS,
  DEGRADE_TYPES,
  INTEGRATION_OUTCOMES,
  PLACEHOLDER_GENERATED_BY,
  PLACEHOLDER_REASONS,
} from './formats';

// ---- endpoints, headers, environments ----------------------------------------------------------

/** The nine endpoints, in the API's own publication order. */
export const API_ENDPOINTS = [
  '/registrations',
  '/transfer-compatibility-statuses',
  '/ehr-requests',
  '/ehr-responses',
  '/document-responses',
  '/ready-to-integrate-statuses',
  '/ehr-degrades',
  '/ehr-integrations',
  '/errors',
] as const;
export type ApiEndpoint = (typeof API_ENDPOINTS)[number];

export function isApiEndpoint(value: unknown): value is ApiEndpoint {
  return typeof value === 'string' && (API_ENDPOINTS as readonly string[]).includes(value);
}

/** NHS England's API platform takes the application's key in this request header. */
export const API_KEY_HEADER = 'apikey';

/** The API's base URLs (append an endpoint path). */
export const API_BASE_URLS = {
  int: 'https://int.api.service.nhs.uk/gp-registrations-mi',
  production: 'https://api.service.nhs.uk/gp-registrations-mi',
} as const;

/** Who submits each endpoint's event. `/errors`: whichever practice meets the problem. */
export const API_SUBMITTED_BY: Record<ApiEndpoint, 'requesting' | 'sending' | 'either'> = {
  '/registrations': 'requesting',
  '/transfer-compatibility-statuses': 'requesting',
  '/ehr-requests': 'requesting',
  '/ehr-responses': 'sending',
  '/document-responses': 'requesting',
  '/ready-to-integrate-statuses': 'requesting',
  '/ehr-degrades': 'requesting',
  '/ehr-integrations': 'requesting',
  '/errors': 'either',
};

// ---- enums (the lists live in formats.ts, shared with the workflow-safe hook contract) -------------

export {
  API_ERROR_CODE_RE,
  API_FAILURE_POINTS,
  API_REGISTRATION_TYPES,
  CLINICAL_TYPES,
  DEGRADE_REASONS,
  DEGRADE_TYPES,
  INTEGRATION_OUTCOMES,
  PLACEHOLDER_GENERATED_BY,
  PLACEHOLDER_REASONS,
} from './formats';
export type ApiRegistrationType = (typeof API_REGISTRATION_TYPES)[number];
export type ClinicalType = (typeof CLINICAL_TYPES)[number];
export type PlaceholderGeneratedBy = (typeof PLACEHOLDER_GENERATED_BY)[number];
export type PlaceholderReason = (typeof PLACEHOLDER_REASONS)[number];
export type DegradeType = (typeof DEGRADE_TYPES)[number];
export type DegradeReason = (typeof DEGRADE_REASONS)[number];
export type IntegrationOutcome = (typeof INTEGRATION_OUTCOMES)[number];
export type ApiFailurePoint = (typeof API_FAILURE_POINTS)[number];
/** The outcomes the API allows only for returning patients. */
export const RETURNING_PATIENT_OUTCOMES: readonly IntegrationOutcome[] = ['INTEGRATED_AND_SUPPRESSED', 'SUPPRESSED_AND_REACTIVATED'];
export const API_ERROR_CODE_ALLOWED = '1 to 50 letters, digits or underscores (a NACK: its acknowledgement response code)';

// ---- building blocks -----------------------------------------------------------------------------

/** Every schema carries, as its error, the text of what is allowed: the refusal quotes it. */
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `one of ${values.join(', ')}` });
const text = (allowed = 'a non-empty string') => z.string({ error: allowed }).min(1, { error: allowed });
const flag = () => z.boolean({ error: 'true or false' });
const count = (what: string) => {
  const allowed = `a whole number of ${what}, 0 or more`;
  return z.number({ error: allowed }).int({ error: allowed }).min(0, { error: allowed });
};
/** A JSON object with exactly these fields (the optional ones may be left out). */
function fields<S extends z.ZodRawShape>(what: string, shape: S, extra?: string) {
  const names = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? `the fields of ${what}: ${names}${extra ? ` (${extra})` : ''}` : `an object (${what}) with the fields ${names}`),
  });
}

const UTC_DATE_TIME_ALLOWED = 'an ISO 8601 date-time in UTC (Z), e.g. 2020-02-08T08:30:25Z';
const utcDateTime = () => z.iso.datetime({ error: UTC_DATE_TIME_ALLOWED });
const odsCode = (whose: string) => text(`the ${whose}'s ODS code (a non-empty string)`);

const common = {
  conversationId: text('the registration\'s conversation ID, generated at registration (a non-empty string)'),
  registrationEventDateTime: utcDateTime(),
  reportingSystemSupplier: text('the system supplier\'s ODS code (a non-empty string)'),
  reportingPracticeOdsCode: odsCode('reporting practice'),
  requestingPracticeOdsCode: odsCode('requesting practice'),
};
/** BaseEvent: every common field, the sending practice included. */
const baseEvent = { ...common, sendingPracticeOdsCode: odsCode('sending practice') };
/** BaseEventWithOptionalSendingPracticeOdsCode: there may be no previous practice. */
const baseEventOptionalSender = { ...common, sendingPracticeOdsCode: odsCode('sending practice').optional() };

const reasonWhen = (condition: string) => text(`a reason (non-empty text); required when ${condition}`).optional();

// ---- payload parts -------------------------------------------------------------------------------

const registration = fields('registration', {
  type: oneOf(API_REGISTRATION_TYPES),
  returningPatient: flag(),
  multifactorAuthenticationPresent: flag(),
});

const demographicTraceStatus = fields('demographicTraceStatus', {
  matched: flag(),
  reason: reasonWhen('matched is false'),
  multifactorAuthenticationPresent: flag(),
});

const gpLinks = fields('gpLinks', { gpLinksComplete: flag() });

const transferCompatibilityStatus = fields('transferCompatibilityStatus', {
  internalTransfer: flag(),
  transferCompatible: flag(),
  reason: reasonWhen('transferCompatible is false'),
});

const placeholder = fields('a placeholder', {
  clinicalType: oneOf(CLINICAL_TYPES),
  generatedBy: oneOf(PLACEHOLDER_GENERATED_BY),
  reason: oneOf(PLACEHOLDER_REASONS),
  originalMimeType: text('the attachment\'s original MIME type, e.g. application/pdf'),
});

const ehr = fields('ehr', {
  ehrStructuredSizeBytes: count('bytes (the structured part of the EHR, attachments excluded)').optional(),
  placeholders: z.array(placeholder, { error: 'a list of placeholders' }).optional(),
});

const attachment = fields('attachment', {
  clinicalType: oneOf(CLINICAL_TYPES),
  mimeType: text('the attachment\'s MIME type, e.g. application/pdf'),
  sizeBytes: count('bytes'),
});

const documentMigration = fields('documentMigration', {
  successful: flag(),
  reason: reasonWhen('successful is false (an error code and/or description)'),
});

const coding = fields('a coding', {
  code: text('the original code that degraded, e.g. 1676331000000110'),
  system: text('the code\'s coding system, e.g. http://snomed.info/sct'),
});
const degrade = fields('a degrade', {
  type: oneOf(DEGRADE_TYPES),
  reason: oneOf(DEGRADE_REASONS),
  coding: z.array(coding, { error: 'a list of codings (code, system)' }),
});

const integration = fields('integration', { outcome: oneOf(INTEGRATION_OUTCOMES) });

const error = fields('error', {
  errorCode: z.string({ error: API_ERROR_CODE_ALLOWED }).regex(API_ERROR_CODE_RE, { error: API_ERROR_CODE_ALLOWED }),
  errorDescription: text('a human-readable description of the error (non-empty text)'),
  failurePoint: oneOf(API_FAILURE_POINTS),
  otherFailurePoint: text('a description of where in the workflow the failure was (non-empty text); only with failurePoint OTHER').optional(),
});

// ---- the nine bodies -----------------------------------------------------------------------------

const payload = <S extends z.ZodRawShape>(endpoint: string, shape: S) => fields(`the ${endpoint} payload`, shape);

/** Conditional rules the descriptions state: a reason when something is false; otherFailurePoint only with OTHER. */
type Refine = (body: Record<string, unknown>, ctx: z.RefinementCtx) => void;
function reasonRequired(path: readonly string[], flagName: string): Refine {
  return (body, ctx) => {
    const part = at(body, path) as Record<string, unknown> | undefined;
    if (part && part[flagName] === false && part.reason === undefined) {
      ctx.addIssue({ code: 'custom', path: [...path, 'reason'], message: `a reason (non-empty text); required when ${flagName} is false`, input: undefined });
    }
  };
}

export const API_SCHEMAS = {
  '/registrations': fields('a /registrations body', {
    ...baseEventOptionalSender,
    payload: payload('/registrations', { registration, demographicTraceStatus, gpLinks }),
  }).superRefine(reasonRequired(['payload', 'demographicTraceStatus'], 'matched')),
  '/transfer-compatibility-statuses': fields('a /transfer-compatibility-statuses body', {
    ...baseEvent,
    payload: payload('/transfer-compatibility-statuses', { transferCompatibilityStatus }),
  }).superRefine(reasonRequired(['payload', 'transferCompatibilityStatus'], 'transferCompatible')),
  '/ehr-requests': fields('an /ehr-requests body', baseEvent),
  '/ehr-responses': fields('an /ehr-responses body', { ...baseEvent, payload: payload('/ehr-responses', { ehr }) }),
  '/document-responses': fields('a /document-responses body', {
    ...baseEvent,
    payload: payload('/document-responses', { attachment, documentMigration }),
  }).superRefine(reasonRequired(['payload', 'documentMigration'], 'successful')),
  '/ready-to-integrate-statuses': fields('a /ready-to-integrate-statuses body', baseEvent),
  '/ehr-degrades': fields(
    'an /ehr-degrades body',
    {
      reportingSystemSupplier: common.reportingSystemSupplier,
      payload: payload('/ehr-degrades', {
        degrades: z.array(degrade, { error: 'a list of degrades, one entry per degrade' }).min(1, { error: 'a list of degrades with at least one entry' }),
      }),
    },
    'nothing that relates a degrade to a transfer: no conversationId, registrationEventDateTime or practice ODS codes',
  ),
  '/ehr-integrations': fields('an /ehr-integrations body', { ...baseEvent, payload: payload('/ehr-integrations', { integration }) }),
  '/errors': fields('an /errors body', { ...baseEventOptionalSender, payload: payload('/errors', { error }) }).superRefine((body, ctx) => {
    const e = at(body, ['payload', 'error']) as Record<string, unknown> | undefined;
    if (e && e.otherFailurePoint !== undefined && e.failurePoint !== 'OTHER') {
      ctx.addIssue({
        code: 'custom',
        path: ['payload', 'error', 'otherFailurePoint'],
        message: `no otherFailurePoint unless failurePoint is OTHER (here ${JSON.stringify(e.failurePoint)})`,
        input: e.otherFailurePoint,
      });
    }
  }),
} as const satisfies Record<ApiEndpoint, z.ZodType>;

// ---- types -------------------------------------------------------------------------------------

export type ApiBodies = { [E in ApiEndpoint]: z.infer<(typeof API_SCHEMAS)[E]> };
export type ApiBody<E extends ApiEndpoint = ApiEndpoint> = ApiBodies[E];
export type RegistrationsBody = ApiBodies['/registrations'];
export type TransferCompatibilityStatusesBody = ApiBodies['/transfer-compatibility-statuses'];
export type EhrRequestsBody = ApiBodies['/ehr-requests'];
export type EhrResponsesBody = ApiBodies['/ehr-responses'];
export type DocumentResponsesBody = ApiBodies['/document-responses'];
export type ReadyToIntegrateStatusesBody = ApiBodies['/ready-to-integrate-statuses'];
export type EhrDegradesBody = ApiBodies['/ehr-degrades'];
export type EhrIntegrationsBody = ApiBodies['/ehr-integrations'];
export type ErrorsBody = ApiBodies['/errors'];
export type ApiPlaceholder = NonNullable<EhrResponsesBody['payload']['ehr']['placeholders']>[number];
export type ApiDegrade = EhrDegradesBody['payload']['degrades'][number];

// ---- answers -------------------------------------------------------------------------------------

/** 200: the API's id for the accepted event. */
export const API_OK_RESPONSE = z.object({ eventId: z.string() });
/** 400 (status BAD_REQUEST) and 500 (status INTERNAL_SERVER_ERROR): a message and a list of errors. */
export const API_ERROR_RESPONSE = z.object({ status: z.string(), message: z.string(), errors: z.array(z.string()) });
export type ApiOkResponse = z.infer<typeof API_OK_RESPONSE>;
export type ApiErrorResponse = z.infer<typeof API_ERROR_RESPONSE>;

// ---- validation ------------------------------------------------------------------------------------

export interface ApiProblem {
  /** Dotted path, list items as [i]: e.g. payload.degrades[0].coding[1].system. */
  field: string;
  /** The offending value (absent when missing); long strings and structures are shortened. */
  value?: unknown;
  allowed: string;
  message: string;
}
export type ApiValidationResult = { ok: true } | { ok: false; problems: ApiProblem[]; message: string };

/**
 * Checks a body against its endpoint's description and reports every problem at once, each naming the
 * field, its value and what is allowed (e.g. `payload.transferCompatibilityStatus.reason: missing;
 * allowed: a reason (non-empty text); required when transferCompatible is false`).
 */
export function validateApiRequest(endpoint: string, body: unknown): ApiValidationResult {
  if (!isApiEndpoint(endpoint)) {
    const allowed = `one of ${API_ENDPOINTS.join(', ')}`;
    return refuse([{ field: 'endpoint', value: shorten(endpoint), allowed, message: `endpoint: ${show(endpoint)} is not allowed; allowed: ${allowed}` }]);
  }
  const result = API_SCHEMAS[endpoint].safeParse(body);
  if (result.success) return { ok: true };
  const problems: ApiProblem[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
    if (issue.code === 'unrecognized_keys') {
      const parent = at(body, path) as Record<string, unknown> | undefined;
      for (const key of issue.keys) {
        const field = fieldName([...path, key]);
        const value = parent?.[key];
        problems.push({ field, value: shorten(value), allowed: issue.message, message: `${field}: ${show(value)} is an unknown field; allowed: ${issue.message}` });
      }
      continue;
    }
    const field = path.length === 0 ? 'body' : fieldName(path);
    const value = path.length === 0 ? body : at(body, path);
    if (value === undefined) problems.push({ field, allowed: issue.message, message: `${field}: missing; allowed: ${issue.message}` });
    else problems.push({ field, value: shorten(value), allowed: issue.message, message: `${field}: ${show(value)} is not allowed; allowed: ${issue.message}` });
  }
  return refuse(problems);
}

function refuse(problems: ApiProblem[]): ApiValidationResult {
  return { ok: false, problems, message: problems.map((p) => p.message).join('; ') };
}

function fieldName(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? p : `.${p}`;
  return out;
}

function at(value: unknown, path: readonly PropertyKey[]): unknown {
  let v = value;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

const SHOWN = 80;
function show(value: unknown): string {
  let textValue: string;
  try {
    textValue = value === undefined ? 'undefined' : (JSON.stringify(value) ?? String(value));
  } catch {
    textValue = String(value);
  }
  return textValue.length > SHOWN ? `${textValue.slice(0, SHOWN - 1)}…` : textValue;
}
function shorten(value: unknown): unknown {
  if (typeof value === 'string') return value.length > SHOWN ? `${value.slice(0, SHOWN)}…` : value;
  if (value === null || typeof value !== 'object') return value;
  return show(value);
}
