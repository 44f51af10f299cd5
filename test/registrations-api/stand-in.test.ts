/**
 * The local peer of the GP Registrations MI API (stack/registrations-api-stand-in.ts): it accepts
 * exactly what the published contract allows — POST to one of the nine endpoints under
 * /gp-registrations-mi, the `apikey` header, JSON, a body valid for that endpoint — answers as the
 * API does (200 {eventId}; 400 {status, message, errors}; the platform's 401 fault), and records what
 * it accepted (memory, requests.jsonl, GET/DELETE /_stand-in/requests). Also: the test run's global
 * setup provides one (registrationsApiUrl, registrationsApiKey).
 */
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { API_ENDPOINTS, API_ERROR_RESPONSE, API_OK_RESPONSE, validateApiRequest, type ApiEndpoint } from '../../mi/registrations-api';
import { loadConfig } from '../../config';
import {
  INVALID_API_KEY_FAULT,
  MISSING_API_KEY_FAULT,
  REGISTRATIONS_API_BASE_PATH,
  prepareRegistrationsApiStandIn,
  registrationsApiTarget,
  startRegistrationsApiStandIn,
  type RecordedRequest,
  type RegistrationsApiStandIn,
} from '../../stack/registrations-api-stand-in';
import { freePort } from '../../stack/servers';

const KEY = 'stand-in-test-key-0123456789';

const common = {
  conversationId: '4d1c3a1e-7e0a-4a3b-9a43-0b1c2d3e4f50',
  registrationEventDateTime: '2026-03-02T09:15:00Z',
  reportingSystemSupplier: 'YGM24',
  reportingPracticeOdsCode: 'A12345',
  requestingPracticeOdsCode: 'A12345',
  sendingPracticeOdsCode: 'B23456',
};

/** One valid body per endpoint (each checked against the schemas first, so a mistake here is obvious). */
const VALID: Record<ApiEndpoint, Record<string, unknown>> = {
  '/registrations': {
    ...common,
    payload: {
      registration: { type: 'NEW_GP_REGISTRATION', returningPatient: false, multifactorAuthenticationPresent: true },
      demographicTraceStatus: { matched: true, multifactorAuthenticationPresent: true },
      gpLinks: { gpLinksComplete: true },
    },
  },
  '/transfer-compatibility-statuses': {
    ...common,
    payload: { transferCompatibilityStatus: { internalTransfer: false, transferCompatible: true } },
  },
  '/ehr-requests': { ...common },
  '/ehr-responses': {
    ...common,
    reportingPracticeOdsCode: 'B23456',
    payload: {
      ehr: {
        ehrStructuredSizeBytes: 4096,
        placeholders: [{ generatedBy: 'SENDER', clinicalType: 'AUDIO_DICTATION', reason: 'FILE_DELETED', originalMimeType: 'audio/mpeg' }],
      },
    },
  },
  '/document-responses': {
    ...common,
    payload: {
      attachment: { clinicalType: 'SCANNED_DOCUMENT', mimeType: 'application/pdf', sizeBytes: 3084322 },
      documentMigration: { successful: true },
    },
  },
  '/ready-to-integrate-statuses': { ...common },
  '/ehr-degrades': {
    reportingSystemSupplier: 'YGM24',
    payload: { degrades: [{ type: 'RECORD_ENTRY', reason: 'CODE', coding: [{ code: '1676331000000110', system: 'http://snomed.info/sct' }] }] },
  },
  '/ehr-integrations': { ...common, payload: { integration: { outcome: 'INTEGRATED' } } },
  '/errors': {
    ...common,
    payload: { error: { errorCode: '99', errorDescription: 'unexpected error', failurePoint: 'EHR_RESPONSE' } },
  },
};

/** A copy of `body` with `fn` applied (deep clone first). */
function variant(endpoint: ApiEndpoint, fn: (b: any) => void): Record<string, unknown> {
  const b = structuredClone(VALID[endpoint]);
  fn(b);
  return b;
}

let standIn: RegistrationsApiStandIn;
let dir: string;

