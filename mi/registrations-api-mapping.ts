/**
 * From a transfer's hook events to the GP Registrations MI API events they imply: one pure function,
 * built on the same merge as the MESH rows (mi/records.ts), so duplicates collapse the same way, the
 * order is the same total order (instant, then eventId or content), and arrival order never matters.
 * Each API event's id is made of its record, its hook event's identity and its endpoint: a re-sent hook
 * event (same eventId, or without one the same content in any zone) gives the same id, never a new post.
 * Workflow-safe: no node modules, and only the types of mi/registrations-api.ts (which imports zod).
 *
 * | hook event (side)                    | API endpoint                         |
 * |--------------------------------------|--------------------------------------|
 * | registration with the API fields (RR)| /registrations                       |
 * | transfer-compatibility (RR)          | /transfer-compatibility-statuses     |
 * | ehr-requested (RR)                   | /ehr-requests                        |
 * | request-failure (RR)                 | /errors                              |
 * | extract-acknowledged, a NACK (RR)    | /errors (errorCode = the NACK code)  |
 * | extract-ack-failure (RR)             | /errors                              |
 * | document-received (RR)               | /document-responses                  |
 * | ready-to-integrate (RR)              | /ready-to-integrate-statuses         |
 * | integration-outcome (RR)             | /ehr-integrations                    |
 * | degrades-identified (RR)             | /ehr-degrades (nothing of the transfer) |
 * | request-acknowledged, a NACK or a failure to send the ACK (SR) | /errors    |
 * | extract-failure (SR)                 | /errors                              |
 * | ehr-sent (SR)                        | /ehr-responses                       |
 * | ehr-received, fragments-received, an ACK, request-received, fragments-sent, conversation-closed | nothing (the API has no such stage) |
 *
 * An API event waits (is not in the result yet) until the record knows what its body needs: the
 * conversation ID (RR: from the registration, else the request, else any event carrying one), the
 * sending practice where the endpoint requires it (RR: targetOds), the requesting practice (SR: from
 * request-received). It appears, with the same id, once the event that brings it arrives. Bodies are
 * read from everything the record holds; a fact that arrives after an API event was posted does not
 * post it again (its id is already posted).
 */
import {
  type ApiFailurePoint,
  type HookEvent,
  type EventOfType,
  type RequesterEvent,
  type Side,
} from './events';
import type { ApiEndpoint } from './registrations-api';
import { foldRecord, mergeEvents, type RecordFold } from './records';

export interface ApiEvent {
  /** Stable identity: the same hook events always give the same ids; a re-sent hook event never a new one. */
  id: string;
  endpoint: ApiEndpoint;
  /** Valid per validateApiRequest(endpoint, body). */
  body: Record<string, unknown>;
  /** Canonical UTC instant (YYYY-MM-DDThh:mm:ss.sssZ) of the hook event; posting order = array order. */
  occurredAt: string;
}

export interface ApiMappingContext {
  /** The system supplier's ODS code (configuration: GP2GP_REPORTING_SYSTEM_SUPPLIER). */
  reportingSystemSupplier: string;
}

type Mapped = { endpoint: ApiEndpoint; body: Record<string, unknown> } | undefined;

/**
 * The API events a record's events imply, in posting order (the merge order of their hook events).
 * `side` is the record's (all events must be of it and of one practice, as for rows).
 */
export function apiEventsOf(side: Side, events: readonly HookEvent[], ctx: ApiMappingContext): ApiEvent[] {
  if (events.length === 0) return [];
  const merged = mergeEvents(events);
  if (merged.side !== side) throw new Error(`apiEventsOf(${side}) was given ${merged.side} events`);
  const fold = foldRecord(merged);
  const first = merged.events[0]!.event;
  const key = side === 'RR' ? (first as RequesterEvent).registrationId : first.conversationId!.toUpperCase();
  const record = side === 'RR' ? requesterContext(merged.practiceOds, merged.events.map((o) => o.event), fold, ctx) : senderContext(merged.practiceOds, key, fold, ctx);
  const out: ApiEvent[] = [];
  for (const { event, at, id } of merged.events) {
    const mapped = side === 'RR' ? requesterApiEvent(event as RequesterEvent, at, record) : senderApiEvent(event, at, record);
    if (!mapped) continue;
    const hookId = event.eventId ?? `content-${hash(id)}`;
    out.push({ id: `${side}/${merged.practiceOds}/${key}/${hookId}${mapped.endpoint}`, endpoint: mapped.endpoint, body: mapped.body, occurredAt: at });
  }
  return out;
}

