/**
 * The value formats of 0171.02 and the hook event contract, in one place: event validation, row
 * building, rendering and the file checker all test the same patterns, so a value the validator lets
 * in is a value the checker accepts in the file. Workflow-safe: plain functions and small constants.
 */

/** ODS organisation codes (GP practices are a letter and 5 digits, but other organisations differ). */
export const ODS_RE = /^[A-Z0-9]{3,10}$/;
export const ODS_ALLOWED = 'an ODS code: 3 to 10 upper-case letters or digits';

/**
 * GP2GP message and conversation ids are GUIDs. The spec's own examples break the RFC 4122 version and
 * variant nibbles (58E88CD9-0565-4BA2-1234-…), so only the 8-4-4-4-12 hex shape is required.
 */
export const UUID_RE = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;
export const UUID_ALLOWED = 'a GUID: 8-4-4-4-12 hexadecimal digits';
/** In the file: as rendered, upper case (the Authority joins RR and SR rows on the conversation id). */
export const FILE_UUID_RE = /^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/;

/**
 * RR7 / RR31 (max 16): the Smartcard (SDS) user id is numeric (the examples use 1234567890), else a
 * local id prefixed with "L"; RR31 also allows "SYSTEM" when the system rejected the extract itself.
 */
export const SDS_USER_RE = /^[0-9]{1,16}$/;
export const LOCAL_USER_RE = /^L[A-Za-z0-9._-]{1,15}$/;
export const USER_ALLOWED = 'a Smartcard (SDS) user id of up to 16 digits, or "L" + a local user id (letters, digits, ". _ -"; 16 characters in all)';
export function isUser(value: string, allowSystem: boolean): boolean {
  return SDS_USER_RE.test(value) || LOCAL_USER_RE.test(value) || (allowSystem && value === 'SYSTEM');
}

/**
 * RR23 / SR9 (0171.02): "0 = ACK sent, 01 – 99 = NACK error code". Every two-digit code in that range
 * is accepted and written as it is, so a GP system using a code newer than 0083.08 still has its
 * transfer reported; codes outside 0083.08's list are only flagged (a warning, a metric).
 */
export const NACK_CODE_RE = /^(?:0[1-9]|[1-9][0-9])$/;
/** Approved acknowledgement (NACK) codes of 0083.08 §5, deprecated ones included (22 is "not used"). */
export const NACK_CODES: readonly string[] = [
  '03', '04', '05', '06', '07', '08', '09', '10', '11', '12', '13', '14', '15', '16', '17', '18', '19',
  '20', '21', '23', '24', '25', '26', '27', '28', '29', '30', '31', '99',
];
const NACK_SET = new Set(NACK_CODES);
export const ACK_CODE_ALLOWED = '"0" (ACK) or a two-digit NACK code from 01 to 99';
export function isAckCode(value: string): boolean {
  return value === '0' || NACK_CODE_RE.test(value);
}
/** A NACK code of the contract's range, 01 to 99. */
export function isNackCode(value: string): boolean {
  return NACK_CODE_RE.test(value);
}
/** A NACK code listed by 0083.08 (the others of 01–99 are accepted, but flagged). */
export function isKnownNackCode(value: string): boolean {
  return NACK_SET.has(value);
}

/**
 * Error codes (RR12, RR28: 8 characters; SR12, SR19: 10) come from the source application, TMS, PDS or
 * the target: "400", "06", "SEF001". They are never quoted in the file, so they must not need it.
 */
export const ERROR_CODE_RE = /^[A-Za-z0-9._:/-]+$/;
export const errorCodeAllowed = (max: number) => `an error code of 1 to ${max} letters, digits or ". _ : / -"`;

/** Day (HR6, FS5) and timestamp (RR5 …) formats of the file: UTC, no zone, no fraction. */
export const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;
export const FILE_DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/;

