/**
 * The HTTP hooks API over real HTTP, in front of a real pipeline (the run's Temporal dev server and
 * MESH sandbox): every malformed-input class gets its own 4xx with a message naming the field, a
 * batch records its good events whatever the bad ones, tokens are checked and never logged, the
 * limits answer 413 / 429, and an unreachable Temporal is a retryable 503 — never a 5xx for bad input.
 */
import { syntheticPractice } from '../../demo/traffic';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { buildApi, clientBackend, lazyClient, startApi, type ApiBackend, type RunningApi } from '../../api/main';
import { firstInvalidUtf8, nestedDeeperThan } from '../../api/app';
import { contractFields, FIELD_TYPES } from '../../api/openapi';
import { loadConfig } from '../../config';
import { loadApiConfig } from '../../config/api';
import { EVENT_TYPES } from '../../mi/events';
import { ensureDevToken } from '../../stack/api';
import { freePort } from '../../stack/servers';
import { transferWorkflowId } from '../../workflows/ids';
import { transferQuery } from '../../messages/transfer';
import { startPipeline, type TestPipeline } from '../support/pipeline';

const PRACTICE = syntheticPractice('P05001', '200000000501');
const TOKEN = `test-token-${randomUUID()}`;
const OTHER_TOKEN = `other-token-${randomUUID()}`;
const YESTERDAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

function registration(registrationId = `REG-${randomUUID().slice(0, 8)}`, overrides: Record<string, unknown> = {}) {
  return {
    type: 'registration',
    practiceOds: PRACTICE.ods,
    registrationId,
    occurredAt: `${YESTERDAY}T10:00:00Z`,
    registrationType: 'new',
    registeringUser: 'L12345',
    ...overrides,
  };
}

interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

async function post(base: string, body: string | Buffer | undefined, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${base}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}
const postJson = (base: string, value: unknown, headers: Record<string, string> = {}) => post(base, JSON.stringify(value), headers);

async function listen(app: Awaited<ReturnType<typeof buildApi>>): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

// One pipeline (worker + client) for the whole file; each API under test is built in front of it.
let pipeline: TestPipeline;
beforeAll(async () => {
  pipeline = await startPipeline({ supplierMailbox: 'X26SUP005', authorityMailbox: 'X26NHS005', practices: [PRACTICE] });
});
afterAll(async () => {
  await pipeline?.stop();
});

