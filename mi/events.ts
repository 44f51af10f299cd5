/**
 * The hook event contract: the 18 event types (13 that fill MESH MI's rows, 5 added for the GP
 * Registrations MI API, which MESH rows ignore), and the one validation that the
 * client, the HTTP API, the CLI and the workflows all use. It runs inside the Temporal workflow sandbox
 * (as an update validator), so it is hand-written: no node modules, no crypto, and only a small rule
 * table at module level — lighter than a compiled schema, and its refusals can say exactly which field,
 * which value and what is allowed, all problems at once.
 */
import {
  ACK_CODE_ALLOWED,
  API_FAILURE_POINTS,
  API_REGISTRATION_TYPES,
  CLINICAL_TYPES,
  DEGRADE_REASONS,
  DEGRADE_TYPES,
  INTEGRATION_OUTCOMES,
  MIME_TYPE_ALLOWED,
  MIME_TYPE_RE,
  PLACEHOLDER_GENERATED_BY,
  PLACEHOLDER_REASONS,
  containsNhsNumber,
  ERROR_CODE_RE,
  errorCodeAllowed,
  FORBIDDEN_CONTROL_RE,
  isAckCode,
  isKnownNackCode,
  isNackCode,
  isUser,
  ODS_ALLOWED,
  ODS_RE,
  REQUESTER_CONFIG_ALLOWED,
  REQUESTER_CONFIG_RE,
  USER_ALLOWED,
  UUID_ALLOWED,
  UUID_RE,
} from './formats';

// ---- the contract's types ---------------------------------------------------------------------

export type Side = 'RR' | 'SR';

export type RegistrationType = 'undetermined' | 'new' | 'returning' | 'internal';
/** RR8 / SR15 process failure points (0 = no failure is implied by the absence of a failure). */
export type FailurePoint = 10 | 20 | 30 | 40 | 50 | 60 | 70;
/** RR19: 0 = not a large message, 1–5 = the reasons. */
export type LargeMessageReason = 0 | 1 | 2 | 3 | 4 | 5;

// The GP Registrations MI API's values (see mi/formats.ts), used by the fields added for it.
export type ApiRegistrationType = (typeof API_REGISTRATION_TYPES)[number];
export type ApiFailurePoint = (typeof API_FAILURE_POINTS)[number];
export type ClinicalType = (typeof CLINICAL_TYPES)[number];
export type IntegrationOutcome = (typeof INTEGRATION_OUTCOMES)[number];
export type DegradeType = (typeof DEGRADE_TYPES)[number];
export type DegradeReason = (typeof DEGRADE_REASONS)[number];

/** The PDS trace at registration (the API's demographicTraceStatus). */
export interface DemographicTraceStatus {
  /** true: the user selected a match; false: no match selected, or no PDS trace (a new record was made). */
  matched: boolean;
  /** Required when matched is false, e.g. "No PDS trace results returned", "No PDS trace". */
  reason?: string;
  /** A smartcard or other multi-factor authentication was present during the trace. */
  multifactorAuthenticationPresent: boolean;
}
/** One attachment the EHR had but the transfer did not carry (the API's placeholder). */
export interface PlaceholderDetail {
  clinicalType: ClinicalType;
  generatedBy: (typeof PLACEHOLDER_GENERATED_BY)[number];
  reason: (typeof PLACEHOLDER_REASONS)[number];
  originalMimeType: string;
}
/** One degraded entry of a received EHR, with the original code(s). */
export interface Degrade {
  type: DegradeType;
  reason: DegradeReason;
  coding: { code: string; system: string }[];
}

interface EventBase {
  /** The reporting practice (HR2, RR3 or SR5). */
  practiceOds: string;
  /** ISO 8601 with a zone; rendered as UTC. */
  occurredAt: string;
  /** Idempotency key; when absent, a hash of the content (see event-id.ts). */
  eventId?: string;
}
interface RequesterEventBase extends EventBase {
  /** The RR record's key, assigned by the GP system: never patient-identifiable. */
  registrationId: string;
  /** Carried once a request exists; only ehr-requested (and request-failure at 60/70) set RR2. */
  conversationId?: string;
}
interface SenderEventBase extends EventBase {
  /** The SR record's key (SR3). */
  conversationId: string;
}

