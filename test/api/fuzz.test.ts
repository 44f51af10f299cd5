/**
 * "Never a 5xx for bad input", as a property: whatever bytes or JSON arrive at POST /v1/events, the
 * answer is a 2xx or 4xx. The backend runs the hooks client's own pure steps (validate, derive the
 * eventId, find the record) without Temporal, so thousands of bodies stay fast; the same API in front
 * of the real pipeline is tested in events.test.ts.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, type ApiBackend } from '../../api/app';
import { withEventId } from '../../mi/event-id';
import { recordKeyOf, validateEvent } from '../../mi/events';

const TOKEN = 'fuzz-token-0123456789';
const offlineBackend: ApiBackend = {
  recordEvent: async (input) => {
    const checked = validateEvent(input);
    if (!checked.ok) return { status: 'refused', message: checked.message, problems: checked.problems };
    const event = withEventId(checked.event);
    const { side, practiceOds, key } = recordKeyOf(event);
    return { status: 'accepted', eventId: event.eventId, workflowId: `${side}-${practiceOds}-${key}` };
  },
  checkReady: async () => undefined,
};

const BASE = {
  type: 'registration',
  practiceOds: 'A12345',
  registrationId: 'R1',
  occurredAt: '2026-01-01T00:00:00Z',
  registrationType: 'new',
  registeringUser: 'L12345',
};
const TYPES = ['registration', 'request-failure', 'ehr-requested', 'ehr-received', 'extract-acknowledged', 'request-received', 'ehr-sent', 'fragments-sent'];
const FIELDS = [...Object.keys(BASE), 'conversationId', 'retries', 'placeholders', 'largeMessageReasons', 'ackCode', 'ackStatus', 'eventId', 'errorDescription', 'fatal'];

/** Nearly-right events: a valid one with one field replaced by any JSON value, under any type. */
const nearlyRight = fc
  .record({ type: fc.constantFrom(...TYPES), field: fc.constantFrom(...FIELDS), value: fc.jsonValue({ maxDepth: 4 }) })
  .map(({ type, field, value }) => ({ ...BASE, type, [field]: value }));

const bodies = fc.oneof(
  fc.jsonValue({ maxDepth: 6 }).map((v) => JSON.stringify(v)),
  nearlyRight.map((v) => JSON.stringify(v)),
  fc.array(nearlyRight, { maxLength: 5 }).map((v) => JSON.stringify(v)),
  fc.array(nearlyRight, { maxLength: 5 }).map((events) => JSON.stringify({ events })),
  fc.string({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
);

describe('POST /v1/events under arbitrary input', () => {
  let app: Awaited<ReturnType<typeof buildApi>>;
  beforeAll(async () => {
    app = await buildApi({ backend: offlineBackend, tokens: [TOKEN], rateLimitPerMinute: 1_000_000 });
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers every body with a 2xx or 4xx, and every 4xx names what is wrong', async () => {
    await fc.assert(
      fc.asyncProperty(bodies, async (payload) => {
        const res = await app.inject({
          method: 'POST',
          url: '/v1/events',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          payload,
        });
        expect(res.statusCode, String(payload).slice(0, 200)).toBeLessThan(500);
        const body = res.json();
        if (res.statusCode === 422) expect(body.error.problems.length).toBeGreaterThan(0);
        else if (res.statusCode >= 400) expect(body.error.message).toMatch(/^[\w-]+: /);
      }),
      { numRuns: 1_500 },
    );
  });
});