describe('the HTTP hooks API', () => {
  let api: RunningApi;
  let url: string;

  beforeAll(async () => {
    // startApi as `npm start` runs it (lazy Temporal connection), on a free port.
    api = await startApi(pipeline.config, loadApiConfig({ GP2GP_API_TOKENS: `${TOKEN},${OTHER_TOKEN}`, GP2GP_API_PORT: '0' }), { logger: false });
    url = api.url;
  });
  afterAll(async () => {
    await api?.close();
  });

  const recordedEvents = async (registrationId: string) =>
    (await pipeline.client.temporal.workflow.getHandle(transferWorkflowId('RR', PRACTICE.ods, registrationId)).query(transferQuery)).events;

  it('records one event: 200 accepted with its eventId and workflow; sent again, 200 duplicate, recorded once', async () => {
    const event = registration();
    const first = await postJson(url, event);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ status: 'accepted', workflowId: transferWorkflowId('RR', PRACTICE.ods, event.registrationId) });
    expect(first.body.eventId).toMatch(/^sha256-/);
    const again = await postJson(url, event);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ ...first.body, status: 'duplicate' });
    expect(await recordedEvents(event.registrationId)).toHaveLength(1);

    // The same stage delivered again without an eventId, its time in another zone, is the same event.
    const sameInstant = { ...event, occurredAt: `${YESTERDAY}T11:00:00+01:00` };
    const third = await postJson(url, sameInstant);
    expect(third.body).toEqual({ ...first.body, status: 'duplicate' });
    expect(await recordedEvents(event.registrationId)).toHaveLength(1);
  });

  it('records a batch in either shape, accepting the good events and refusing the bad ones by field', async () => {
    const good1 = registration();
    const good2 = registration();
    const badField = registration(undefined, { practiceOds: 'p05001' });
    const missing = { type: 'registration', practiceOds: PRACTICE.ods, occurredAt: `${YESTERDAY}T10:00:00Z` };
    const notObject = 42;
    const unknownType = { ...registration(), type: 'registered' };
    const otherPractice = registration(undefined, { practiceOds: 'Z99999' });
    const future = registration(undefined, { occurredAt: new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z') });
    const misspelt = { ...registration(), registeringUsr: 'L1' };

    const res = await postJson(url, [good1, badField, missing, notObject, good2, unknownType, otherPractice, future, misspelt]);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, refused: 7, duplicate: 0, unavailable: 0 });
    const r = res.body.results;
    expect(r.map((x: { index: number }) => x.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(r[0]).toMatchObject({ status: 'accepted' });
    expect(r[4]).toMatchObject({ status: 'accepted' });
    const fieldsOf = (i: number) => r[i].error.problems.map((p: { field: string }) => p.field);
    expect(r[1].status).toBe('refused');
    expect(fieldsOf(1)).toEqual(['practiceOds']);
    expect(r[1].error.message).toMatch(/^practiceOds: "p05001"/);
    expect(fieldsOf(2)).toEqual(expect.arrayContaining(['registrationId', 'registrationType', 'registeringUser']));
    expect(r[2].error.message).toContain('registrationId: missing');
    expect(fieldsOf(3)).toEqual(['event']);
    expect(fieldsOf(5)).toEqual(['type']);
    expect(r[5].error.message).toContain('registered');
    expect(fieldsOf(6)).toEqual(['practiceOds']);
    expect(r[6].error.message).toContain('not a practice configured');
    expect(fieldsOf(7)).toEqual(['occurredAt']);
    expect(r[7].error.message).toContain('future');
    expect(fieldsOf(8)).toEqual(['registeringUsr']);
    // The good ones are really recorded.
    expect(await recordedEvents(good1.registrationId)).toHaveLength(1);
    expect(await recordedEvents(good2.registrationId)).toHaveLength(1);

    const envelope = await postJson(url, { events: [registration(), { type: 'nope' }] });
    expect(envelope.status).toBe(200);
    expect(envelope.body).toMatchObject({ accepted: 1, refused: 1 });
  });

  it('accepts every NACK code 01–99: one outside 0083.08 answers 200 with a warning, also kept in the transfer\'s details', async () => {
    const conversationId = randomUUID().toUpperCase();
    const sender = { practiceOds: PRACTICE.ods, conversationId };
    const received = { type: 'request-received', ...sender, requestMessageId: randomUUID(), requestingOds: 'B23456', occurredAt: `${YESTERDAY}T09:00:00Z` };
    const nack = { type: 'request-acknowledged', ...sender, ackCode: '50', occurredAt: `${YESTERDAY}T09:01:00Z` };
    const warning = { field: 'ackCode', value: '50', message: 'ackCode: "50" is not a NACK code of 0083.08; accepted and reported as it is (0171.02 allows 01 to 99)' };
    expect((await postJson(url, received)).body).not.toHaveProperty('warnings');
    const answer = await postJson(url, nack);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ status: 'accepted', warnings: [warning] });
    // In a batch too, and again when sent twice.
    const batch = await postJson(url, [nack]);
    expect(batch.body.results[0]).toMatchObject({ status: 'duplicate', warnings: [warning] });

    const view = await pipeline.client.temporal.workflow.getHandle(transferWorkflowId('SR', PRACTICE.ods, conversationId)).query(transferQuery);
    expect(view.warnings).toEqual([{ eventId: answer.body.eventId, ...warning }]);
    expect(view.outcome).toBe('rejected');
    expect(view.rows[0]!.fields[8]).toBe('50'); // SR9, as sent
    // The published description says so.
    const doc = (await (await fetch(`${url}/v1/openapi.json`)).json()) as any;
    expect(doc.components.schemas.EventResult.properties.warnings.items).toEqual({ $ref: '#/components/schemas/FieldWarning' });
    expect(doc.components.schemas['Event_request-acknowledged'].properties.ackCode.description).toMatch(/two-digit NACK code from 01 to 99/);
  });

  it('refuses one bad event with 422 and the problems, field by field', async () => {
    const res = await postJson(url, registration(undefined, { registrationType: 'transferred', retries: 3 }));
    expect(res.status).toBe(422);
    expect(res.body.status).toBe('refused');
    expect(res.body.error.problems.map((p: { field: string }) => p.field).sort()).toEqual(['registrationType', 'retries']);
    expect(res.body.error.message).toContain('registrationType: "transferred" is not allowed; allowed: one of undetermined, new, returning, internal');
  });

  it('answers each malformed body with its own 4xx and a message naming the field', async () => {
    const cases: { what: string; send: () => Promise<Answer>; status: number; code: string; field: string; says: RegExp }[] = [
      { what: 'invalid JSON', send: () => post(url, '{"type": "registration",'), status: 400, code: 'invalid-json', field: 'body', says: /^body: not valid JSON/ },
      { what: 'invalid UTF-8', send: () => post(url, Buffer.from([0x7b, 0x22, 0x61, 0xc3, 0x28, 0x22, 0x3a, 0x31, 0x7d])), status: 400, code: 'invalid-utf8', field: 'body', says: /^body: not valid UTF-8 \(from byte 3\)/ },
      { what: 'empty body', send: () => post(url, ''), status: 400, code: 'empty-body', field: 'body', says: /^body: empty/ },
      {
        what: 'no body, no content type',
        send: async () => {
          const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
          return { status: res.status, headers: res.headers, body: await res.json() };
        },
        status: 400,
        code: 'empty-body',
        field: 'body',
        says: /^body: empty/,
      },
      { what: 'a JSON string', send: () => post(url, '"registration"'), status: 400, code: 'invalid-body', field: 'body', says: /^body: a string is not allowed/ },
      { what: 'a JSON number', send: () => post(url, '12'), status: 400, code: 'invalid-body', field: 'body', says: /^body: a number/ },
      { what: 'JSON null', send: () => post(url, 'null'), status: 400, code: 'invalid-body', field: 'body', says: /^body: null/ },
      { what: 'an empty array', send: () => post(url, '[]'), status: 400, code: 'invalid-body', field: 'body', says: /^body: an empty batch/ },
      { what: 'events not an array', send: () => postJson(url, { events: { type: 'registration' } }), status: 400, code: 'invalid-body', field: 'events', says: /^events: must be a JSON array/ },
      { what: 'an empty envelope', send: () => postJson(url, { events: [] }), status: 400, code: 'invalid-body', field: 'events', says: /^events: an empty batch/ },
      { what: 'an unknown envelope field', send: () => postJson(url, { events: [registration()], source: 'x' }), status: 400, code: 'invalid-body', field: 'source', says: /^source: unknown field of the batch envelope/ },
      // Deep nesting would make parsing and validation recurse off the stack: a 5xx for bad input.
      { what: 'deep nesting', send: () => post(url, `{"type":"registration","practiceOds":${'['.repeat(100_000)}${']'.repeat(100_000)}}`), status: 400, code: 'too-deep', field: 'body', says: /^body: nested deeper than 16 levels/ },
      { what: 'prototype poisoning', send: () => post(url, '{"__proto__": {"admin": true}, "type": "registration"}'), status: 400, code: 'forbidden-key', field: 'body', says: /__proto__/ },
      { what: 'not JSON content', send: () => post(url, 'type=registration', { 'content-type': 'application/x-www-form-urlencoded' }), status: 415, code: 'unsupported-media-type', field: 'content-type', says: /^content-type:/ },
      { what: 'a charset other than UTF-8', send: () => post(url, '{}', { 'content-type': 'application/json; charset=iso-8859-1' }), status: 415, code: 'unsupported-charset', field: 'content-type', says: /^content-type: charset iso-8859-1/ },
    ];
    for (const c of cases) {
      const res = await c.send();
      expect({ what: c.what, status: res.status }).toEqual({ what: c.what, status: c.status });
      expect(res.body.error, c.what).toMatchObject({ code: c.code, field: c.field });
      expect(res.body.error.message, c.what).toMatch(c.says);
    }
    // charset=utf-8 is fine, in any spelling.
    const ok = await postJson(url, registration(), { 'content-type': 'application/json; charset=UTF-8' });
    expect(ok.status).toBe(200);
  });

  it('answers 401 without a valid bearer token, and 404 off the API', async () => {
    const none = await fetch(`${url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(registration()) });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await none.json()) as any).error).toMatchObject({ code: 'unauthorized', field: 'authorization' });
    for (const header of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, `Basic ${Buffer.from(`u:${TOKEN}`).toString('base64')}`, TOKEN]) {
      const res = await post(url, JSON.stringify(registration()), { authorization: header });
      expect(res.status).toBe(401);
    }
    // The second configured token works too.
    expect((await postJson(url, registration(), { authorization: `Bearer ${OTHER_TOKEN}` })).status).toBe(200);
    const missing = await fetch(`${url}/v1/nothing`);
    expect(missing.status).toBe(404);
  });

  it('answers /healthz, /readyz and the OpenAPI description', async () => {
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect((await ready.json()) as any).toMatchObject({ temporal: 'reachable' });
    const doc = (await (await fetch(`${url}/v1/openapi.json`)).json()) as any;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/events', '/healthz', '/readyz']));
    expect(Object.keys(doc.paths['/v1/events'].post.responses)).toEqual(expect.arrayContaining(['200', '400', '401', '413', '422', '429', '503']));
    for (const type of EVENT_TYPES) {
      const schema = doc.components.schemas[`Event_${type}`];
      expect(schema.properties.type.const).toBe(type);
      expect(schema.required).toEqual(expect.arrayContaining(['type', 'practiceOds', 'occurredAt']));
    }
    expect(doc.components.schemas.Event_registration.required).toEqual(['type', 'practiceOds', 'occurredAt', 'registrationId', 'registrationType', 'registeringUser']);
  });
});

describe('the OpenAPI description of the events', () => {
  it('gives every field of every event type a JSON type and what the contract allows', () => {
    for (const type of EVENT_TYPES) {
      const fields = contractFields(type);
      expect(fields.length).toBeGreaterThan(2);
      for (const f of fields) {
        expect(FIELD_TYPES[f.name], `${type}.${f.name} has no JSON type in api/openapi.ts`).toBeDefined();
        expect(f.allowed, `${type}.${f.name}`).not.toBe('');
      }
    }
  });
});

describe('limits and failures of the HTTP API', () => {

  it('answers 413 past the body limit and past the batch size, before recording anything', async () => {
    const app = await buildApi({ backend: clientBackend(pipeline.client), tokens: [TOKEN], bodyLimitBytes: 2_000, maxBatchEvents: 3 });
    const base = await listen(app);
    try {
      const big = Array.from({ length: 20 }, () => registration());
      const tooBig = await postJson(base, big);
      expect(tooBig.status).toBe(413);
      expect(tooBig.body.error).toMatchObject({ code: 'body-too-large', field: 'body' });
      expect(tooBig.body.error.message).toContain('2000 bytes');
      const four = [registration(), registration(), registration(), registration()];
      const tooMany = await postJson(base, four);
      expect(tooMany.status).toBe(413);
      expect(tooMany.body.error).toMatchObject({ code: 'batch-too-large', field: 'body' });
      expect(tooMany.body.error.message).toContain('at most 3');
      for (const e of four) {
        const id = transferWorkflowId('RR', PRACTICE.ods, e.registrationId);
        await expect(pipeline.client.temporal.workflow.getHandle(id).describe()).rejects.toThrow(/not found/i);
      }
    } finally {
      await app.close();
    }
  });

  it('answers 429 past the rate limit of a token, each token with its own budget', async () => {
    const app = await buildApi({ backend: clientBackend(pipeline.client), tokens: [TOKEN, OTHER_TOKEN], rateLimitPerMinute: 2 });
    const base = await listen(app);
    try {
      expect((await postJson(base, registration())).status).toBe(200);
      expect((await postJson(base, registration())).status).toBe(200);
      const limited = await postJson(base, registration());
      expect(limited.status).toBe(429);
      expect(limited.body.error.code).toBe('rate-limited');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect((await postJson(base, registration(), { authorization: `Bearer ${OTHER_TOKEN}` })).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('answers 429 when too many events are in flight, and takes them again once they are done', async () => {
    // Holds the first request's events inside the backend until released: "in flight" without timing.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const real = clientBackend(pipeline.client);
    const held: ApiBackend = {
      checkReady: real.checkReady,
      recordEvent: async (input, deadline) => {
        entered();
        await gate;
        return await real.recordEvent(input, deadline);
      },
    };
    const app = await buildApi({ backend: held, tokens: [TOKEN], maxInFlightEvents: 2, maxBatchEvents: 2 });
    const base = await listen(app);
    try {
      const first = postJson(base, [registration(), registration()]);
      await inside;
      const refused = await postJson(base, registration());
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('overloaded');
      expect(refused.headers.get('retry-after')).toBe('1');
      release();
      expect((await first).body).toMatchObject({ accepted: 2 });
      expect((await postJson(base, registration())).status).toBe(200);
    } finally {
      release();
      await app.close();
    }
  });

  it('answers 503 (retry) when Temporal is unreachable, while /healthz stays up', async () => {
    const closedPort = await freePort();
    const config = loadConfig({ ...process.env, TEMPORAL_ADDRESS: `127.0.0.1:${closedPort}`, GP2GP_PRACTICES: pipeline.practicesFile });
    const client = lazyClient(config);
    const app = await buildApi({ backend: clientBackend(client), tokens: [TOKEN], temporalTimeoutMs: 1_500 });
    const base = await listen(app);
    try {
      const one = await postJson(base, registration());
      expect(one.status).toBe(503);
      expect(one.body.status).toBe('unavailable');
      expect(one.headers.get('retry-after')).toBeTruthy();
      const batch = await postJson(base, [registration(), { type: 'nope' }]);
      expect(batch.status).toBe(503);
      // Bad input is still refused as such, not blamed on the outage.
      expect(batch.body.results[1].status).toBe('refused');
      expect((await postJson(base, { type: 'nope' })).status).toBe(422);
      expect((await post(base, '{')).status).toBe(400);
      expect((await fetch(`${base}/readyz`)).status).toBe(503);
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
    } finally {
      await app.close();
      await client.close();
    }
  });

  it('never writes a token into its logs', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ level: 'debug' }, sink);
    const app = await buildApi({ backend: clientBackend(pipeline.client), tokens: [TOKEN], logger });
    const base = await listen(app);
    try {
      await postJson(base, registration());
      await postJson(base, registration(), { authorization: `Bearer ${OTHER_TOKEN}` });
      await post(base, '{', {});
    } finally {
      await app.close();
    }
    const log = lines.join('');
    expect(log).toContain('events recorded');
    expect(log).not.toContain(TOKEN);
    expect(log).not.toContain(OTHER_TOKEN);
  });
});

describe('API configuration', () => {
  it('reads tokens from the variable and the file, and never shows one in an error', () => {
    const file = path.join(inject('workDir'), `tokens-${randomUUID()}`);
    fs.writeFileSync(file, `# dev\n${OTHER_TOKEN}\n\n`);
    const config = loadApiConfig({ GP2GP_API_TOKENS: ` ${TOKEN} , `, GP2GP_API_TOKEN_FILE: file });
    expect(config.tokens).toEqual([TOKEN, OTHER_TOKEN]);
    expect(config.bodyLimitBytes).toBe(1_048_576);
    expect(() => loadApiConfig({ GP2GP_API_TOKENS: `${TOKEN},short-secret` })).toThrow(/token #2 .* shorter than 16/);
    try {
      loadApiConfig({ GP2GP_API_TOKENS: 'short-secret' });
    } catch (err) {
      expect((err as Error).message).not.toContain('short-secret');
    }
    expect(() => loadApiConfig({ GP2GP_API_BODY_LIMIT_BYTES: 'lots' })).toThrow(/GP2GP_API_BODY_LIMIT_BYTES/);
    expect(() => loadApiConfig({ GP2GP_API_MAX_BATCH_EVENTS: '10', GP2GP_API_MAX_IN_FLIGHT_EVENTS: '5' })).toThrow(/MAX_BATCH_EVENTS/);
  });
});