export interface RegistrationEvent extends RequesterEventBase {
  type: 'registration';
  targetOds?: string;
  registrationType: RegistrationType;
  registeringUser: string;
  // For the GP Registrations MI API (MESH rows ignore them). `conversationId` (optional on every
  // requester event) should be set here: the API wants it from the moment of registration.
  // The API's /registrations needs multifactorAuthenticationPresent, demographicTraceStatus and
  // gpLinksComplete: the three come together or not at all.
  /** The API's registration type; default NEW_GP_REGISTRATION. */
  apiRegistrationType?: ApiRegistrationType;
  /** The patient is on the practice's list of previously Regular patients; default: registrationType is `returning`. */
  returningPatient?: boolean;
  /** A smartcard or other multi-factor authentication was present during registration. */
  multifactorAuthenticationPresent?: boolean;
  demographicTraceStatus?: DemographicTraceStatus;
  /** The GP Links information required for this registration is complete. */
  gpLinksComplete?: boolean;
}
/** For the API's /errors (MESH rows ignore them): where the error was, when the default is not right. */
interface ApiFailurePointFields {
  /** The API's failure point; default from the event (see mi/registrations-api-mapping.ts). */
  apiFailurePoint?: ApiFailurePoint;
  /** Where the failure was, with apiFailurePoint OTHER only. */
  otherFailurePoint?: string;
}
export interface RequestFailureEvent extends RequesterEventBase, ApiFailurePointFields {
  type: 'request-failure';
  failurePoint: FailurePoint;
  failureType: 0 | 1 | 2 | 3 | 4 | 5 | 6;
  fatal: boolean;
  failedMessageId?: string;
  errorCode?: string;
  errorDescription?: string;
  retries?: number;
}
export interface EhrRequestedEvent extends RequesterEventBase {
  type: 'ehr-requested';
  conversationId: string;
  requestMessageId: string;
  targetOds?: string;
}
export interface EhrReceivedEvent extends RequesterEventBase {
  type: 'ehr-received';
  extractMessageId: string;
  largeMessageReasons?: LargeMessageReason[];
  fragmentsTotal?: number;
}
export interface FragmentsReceivedEvent extends RequesterEventBase {
  type: 'fragments-received';
  /** Running total (RR21). */
  fragmentsReceived: number;
}
export interface ExtractAcknowledgedEvent extends RequesterEventBase, ApiFailurePointFields {
  type: 'extract-acknowledged';
  ackStatus: 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7;
  ackCode: string;
  ackMessageId?: string;
  actingUser: string;
  /**
   * Added to the contract (fields may be added): RR30, the retries needed to get the acknowledgement
   * onto TMS, which §3.4.3.5 shows as 0 on a success without any acknowledgement failure.
   */
  retries?: number;
  /** A NACK's description, for the API's /errors (MESH rows ignore it). */
  errorDescription?: string;
}
export interface ExtractAckFailureEvent extends RequesterEventBase, ApiFailurePointFields {
  type: 'extract-ack-failure';
  failureType: 1 | 2;
  errorCode: string;
  errorDescription?: string;
  retries?: number;
}
export interface RequestReceivedEvent extends SenderEventBase {
  type: 'request-received';
  requestMessageId: string;
  requestingOds: string;
  /** SR6, default 0000000000. */
  requesterConfig?: string;
}
export interface RequestAcknowledgedEvent extends SenderEventBase, ApiFailurePointFields {
  type: 'request-acknowledged';
  ackCode: string;
  ackMessageId?: string;
  failureType?: 1 | 2;
  errorCode?: string;
  errorDescription?: string;
  retries?: number;
}
export interface ExtractFailureEvent extends SenderEventBase, ApiFailurePointFields {
  type: 'extract-failure';
  failurePoint: FailurePoint;
  failureType: 1 | 2 | 3 | 4;
  fatal: boolean;
  failedMessageId?: string;
  errorCode?: string;
  errorDescription?: string;
  retries?: number;
}
/** SR29–SR33, read by some Authority tooling; rendered only for practices configured for them. */
export interface PlaceholderCounts {
  fileTypeUnsupported: number;
  deleted: number;
  notFound: number;
  locked: number;
  undetermined: number;
}
export interface EhrSentEvent extends SenderEventBase {
  type: 'ehr-sent';
  extractMessageId: string;
  largeMessaging: boolean;
  placeholders?: PlaceholderCounts;
  /** For the API's /ehr-responses (MESH rows ignore them): the structured part's size, attachments excluded. */
  ehrStructuredSizeBytes?: number;
  /** For the API's /ehr-responses: each placeholder of the transfer. */
  placeholderDetails?: PlaceholderDetail[];
}
export interface FragmentsSentEvent extends SenderEventBase {
  type: 'fragments-sent';
  fragmentsTotal: number;
  fragmentsAcceptedByTms: number;
  fragmentsAcknowledged: number;
}
export interface ConversationClosedEvent extends SenderEventBase {
  type: 'conversation-closed';
}

// Stages MESH MI has no field for: reported to the GP Registrations MI API only (MESH rows ignore them).
// All are the requesting practice's (RR): the API says the requesting practice submits them.

/** Whether the registration will start an electronic transfer of the record (internal, GP2GP or GP Connect). */
export interface TransferCompatibilityEvent extends RequesterEventBase {
  type: 'transfer-compatibility';
  /** The transfer stays within one system (no GP2GP or GP Connect). */
  internalTransfer: boolean;
  /** The registration will start an electronic transfer. */
  transferCompatible: boolean;
  /** Required when transferCompatible is false, e.g. "Previous practice is not eligible for electronic transfer". */
  reason?: string;
  /** The sending (previous) practice, as on registration. */
  targetOds?: string;
}
/** One attachment of the received EHR processed and saved (or not) into the clinical system. */
export interface DocumentReceivedEvent extends RequesterEventBase {
  type: 'document-received';
  clinicalType: ClinicalType;
  mimeType: string;
  sizeBytes: number;
  /** The document was added to the patient's record. */
  successful: boolean;
  /** Required when successful is false: an error code and/or description. */
  reason?: string;
}
/** The EHR is received and available for the user to integrate or reject. */
export interface ReadyToIntegrateEvent extends RequesterEventBase {
  type: 'ready-to-integrate';
}
/** The user's integration of the EHR, with the API's outcome. */
export interface IntegrationOutcomeEvent extends RequesterEventBase {
  type: 'integration-outcome';
  outcome: IntegrationOutcome;
}
/** The degrades identified in the received EHR (the API gets them with nothing that names the transfer). */
export interface DegradesIdentifiedEvent extends RequesterEventBase {
  type: 'degrades-identified';
  degrades: Degrade[];
}

