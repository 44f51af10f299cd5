/**
 * The published OpenAPI 3.1 description of the hooks API, served at /v1/openapi.json (GP systems are
 * written in many languages; this is what their client generators read).
 *
 * The event schemas are derived from the contract's own validator (mi/events.ts) rather than written
 * twice: asking it about an event whose every field is wrong makes it list each field, whether it is
 * required, and what it allows. So the description cannot drift from what the API really accepts.
 * Only the JSON type of each field is stated here (the validator speaks in words, not types); a test
 * checks that every field of every event type has one.
 */
import { EVENT_TYPES, isApiOnlyEventType, sideOf, validateEvent, type EventType } from '../mi/events';
import {
  API_FAILURE_POINTS,
  API_REGISTRATION_TYPES,
  CLINICAL_TYPES,
  DEGRADE_REASONS,
  DEGRADE_TYPES,
  INTEGRATION_OUTCOMES,
  PLACEHOLDER_GENERATED_BY,
  PLACEHOLDER_REASONS,
} from '../mi/formats';

type Schema = Record<string, unknown>;

/** JSON type of each contract field (the validator's `allowed` text gives the finer rules). */
export const FIELD_TYPES: Record<string, Schema> = {
  practiceOds: { type: 'string' },
  occurredAt: { type: 'string', format: 'date-time' },
  eventId: { type: 'string' },
  registrationId: { type: 'string' },
  conversationId: { type: 'string', format: 'uuid' },
  targetOds: { type: 'string' },
  registrationType: { type: 'string', enum: ['undetermined', 'new', 'returning', 'internal'] },
  registeringUser: { type: 'string' },
  failurePoint: { type: 'integer', enum: [10, 20, 30, 40, 50, 60, 70] },
  failureType: { type: 'integer' },
  fatal: { type: 'boolean' },
  failedMessageId: { type: 'string', format: 'uuid' },
  errorCode: { type: 'string' },
  errorDescription: { type: 'string' },
  retries: { type: 'integer', minimum: 0 },
  requestMessageId: { type: 'string', format: 'uuid' },
  extractMessageId: { type: 'string', format: 'uuid' },
  largeMessageReasons: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 5 } },
  fragmentsTotal: { type: 'integer', minimum: 0 },
  fragmentsReceived: { type: 'integer', minimum: 0 },
  ackStatus: { type: 'integer', minimum: 0, maximum: 7 },
  // 0171.02 RR23 / SR9: 0 = ACK, 01–99 = NACK; codes 0083.08 does not list are accepted with a warning.
  ackCode: { type: 'string', pattern: '^(?:0|0[1-9]|[1-9][0-9])$' },
  ackMessageId: { type: 'string', format: 'uuid' },
  actingUser: { type: 'string' },
  requestingOds: { type: 'string' },
  requesterConfig: { type: 'string' },
  largeMessaging: { type: 'boolean' },
  placeholders: {
    type: 'object',
    required: ['fileTypeUnsupported', 'deleted', 'notFound', 'locked', 'undetermined'],
    properties: Object.fromEntries(['fileTypeUnsupported', 'deleted', 'notFound', 'locked', 'undetermined'].map((k) => [k, { type: 'integer', minimum: 0 }])),
    additionalProperties: false,
  },
  fragmentsAcceptedByTms: { type: 'integer', minimum: 0 },
  fragmentsAcknowledged: { type: 'integer', minimum: 0 },
  // For the GP Registrations MI API (MESH rows ignore them).
  apiRegistrationType: { type: 'string', enum: [...API_REGISTRATION_TYPES] },
  returningPatient: { type: 'boolean' },
  multifactorAuthenticationPresent: { type: 'boolean' },
  demographicTraceStatus: {
    type: 'object',
    required: ['matched', 'multifactorAuthenticationPresent'],
    properties: { matched: { type: 'boolean' }, reason: { type: 'string' }, multifactorAuthenticationPresent: { type: 'boolean' } },
    additionalProperties: false,
  },
  gpLinksComplete: { type: 'boolean' },
  apiFailurePoint: { type: 'string', enum: [...API_FAILURE_POINTS] },
  otherFailurePoint: { type: 'string' },
  ehrStructuredSizeBytes: { type: 'integer', minimum: 0 },
  placeholderDetails: {
    type: 'array',
    minItems: 1,
    items: {
      type: 'object',
      required: ['clinicalType', 'generatedBy', 'reason', 'originalMimeType'],
      properties: {
        clinicalType: { type: 'string', enum: [...CLINICAL_TYPES] },
        generatedBy: { type: 'string', enum: [...PLACEHOLDER_GENERATED_BY] },
        reason: { type: 'string', enum: [...PLACEHOLDER_REASONS] },
        originalMimeType: { type: 'string' },
      },
      additionalProperties: false,
    },
  },
  internalTransfer: { type: 'boolean' },
  transferCompatible: { type: 'boolean' },
  reason: { type: 'string' },
  clinicalType: { type: 'string', enum: [...CLINICAL_TYPES] },
  mimeType: { type: 'string' },
  sizeBytes: { type: 'integer', minimum: 0 },
  successful: { type: 'boolean' },
  outcome: { type: 'string', enum: [...INTEGRATION_OUTCOMES] },
  degrades: {
    type: 'array',
    minItems: 1,
    items: {
      type: 'object',
      required: ['type', 'reason', 'coding'],
      properties: {
        type: { type: 'string', enum: [...DEGRADE_TYPES] },
        reason: { type: 'string', enum: [...DEGRADE_REASONS] },
        coding: {
          type: 'array',
          minItems: 1,
          items: { type: 'object', required: ['code', 'system'], properties: { code: { type: 'string' }, system: { type: 'string' } }, additionalProperties: false },
        },
      },
      additionalProperties: false,
    },
  },
};


