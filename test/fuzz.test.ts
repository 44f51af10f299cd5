/**
 * Bad-input fuzzing, on the run's real servers: thousands of generated malformed events (wrong types,
 * huge strings, control characters, lone surrogates, deep JSON, unknown fields, future timestamps)
 * through the client's validation, a few hundred straight into the transfer workflow's update
 * validator (bypassing the client), and malformed HTTP bodies (10 MB, invalid UTF-8, deep JSON)
 * against the HTTP API. Each is refused with an error naming a field or the body's problem; the
 * worker never fails a workflow task; the valid events sent alongside all arrive.
 */
import { randomUUID } from 'node:crypto';
import { WithStartWorkflowOperation, WorkflowUpdateFailedError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, clientBackend } from '../api/app';
import { generateTraffic, syntheticPractice } from '../demo/traffic';
import { recordKeyOf, type HookEvent } from '../mi/events';
import { withEventId } from '../mi/event-id';
import { transferWorkflowId } from '../workflows/ids';
import { transferQuery, type StoredEvent } from '../messages/transfer';
import { startPipeline, type TestPipeline } from './support/pipeline';

const PRACTICES = ['F91001', 'F91002'].map((ods, i) => syntheticPractice(ods, `20000000090${i + 1}`));
const YESTERDAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const TOKEN = `fuzz-token-${randomUUID()}`;
/** Fields that pick the record (and so the workflow): mutated only where the workflow is not fixed. */
const KEY_FIELDS = new Set(['type', 'practiceOds', 'registrationId', 'conversationId']);

const VALID = generateTraffic({
  practices: PRACTICES.map((p) => p.ods),
  days: [YESTERDAY],
  registrationsPerPracticeDay: 6,
  seed: 99,
  notAfter: new Date(Date.now() - 60_000).toISOString(),
});

// ---- malformed events ------------------------------------------------------------------------------