export type RequesterEvent =
  | RegistrationEvent
  | RequestFailureEvent
  | EhrRequestedEvent
  | EhrReceivedEvent
  | FragmentsReceivedEvent
  | ExtractAcknowledgedEvent
  | ExtractAckFailureEvent
  | TransferCompatibilityEvent
  | DocumentReceivedEvent
  | ReadyToIntegrateEvent
  | IntegrationOutcomeEvent
  | DegradesIdentifiedEvent;
export type SenderEvent =
  | RequestReceivedEvent
  | RequestAcknowledgedEvent
  | ExtractFailureEvent
  | EhrSentEvent
  | FragmentsSentEvent
  | ConversationClosedEvent;
export type HookEvent = RequesterEvent | SenderEvent;
export type EventType = HookEvent['type'];
export type EventOfType<T extends EventType> = Extract<HookEvent, { type: T }>;

export const REQUESTER_EVENT_TYPES = [
  'registration',
  'request-failure',
  'ehr-requested',
  'ehr-received',
  'fragments-received',
  'extract-acknowledged',
  'extract-ack-failure',
  // for the GP Registrations MI API only
  'transfer-compatibility',
  'document-received',
  'ready-to-integrate',
  'integration-outcome',
  'degrades-identified',
] as const satisfies readonly RequesterEvent['type'][];
export const SENDER_EVENT_TYPES = [
  'request-received',
  'request-acknowledged',
  'extract-failure',
  'ehr-sent',
  'fragments-sent',
  'conversation-closed',
] as const satisfies readonly SenderEvent['type'][];
export const EVENT_TYPES: readonly EventType[] = [...REQUESTER_EVENT_TYPES, ...SENDER_EVENT_TYPES];
/** The types no MESH MI field is filled from: they feed the GP Registrations MI API only. */
export const API_ONLY_EVENT_TYPES = [
  'transfer-compatibility',
  'document-received',
  'ready-to-integrate',
  'integration-outcome',
  'degrades-identified',
] as const satisfies readonly EventType[];
export function isApiOnlyEventType(type: string): boolean {
  return (API_ONLY_EVENT_TYPES as readonly string[]).includes(type);
}

export function sideOf(type: EventType): Side {
  return (REQUESTER_EVENT_TYPES as readonly string[]).includes(type) ? 'RR' : 'SR';
}

/** The fields whose values are GUIDs: normalised to upper case, as the spec's examples write them. */
export const UUID_FIELDS = ['conversationId', 'requestMessageId', 'failedMessageId', 'extractMessageId', 'ackMessageId'] as const;

// ---- time ---------------------------------------------------------------------------------------

const INSTANT_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/;
const INSTANT_ALLOWED = 'an ISO 8601 date-time with seconds and a zone (Z or ±hh:mm), e.g. 2026-03-27T13:05:21Z';

/**
 * The canonical UTC form (YYYY-MM-DDThh:mm:ss.sssZ) of an ISO 8601 instant with a zone, or undefined.
 * Digits below the millisecond are dropped: ordering ties are broken by event id, not by them.
 */
export function utcInstant(iso: string): string | undefined {
  // Fast path for text already canonical (toISOString output, the usual case): it round-trips.
  if (iso.length === 24 && iso[23] === 'Z' && iso >= '1970') {
    const ms = Date.parse(iso);
    if (ms === ms && new Date(ms).toISOString() === iso) return iso;
  }
  const m = INSTANT_RE.exec(iso);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m as unknown as string[];
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  if (year < 1970 || month < 1 || month > 12 || day < 1 || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const ms = Number(((frac ?? '') + '000').slice(0, 3));
  const local = Date.UTC(year, month - 1, day, Number(h), Number(mi), Number(s), ms);
  // Date.UTC rolls 2026-02-30 over into March: a different day of month means no such date.
  if (new Date(local).getUTCDate() !== day) return undefined;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const oh = Number(zone!.slice(1, 3));
    const om = Number(zone!.slice(4, 6));
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (zone![0] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const epoch = local - offsetMinutes * 60_000;
  const out = new Date(epoch).toISOString();
  return out.length === 24 ? out : undefined;
}

function instantOrThrow(iso: string): string {
  const utc = utcInstant(iso);
  if (utc === undefined) throw new Error(`not an ISO 8601 instant with a zone: ${show(iso)}`);
  return utc;
}

/** The UTC day (YYYY-MM-DD) of an instant: the record set the event belongs to. */
export function utcDayOf(isoInstant: string): string {
  return instantOrThrow(isoInstant).slice(0, 10);
}

// ---- validation ---------------------------------------------------------------------------------

export interface FieldProblem {
  field: string;
  /** The offending value; long strings and structures are shortened. */
  value: unknown;
  allowed: string;
  message: string;
}

/**
 * Something about an accepted event worth knowing, that is no reason to refuse it (e.g. a NACK code in
 * the contract's range 01–99 that 0083.08 does not list). The event is recorded and reported as sent.
 */
export interface FieldWarning {
  field: string;
  value: unknown;
  message: string;
}

/** `warnings` is present only when there is at least one. */
export type ValidationResult = { ok: true; event: HookEvent; warnings?: FieldWarning[] } | { ok: false; problems: FieldProblem[]; message: string };

export interface ValidateOptions {
  /** The present, for the future-skew check (in a workflow: workflow time). */
  now?: Date;
  /** How far in the future occurredAt may be (clock skew between GP system and us); default 5 minutes. */
  maxFutureSkewMs?: number;
}

const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000;
/** Full free text is kept (truncation is a rendering matter) up to this size, to bound storage. */
export const MAX_TEXT_LENGTH = 4000;
const SHOWN_VALUE_LENGTH = 60;

/** A value as shown in a message: JSON, shortened so that a huge input is never echoed in full. */
/**
 * A bounded preview of any value: at most 3 levels and 5 items per level, so that a huge or deeply
 * nested input (hostile or broken) costs little and can never overflow the stack.
 */
function preview(value: unknown, depth = 0): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'string') return JSON.stringify(value.length > SHOWN_VALUE_LENGTH * 2 ? value.slice(0, SHOWN_VALUE_LENGTH * 2) : value);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? `${value}n` : String(value);
  if (depth >= 3) return Array.isArray(value) ? '[…]' : '{…}';
  if (Array.isArray(value)) {
    const items = value.slice(0, 5).map((v) => preview(v, depth + 1));
    return `[${items.join(',')}${value.length > 5 ? ',…' : ''}]`;
  }
  const keys = Object.keys(value);
  const items = keys.slice(0, 5).map((k) => `${JSON.stringify(k)}:${preview((value as Record<string, unknown>)[k], depth + 1)}`);
  return `{${items.join(',')}${keys.length > 5 ? ',…' : ''}}`;
}

