/**
 * The codec server decodes only for a caller with the token (bearer header, or the cookie its login
 * sets) and only for the Web UI's origin: another origin gets 403 and no CORS headers, so a page on
 * another site cannot use an operator's browser to decode.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmCodec } from '../../codec/aes-gcm';
import { buildCodecServer, COOKIE_NAME } from '../../codec/server';
import { parseEncryptionKeys } from '../../config/encryption';
import { loadCodecConfig } from '../../config/codec';
import { ConfigError } from '../../config';

const UI = 'http://127.0.0.1:8233';
const TOKEN = randomBytes(32).toString('hex');

describe('codec server', () => {
  const codec = new AesGcmCodec(parseEncryptionKeys(`k1:${randomBytes(32).toString('base64')}`));
  let app: FastifyInstance;
  let encrypted: { metadata: Record<string, string>; data: string };

  beforeAll(async () => {
    app = await buildCodecServer({ codec, tokens: [TOKEN], uiOrigins: [UI], uiUrl: `${UI}/namespaces/default/workflows` });
    const [p] = await codec.encode([defaultPayloadConverter.toPayload({ errorDescription: 'MARKER-42' })]);
    encrypted = {
      metadata: Object.fromEntries(Object.entries(p!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
      data: Buffer.from(p!.data!).toString('base64'),
    };
  });
  afterAll(async () => {
    await app.close();
  });

  const decode = (headers: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/decode', headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...headers }, payload: { payloads: [encrypted] } });
  const plainOf = (body: string) => {
    const p = (JSON.parse(body) as { payloads: { metadata: Record<string, string>; data: string }[] }).payloads[0]!;
    return JSON.parse(Buffer.from(p.data, 'base64').toString('utf8'));
  };

  it('decodes with the bearer token, from the UI origin', async () => {
    const res = await decode({ authorization: `Bearer ${TOKEN}`, origin: UI });
    expect(res.statusCode).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
    expect(plainOf(res.body)).toEqual({ errorDescription: 'MARKER-42' });
  });

  it('refuses without a token, or with a wrong one, and shows nothing', async () => {
    for (const headers of <Record<string, string>[]>[{ origin: UI }, { origin: UI, authorization: `Bearer ${'x'.repeat(64)}` }, { authorization: 'Basic abc' }, {}]) {
      const res = await decode(headers);
      expect(res.statusCode).toBe(401);
      expect(res.body).not.toContain('MARKER');
      expect(res.body).not.toContain(encrypted.data.slice(0, 16));
    }
  });

  it('refuses another origin, even with the token, and gives it no CORS headers', async () => {
    const res = await decode({ authorization: `Bearer ${TOKEN}`, origin: 'http://evil.example' });
    expect(res.statusCode).toBe(403);
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.body).not.toContain('MARKER');
    const preflight = await app.inject({ method: 'OPTIONS', url: '/decode', headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
    expect(preflight.statusCode).toBe(403);
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('answers the UI origin\'s preflight with exactly that origin', async () => {
    const res = await app.inject({
      method: 'OPTIONS',
      url: '/decode',
      headers: { origin: UI, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace,authorization' },
    });
    expect(res.statusCode).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(UI);
    expect(String(res.headers['access-control-allow-headers'])).toMatch(/authorization/);
    expect(String(res.headers['access-control-allow-headers'])).toMatch(/x-namespace/);
  });

  it('lets a browser sign in once with the token (HttpOnly cookie), then decodes for the UI', async () => {
    const wrong = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: 'token=nope' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers['set-cookie']).toBeUndefined();
    const login = await app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: `token=${TOKEN}` });
    expect(login.statusCode).toBe(303);
    expect(login.headers.location).toBe(`${UI}/namespaces/default/workflows`);
    const cookie = String(login.headers['set-cookie']);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const res = await decode({ origin: UI, cookie: cookie.split(';')[0]! });
    expect(res.statusCode).toBe(200);
    expect(plainOf(res.body)).toEqual({ errorDescription: 'MARKER-42' });
    expect(cookie.startsWith(`${COOKIE_NAME}=`)).toBe(true);
  });

  it('encodes only with the token too', async () => {
    const body = { payloads: [{ metadata: { encoding: Buffer.from('json/plain').toString('base64') }, data: Buffer.from('{"a":1}').toString('base64') }] };
    expect((await app.inject({ method: 'POST', url: '/encode', payload: body })).statusCode).toBe(401);
    const res = await app.inject({ method: 'POST', url: '/encode', headers: { authorization: `Bearer ${TOKEN}` }, payload: body });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(Buffer.from('{"a":1}').toString('base64'));
  });

  it('will not start without a token, and limits CORS to the embedded UI by default', () => {
    expect(() => loadCodecConfig({})).toThrow(ConfigError);
    expect(() => loadCodecConfig({ GP2GP_CODEC_TOKENS: 'short' })).toThrow(/shorter than/);
    expect(() => loadCodecConfig({ GP2GP_CODEC_TOKENS: TOKEN, GP2GP_CODEC_UI_ORIGINS: 'http://ui.example/path' })).toThrow(/scheme:\/\/host/);
    const c = loadCodecConfig({ GP2GP_CODEC_TOKENS: TOKEN, TEMPORAL_UI_PORT: '9233' });
    expect(c.uiOrigins).toEqual(['http://127.0.0.1:9233', 'http://localhost:9233']);
  });
});
