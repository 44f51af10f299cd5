/**
 * Test helpers for the hook events added for the GP Registrations MI API: arbitraries of the new event
 * types and of the new fields, and `withApiExtras`, which adds both to a record's events (MESH rows
 * must not change).
 */
import fc from 'fast-check';
import type { HookEvent, Side } from '../../mi/events';
import { compact } from './support';

const reason = fc.constantFrom('No PDS trace', 'Previous practice is not eligible for electronic transfer', 'Large file size');

/** The API-only fields of an existing event type (none for types without any). */
export function apiFieldsArb(type: HookEvent['type']): fc.Arbitrary<Record<string, unknown>> {
  switch (type) {
    case 'registration':
      return fc.record({
        apiRegistrationType: fc.option(fc.constantFrom('NEW_GP_REGISTRATION', 'CHANGE_PATIENT_TYPE'), { nil: undefined }),
        returningPatient: fc.option(fc.boolean(), { nil: undefined }),
        multifactorAuthenticationPresent: fc.boolean(),
        demographicTraceStatus: fc.boolean().chain((matched) =>
          fc.record({ matched: fc.constant(matched), multifactorAuthenticationPresent: fc.boolean(), reason: matched ? fc.constant(undefined) : reason }).map(compact),
        ),
        gpLinksComplete: fc.boolean(),
      }).map(compact);
    case 'request-failure':
    case 'extract-failure':
    case 'extract-ack-failure':
    case 'request-acknowledged':
    case 'extract-acknowledged':
      return fc.oneof(
        fc.constant({}),
        fc.record({ apiFailurePoint: fc.constantFrom('PATIENT_TRACE', 'ENDPOINT_LOOKUP', 'EHR_REQUESTED', 'EHR_RESPONSE', 'EHR_INTEGRATION') }),
        fc.record({ apiFailurePoint: fc.constant('OTHER'), otherFailurePoint: fc.option(fc.constantFrom('PDS update', 'practice lookup'), { nil: undefined }) }).map(compact),
      );
    case 'ehr-sent':
      return fc
        .record({
          ehrStructuredSizeBytes: fc.option(fc.integer({ min: 0, max: 50_000_000 }), { nil: undefined }),
          placeholderDetails: fc.option(
            fc.array(
              fc.record({
                clinicalType: fc.constantFrom('SCANNED_DOCUMENT', 'IMAGE', 'AUDIO_DICTATION', 'OTHER'),
                generatedBy: fc.constantFrom('SENDER', 'PRE_EXISTING'),
                reason: fc.constantFrom('FILE_TYPE_UNSUPPORTED', 'FILE_DELETED', 'FILE_NOT_FOUND', 'FILE_LOCKED', 'UNABLE_TO_DETERMINE_PROBLEM'),
                originalMimeType: fc.constantFrom('application/pdf', 'audio/mpeg', 'image/jpeg'),
              }),
              { minLength: 1, maxLength: 3 },
            ),
            { nil: undefined },
          ),
        })
        .map(compact);
    default:
      return fc.constant({});
  }
}

/** The fields of one of the new (API-only, requester) event types. */
export function apiOnlyFieldsArb(type: string): fc.Arbitrary<Record<string, unknown>> {
  switch (type) {
    case 'transfer-compatibility':
      return fc.boolean().chain((transferCompatible) =>
        fc
          .record({
            internalTransfer: fc.boolean(),
            transferCompatible: fc.constant(transferCompatible),
            reason: transferCompatible ? fc.option(reason, { nil: undefined }) : reason,
            targetOds: fc.option(fc.constantFrom('B23456', 'C34567'), { nil: undefined }),
          })
          .map(compact),
      );
    case 'document-received':
      return fc.boolean().chain((successful) =>
        fc
          .record({
            clinicalType: fc.constantFrom('SCANNED_DOCUMENT', 'ORIGINAL_TEXT_DOCUMENT', 'IMAGE', 'NOT_AVAILABLE'),
            mimeType: fc.constantFrom('application/pdf', 'image/tiff', 'text/plain'),
            sizeBytes: fc.integer({ min: 0, max: 100_000_000 }),
            successful: fc.constant(successful),
            reason: successful ? fc.constant(undefined) : reason,
          })
          .map(compact),
      );
    case 'ready-to-integrate':
      return fc.constant({});
    case 'integration-outcome':
      return fc.record({ outcome: fc.constantFrom('INTEGRATED', 'INTEGRATED_AND_SUPPRESSED', 'SUPPRESSED_AND_REACTIVATED', 'FILED_AS_ATTACHMENT', 'REJECTED', 'INTERNAL_TRANSFER', 'FAILED_TO_INTEGRATE') });
    case 'degrades-identified':
      return fc.record({
        degrades: fc.array(
          fc.record({
            type: fc.constantFrom('MEDICATION', 'DRUG_ALLERGY', 'RECORD_ENTRY', 'OTHER'),
            reason: fc.constantFrom('CODE', 'NUMERIC_VALUE', 'DRUG_NAME', 'OTHER'),
            coding: fc.array(fc.record({ code: fc.constantFrom('1676331000000110', '22298006', 'EMISNQ123'), system: fc.constantFrom('http://snomed.info/sct', 'http://read.info/ctv3') }), {
              minLength: 1,
              maxLength: 2,
            }),
          }),
          { minLength: 1, maxLength: 3 },
        ),
      });
    default:
      throw new Error(`not an API-only type: ${type}`);
  }
}

export const API_ONLY_TYPES = ['transfer-compatibility', 'document-received', 'ready-to-integrate', 'integration-outcome', 'degrades-identified'] as const;

/** A new-type event of an RR record, at one of the given instants (ties with existing events included). */
export function apiOnlyEventArb(key: string, practiceOds: string, instants: readonly string[]): fc.Arbitrary<HookEvent> {
  return fc.constantFrom(...API_ONLY_TYPES).chain((type) =>
    fc
      .record({ fields: apiOnlyFieldsArb(type), occurredAt: fc.constantFrom(...instants), eventId: fc.option(fc.uuid(), { nil: undefined }) })
      .map(({ fields, occurredAt, eventId }) => compact({ type, practiceOds, registrationId: key, occurredAt, eventId, ...fields }) as unknown as HookEvent),
  );
}

/**
 * A record's events with the API's additions: API fields on the events that carry an eventId (an event
 * without one is identified by its content, so new fields make it another event) and, on RR records,
 * new-type events at the record's own instants.
 */
export function withApiExtrasArb(side: Side, key: string, events: readonly HookEvent[]): fc.Arbitrary<HookEvent[]> {
  const practiceOds = events[0]!.practiceOds;
  const instants = events.map((e) => e.occurredAt);
  const enriched = fc.tuple(...events.map((e) => (e.eventId === undefined ? fc.constant(e) : apiFieldsArb(e.type).map((f) => ({ ...e, ...f }) as HookEvent))));
  const added = side === 'RR' ? fc.array(apiOnlyEventArb(key, practiceOds, instants), { minLength: 1, maxLength: 6 }) : fc.constant([] as HookEvent[]);
  return fc.tuple(enriched, added).map(([a, b]) => [...a, ...b]);
}