function show(value: unknown): string {
  const text = preview(value);
  if (text.length <= SHOWN_VALUE_LENGTH) return text;
  const size = typeof value === 'string' ? `${value.length} characters` : 'shortened';
  return `${text.slice(0, SHOWN_VALUE_LENGTH - 1)}… (${size})`;
}

/** The value kept in a FieldProblem: primitives as they are (long strings shortened), structures as text. */
function keptValue(value: unknown): unknown {
  if (typeof value === 'string') return value.length > SHOWN_VALUE_LENGTH * 2 ? `${value.slice(0, SHOWN_VALUE_LENGTH * 2)}…` : value;
  if (value === null || typeof value !== 'object') return value;
  return show(value);
}

function problem(field: string, value: unknown, allowed: string, what?: string): FieldProblem {
  const message =
    what === 'missing'
      ? `${field}: missing; allowed: ${allowed}`
      : `${field}: ${show(value)} ${what ?? 'is not allowed'}; allowed: ${allowed}`;
  return { field, value: keptValue(value), allowed, message };
}

/**
 * One field's rule: `check` answers undefined when the value is fine, else the reason (default "is not
 * allowed"); `allowed` says what would be. The `optional` flag is typed so that the rule table below
 * must agree with the interfaces above (a field added to one but not the other fails to compile).
 */
interface Rule<O extends boolean = boolean> {
  optional: O;
  allowed: string;
  check(value: unknown, event: Record<string, unknown>): string | undefined;
}
type RuleSpec = Omit<Rule, 'optional'>;
const req = (r: RuleSpec): Rule<false> => ({ ...r, optional: false });
const opt = (r: RuleSpec): Rule<true> => ({ ...r, optional: true });

const NOT_ALLOWED = 'is not allowed';
const ok = (cond: boolean) => (cond ? undefined : NOT_ALLOWED);

const odsRule: RuleSpec = { allowed: ODS_ALLOWED, check: (v) => ok(typeof v === 'string' && ODS_RE.test(v)) };
const uuidRule: RuleSpec = { allowed: UUID_ALLOWED, check: (v) => ok(typeof v === 'string' && UUID_RE.test(v)) };
const booleanRule: RuleSpec = { allowed: 'true or false', check: (v) => ok(typeof v === 'boolean') };
const integerRule = (min: number, max: number): RuleSpec => ({
  allowed: `a whole number from ${min} to ${max}`,
  check: (v) => ok(typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max),
});
const oneOf = <T extends string | number>(values: readonly T[]): RuleSpec => ({
  allowed: `one of ${values.join(', ')}`,
  check: (v) => ok((values as readonly unknown[]).includes(v)),
});
const retriesRule = integerRule(0, 99);
/** RR20, RR21, SR25–SR27 have 3 characters. */
const fragmentsRule = integerRule(0, 999);
const errorCodeRule = (max: number): RuleSpec => ({
  allowed: errorCodeAllowed(max),
  check: (v) => ok(typeof v === 'string' && v.length <= max && ERROR_CODE_RE.test(v)),
});
const userRule = (allowSystem: boolean): RuleSpec => ({
  allowed: allowSystem ? `${USER_ALLOWED}, or "SYSTEM"` : USER_ALLOWED,
  check: (v) => ok(typeof v === 'string' && isUser(v, allowSystem)),
});
/**
 * Free text (error descriptions): kept in full and cut to the field's length only when rendered. Line
 * breaks and tabs are ordinary whitespace (rendered as spaces, to keep the record on one line); other
 * control characters are refused, as is anything that looks like an NHS number (MI24).
 */