// ---- the record's facts every body needs ----------------------------------------------------------

interface RecordContext {
  supplier: string;
  practiceOds: string;
  conversationId: string | undefined;
  requestingOds: string | undefined;
  sendingOds: string | undefined;
}

function requesterContext(practiceOds: string, ordered: readonly HookEvent[], fold: RecordFold, ctx: ApiMappingContext): RecordContext {
  // The API's conversation ID is generated at registration and used throughout; without one on the
  // registration, the request's (RR2), else the first event's that carries one.
  const conversationId = fold.latest.registration?.conversationId ?? fold.conversationId ?? ordered.find((e) => e.conversationId !== undefined)?.conversationId;
  return {
    supplier: ctx.reportingSystemSupplier,
    practiceOds,
    conversationId: conversationId?.toUpperCase(),
    requestingOds: practiceOds,
    // Any transfer compatibility that names the sending practice, not only the latest: once known, the
    // sending practice stays known, so an event that waited for it is never withdrawn by a later one.
    sendingOds: fold.targetOds ?? lastWith(ordered, 'transfer-compatibility', (e) => e.targetOds),
  };
}

/** The value `pick` gives for the last event of a type (in the merge order) that has one. */
function lastWith<T extends HookEvent['type']>(ordered: readonly HookEvent[], type: T, pick: (e: Extract<HookEvent, { type: T }>) => string | undefined): string | undefined {
  for (let i = ordered.length - 1; i >= 0; i--) {
    const e = ordered[i]!;
    if (e.type !== type) continue;
    const v = pick(e as Extract<HookEvent, { type: T }>);
    if (v !== undefined) return v;
  }
  return undefined;
}

function senderContext(practiceOds: string, conversationId: string, fold: RecordFold, ctx: ApiMappingContext): RecordContext {
  return { supplier: ctx.reportingSystemSupplier, practiceOds, conversationId, requestingOds: fold.latest['request-received']?.requestingOds, sendingOds: practiceOds };
}

const withoutSending = (r: RecordContext): RecordContext => ({ ...r, sendingOds: undefined });

/** The API's event time: UTC, whole seconds, as its examples write it. */
const apiTime = (at: string) => `${at.slice(0, 19)}Z`;

/** The common fields, or undefined while the record lacks one the endpoint needs. */
function common(r: RecordContext, at: string, sending: 'required' | 'optional', sendingOds = r.sendingOds): Record<string, unknown> | undefined {
  if (r.conversationId === undefined || r.requestingOds === undefined) return undefined;
  if (sending === 'required' && sendingOds === undefined) return undefined;
  return {
    conversationId: r.conversationId,
    registrationEventDateTime: apiTime(at),
    reportingSystemSupplier: r.supplier,
    reportingPracticeOdsCode: r.practiceOds,
    requestingPracticeOdsCode: r.requestingOds,
    ...(sendingOds !== undefined ? { sendingPracticeOdsCode: sendingOds } : {}),
  };
}

function withPayload(endpoint: ApiEndpoint, base: Record<string, unknown> | undefined, payload?: Record<string, unknown>): Mapped {
  if (!base) return undefined;
  return { endpoint, body: payload === undefined ? base : { ...base, payload } };
}

// ---- errors ----------------------------------------------------------------------------------------

/** The API's errorCode allows letters, digits and underscores only, at most 50. */
function apiErrorCode(code: string | undefined, fallback: string): string {
  const cleaned = code?.replace(/[^A-Za-z0-9_]/g, '_').slice(0, 50);
  return cleaned ? cleaned : fallback;
}

interface ErrorFacts {
  errorCode: string;
  errorDescription: string;
  failurePoint: ApiFailurePoint;
  otherFailurePoint?: string | undefined;
}