async function post(
  endpoint: string,
  body: unknown,
  o: { key?: string | null; contentType?: string | null; method?: string; raw?: string; base?: string } = {},
): Promise<{ status: number; json: any; headers: Headers }> {
  const headers: Record<string, string> = {};
  const key = o.key === undefined ? KEY : o.key;
  if (key !== null) headers.apikey = key;
  const contentType = o.contentType === undefined ? 'application/json' : o.contentType;
  if (contentType !== null) headers['content-type'] = contentType;
  const method = o.method ?? 'POST';
  const res = await fetch(`${o.base ?? standIn.url}${endpoint}`, {
    method,
    headers,
    ...(method === 'GET' || method === 'HEAD' ? {} : { body: o.raw ?? JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: res.status, json, headers: res.headers };
}

async function recorded(query = '', key: string | null = KEY): Promise<{ status: number; json: any }> {
  const res = await fetch(`${standIn.origin}/_stand-in/requests${query}`, { headers: key === null ? {} : { apikey: key } });
  return { status: res.status, json: await res.json() };
}

/** A 400 in the API's BadRequest shape, one of whose lines mentions every fragment given. */
function expectBadRequest(answer: { status: number; json: any }, ...fragments: string[]): void {
  expect(answer.status).toBe(400);
  expect(API_ERROR_RESPONSE.safeParse(answer.json).success).toBe(true);
  expect(answer.json.status).toBe('BAD_REQUEST');
  expect(answer.json.message).toBe('Failed to validate fields');
  const lines: string[] = answer.json.errors;
  expect(lines.some((l) => fragments.every((f) => l.includes(f))), `no line with ${fragments.join(' + ')} in:\n${lines.join('\n')}`).toBe(true);
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp2gp-stand-in-'));
  standIn = await startRegistrationsApiStandIn({ port: 0, apiKey: KEY, dir });
});
afterAll(async () => {
  await standIn?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => standIn.clear());

describe('the Registrations API stand-in', () => {
  it('serves the API under its base path, as the published server URLs have it', () => {
    expect(standIn.url).toBe(`${standIn.origin}${REGISTRATIONS_API_BASE_PATH}`);
    expect(REGISTRATIONS_API_BASE_PATH).toBe('/gp-registrations-mi');
  });

  it.each(API_ENDPOINTS)('accepts a valid %s body, answers 200 {eventId}, and records it', async (endpoint) => {
    expect(validateApiRequest(endpoint, VALID[endpoint])).toEqual({ ok: true });
    const answer = await post(endpoint, VALID[endpoint], { contentType: 'application/json; charset=utf-8' });
    expect(answer.status).toBe(200);
    expect(API_OK_RESPONSE.safeParse(answer.json).success).toBe(true);
    const list = await recorded();
    expect(list.status).toBe(200);
    expect(list.json.count).toBe(1);
    const [r] = list.json.requests as RecordedRequest[];
    expect(r).toMatchObject({ seq: expect.any(Number), endpoint, eventId: answer.json.eventId, body: VALID[endpoint] });
    expect(standIn.requests()).toEqual(list.json.requests);
  });

  it('records every accepted request in requests.jsonl (the key never), filters the list, and clears it', async () => {
    for (const endpoint of API_ENDPOINTS) expect((await post(endpoint, VALID[endpoint])).status).toBe(200);
    expect((await post('/errors', variant('/errors', (b) => delete b.payload))).status).toBe(400);
    const lines = fs.readFileSync(path.join(dir, 'requests.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(API_ENDPOINTS.length);
    expect(lines.map((l) => (JSON.parse(l) as RecordedRequest).endpoint)).toEqual([...API_ENDPOINTS]);
    expect(fs.readFileSync(path.join(dir, 'requests.jsonl'), 'utf8')).not.toContain(KEY);
    const seqs = lines.map((l) => (JSON.parse(l) as RecordedRequest).seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));

    expect((await recorded('?endpoint=/ehr-requests')).json.count).toBe(1);
    expect((await recorded('?endpoint=ehr-degrades')).json.count).toBe(1);
    // Degrades carry no conversation: eight of nine bodies do.
    expect((await recorded(`?conversationId=${common.conversationId}`)).json.count).toBe(8);
    expect((await recorded(`?since=${seqs[6]}`)).json.requests.map((r: RecordedRequest) => r.endpoint)).toEqual(['/ehr-integrations', '/errors']);

    // The list needs the key too; clearing empties memory and file.
    expect((await recorded('', null)).status).toBe(401);
    const cleared = await fetch(`${standIn.origin}/_stand-in/requests`, { method: 'DELETE', headers: { apikey: KEY } });
    expect(await cleared.json()).toEqual({ cleared: API_ENDPOINTS.length });
    expect((await recorded()).json.count).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'requests.jsonl'), 'utf8')).toBe('');
  });

  it('keeps what it accepted across a restart (the JSONL file), numbering on', async () => {
    expect((await post('/ehr-requests', VALID['/ehr-requests'])).status).toBe(200);
    const before = standIn.requests();
    const again = await startRegistrationsApiStandIn({ port: 0, apiKey: KEY, dir });
    try {
      expect(again.requests()).toEqual(before);
      const res = await fetch(`${again.url}/ready-to-integrate-statuses`, {
        method: 'POST',
        headers: { apikey: KEY, 'content-type': 'application/json' },
        body: JSON.stringify(VALID['/ready-to-integrate-statuses']),
      });
      expect(res.status).toBe(200);
      expect(again.requests().at(-1)!.seq).toBe(before.at(-1)!.seq + 1);
    } finally {
      await again.stop();
    }
  });

  it('refuses a missing or wrong apikey with the platform\'s 401, before reading the body, and records nothing', async () => {
    const missing = await post('/registrations', VALID['/registrations'], { key: null });
    expect(missing.status).toBe(401);
    expect(missing.json).toEqual(MISSING_API_KEY_FAULT);
    const wrong = await post('/registrations', VALID['/registrations'], { key: 'not-the-key' });
    expect(wrong.status).toBe(401);
    expect(wrong.json).toEqual(INVALID_API_KEY_FAULT);
    // Authentication comes first: an invalid body with a wrong key is still a 401.
    expect((await post('/registrations', {}, { key: 'not-the-key' })).status).toBe(401);
    expect((await post('/no-such-endpoint', {}, { key: null })).status).toBe(401);
    expect(standIn.requests()).toEqual([]);
  });

  it('refuses paths and methods the API does not have', async () => {
    const unknown = await post('/registration', VALID['/registrations']);
    expect(unknown.status).toBe(404);
    expect(API_ERROR_RESPONSE.safeParse(unknown.json).success).toBe(true);
    expect(unknown.json.errors[0]).toContain('/gp-registrations-mi/registrations');
    // The endpoints exist only under the base path.
    const noBase = await post('/registrations', VALID['/registrations'], { base: standIn.origin });
    expect(noBase.status).toBe(404);
    expect(API_ERROR_RESPONSE.safeParse(noBase.json).success).toBe(true);
    const get = await post('/registrations', undefined, { method: 'GET' });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect((await post('/errors', VALID['/errors'], { method: 'PUT' })).status).toBe(405);
    expect(standIn.requests()).toEqual([]);
  });

  it('refuses a body that is not JSON: another content type (415), none, or broken JSON (400)', async () => {
    const text = await post('/ehr-requests', VALID['/ehr-requests'], { contentType: 'text/plain' });
    expect(text.status).toBe(415);
    expect(text.json).toMatchObject({ status: 'UNSUPPORTED_MEDIA_TYPE', errors: [expect.stringContaining('application/json')] });
    const form = await post('/ehr-requests', VALID['/ehr-requests'], { contentType: 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(415);
    // No content-type at all (fetch would add text/plain: plain node:http sends none).
    const none = await new Promise<{ status: number; json: any }>((resolve, reject) => {
      const payload = JSON.stringify(VALID['/ehr-requests']);
      const req = http.request(`${standIn.url}/ehr-requests`, { method: 'POST', headers: { apikey: KEY, 'content-length': Buffer.byteLength(payload) } }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode!, json: JSON.parse(text) }));
      });
      req.on('error', reject);
      req.end(payload);
    });
    expect(none.status).toBe(415);
    expect(none.json.errors[0]).toContain('missing');
    const latin1 = await post('/ehr-requests', VALID['/ehr-requests'], { contentType: 'application/json; charset=iso-8859-1' });
    expect(latin1.status).toBe(415);
    const broken = await post('/ehr-requests', undefined, { raw: '{"conversationId": ' });
    expect(broken.status).toBe(400);
    expect(broken.json).toMatchObject({ status: 'BAD_REQUEST', errors: [expect.stringContaining('not valid JSON')] });
    const empty = await post('/ehr-requests', undefined, { raw: '' });
    expect(empty.status).toBe(400);
    expect(API_ERROR_RESPONSE.safeParse(empty.json).success).toBe(true);
    const array = await post('/ehr-requests', [VALID['/ehr-requests']]);
    expect(array.status).toBe(400);
    expect(standIn.requests()).toEqual([]);
  });

  it('refuses invalid bodies with the API\'s BadRequest, naming every problem', async () => {
    // A missing common field.
    expectBadRequest(await post('/ehr-requests', variant('/ehr-requests', (b) => delete b.reportingPracticeOdsCode)), 'reportingPracticeOdsCode', 'missing');
    // sendingPracticeOdsCode: required on the transfer endpoints, optional on /registrations and /errors.
    expectBadRequest(await post('/ehr-integrations', variant('/ehr-integrations', (b) => delete b.sendingPracticeOdsCode)), 'sendingPracticeOdsCode');
    expect((await post('/registrations', variant('/registrations', (b) => delete b.sendingPracticeOdsCode))).status).toBe(200);
    expect((await post('/errors', variant('/errors', (b) => delete b.sendingPracticeOdsCode))).status).toBe(200);
    // Types and formats.
    expectBadRequest(await post('/registrations', variant('/registrations', (b) => (b.registrationEventDateTime = '02/03/2026 09:15'))), 'registrationEventDateTime', '02/03/2026');
    expectBadRequest(await post('/document-responses', variant('/document-responses', (b) => (b.payload.attachment.sizeBytes = '3 MB'))), 'payload.attachment.sizeBytes');
    // Enums: each names the value and what is allowed.
    expectBadRequest(await post('/registrations', variant('/registrations', (b) => (b.payload.registration.type = 'TEMPORARY'))), 'payload.registration.type', 'TEMPORARY', 'NEW_GP_REGISTRATION');
    expectBadRequest(await post('/ehr-integrations', variant('/ehr-integrations', (b) => (b.payload.integration.outcome = 'MERGED'))), 'payload.integration.outcome', 'MERGED', 'INTEGRATED');
    expectBadRequest(await post('/errors', variant('/errors', (b) => (b.payload.error.failurePoint = 'SOMEWHERE'))), 'payload.error.failurePoint', 'EHR_INTEGRATION');
    expectBadRequest(await post('/ehr-degrades', variant('/ehr-degrades', (b) => (b.payload.degrades[0].reason = 'UNKNOWN'))), 'payload.degrades[0].reason', 'NUMERIC_VALUE');
    expectBadRequest(await post('/document-responses', variant('/document-responses', (b) => (b.payload.attachment.clinicalType = 'PHOTO'))), 'payload.attachment.clinicalType', 'SCANNED_DOCUMENT');
    expectBadRequest(await post('/ehr-responses', variant('/ehr-responses', (b) => (b.payload.ehr.placeholders[0].generatedBy = 'ME'))), 'payload.ehr.placeholders[0].generatedBy', 'PRE_EXISTING');
    // errorCode: letters, digits, underscores, at most 50.
    expectBadRequest(await post('/errors', variant('/errors', (b) => (b.payload.error.errorCode = 'E-99'))), 'payload.error.errorCode', 'E-99');
    expectBadRequest(await post('/errors', variant('/errors', (b) => (b.payload.error.errorCode = 'X'.repeat(51)))), 'payload.error.errorCode');
    // Every problem at once.
    const many = await post('/ehr-requests', {});
    expect(many.status).toBe(400);
    expect(many.json.errors.length).toBeGreaterThanOrEqual(6);
    // Unknown fields, by name.
    expectBadRequest(await post('/ehr-requests', variant('/ehr-requests', (b) => (b.nhsNumber = '9449305889'))), 'nhsNumber');
    expect(standIn.requests().map((r) => r.endpoint)).toEqual(['/registrations', '/errors']);
  });

  it('enforces each conditional rule the descriptions state', async () => {
    // A reason when the demographic trace did not match…
    const unmatched = variant('/registrations', (b) => (b.payload.demographicTraceStatus.matched = false));
    expectBadRequest(await post('/registrations', unmatched), 'payload.demographicTraceStatus.reason', 'matched is false');
    unmatched.payload = { ...(unmatched.payload as object), demographicTraceStatus: { matched: false, reason: 'no PDS trace results returned', multifactorAuthenticationPresent: true } };
    expect((await post('/registrations', unmatched)).status).toBe(200);
    // …when the registration will not start an electronic transfer…
    const incompatible = variant('/transfer-compatibility-statuses', (b) => (b.payload.transferCompatibilityStatus.transferCompatible = false));
    expectBadRequest(await post('/transfer-compatibility-statuses', incompatible), 'payload.transferCompatibilityStatus.reason', 'transferCompatible is false');
    (incompatible.payload as any).transferCompatibilityStatus.reason = 'Previous practice not eligible for transfer';
    expect((await post('/transfer-compatibility-statuses', incompatible)).status).toBe(200);
    // …and when a document failed to migrate.
    const failedDoc = variant('/document-responses', (b) => (b.payload.documentMigration.successful = false));
    expectBadRequest(await post('/document-responses', failedDoc), 'payload.documentMigration.reason', 'successful is false');
    (failedDoc.payload as any).documentMigration.reason = 'Large file size';
    expect((await post('/document-responses', failedDoc)).status).toBe(200);
    // otherFailurePoint only with failurePoint OTHER.
    const notOther = variant('/errors', (b) => (b.payload.error.otherFailurePoint = 'the inbox'));
    expectBadRequest(await post('/errors', notOther), 'payload.error.otherFailurePoint', 'OTHER');
    (notOther.payload as any).error.failurePoint = 'OTHER';
    expect((await post('/errors', notOther)).status).toBe(200);
    // Degrades: nothing that relates them to a transfer.
    expectBadRequest(await post('/ehr-degrades', { ...VALID['/ehr-degrades'], conversationId: common.conversationId }), 'conversationId');
    expectBadRequest(await post('/ehr-degrades', { ...VALID['/ehr-degrades'], reportingPracticeOdsCode: 'A12345' }), 'reportingPracticeOdsCode');
    expect(standIn.requests()).toHaveLength(4);
  });
});