const LONE_SURROGATE_RE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const textRule: RuleSpec = {
  allowed: `text of 1 to ${MAX_TEXT_LENGTH} characters, without control characters other than tab and line breaks, and without patient identifiers`,
  check: (v) => {
    if (typeof v !== 'string' || v.length === 0 || v.length > MAX_TEXT_LENGTH) return NOT_ALLOWED;
    if (FORBIDDEN_CONTROL_RE.test(v)) return 'contains a control character';
    // A lone surrogate has no UTF-8 form: the file would carry U+FFFD instead of the text kept.
    if (LONE_SURROGATE_RE.test(v)) return 'is not well-formed Unicode (a lone surrogate, which UTF-8 cannot carry)';
    if (containsNhsNumber(v)) return 'looks like it contains an NHS number (MI24: no patient-identifiable data)';
    return undefined;
  },
};
const ackCodeRule: RuleSpec = {
  allowed: `${ACK_CODE_ALLOWED}, as a string`,
  check: (v) => ok(typeof v === 'string' && isAckCode(v)),
};
const placeholderCount = integerRule(0, 9999);
const PLACEHOLDER_KEYS = ['fileTypeUnsupported', 'deleted', 'notFound', 'locked', 'undetermined'] as const satisfies readonly (keyof PlaceholderCounts)[];
const placeholdersRule: RuleSpec = {
  allowed: `an object of five counts (${PLACEHOLDER_KEYS.join(', ')}), each ${placeholderCount.allowed}`,
  check: (v) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return NOT_ALLOWED;
    const keys = Object.keys(v);
    const counts = v as Record<string, unknown>;
    return ok(keys.length === PLACEHOLDER_KEYS.length && PLACEHOLDER_KEYS.every((k) => placeholderCount.check(counts[k], counts) === undefined));
  },
};
const reasonsRule: RuleSpec = {
  allowed: 'a list of distinct reasons from 0 to 5, with 0 (not a large message) only on its own, e.g. [2, 3, 4]',
  check: (v) =>
    ok(
      Array.isArray(v) &&
        v.length > 0 &&
        v.every((r) => Number.isInteger(r) && r >= 0 && r <= 5) &&
        new Set(v).size === v.length &&
        (!v.includes(0) || v.length === 1),
    ),
};
const REGISTRATION_TYPES: readonly RegistrationType[] = ['undetermined', 'new', 'returning', 'internal'];
const FAILURE_POINTS: readonly FailurePoint[] = [10, 20, 30, 40, 50, 60, 70];

/**
 * The record key travels into workflow ids and search attributes, so it is a plain identifier and
 * never an NHS number.
 */
const registrationIdRule: RuleSpec = {
  allowed: '1 to 64 letters, digits or ". _ : -", not an NHS number',
  check: (v) => {
    if (typeof v !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(v)) return NOT_ALLOWED;
    return containsNhsNumber(v) ? 'looks like an NHS number (MI24: no patient-identifiable data)' : undefined;
  },
};
const eventIdRule: RuleSpec = {
  allowed: '1 to 128 printable ASCII characters without spaces',
  check: (v) => ok(typeof v === 'string' && /^[\x21-\x7E]{1,128}$/.test(v)),
};

// ---- rules of the fields added for the GP Registrations MI API ---------------------------------------

/** Plain words, no control characters, no NHS number: reasons and descriptions sent to the API. */
const apiTextRule = (max: number): RuleSpec => ({
  allowed: `text of 1 to ${max} characters, without control characters and without patient identifiers`,
  check: (v, e) => (typeof v === 'string' && v.length > max ? NOT_ALLOWED : textRule.check(v, e)),
});
const reasonRule = apiTextRule(1000);
const bytesRule = integerRule(0, 2_147_483_647);
const mimeRule: RuleSpec = { allowed: MIME_TYPE_ALLOWED, check: (v) => ok(typeof v === 'string' && MIME_TYPE_RE.test(v)) };
const apiFailurePointRule = oneOf(API_FAILURE_POINTS);
const otherFailurePointRule: RuleSpec = {
  allowed: `${reasonRule.allowed}; only with apiFailurePoint OTHER`,
  check: (v, e) => (e.apiFailurePoint !== 'OTHER' ? `is only allowed with apiFailurePoint OTHER (here ${show(e.apiFailurePoint)})` : reasonRule.check(v, e)),
};
const apiFailureFields = { apiFailurePoint: opt(apiFailurePointRule), otherFailurePoint: opt(otherFailurePointRule) };

/** An object of exactly the given fields, each checked by its rule: the reason names the inner field. */
function objectCheck(v: unknown, fields: Record<string, Rule>, where = ''): string | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return `${where ? `${where} ` : ''}is not an object`;
  const obj = v as Record<string, unknown>;
  for (const key of Object.keys(obj)) if (!(key in fields)) return `has an unknown field ${where}${key}`;
  for (const [key, rule] of Object.entries(fields)) {
    if (obj[key] === undefined) {
      if (!rule.optional) return `lacks ${where}${key}`;
      continue;
    }
    const why = rule.check(obj[key], obj);
    if (why) return `has ${where}${key} ${show(obj[key])}, which ${why}; ${key}: ${rule.allowed}`;
  }
  return undefined;
}
function listCheck(v: unknown, item: Record<string, Rule>, what: string, max: number): string | undefined {
  if (!Array.isArray(v) || v.length === 0 || v.length > max) return `is not a list of 1 to ${max} ${what}`;
  for (let i = 0; i < v.length; i++) {
    const why = objectCheck(v[i], item, `[${i}].`);
    if (why) return why;
  }
  return undefined;
}