/** The event's own apiFailurePoint (and otherFailurePoint) wins over the default. */
function errorPayload(e: { apiFailurePoint?: ApiFailurePoint; otherFailurePoint?: string }, facts: ErrorFacts): Record<string, unknown> {
  const failurePoint = e.apiFailurePoint ?? facts.failurePoint;
  const other = e.apiFailurePoint !== undefined ? e.otherFailurePoint : facts.otherFailurePoint;
  return {
    error: {
      errorCode: facts.errorCode,
      errorDescription: facts.errorDescription,
      failurePoint,
      ...(failurePoint === 'OTHER' && other !== undefined ? { otherFailurePoint: other } : {}),
    },
  };
}

/**
 * A MESH process failure's API failure point by default: at 60 or 70 the EHR request exists (the
 * record has its conversation ID), so the failure is in requesting the EHR; earlier points are
 * reported as OTHER, naming the MESH point. A GP system that knows better sets apiFailurePoint
 * (e.g. PATIENT_TRACE, ENDPOINT_LOOKUP).
 */
function requestFailureFacts(e: EventOfType<'request-failure'>): ErrorFacts {
  const atRequest = e.failurePoint === 60 || e.failurePoint === 70;
  return {
    errorCode: apiErrorCode(e.errorCode, `GP2GP_MI_FAILURE_${e.failurePoint}_${e.failureType}`),
    errorDescription: e.errorDescription ?? `GP2GP MI process failure point ${e.failurePoint}, failure type ${e.failureType}${e.fatal ? ' (fatal)' : ''}`,
    failurePoint: atRequest ? 'EHR_REQUESTED' : 'OTHER',
    otherFailurePoint: atRequest ? undefined : `GP2GP MI process failure point ${e.failurePoint}`,
  };
}

// ---- the requester's events (RR) -------------------------------------------------------------------

function requesterApiEvent(e: RequesterEvent, at: string, r: RecordContext): Mapped {
  switch (e.type) {
    case 'registration': {
      // The API's /registrations needs the three fields the contract makes come together.
      if (e.multifactorAuthenticationPresent === undefined || e.demographicTraceStatus === undefined || e.gpLinksComplete === undefined) return undefined;
      const trace = e.demographicTraceStatus;
      // The previous practice as the registration itself names it, never one a later event brings
      // (transfer-compatibility, ehr-requested): /registrations is posted when the registration
      // arrives, so anything else would make its body depend on what had arrived by then.
      return withPayload('/registrations', common({ ...r, sendingOds: e.targetOds }, at, 'optional'), {
        registration: {
          type: e.apiRegistrationType ?? 'NEW_GP_REGISTRATION',
          returningPatient: e.returningPatient ?? e.registrationType === 'returning',
          multifactorAuthenticationPresent: e.multifactorAuthenticationPresent,
        },
        demographicTraceStatus: {
          matched: trace.matched,
          ...(trace.reason !== undefined ? { reason: trace.reason } : {}),
          multifactorAuthenticationPresent: trace.multifactorAuthenticationPresent,
        },
        gpLinks: { gpLinksComplete: e.gpLinksComplete },
      });
    }
    case 'transfer-compatibility':
      return withPayload('/transfer-compatibility-statuses', common(r, at, 'required', e.targetOds ?? r.sendingOds), {
        transferCompatibilityStatus: {
          internalTransfer: e.internalTransfer,
          transferCompatible: e.transferCompatible,
          ...(e.reason !== undefined ? { reason: e.reason } : {}),
        },
      });
    case 'ehr-requested':
      return withPayload('/ehr-requests', common(r, at, 'required', e.targetOds ?? r.sendingOds));
    // A requester's /errors never carries the sending practice: it is known only from other events
    // (the registration's or request's), so a failure arriving first would be posted without it and the
    // body would depend on arrival. The Authority joins an error to its transfer by conversationId,
    // whose /ehr-requests names the sending practice.
    case 'request-failure':
      return withPayload('/errors', common(withoutSending(r), at, 'optional'), errorPayload(e, requestFailureFacts(e)));
    case 'extract-acknowledged':
      if (e.ackCode === '0') return undefined;
      return withPayload(
        '/errors',
        common(withoutSending(r), at, 'optional'),
        errorPayload(e, {
          errorCode: e.ackCode,
          errorDescription: e.errorDescription ?? `negative acknowledgement ${e.ackCode} of the EHR extract`,
          failurePoint: 'EHR_INTEGRATION',
        }),
      );
    case 'extract-ack-failure':
      return withPayload(
        '/errors',
        common(withoutSending(r), at, 'optional'),
        errorPayload(e, {
          errorCode: apiErrorCode(e.errorCode, `GP2GP_MI_ACK_FAILURE_${e.failureType}`),
          errorDescription: e.errorDescription ?? 'the acknowledgement of the EHR extract could not be sent',
          failurePoint: 'OTHER',
          otherFailurePoint: 'sending the acknowledgement of the EHR extract',
        }),
      );
    case 'document-received':
      return withPayload('/document-responses', common(r, at, 'required'), {
        attachment: { clinicalType: e.clinicalType, mimeType: e.mimeType, sizeBytes: e.sizeBytes },
        documentMigration: { successful: e.successful, ...(e.reason !== undefined ? { reason: e.reason } : {}) },
      });
    case 'ready-to-integrate':
      return withPayload('/ready-to-integrate-statuses', common(r, at, 'required'));
    case 'integration-outcome':
      return withPayload('/ehr-integrations', common(r, at, 'required'), { integration: { outcome: e.outcome } });
    case 'degrades-identified':
      // Nothing that relates a degrade to a transfer: no conversation, time or practice.
      return {
        endpoint: '/ehr-degrades',
        body: {
          reportingSystemSupplier: r.supplier,
          payload: { degrades: e.degrades.map((d) => ({ type: d.type, reason: d.reason, coding: d.coding.map((c) => ({ code: c.code, system: c.system })) })) },
        },
      };
    case 'ehr-received':
    case 'fragments-received':
      return undefined;
  }
}