describe('the test run\'s stand-in (global setup)', () => {
  it('is provided to the tests, with its key, and accepts and lists requests', async () => {
    const url = inject('registrationsApiUrl');
    const key = inject('registrationsApiKey');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/gp-registrations-mi$/);
    const body = { ...VALID['/ehr-requests'], conversationId: `global-setup-${process.pid}-${Date.now()}` };
    const res = await fetch(`${url}/ehr-requests`, { method: 'POST', headers: { apikey: key, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
    expect((await fetch(`${url}/ehr-requests`, { method: 'POST', headers: { apikey: `${key}x`, 'content-type': 'application/json' }, body: JSON.stringify(body) })).status).toBe(401);
    const origin = new URL(url).origin;
    const list = await fetch(`${origin}/_stand-in/requests?conversationId=${encodeURIComponent(body.conversationId)}`, { headers: { apikey: key } });
    const json = (await list.json()) as { count: number; requests: RecordedRequest[] };
    expect(json.count).toBe(1);
    expect(json.requests[0]!.body).toEqual(body);
  });
});

describe('the stand-in as part of npm start', () => {
  const configFor = (env: Record<string, string>) => loadConfig({ GP2GP_DATA_DIR: path.join(dir, `data-${Math.random().toString(36).slice(2)}`), ...env });

  it('is not started when GP2GP_REGISTRATIONS_API_URL names another server', async () => {
    const config = configFor({ GP2GP_REGISTRATIONS_API_URL: 'https://int.api.service.nhs.uk/gp-registrations-mi/', GP2GP_REGISTRATIONS_API_KEY: 'k' });
    expect(config.registrationsApi.url).toBe('https://int.api.service.nhs.uk/gp-registrations-mi');
    expect(await prepareRegistrationsApiStandIn(config)).toBeUndefined();
    expect(registrationsApiTarget(config)).toEqual({ url: 'https://int.api.service.nhs.uk/gp-registrations-mi', apiKey: 'k', standIn: undefined });
    expect(() => configFor({ GP2GP_REGISTRATIONS_API_URL: 'int.api.service.nhs.uk' })).toThrow(/GP2GP_REGISTRATIONS_API_URL: an http\(s\) URL/);
  });

  it('generates its key once into <data>/registrations-api-key (0600), never saying it, and checks its port first', async () => {
    const port = await freePort();
    const config = configFor({ GP2GP_REGISTRATIONS_API_PORT: String(port) });
    const prepared = (await prepareRegistrationsApiStandIn(config))!;
    const keyFile = path.join(config.dataDir, 'registrations-api-key');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(prepared.apiKey).toBe(fs.readFileSync(keyFile, 'utf8').trim());
    expect(prepared.keyNote).toBe(`key in ${keyFile}`);
    expect(prepared.keyNote).not.toContain(prepared.apiKey);
    expect((await prepareRegistrationsApiStandIn(config))!.apiKey).toBe(prepared.apiKey);
    expect(registrationsApiTarget(config)).toEqual({
      url: `http://127.0.0.1:${port}/gp-registrations-mi`,
      apiKey: prepared.apiKey,
      standIn: { origin: `http://127.0.0.1:${port}`, requestsUrl: `http://127.0.0.1:${port}/_stand-in/requests` },
    });
    const running = await prepared.start(path.join(config.dataDir, 'logs'));
    try {
      expect(running.url).toBe(`http://127.0.0.1:${port}/gp-registrations-mi`);
      await expect(prepareRegistrationsApiStandIn(config)).rejects.toThrow(`Registrations API stand-in: port 127.0.0.1:${port} is already in use`);
      const res = await fetch(`${running.url}/errors`, { method: 'POST', headers: { apikey: prepared.apiKey, 'content-type': 'application/json' }, body: JSON.stringify(VALID['/errors']) });
      expect(res.status).toBe(200);
    } finally {
      await running.stop();
    }
    const log = fs.readFileSync(path.join(config.dataDir, 'logs', 'registrations-api.log'), 'utf8');
    expect(log).toMatch(/POST \/gp-registrations-mi\/errors → 200 \/errors conversation /);
    expect(log).not.toContain(prepared.apiKey);
    expect(fs.readFileSync(path.join(config.dataDir, 'registrations-api', 'requests.jsonl'), 'utf8').trim().split('\n')).toHaveLength(1);
    // A key from the environment is used as is, and no file is written.
    const given = configFor({ GP2GP_REGISTRATIONS_API_PORT: String(port), GP2GP_REGISTRATIONS_API_KEY: 'from-the-environment' });
    const fromEnv = (await prepareRegistrationsApiStandIn(given))!;
    expect(fromEnv.apiKey).toBe('from-the-environment');
    expect(fromEnv.keyNote).toBe('key from GP2GP_REGISTRATIONS_API_KEY');
    expect(fs.existsSync(path.join(given.dataDir, 'registrations-api-key'))).toBe(false);
  });
});