const demographicTraceFields: Record<string, Rule> = {
  matched: req(booleanRule),
  reason: opt({ ...reasonRule, check: (v, e) => reasonRule.check(v, e) }),
  multifactorAuthenticationPresent: req(booleanRule),
};
const demographicTraceRule: RuleSpec = {
  allowed: '{ matched: true or false, multifactorAuthenticationPresent: true or false, reason: text (required when matched is false) }',
  check: (v) => {
    const why = objectCheck(v, demographicTraceFields);
    if (why) return why;
    const t = v as Record<string, unknown>;
    return t.matched === false && t.reason === undefined ? 'lacks reason, which is required when matched is false' : undefined;
  },
};
/** The three registration fields the API's /registrations needs come together. */
const REGISTRATION_API_FIELDS = ['multifactorAuthenticationPresent', 'demographicTraceStatus', 'gpLinksComplete'] as const;
const togetherRule = (field: (typeof REGISTRATION_API_FIELDS)[number], base: RuleSpec): RuleSpec => ({
  allowed: `${base.allowed}; given together with ${REGISTRATION_API_FIELDS.filter((f) => f !== field).join(' and ')} (the API's /registrations needs all three)`,
  check: (v, e) => {
    const why = base.check(v, e);
    if (why) return why;
    const absent = REGISTRATION_API_FIELDS.filter((f) => e[f] === undefined);
    return absent.length ? `is given without ${absent.join(' and ')}` : undefined;
  },
});

const placeholderDetailFields: Record<string, Rule> = {
  clinicalType: req(oneOf(CLINICAL_TYPES)),
  generatedBy: req(oneOf(PLACEHOLDER_GENERATED_BY)),
  reason: req(oneOf(PLACEHOLDER_REASONS)),
  originalMimeType: req(mimeRule),
};
const placeholderDetailsRule: RuleSpec = {
  allowed: `a list of 1 to 999 placeholders, each { clinicalType: ${oneOf(CLINICAL_TYPES).allowed}; generatedBy: SENDER or PRE_EXISTING; reason: ${oneOf(PLACEHOLDER_REASONS).allowed}; originalMimeType: ${MIME_TYPE_ALLOWED} }`,
  check: (v) => listCheck(v, placeholderDetailFields, 'placeholders', 999),
};

const codingFields: Record<string, Rule> = {
  code: req({ allowed: 'a code of 1 to 64 letters, digits or ". _ : -"', check: (v) => ok(typeof v === 'string' && /^[A-Za-z0-9._:-]{1,64}$/.test(v)) }),
  system: req({ allowed: 'the coding system, 1 to 200 printable characters, e.g. http://snomed.info/sct', check: (v) => ok(typeof v === 'string' && /^[\x21-\x7E]{1,200}$/.test(v)) }),
};
const degradeFields: Record<string, Rule> = {
  type: req(oneOf(DEGRADE_TYPES)),
  reason: req(oneOf(DEGRADE_REASONS)),
  coding: req({ allowed: 'a list of 1 to 20 codings { code, system }', check: (v) => listCheck(v, codingFields, 'codings', 20) }),
};
const degradesRule: RuleSpec = {
  allowed: `a list of 1 to 999 degrades, each { type: ${oneOf(DEGRADE_TYPES).allowed}; reason: ${oneOf(DEGRADE_REASONS).allowed}; coding: a list of { code, system }, e.g. { "code": "1676331000000110", "system": "http://snomed.info/sct" } }`,
  check: (v) => listCheck(v, degradeFields, 'degrades', 999),
};

/**
 * Optional fields that become required by another field's value: checked after the field rules, and
 * reported as missing. `when` sees the event as given.
 */
const REQUIRED_WHEN: { type: EventType; field: string; when: (e: Record<string, unknown>) => boolean; allowed: string }[] = [
  { type: 'transfer-compatibility', field: 'reason', when: (e) => e.transferCompatible === false, allowed: `${reasonRule.allowed}; required when transferCompatible is false` },
  { type: 'document-received', field: 'reason', when: (e) => e.successful === false, allowed: `${reasonRule.allowed}; required when successful is false (an error code and/or description)` },
];

type FieldsOf<E> = Exclude<keyof E, 'type'>;
type RulesOf<E> = { [F in FieldsOf<E>]-?: undefined extends E[F] ? Rule<true> : Rule<false> };
type RuleTable = { [T in EventType]: RulesOf<EventOfType<T>> };

/** occurredAt is checked separately (it needs `now`); its entry here only makes it a known field. */
const occurredAtRule = req({ allowed: INSTANT_ALLOWED, check: () => undefined });
const common = { practiceOds: req(odsRule), occurredAt: occurredAtRule, eventId: opt(eventIdRule) };
const requester = { ...common, registrationId: req(registrationIdRule), conversationId: opt(uuidRule) };
const sender = { ...common, conversationId: req(uuidRule) };