// ---- the sender's events (SR) ----------------------------------------------------------------------

function senderApiEvent(e: HookEvent, at: string, r: RecordContext): Mapped {
  switch (e.type) {
    case 'request-acknowledged': {
      const nack = e.ackCode !== '0';
      if (!nack && e.failureType === undefined && e.errorCode === undefined) return undefined;
      return withPayload(
        '/errors',
        common(r, at, 'optional'),
        errorPayload(
          e,
          nack
            ? { errorCode: e.ackCode, errorDescription: e.errorDescription ?? `negative acknowledgement ${e.ackCode} of the EHR request`, failurePoint: 'EHR_RESPONSE' }
            : {
                errorCode: apiErrorCode(e.errorCode, `GP2GP_MI_ACK_FAILURE_${e.failureType ?? 0}`),
                errorDescription: e.errorDescription ?? 'the acknowledgement of the EHR request could not be sent',
                failurePoint: 'EHR_RESPONSE',
              },
        ),
      );
    }
    case 'extract-failure':
      return withPayload(
        '/errors',
        common(r, at, 'optional'),
        errorPayload(e, {
          errorCode: apiErrorCode(e.errorCode, `GP2GP_MI_FAILURE_${e.failurePoint}_${e.failureType}`),
          errorDescription: e.errorDescription ?? `GP2GP MI process failure point ${e.failurePoint}, failure type ${e.failureType}${e.fatal ? ' (fatal)' : ''}`,
          failurePoint: 'EHR_RESPONSE',
        }),
      );
    case 'ehr-sent':
      return withPayload('/ehr-responses', common(r, at, 'required'), {
        ehr: {
          ...(e.ehrStructuredSizeBytes !== undefined ? { ehrStructuredSizeBytes: e.ehrStructuredSizeBytes } : {}),
          ...(e.placeholderDetails !== undefined
            ? { placeholders: e.placeholderDetails.map((p) => ({ clinicalType: p.clinicalType, generatedBy: p.generatedBy, reason: p.reason, originalMimeType: p.originalMimeType })) }
            : {}),
        },
      });
    default:
      return undefined;
  }
}

/** A short stable text hash (two FNV-1a 32-bit lanes) of a content identity: pure, no node:crypto. */
function hash(text: string): string {
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}