export interface ContractField {
  name: string;
  required: boolean;
  allowed: string;
}

/** The fields of one event type as the validator describes them. */
export function contractFields(type: EventType): ContractField[] {
  const PROBE = '\u0000probe';
  const unknown = validateEvent({ type, [PROBE]: 1 });
  const listed = unknown.ok ? undefined : unknown.problems.find((p) => p.field === PROBE)?.allowed;
  const names = (listed ?? '').replace(/^.*?: type, /, '').split(', ').filter(Boolean);
  // Required fields are the ones reported missing when absent.
  const missing = new Set(unknown.ok ? [] : unknown.problems.filter((p) => p.message.startsWith(`${p.field}: missing`)).map((p) => p.field));
  // null is wrong for every field, so each one reports what it allows.
  const wrong = validateEvent({ type, ...Object.fromEntries(names.map((n) => [n, null])) });
  const allowed = new Map(wrong.ok ? [] : wrong.problems.map((p) => [p.field, p.allowed]));
  return names.map((name) => ({ name, required: missing.has(name), allowed: allowed.get(name) ?? '' }));
}

function eventSchema(type: EventType): Schema {
  const fields = contractFields(type);
  return {
    type: 'object',
    title: type,
    description: `${sideOf(type)} event \`${type}\` (the hook contract${isApiOnlyEventType(type) ? '; reported to the GP Registrations MI API only, MESH MI has no field for it' : ''}). Unknown fields are refused by name.`,
    required: ['type', ...fields.filter((f) => f.required).map((f) => f.name)],
    properties: {
      type: { type: 'string', const: type },
      ...Object.fromEntries(fields.map((f) => [f.name, { ...(FIELD_TYPES[f.name] ?? {}), description: `Allowed: ${f.allowed}` }])),
    },
    additionalProperties: false,
  };
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (schema: Schema) => ({ 'application/json': { schema } });
const errorResponse = (description: string) => ({ description, content: jsonContent(ref('Error')) });

export function openApiDocument(limits: { bodyLimitBytes: number; maxBatchEvents: number }): Schema {
  const eventSchemas = Object.fromEntries(EVENT_TYPES.map((t) => [`Event_${t}`, eventSchema(t)]));
  return {
    openapi: '3.1.0',
    info: {
      title: 'gp2gp-mi hooks API',
      version: '1',
      description:
        'GP2GP stage events from GP systems, recorded durably for the GP2GP Management Information (NPFIT-PC-BLD-0171.02). ' +
        'Each event is validated against the hook event contract and recorded at most once (by eventId, or by a hash of its content when it has none). ' +
        'Bad input is always a 4xx naming the field; 503 means Temporal is unreachable: retry, and events already accepted come back "duplicate".',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths: {
      '/v1/events': {
        post: {
          operationId: 'recordEvents',
          summary: 'Record one hook event or a batch',
          description:
            `The body is one event (a JSON object), a JSON array of events, or {"events": [...]}; at most ${limits.maxBatchEvents} events and ${limits.bodyLimitBytes} bytes, UTF-8 JSON. ` +
            'One event answers 200 (accepted or duplicate, with `warnings` when something accepted is worth a look) or 422 (refused, with the problems field by field). ' +
            'A batch answers 200 with one result per event, in order: good events are recorded even when others are refused.',
          requestBody: {
            required: true,
            content: jsonContent({
              oneOf: [ref('Event'), { type: 'array', minItems: 1, maxItems: limits.maxBatchEvents, items: ref('Event') }, ref('EventBatch')],
            }),
          },
          responses: {
            '200': {
              description: 'One event recorded (accepted or duplicate), or a batch processed (see each result)',
              content: jsonContent({ oneOf: [ref('EventResult'), ref('BatchResult')] }),
            },
            '400': errorResponse('Malformed body: not JSON, not UTF-8, empty, nested deeper than 16 levels, a __proto__ key, or not one of the three shapes; the message names the field'),
            '401': errorResponse('Missing or unknown bearer token'),
            '413': errorResponse(`Body over ${limits.bodyLimitBytes} bytes or more than ${limits.maxBatchEvents} events`),
            '415': errorResponse('Content-Type is not application/json (UTF-8)'),
            '422': { description: 'The single event was refused by the contract', content: jsonContent(ref('EventResult')) },
            '429': errorResponse('Rate limit of the token reached, or too many events in flight; honour Retry-After'),
            '503': {
              description: 'Temporal unreachable or too slow: retry (Retry-After); accepted events will answer "duplicate"',
              content: jsonContent({ oneOf: [ref('EventResult'), ref('BatchResult')] }),
            },
          },
        },
      },
      '/healthz': {
        get: { operationId: 'health', summary: 'The process is up', security: [], responses: { '200': { description: 'up' } } },
      },
      '/readyz': {
        get: {
          operationId: 'ready',
          summary: 'Temporal is reachable (events can be recorded)',
          security: [],
          responses: { '200': { description: 'ready' }, '503': { description: 'Temporal unreachable' } },
        },
      },
      '/v1/openapi.json': {
        get: { operationId: 'openapi', summary: 'This document', security: [], responses: { '200': { description: 'OpenAPI 3.1' } } },
      },
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A token from GP2GP_API_TOKENS / GP2GP_API_TOKEN_FILE' } },
      schemas: {
        Event: {
          oneOf: EVENT_TYPES.map((t) => ref(`Event_${t}`)),
          discriminator: { propertyName: 'type', mapping: Object.fromEntries(EVENT_TYPES.map((t) => [t, `#/components/schemas/Event_${t}`])) },
        },
        ...eventSchemas,
        EventBatch: {
          type: 'object',
          required: ['events'],
          properties: { events: { type: 'array', minItems: 1, maxItems: limits.maxBatchEvents, items: ref('Event') } },
          additionalProperties: false,
        },
        FieldProblem: {
          type: 'object',
          required: ['field', 'allowed', 'message'],
          properties: { field: { type: 'string' }, value: {}, allowed: { type: 'string' }, message: { type: 'string' } },
        },
        FieldWarning: {
          type: 'object',
          description: 'Something about an accepted event worth a look; the event was recorded and is reported as sent.',
          required: ['field', 'message'],
          properties: { field: { type: 'string' }, value: {}, message: { type: 'string' } },
        },
        EventResult: {
          type: 'object',
          required: ['status'],
          properties: {
            status: { type: 'string', enum: ['accepted', 'duplicate', 'refused', 'unavailable'] },
            eventId: { type: 'string', description: 'the given eventId, or the content hash used as one' },
            workflowId: { type: 'string', description: 'the transfer workflow holding the record (Temporal Web UI)' },
            warnings: {
              type: 'array',
              items: ref('FieldWarning'),
              description:
                'only on accepted or duplicate events, and only when there are any: e.g. a NACK code (ackCode) in the range 01-99 that 0171.02 allows but NPFIT-PC-BLD-0083.08 does not list; the event is recorded, never refused for it',
            },
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', enum: ['refused', 'unavailable'] },
                message: { type: 'string' },
                field: { type: 'string', description: 'the first field refused (all of them are in problems)' },
                problems: { type: 'array', items: ref('FieldProblem') },
              },
            },
          },
        },
        BatchResult: {
          type: 'object',
          required: ['results', 'accepted', 'duplicate', 'refused', 'unavailable'],
          properties: {
            results: { type: 'array', items: { allOf: [ref('EventResult'), { type: 'object', properties: { index: { type: 'integer' } } }] } },
            accepted: { type: 'integer' },
            duplicate: { type: 'integer' },
            refused: { type: 'integer' },
            unavailable: { type: 'integer' },
          },
        },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } },
            },
          },
        },
      },
    },
  };
}