const RULES: RuleTable = {
  registration: {
    ...requester,
    targetOds: opt(odsRule),
    registrationType: req(oneOf(REGISTRATION_TYPES)),
    registeringUser: req(userRule(false)),
    apiRegistrationType: opt(oneOf(API_REGISTRATION_TYPES)),
    returningPatient: opt(booleanRule),
    multifactorAuthenticationPresent: opt(togetherRule('multifactorAuthenticationPresent', booleanRule)),
    demographicTraceStatus: opt(togetherRule('demographicTraceStatus', demographicTraceRule)),
    gpLinksComplete: opt(togetherRule('gpLinksComplete', booleanRule)),
  },
  'request-failure': {
    ...requester,
    failurePoint: req(oneOf(FAILURE_POINTS)),
    failureType: req(oneOf([0, 1, 2, 3, 4, 5, 6])),
    fatal: req(booleanRule),
    failedMessageId: opt(uuidRule),
    errorCode: opt(errorCodeRule(8)),
    errorDescription: opt(textRule),
    retries: opt(retriesRule),
    ...apiFailureFields,
  },
  'ehr-requested': { ...requester, conversationId: req(uuidRule), requestMessageId: req(uuidRule), targetOds: opt(odsRule) },
  'ehr-received': { ...requester, extractMessageId: req(uuidRule), largeMessageReasons: opt(reasonsRule), fragmentsTotal: opt(fragmentsRule) },
  'fragments-received': { ...requester, fragmentsReceived: req(fragmentsRule) },
  'extract-acknowledged': {
    ...requester,
    ackStatus: req(oneOf([0, 1, 2, 3, 4, 5, 6, 7])),
    ackCode: req({
      ...ackCodeRule,
      // RR22 1 is the ACK, 2–7 are NACKs (0 = not sent, either way).
      check: (v, e) => {
        const base = ackCodeRule.check(v, e);
        if (base) return base;
        if (e.ackStatus === 1 && v !== '0') return 'is not allowed with ackStatus 1 (integrated: an ACK, "0")';
        if (typeof e.ackStatus === 'number' && e.ackStatus >= 2 && !isNackCode(v as string)) return `is not allowed with ackStatus ${e.ackStatus} (a NACK)`;
        return undefined;
      },
    }),
    ackMessageId: opt(uuidRule),
    actingUser: req(userRule(true)),
    retries: opt(retriesRule),
    errorDescription: opt(textRule),
    ...apiFailureFields,
  },
  'extract-ack-failure': {
    ...requester,
    failureType: req(oneOf([1, 2])),
    errorCode: req(errorCodeRule(8)),
    errorDescription: opt(textRule),
    retries: opt(retriesRule),
    ...apiFailureFields,
  },
  'transfer-compatibility': {
    ...requester,
    internalTransfer: req(booleanRule),
    transferCompatible: req(booleanRule),
    reason: opt(reasonRule),
    targetOds: opt(odsRule),
  },
  'document-received': {
    ...requester,
    clinicalType: req(oneOf(CLINICAL_TYPES)),
    mimeType: req(mimeRule),
    sizeBytes: req(bytesRule),
    successful: req(booleanRule),
    reason: opt(reasonRule),
  },
  'ready-to-integrate': { ...requester },
  'integration-outcome': { ...requester, outcome: req(oneOf(INTEGRATION_OUTCOMES)) },
  'degrades-identified': { ...requester, degrades: req(degradesRule) },
  'request-received': {
    ...sender,
    requestMessageId: req(uuidRule),
    requestingOds: req(odsRule),
    requesterConfig: opt({ allowed: REQUESTER_CONFIG_ALLOWED, check: (v) => ok(typeof v === 'string' && REQUESTER_CONFIG_RE.test(v)) }),
  },
  'request-acknowledged': {
    ...sender,
    ackCode: req(ackCodeRule),
    ackMessageId: opt(uuidRule),
    failureType: opt(oneOf([1, 2])),
    errorCode: opt(errorCodeRule(10)),
    errorDescription: opt(textRule),
    retries: opt(retriesRule),
    ...apiFailureFields,
  },
  'extract-failure': {
    ...sender,
    failurePoint: req(oneOf(FAILURE_POINTS)),
    failureType: req(oneOf([1, 2, 3, 4])),
    fatal: req(booleanRule),
    failedMessageId: opt(uuidRule),
    errorCode: opt(errorCodeRule(10)),
    errorDescription: opt(textRule),
    retries: opt(retriesRule),
    ...apiFailureFields,
  },
  'ehr-sent': {
    ...sender,
    extractMessageId: req(uuidRule),
    largeMessaging: req(booleanRule),
    placeholders: opt(placeholdersRule),
    ehrStructuredSizeBytes: opt(bytesRule),
    placeholderDetails: opt(placeholderDetailsRule),
  },
  'fragments-sent': {
    ...sender,
    fragmentsTotal: req(fragmentsRule),
    fragmentsAcceptedByTms: req({
      ...fragmentsRule,
      check: (v, e) => fragmentsRule.check(v, e) ?? atMostTotal(v, e),
    }),
    fragmentsAcknowledged: req({
      ...fragmentsRule,
      check: (v, e) => fragmentsRule.check(v, e) ?? atMostTotal(v, e),
    }),
  },
  'conversation-closed': { ...sender },
};

function atMostTotal(v: unknown, e: Record<string, unknown>): string | undefined {
  return typeof e.fragmentsTotal === 'number' && (v as number) > e.fragmentsTotal ? `is more than fragmentsTotal (${e.fragmentsTotal})` : undefined;
}

const TYPE_ALLOWED = `one of ${EVENT_TYPES.join(', ')}`;

/**
 * Validates one hook event and reports every problem at once. The returned event is normalised (GUIDs
 * in upper case); occurredAt is kept as given, since it parses to one instant whatever its zone.
 *
 * Unknown fields are refused, by name. The contract lets fields be added, but an unknown field is far
 * more often a misspelt optional one (e.g. `errorDescripton`) whose value would silently vanish from the
 * MI; a field added to the contract is added here first, so refusing costs nothing in practice.
 */