describe('the dev token of `npm start`', () => {
  it('is generated once into <data dir>/api-token, readable by its owner only, and accepted as a token file', () => {
    const dir = path.join(inject('workDir'), `data-${randomUUID()}`);
    const file = ensureDevToken(dir);
    expect(file).toBe(path.join(dir, 'api-token'));
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const token = fs.readFileSync(file, 'utf8').trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);
    expect(ensureDevToken(dir)).toBe(file);
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(token);
    expect(loadApiConfig({ GP2GP_API_TOKEN_FILE: file }).tokens).toEqual([token]);
  });
});

describe('the nesting check', () => {
  it('counts arrays and objects, not brackets inside strings', () => {
    expect(nestedDeeperThan('{"events":[{"type":"ehr-sent","placeholders":{"deleted":0}}]}', 3)).toBe(true);
    expect(nestedDeeperThan('{"events":[{"type":"ehr-sent","placeholders":{"deleted":0}}]}', 4)).toBe(false);
    expect(nestedDeeperThan('{"errorDescription":"[[[[{{{{ \\" [[[["}', 1)).toBe(false);
    expect(nestedDeeperThan('[[[]]]', 2)).toBe(true);
  });
});

describe('finding invalid UTF-8', () => {
  it('points at the first byte of the first invalid sequence, and accepts valid text', () => {
    const bytes = (...b: number[]) => Uint8Array.from(b);
    expect(firstInvalidUtf8(Buffer.from('plain ascii, £ sign, 漢字, 😀', 'utf8'))).toBe(-1);
    expect(firstInvalidUtf8(bytes(0x61, 0xff))).toBe(1);
    expect(firstInvalidUtf8(bytes(0x61, 0xc3, 0x28))).toBe(1); // lead byte without its continuation
    expect(firstInvalidUtf8(bytes(0xc0, 0xaf))).toBe(0); // overlong "/"
    expect(firstInvalidUtf8(bytes(0xed, 0xa0, 0x80))).toBe(0); // a UTF-16 surrogate
    expect(firstInvalidUtf8(bytes(0xf4, 0x90, 0x80, 0x80))).toBe(0); // past U+10FFFF
    expect(firstInvalidUtf8(bytes(0x61, 0x62, 0xe2, 0x82))).toBe(2); // truncated at the end
  });
});