/**
 * True for a real calendar day in YYYY-MM-DD form (2026-02-30 is refused: Date.parse would take it as
 * 2 March). The one day check of the project: every entry (CLI options, client, workflow validators,
 * configuration, rendering) uses it, through dayRefusal where a message is needed.
 */
export function isDay(value: unknown): boolean {
  if (typeof value !== 'string' || !DAY_RE.test(value)) return false;
  const ms = Date.parse(`${value}T00:00:00Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === value;
}
export const DAY_ALLOWED = 'a date YYYY-MM-DD that exists on the calendar';

/** Why `value` is not a day, as `<name>: "<value>" is not allowed; allowed: …`, or undefined when it is one. */
export function dayRefusal(name: string, value: unknown): string | undefined {
  if (isDay(value)) return undefined;
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : String(value);
  const why = typeof value === 'string' && DAY_RE.test(value) ? ' (no such day)' : '';
  return `${name}: ${shown} is not allowed${why}; allowed: ${DAY_ALLOWED}`;
}

/** True for a real UTC date-time in the file's YYYY-MM-DDThh:mm:ss form. */
export function isFileDateTime(value: string): boolean {
  if (!FILE_DATETIME_RE.test(value)) return false;
  const ms = Date.parse(`${value}Z`);
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 19) === value;
}

/** HR5: 7 status bytes (0 not supported, 1 supported, 2 switched off), then 8 spare "0". */
export const APPLICATION_STATUS_RE = /^[0-2]{7}0{8}$/;
export const APPLICATION_STATUS_ALLOWED = '15 digits: 7 status bytes each 0, 1 or 2 (GP2GP, Large Messaging, A-B-A, Archetypes, SCR flags, Paper Process, Patient Facing Services), then 8 spare "0"';

/** SR6: 0069 TD53 says every byte is set to 0, 1 or 2 as determined; 0000000000 = no special status. */
export const REQUESTER_CONFIG_RE = /^[0-2]{10}$/;
export const REQUESTER_CONFIG_ALLOWED = '10 digits, each 0, 1 or 2 (1st: Large Messaging, 2nd: A-B-A), e.g. 0000000000';

/** HR3: the example is 4297447031, the description "e.g. A12345-123456". */
export const ASID_RE = /^[A-Za-z0-9-]{1,20}$/;
export const ASID_ALLOWED = 'an ASID: 1 to 20 letters, digits or "-"';

/** Decimal settings of HR7, HR9–HR11, rendered as the §3.4.1 example does: 5 → "5.0", 0.25 → "0.25". */
export function formatDecimal(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}
export const DECIMAL_RE = /^\d+\.\d+$/;

/**
 * MI24: no patient-identifiable data. An NHS number is 10 digits whose last is the modulus 11 check
 * digit of the other nine; a run of 10 digits (optionally grouped 3-3-4 by spaces or hyphens) that
 * passes the check is refused wherever free text or identifiers could carry one.
 */
export function containsNhsNumber(text: string): boolean {
  const re = /(?<![0-9])(\d{3})[ -]?(\d{3})[ -]?(\d{4})(?![0-9])/g;
  for (const m of text.matchAll(re)) {
    if (isNhsNumber(`${m[1]}${m[2]}${m[3]}`)) return true;
  }
  return false;
}

export function isNhsNumber(digits: string): boolean {
  if (!/^\d{10}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += Number(digits[i]) * (10 - i);
  const check = 11 - (sum % 11);
  if (check === 10) return false;
  return (check === 11 ? 0 : check) === Number(digits[9]);
}

/** Control characters other than tab, CR and LF never belong in MI text. */
// eslint-disable-next-line no-control-regex
export const FORBIDDEN_CONTROL_RE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/;

/** Free text in the file stays on one line: CR, LF and tab become spaces (one per line break). */
export function oneLine(text: string): string {
  return text.replace(/\r\n|[\r\n\t]/g, ' ');
}

// ---- the GP Registrations MI API's values (the successor to MESH MI) ---------------------------------
// Plain constants, so that the hook contract (workflow-safe) and the API's schemas (mi/registrations-api.ts,
// zod) share one list of each.

/** The API's registration.type: a new (or returning) GP registration, or a change to the Regular patient type. */
export const API_REGISTRATION_TYPES = ['NEW_GP_REGISTRATION', 'CHANGE_PATIENT_TYPE'] as const;
/** Attachment and placeholder clinical types (EhrAttachmentCode of the MIM). */
export const CLINICAL_TYPES = [
  'SCANNED_DOCUMENT',
  'ORIGINAL_TEXT_DOCUMENT',
  'OCR_TEXT_DOCUMENT',
  'IMAGE',
  'AUDIO_DICTATION',
  'OTHER_AUDIO',
  'OTHER_DIGITAL_SIGNAL',
  'EDI_MESSAGE',
  'NOT_AVAILABLE',
  'OTHER',
] as const;
/** Who made a placeholder: the sending practice, or it was already in the EHR. */
export const PLACEHOLDER_GENERATED_BY = ['SENDER', 'PRE_EXISTING'] as const;
/** NPFIT-PC-BLD-0099.04's reasons for a missing attachment. */
export const PLACEHOLDER_REASONS = ['FILE_TYPE_UNSUPPORTED', 'FILE_DELETED', 'FILE_NOT_FOUND', 'FILE_LOCKED', 'UNABLE_TO_DETERMINE_PROBLEM'] as const;
/** Degraded entry categories (NPFIT-PC-BLD-0132.03). */
export const DEGRADE_TYPES = ['MEDICATION', 'NON_DRUG_ALLERGY', 'DRUG_ALLERGY', 'REFERRAL', 'PLAN', 'REQUEST', 'RECORD_ENTRY', 'OTHER'] as const;
/** CODE: cannot be mapped; NUMERIC_VALUE: made text; DRUG_NAME: made text; OTHER: any other reason. */
export const DEGRADE_REASONS = ['CODE', 'NUMERIC_VALUE', 'DRUG_NAME', 'OTHER'] as const;
/**
 * Integration outcomes. INTEGRATED_AND_SUPPRESSED and SUPPRESSED_AND_REACTIVATED are for returning
 * patients only; FILED_AS_ATTACHMENT is for GP2GP 1.1a; FAILED_TO_INTEGRATE comes with an error event.
 */
export const INTEGRATION_OUTCOMES = [
  'INTEGRATED',
  'INTEGRATED_AND_SUPPRESSED',
  'SUPPRESSED_AND_REACTIVATED',
  'FILED_AS_ATTACHMENT',
  'REJECTED',
  'INTERNAL_TRANSFER',
  'FAILED_TO_INTEGRATE',
] as const;
/**
 * Where an error happened, as the API names it. PATIENT_TRACE and PATIENT_GENERAL_UPDATE: PDS;
 * ENDPOINT_LOOKUP: SDS; EHR_REQUESTED: requesting the EHR; EHR_RESPONSE: generating and sending it;
 * EHR_READY_TO_INTEGRATE: making it available to integrate; EHR_INTEGRATION: integrating; OTHER.
 */
export const API_FAILURE_POINTS = [
  'PATIENT_TRACE',
  'ENDPOINT_LOOKUP',
  'PATIENT_GENERAL_UPDATE',
  'EHR_REQUESTED',
  'EHR_RESPONSE',
  'EHR_READY_TO_INTEGRATE',
  'EHR_INTEGRATION',
  'OTHER',
] as const;
/** The API's errorCode: letters, digits and underscores, 1 to 50 of them. */
export const API_ERROR_CODE_RE = /^[A-Za-z0-9_]{1,50}$/;
/** A MIME type (type/subtype), e.g. application/pdf. */
export const MIME_TYPE_RE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
export const MIME_TYPE_ALLOWED = 'a MIME type (type/subtype), e.g. application/pdf';