export function validateEvent(input: unknown, options: ValidateOptions = {}): ValidationResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    return refuse([problem('event', input, 'a JSON object with a "type" field')]);
  }
  const event = input as Record<string, unknown>;
  const type = event.type;
  if (typeof type !== 'string' || !(EVENT_TYPES as readonly string[]).includes(type)) {
    return refuse([type === undefined ? problem('type', type, TYPE_ALLOWED, 'missing') : problem('type', type, TYPE_ALLOWED)]);
  }
  const rules = RULES[type as EventType] as Record<string, Rule>;
  const problems: FieldProblem[] = [];

  const known = Object.keys(rules);
  for (const field of Object.keys(event)) {
    if (field !== 'type' && !(field in rules)) {
      problems.push(problem(field, event[field], `the fields of a ${type} event: type, ${known.join(', ')}`, 'is an unknown field'));
    }
  }
  for (const [field, rule] of Object.entries(rules)) {
    const value = event[field];
    if (value === undefined) {
      if (!rule.optional) problems.push(problem(field, value, rule.allowed, 'missing'));
      continue;
    }
    const why = rule.check(value, event);
    if (why) problems.push(problem(field, value, rule.allowed, why));
  }
  for (const r of REQUIRED_WHEN) {
    if (r.type === type && event[r.field] === undefined && r.when(event)) problems.push(problem(r.field, undefined, r.allowed, 'missing'));
  }

  const occurredAt = event.occurredAt;
  if (occurredAt !== undefined) {
    const utc = typeof occurredAt === 'string' ? utcInstant(occurredAt) : undefined;
    if (utc === undefined) {
      problems.push(problem('occurredAt', occurredAt, INSTANT_ALLOWED));
    } else {
      const now = (options.now ?? new Date()).getTime();
      const skew = options.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS;
      if (Date.parse(utc) > now + skew) {
        problems.push(
          problem('occurredAt', occurredAt, `a time no later than ${new Date(now + skew).toISOString()} (now + ${Math.round(skew / 1000)} s of clock skew)`, 'is in the future'),
        );
      }
    }
  }

  if (problems.length > 0) return refuse(problems);
  const valid = normaliseEvent(event as unknown as HookEvent);
  const warnings = eventWarnings(valid);
  return warnings.length > 0 ? { ok: true, event: valid, warnings } : { ok: true, event: valid };
}

/**
 * The warnings of a valid event: today, an acknowledgement's NACK code that 0083.08 does not list.
 * Pure and cheap, so the transfer workflow can derive them from its events whenever asked.
 */
export function eventWarnings(event: HookEvent): FieldWarning[] {
  const code = unknownNackCode(event);
  if (code === undefined) return [];
  return [{ field: 'ackCode', value: code, message: `ackCode: ${JSON.stringify(code)} is not a NACK code of 0083.08; accepted and reported as it is (0171.02 allows 01 to 99)` }];
}

/** The NACK code (01–99) of an acknowledgement event that 0083.08 does not list, if any. */
export function unknownNackCode(event: unknown): string | undefined {
  const e = event as { type?: unknown; ackCode?: unknown } | null | undefined;
  if (!e || (e.type !== 'extract-acknowledged' && e.type !== 'request-acknowledged')) return undefined;
  const code = e.ackCode;
  return typeof code === 'string' && isNackCode(code) && !isKnownNackCode(code) ? code : undefined;
}

function refuse(problems: FieldProblem[]): ValidationResult {
  return { ok: false, problems, message: problems.map((p) => p.message).join('; ') };
}

/** The same event with its GUIDs in upper case (idempotent; keeps field order). */
export function normaliseEvent<E extends HookEvent>(event: E): E {
  let copy: Record<string, unknown> | undefined;
  for (const field of UUID_FIELDS) {
    const value = (event as unknown as Record<string, unknown>)[field];
    if (typeof value === 'string' && value !== value.toUpperCase()) {
      copy ??= { ...event };
      copy[field] = value.toUpperCase();
    }
  }
  return (copy ?? event) as E;
}

// ---- keys ---------------------------------------------------------------------------------------

export interface RecordKey {
  side: Side;
  practiceOds: string;
  /** RR: the registrationId; SR: the conversationId (upper case). */
  key: string;
}

/** The record (RR row or SR row) an event belongs to. */
export function recordKeyOf(event: HookEvent): RecordKey {
  const side = sideOf(event.type);
  const key = side === 'RR' ? (event as RequesterEvent).registrationId : event.conversationId!.toUpperCase();
  return { side, practiceOds: event.practiceOds, key };
}

// ---- content identity ---------------------------------------------------------------------------

/**
 * The event's content as one canonical string: fields sorted, GUIDs upper case, occurredAt as its UTC
 * instant, eventId left out. Two deliveries of the same stage give the same string, whatever their
 * field order or zone; it is what an absent eventId is hashed from, and what breaks ordering ties.
 * `utcOccurredAt`, when the caller has already parsed occurredAt, saves parsing it again.
 */
export function canonicalContent(event: HookEvent, utcOccurredAt?: string): string {
  const normalised = normaliseEvent(event) as unknown as Record<string, unknown>;
  const keys = Object.keys(normalised)
    .filter((k) => k !== 'eventId' && normalised[k] !== undefined)
    .sort();
  const sorted: Record<string, unknown> = {};
  for (const k of keys) {
    sorted[k] = k === 'occurredAt' ? (utcOccurredAt ?? instantOrThrow(normalised[k] as string)) : canonicalValue(normalised[k]);
  }
  return JSON.stringify(sorted);
}

function canonicalValue(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const obj = value as Record<string, unknown>;
  const sorted: Record<string, unknown> = {};
  for (const k of Object.keys(obj).sort()) sorted[k] = canonicalValue(obj[k]);
  return sorted;
}