function deep(depth: number): unknown {
  let v: unknown = 'x';
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** A value of another JSON type than the valid one (never undefined: absent optional fields are fine). */
const wrongTypeFor = (valid: unknown): fc.Arbitrary<unknown> => {
  const all: fc.Arbitrary<unknown>[] = [
    fc.integer({ min: -1e9, max: 1e9 }),
    fc.double({ noNaN: false }),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.string(), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
    fc.string({ maxLength: 20 }).map((s) => `${s}#`),
  ];
  const t = Array.isArray(valid) ? 'array' : valid === null ? 'null' : typeof valid;
  return fc.oneof(
    ...all.filter((_, i) => {
      const kinds = ['number', 'number', 'boolean', 'null', 'array', 'object', 'string'];
      // A wrong string for a string field is still wrong here: '#' is allowed in no identifier or code.
      return kinds[i] !== t || (t === 'string' && i === 6);
    }),
  );
};

const CONTROL = fc.constantFrom('\u0000', '\u0001', '\u0007', '\u000b', '\u001b', '\u007f', '\u0085', '\u009f');
const LONE = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff');

type Mutation = { kind: string; field: string; apply: (e: Record<string, unknown>) => Record<string, unknown> };

/** One malformed variant of a valid event; `field` is what the refusal must name. */
function mutationArb(event: Record<string, unknown>, options: { keepKey: boolean }): fc.Arbitrary<Mutation> {
  const fields = Object.keys(event).filter((f) => f !== 'eventId' && !(options.keepKey && KEY_FIELDS.has(f)));
  const stringFields = fields.filter((f) => typeof event[f] === 'string' && f !== 'occurredAt' && !(f === 'ackCode' && event[f] === '0'));
  const set = (field: string, value: unknown) => (e: Record<string, unknown>) => ({ ...e, [field]: value });
  const arbs: fc.Arbitrary<Mutation>[] = [
    fc.constantFrom(...fields).chain((field) => wrongTypeFor(event[field]).map((v) => ({ kind: 'wrong type', field, apply: set(field, v) }))),
    fc
      .record({ name: fc.stringMatching(/^[a-z][A-Za-z0-9]{0,30}$/), value: fc.jsonValue({ maxDepth: 2 }) })
      .filter(({ name }) => !(name in event) && !['eventId', '__proto__', 'constructor'].includes(name))
      .map(({ name, value }) => ({ kind: 'unknown field', field: name, apply: set(name, value) })),
    fc.integer({ min: 6, max: 3_650 }).map((minutes) => ({
      kind: 'future timestamp',
      field: 'occurredAt',
      apply: set('occurredAt', new Date(Date.now() + minutes * 60_000).toISOString()),
    })),
    fc.constantFrom(...fields).chain((field) =>
      fc.integer({ min: 10, max: 2_000 }).map((depth) => ({ kind: 'deep JSON', field, apply: set(field, deep(depth)) })),
    ),
  ];
  if (stringFields.length) {
    arbs.push(
      fc.constantFrom(...stringFields).chain((field) =>
        fc.integer({ min: 5_000, max: 300_000 }).map((n) => ({ kind: 'huge string', field, apply: set(field, `${String(event[field])}${'x'.repeat(n)}`) })),
      ),
      fc.constantFrom(...stringFields).chain((field) =>
        fc.tuple(CONTROL, fc.nat()).map(([c, at]) => {
          const s = String(event[field]);
          const i = at % (s.length + 1);
          return { kind: 'control character', field, apply: set(field, s.slice(0, i) + c + s.slice(i)) };
        }),
      ),
      fc.constantFrom(...stringFields).chain((field) =>
        fc.tuple(LONE, fc.nat()).map(([c, at]) => {
          const s = String(event[field]);
          const i = at % (s.length + 1);
          return { kind: 'lone surrogate (not UTF-8)', field, apply: set(field, s.slice(0, i) + c + s.slice(i)) };
        }),
      ),
    );
  }
  return fc.oneof(...arbs);
}

const malformedArb = (options: { keepKey: boolean }, events = VALID) =>
  fc.constantFrom(...events).chain((event) => mutationArb(event as unknown as Record<string, unknown>, options).map((m) => ({ event, m, bad: m.apply(event as unknown as Record<string, unknown>) })));

/** The refusal names the mutated field (first problem's field, or the message starts with it). */
function namesField(field: string, message: string, problems: { field: string }[] = []): boolean {
  return problems.some((p) => p.field === field || p.field.startsWith(`${field}.`) || p.field.startsWith(`${field}[`)) || message.startsWith(`${field}:`) || message.includes(`${field}:`);
}

// ---- the tests ---------------------------------------------------------------------------------------

let pipeline: TestPipeline;
beforeAll(async () => {
  pipeline = await startPipeline({ supplierMailbox: 'X26SUP007', authorityMailbox: 'X26NHS007', practices: PRACTICES });
});
afterAll(async () => {
  await pipeline?.stop();
});

async function workflowTaskFailures(workflowId: string): Promise<number> {
  const history = await pipeline.client.temporal.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).filter((e) => e.eventType === temporal.api.enums.v1.EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED).length;
}

