/**
 * The GP Registrations MI API client against a tiny local server: what it sends (path, apikey header,
 * JSON body) and how it reads each answer — 2xx ok; 429, 5xx, resets and timeouts retryable (and
 * whether the API may have acted); other 4xx permanent with the API's message; never the key or body.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiMessage, RegistrationsApiClient, RegistrationsApiError } from '../../registrations-api/client';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void;

let server: http.Server;
let baseUrl: string;
let behaviour: Behaviour = (_req, res) => res.end();
const seen: Seen[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      behaviour(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/gp-registrations-mi`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const KEY = 'secret-api-key-123';
const event = { endpoint: '/registrations' as const, body: { conversationId: 'C1', reportingPracticeOdsCode: 'A12345' } };

function json(res: http.ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(value));
}

async function failure(client: RegistrationsApiClient): Promise<RegistrationsApiError> {
  try {
    await client.post(event);
  } catch (err) {
    expect(err).toBeInstanceOf(RegistrationsApiError);
    return err as RegistrationsApiError;
  }
  throw new Error('the post did not fail');
}

describe('RegistrationsApiClient', () => {
  it('posts the body as JSON to the base URL + endpoint with the apikey header; 2xx is ok', async () => {
    behaviour = (_req, res) => json(res, 200, { eventId: 'E-1' });
    const client = new RegistrationsApiClient({ baseUrl, apiKey: KEY });
    seen.length = 0;
    await expect(client.post(event)).resolves.toEqual({ status: 200, eventId: 'E-1' });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.method).toBe('POST');
    expect(seen[0]!.url).toBe('/gp-registrations-mi/registrations');
    expect(seen[0]!.headers.apikey).toBe(KEY);
    expect(seen[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen[0]!.body)).toEqual(event.body);
    await client.close();
  });

  it('a 400 is permanent and carries the API message and errors, never the key or the body', async () => {
    behaviour = (_req, res) =>
      json(res, 400, { status: 'BAD_REQUEST', message: 'Failed to validate fields', errors: ['reportingPracticeOdsCode: must not be empty'] });
    const client = new RegistrationsApiClient({ baseUrl, apiKey: KEY });
    const err = await failure(client);
    expect(err.retryable).toBe(false);
    expect(err.answerLost).toBe(false);
    expect(err.details.status).toBe(400);
    expect(err.message).toBe('POST /registrations: the API answered 400: Failed to validate fields: reportingPracticeOdsCode: must not be empty');
    expect(err.message).not.toContain(KEY);
    expect(err.message).not.toContain('A12345');
    await client.close();
  });

  it('401/403 (a bad key) are permanent, with the platform fault text', async () => {
    behaviour = (_req, res) => json(res, 401, { fault: { faultstring: 'Invalid ApiKey', detail: { errorcode: 'oauth.v2.InvalidApiKey' } } });
    const client = new RegistrationsApiClient({ baseUrl, apiKey: KEY });
    const err = await failure(client);
    expect(err).toMatchObject({ retryable: false, details: { status: 401, code: '401' } });
    expect(err.message).toBe('POST /registrations: the API answered 401: Invalid ApiKey');
    await client.close();
  });

  it.each([429, 500, 502, 503, 504])('%i is retryable and the API did not act', async (status) => {
    behaviour = (_req, res) => json(res, status, { status: 'INTERNAL_SERVER_ERROR', message: 'Something went wrong', errors: [] });
    const client = new RegistrationsApiClient({ baseUrl, apiKey: KEY });
    const err = await failure(client);
    expect(err).toMatchObject({ retryable: true, answerLost: false, details: { status, code: String(status) } });
    await client.close();
  });

  it('a connection reset after sending is retryable, and the API may have acted (answer lost)', async () => {
    behaviour = (req) => req.socket.resetAndDestroy();
    const client = new RegistrationsApiClient({ baseUrl, apiKey: KEY });
    const err = await failure(client);
    expect(err).toMatchObject({ retryable: true, answerLost: true, details: { code: 'network' } });
    expect(err.message).toMatch(/may have acted/);
    await client.close();
  });

  it('a connection closed without an answer is retryable with the answer lost', async () => {
    behaviour = (req) => req.socket.destroy();
    const client = new RegistrationsApiClient({ baseUrl, apiKey: KEY });
    const err = await failure(client);
    expect(err).toMatchObject({ retryable: true, answerLost: true });
    await client.close();
  });

  it('no answer in time is retryable with the answer lost', async () => {
    behaviour = () => undefined; // never answers
    const client = new RegistrationsApiClient({ baseUrl, apiKey: KEY, timeoutMs: 200 });
    const err = await failure(client);
    expect(err).toMatchObject({ retryable: true, answerLost: true, details: { code: 'timeout' } });
    await client.close();
  });

  it('nothing listening: retryable, and the request never left', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const client = new RegistrationsApiClient({ baseUrl: `http://127.0.0.1:${port}`, apiKey: KEY });
    const err = await failure(client);
    expect(err).toMatchObject({ retryable: true, answerLost: false, details: { code: 'network' } });
    await client.close();
  });

  it('refuses a missing key or a non-http URL at construction', () => {
    expect(() => new RegistrationsApiClient({ baseUrl, apiKey: '' })).toThrow(/key: missing/);
    expect(() => new RegistrationsApiClient({ baseUrl: 'ftp://x', apiKey: KEY })).toThrow(/allowed: http or https/);
  });

  it('apiMessage reads the API shapes, bounds the text and ignores HTML', () => {
    expect(apiMessage(JSON.stringify({ status: 'BAD_REQUEST', message: 'm', errors: ['a', 'b'] }))).toBe('m: a; b');
    expect(apiMessage('<html>502</html>')).toBeUndefined();
    expect(apiMessage('plain\ntext')).toBe('plain text');
    expect(apiMessage('x'.repeat(2000))!.length).toBe(500);
  });
});