describe('bad input', () => {
  it('the client refuses thousands of malformed events, each naming the field, before reaching Temporal', async () => {
    const kinds = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(malformedArb({ keepKey: false }), async ({ m, bad }) => {
        const outcome = await pipeline.client.recordEvent(bad);
        kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1);
        expect(outcome.status, `${m.kind} in ${m.field}`).toBe('refused');
        if (outcome.status !== 'refused') return;
        expect(namesField(m.field, outcome.message, outcome.problems), `${m.kind} in ${m.field}: ${outcome.message.slice(0, 300)}`).toBe(true);
        expect(outcome.message.length).toBeLessThan(5_000);
      }),
      { numRuns: 3_000, seed: 6 },
    );
    // Free text is the one field where any character may go: a lone surrogate cannot be written as
    // UTF-8 (the CSV would carry U+FFFD instead of what was kept), so it is refused there too.
    for (const c of ['\ud800', '\udfff', 'a\udc00b', '\ud83d']) {
      const failure = { ...VALID.find((e) => e.type === 'registration')!, type: 'request-failure', failurePoint: 10, failureType: 1, fatal: false, errorDescription: `timeout ${c}` } as Record<string, unknown>;
      for (const f of ['registrationType', 'registeringUser', 'targetOds']) delete failure[f];
      const outcome = await pipeline.client.recordEvent(failure);
      expect(outcome.status, JSON.stringify(c)).toBe('refused');
      if (outcome.status === 'refused') expect(namesField('errorDescription', outcome.message, outcome.problems)).toBe(true);
    }
    expect([...kinds.keys()].sort()).toEqual(
      ['control character', 'deep JSON', 'future timestamp', 'huge string', 'lone surrogate (not UTF-8)', 'unknown field', 'wrong type'].sort(),
    );
  });

  it("the workflow's update validator refuses malformed events sent past the client; no workflow task fails; the valid events all arrive", async () => {
    const temporalClient = pipeline.client.temporal;
    const taskQueue = pipeline.config.temporal.taskQueue;
    // A few records get every valid event and, interleaved, hundreds of malformed ones.
    const records = [...new Set(VALID.map((e) => JSON.stringify(recordKeyOf(e))))].slice(0, 6).map((k) => JSON.parse(k) as ReturnType<typeof recordKeyOf>);
    const ids = new Set(records.map((r) => transferWorkflowId(r.side, r.practiceOds, r.key)));
    const valid = VALID.filter((e) => { const k = recordKeyOf(e); return ids.has(transferWorkflowId(k.side, k.practiceOds, k.key)); });
    const send = async (event: Record<string, unknown>) => {
      const k = recordKeyOf(event as unknown as HookEvent);
      const workflowId = transferWorkflowId(k.side, k.practiceOds, k.key);
      return await temporalClient.workflow.executeUpdateWithStart('recordEvent', {
        args: [event],
        updateId: `fuzz-${randomUUID()}`,
        startWorkflowOperation: new WithStartWorkflowOperation('transferWorkflow', {
          workflowId,
          taskQueue,
          args: [{ side: k.side, practiceOds: k.practiceOds, key: k.key }],
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      });
    };
    const samples = fc.sample(malformedArb({ keepKey: true }, valid), { numRuns: 300, seed: 7 });
    let refused = 0;
    const validIds: string[] = [];
    for (const [i, { m, bad }] of samples.entries()) {
      try {
        await send({ ...bad, eventId: `fuzz-bad-${i}` });
        throw new Error(`accepted: ${m.kind} in ${m.field}`);
      } catch (err) {
        if (!(err instanceof WorkflowUpdateFailedError)) throw err;
        const message = err.cause?.message ?? '';
        expect(namesField(m.field, message), `${m.kind} in ${m.field}: ${message.slice(0, 300)}`).toBe(true);
        refused++;
      }
      const good = valid[i % valid.length]!;
      if (i < valid.length) {
        const stored = withEventId(good) as StoredEvent;
        const result = (await send(stored as unknown as Record<string, unknown>)) as { outcome: string };
        expect(result.outcome).toBe('accepted');
        validIds.push(stored.eventId);
      }
    }
    expect(refused).toBe(samples.length);
    expect(validIds).toHaveLength(valid.length);
    for (const id of ids) {
      const view = await temporalClient.workflow.getHandle(id).query(transferQuery);
      const k = records.find((r) => transferWorkflowId(r.side, r.practiceOds, r.key) === id)!;
      const expected = valid.filter((e) => { const kk = recordKeyOf(e); return kk.side === k.side && kk.key === k.key && kk.practiceOds === k.practiceOds; });
      expect(view.events.map((e) => e.eventId).sort()).toEqual(expected.map((e) => withEventId(e).eventId).sort());
      expect(await workflowTaskFailures(id), id).toBe(0);
    }
  });

  it('the HTTP API refuses malformed events and bodies with a 4xx naming the field or the body problem; the valid events alongside arrive', async () => {
    const app = await buildApi({ backend: clientBackend(pipeline.client), tokens: [TOKEN], rateLimitPerMinute: 1_000_000 });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    const post = async (body: string | Buffer) => {
      const res = await fetch(`${base}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : undefined };
    };
    try {
      // Whole-body problems.
      const ten = Buffer.alloc(10 * 1024 * 1024, 0x20);
      ten.write('{"type":"registration","x":"', 0);
      const cases: [string, string | Buffer, number, RegExp][] = [
        ['10 MB body', ten, 413, /^body:/],
        ['invalid UTF-8', Buffer.concat([Buffer.from('{"type":"registration","practiceOds":"F91001","registrationId":"R'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), 400, /^body: not valid UTF-8/],
        ['overlong UTF-8', Buffer.concat([Buffer.from('{"type":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), 400, /UTF-8/],
        ['deep JSON array', '['.repeat(100_000) + ']'.repeat(100_000), 400, /^body:/],
        ['deep JSON object', '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000), 400, /^body:/],
        ['not JSON', '{"type": registration}', 400, /^body: not valid JSON/],
        ['truncated JSON', '{"type":"registration",', 400, /^body:/],
        ['a JSON string', '"registration"', 400, /^body:/],
      ];
      for (const [what, body, status, message] of cases) {
        const answer = await post(body);
        expect(answer.status, what).toBe(status);
        expect(answer.body.error.message, what).toMatch(message);
      }
      // Generated malformed events, one per request, each with a valid event in the same batch.
      const valid = VALID.filter((e) => e.practiceOds === PRACTICES[1]!.ods);
      const samples = fc.sample(malformedArb({ keepKey: false }), { numRuns: 400, seed: 8 });
      const acceptedIds: string[] = [];
      for (const [i, { m, bad }] of samples.entries()) {
        const single = await post(JSON.stringify(bad));
        // Nesting past the API's limit is refused for the whole body, before parsing the events.
        const tooDeep = single.status === 400 && single.body.error.code === 'too-deep' && m.kind === 'deep JSON';
        if (tooDeep) expect(single.body.error.message).toMatch(/^body: nested deeper/);
        else {
          expect(single.status, `${m.kind} in ${m.field}: ${JSON.stringify(single.body).slice(0, 300)}`).toBe(422);
          expect(namesField(m.field, single.body.error.message, single.body.error.problems), `${m.kind} in ${m.field}: ${single.body.error.message.slice(0, 300)}`).toBe(true);
        }
        if (i < valid.length && tooDeep) {
          const alone = await post(JSON.stringify(valid[i]));
          expect(alone.status).toBe(200);
          acceptedIds.push(alone.body.eventId);
        } else if (i < valid.length) {
          const batch = await post(JSON.stringify({ events: [bad, valid[i]] }));
          expect(batch.status).toBe(200);
          expect(batch.body.results[0].status).toBe('refused');
          // accepted, or duplicate when the previous test already recorded it
          expect(['accepted', 'duplicate']).toContain(batch.body.results[1].status);
          acceptedIds.push(batch.body.results[1].eventId);
        }
      }
      expect(acceptedIds).toHaveLength(valid.length);
      const byWorkflow = new Map<string, string[]>();
      for (const e of valid) {
        const k = recordKeyOf(e);
        const id = transferWorkflowId(k.side, k.practiceOds, k.key);
        byWorkflow.set(id, [...(byWorkflow.get(id) ?? []), withEventId(e).eventId]);
      }
      for (const [id, eventIds] of byWorkflow) {
        const view = await pipeline.client.temporal.workflow.getHandle(id).query(transferQuery);
        expect(view.events.map((e) => e.eventId).sort()).toEqual([...eventIds].sort());
        expect(await workflowTaskFailures(id), id).toBe(0);
      }
    } finally {
      await app.close();
    }
  });
});
