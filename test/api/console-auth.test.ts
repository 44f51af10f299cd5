/**
 * The console's access control, on the real app (buildApi with the console wired as api/main.ts wires
 * it, on a Temporal client of the test run's server), driven in process with fastify's inject: no
 * session, no data; the login form gives an HttpOnly, SameSite=Strict cookie holding a session id (never
 * the token); logout and expiry end it; login attempts are rate-limited.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { buildApi, clientBackend, consoleOptions, lazyClient } from '../../api/main';
import { ConsoleReadModel, type ConsoleSource } from '../../api/console';
import { loadConfig, type Config } from '../../config';
import { loadApiConfig } from '../../config/api';
import type { Gp2gpClient } from '../../client';
import { syntheticPractice } from '../../demo/traffic';

const TOKEN = randomBytes(24).toString('hex');
const OTHER_TOKEN = randomBytes(24).toString('hex');
/** A practice only this file knows: its ODS code must never appear in an answer without a session. */
const PRACTICE = syntheticPractice('C15901', '200000015901');

let config: Config;
let client: Gp2gpClient;
const apps: FastifyInstance[] = [];

async function app(env: Record<string, string> = {}): Promise<FastifyInstance> {
  const apiConfig = loadApiConfig({ GP2GP_API_TOKENS: `${TOKEN},${OTHER_TOKEN}`, TEMPORAL_ADDRESS: inject('temporalAddress'), ...env });
  const options = consoleOptions(config, apiConfig, client);
  const built = await buildApi({ backend: clientBackend(client), tokens: apiConfig.tokens, logger: false, ...(options ? { console: options } : {}) });
  apps.push(built);
  return built;
}

function sessionCookie(setCookie: string | string[] | undefined): { header: string; value: string } {
  const header = [setCookie ?? []].flat().find((c) => c.startsWith('gp2gp_console_session='));
  if (!header) throw new Error(`no session cookie in ${JSON.stringify(setCookie)}`);
  return { header, value: header.split(';')[0]!.split('=')[1]! };
}

async function login(api: FastifyInstance, token: string, headers: Record<string, string> = {}) {
  return await api.inject({
    method: 'POST',
    url: '/console/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams({ token }).toString(),
  });
}

const DATA_ENDPOINTS = ['/console/api/summary', '/console/api/calendar', `/console/api/practices/${PRACTICE.ods}`, '/console/api/search?id=REG-1'];

describe('the console: access', () => {
  beforeAll(() => {
    const dir = fs.mkdtempSync(path.join(inject('workDir'), 'console-auth-'));
    const practicesFile = path.join(dir, 'practices.json');
    fs.writeFileSync(practicesFile, JSON.stringify({ practices: [PRACTICE] }));
    config = loadConfig({ TEMPORAL_ADDRESS: inject('temporalAddress'), TEMPORAL_NAMESPACE: inject('temporalNamespace'), GP2GP_PRACTICES: practicesFile, GP2GP_DATA_DIR: dir });
    client = lazyClient(config);
  });
  afterAll(async () => {
    for (const a of apps) await a.close();
    await client.close();
  });

  it('sweeps while it runs, and stopping it leaves no timer behind', async () => {
    const options = consoleOptions(config, loadApiConfig({ GP2GP_API_TOKENS: TOKEN, TEMPORAL_ADDRESS: inject('temporalAddress') }), client)!;
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    // Connected first (the client's own timers are not the sweep's), and before any app of this file runs a sweep.
    await options.source.practiceConsole(PRACTICE.ods, {}).catch(() => undefined);
    const before = timers();
    const model = new ConsoleReadModel(options.source, { sweepPerSecond: 5, sweepIntervalMs: 200, viewTtlMs: 0 });
    model.start();
    model.asked(); // someone opens the console
    // Several rounds over the practice (its reporting workflow does not exist here: it is "failing").
    await new Promise((r) => setTimeout(r, 1_200));
    const running = model.summary().sweep;
    expect(running.lastRoundEndedAt).toBeDefined();
    expect(running).toMatchObject({ total: 1, failing: 1 });
    await model.stop();
    const stopped = model.summary().sweep;
    await new Promise((r) => setTimeout(r, 600));
    // No round after the stop, and no timer of the sweep left.
    expect(model.summary().sweep).toEqual(stopped);
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('sweeps only while the console is looked at: nobody looking, nobody is queried', async () => {
    const asked: string[] = [];
    const practices = ['A10001', 'A10002', 'A10003'];
    const source: ConsoleSource = {
      practices: () => practices,
      hasReporting: () => true,
      reportsToApi: () => false,
      practiceConsole: (ods) => {
        asked.push(ods);
        return Promise.reject(new Error('no reporting workflow here'));
      },
      findTransfers: () => Promise.resolve([]),
    };
    const model = new ConsoleReadModel(source, { sweepPerSecond: 50, sweepIntervalMs: 50, viewTtlMs: 0, sweepIdleAfterMs: 400 });
    model.start();
    try {
      // Started, but nobody has looked: no practice is asked (before the fix: 3 a round, every round).
      await new Promise((r) => setTimeout(r, 500));
      expect(asked).toEqual([]);
      // A look at the overview: rounds go on while it is recent…
      expect(model.summary().sweep.total).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(asked.length).toBeGreaterThanOrEqual(practices.length);
      // …and stop once nobody has looked for sweepIdleAfterMs; the figures say so.
      await new Promise((r) => setTimeout(r, 600));
      const idle = asked.length;
      await new Promise((r) => setTimeout(r, 500));
      expect(asked.length).toBe(idle);
      expect(model.summary().sweep.paused).toBe(true);
      // The look just made (summary) resumes it.
      await new Promise((r) => setTimeout(r, 300));
      expect(asked.length).toBeGreaterThan(idle);
    } finally {
      await model.stop();
    }
  });

  it('without a session: the page redirects to the login, JSON answers 401 with an error and nothing else', async () => {
    const api = await app();
    const page = await api.inject({ method: 'GET', url: '/console' });
    expect(page.statusCode).toBe(302);
    expect(page.headers.location).toBe('/console/login');
    expect(page.body).not.toContain(PRACTICE.ods);

    for (const url of DATA_ENDPOINTS) {
      for (const headers of [{}, { authorization: `Bearer ${randomBytes(24).toString('hex')}` }, { authorization: 'Basic abc' }, { cookie: 'gp2gp_console_session=forged' }]) {
        const res = await api.inject({ method: 'GET', url, headers });
        expect(res.statusCode, `${url} ${JSON.stringify(headers)}`).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer/);
        expect(res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
        expect(res.body).not.toContain(PRACTICE.ods);
        expect(res.headers['set-cookie']).toBeUndefined();
      }
    }
    // The login page itself holds no data either.
    const form = await api.inject({ method: 'GET', url: '/console/login' });
    expect(form.statusCode).toBe(200);
    expect(form.body).toContain('<form method="post" action="/console/login">');
    expect(form.body).not.toContain(PRACTICE.ods);
  });

  it('a wrong token is refused and gets no cookie', async () => {
    const api = await app();
    for (const token of ['', 'not-the-token', TOKEN.slice(0, -1), `${TOKEN}x`]) {
      const res = await login(api, token);
      expect(res.statusCode, JSON.stringify(token)).toBe(401);
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.body).toContain('That token is not valid.');
    }
  });

  it('login sets an HttpOnly, SameSite=Strict session cookie on /console, never the token; logout ends it', async () => {
    const api = await app();
    const res = await login(api, TOKEN);
    expect(res.statusCode).toBe(303);
    expect(res.headers.location).toBe('/console');
    const cookie = sessionCookie(res.headers['set-cookie']);
    expect(cookie.header).toMatch(/; HttpOnly/);
    expect(cookie.header).toMatch(/; SameSite=Strict/);
    expect(cookie.header).toMatch(/; Path=\/console(;|$)/);
    expect(cookie.header).toMatch(/; Max-Age=28[0-9]{3}/); // 8 hours
    expect(cookie.header).not.toMatch(/; Secure/); // plain HTTP here
    expect(cookie.value.length).toBeGreaterThanOrEqual(40);
    expect(cookie.header).not.toContain(TOKEN);
    expect(decodeURIComponent(cookie.value)).not.toContain(TOKEN);

    const withCookie = { cookie: `gp2gp_console_session=${cookie.value}` };
    const page = await api.inject({ method: 'GET', url: '/console', headers: withCookie });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.headers['content-security-policy']).toMatch(/default-src 'none'; script-src 'self'/);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.body).not.toContain(TOKEN);

    const calendar = await api.inject({ method: 'GET', url: '/console/api/calendar', headers: withCookie });
    expect(calendar.statusCode).toBe(200);
    expect(calendar.body).not.toContain(TOKEN);
    // The practice is listed (this file starts no worker, so its row says why it has no view).
    expect(calendar.json().practices).toEqual([{ practiceOds: PRACTICE.ods, ok: false, error: expect.stringMatching(/reporting workflow/) }]);

    // Tools use the bearer token directly.
    const summary = await api.inject({ method: 'GET', url: '/console/api/summary', headers: { authorization: `Bearer ${OTHER_TOKEN}` } });
    expect(summary.statusCode).toBe(200);
    expect(summary.json()).toMatchObject({ practices: 1, failingSubmissions: 0 });

    const out = await api.inject({ method: 'POST', url: '/console/logout', headers: withCookie });
    expect(out.statusCode).toBe(303);
    expect(out.headers.location).toBe('/console/login');
    const cleared = sessionCookie(out.headers['set-cookie']);
    expect(cleared.value).toBe('');
    expect(cleared.header).toMatch(/Expires=Thu, 01 Jan 1970|Max-Age=0/);
    // The old cookie is worth nothing now, even if the browser kept it.
    expect((await api.inject({ method: 'GET', url: '/console/api/summary', headers: withCookie })).statusCode).toBe(401);
    expect((await api.inject({ method: 'GET', url: '/console', headers: withCookie })).statusCode).toBe(302);
  });

  it('marks the cookie Secure when configured for TLS, and sessions expire', async () => {
    const api = await app({ GP2GP_CONSOLE_SECURE_COOKIE: 'true', GP2GP_CONSOLE_SESSION_HOURS: String(1.5 / 3600) });
    const res = await login(api, TOKEN);
    const cookie = sessionCookie(res.headers['set-cookie']);
    expect(cookie.header).toMatch(/; Secure/);
    const headers = { cookie: `gp2gp_console_session=${cookie.value}` };
    expect((await api.inject({ method: 'GET', url: '/console/api/summary', headers })).statusCode).toBe(200);
    await new Promise((r) => setTimeout(r, 1_700));
    expect((await api.inject({ method: 'GET', url: '/console/api/summary', headers })).statusCode).toBe(401);
  });

  it('refuses a login posted from another site, and rate-limits login attempts', async () => {
    const api = await app({ GP2GP_CONSOLE_LOGIN_PER_MINUTE: '3' });
    const cross = await login(api, TOKEN, { origin: 'https://elsewhere.example', host: 'localhost:80' });
    expect(cross.statusCode).toBe(403);
    expect(cross.headers['set-cookie']).toBeUndefined();
    for (let i = 0; i < 2; i++) expect((await login(api, 'wrong')).statusCode).toBe(401);
    // The limit counts every attempt from the address: even the right token waits now.
    const limited = await login(api, TOKEN);
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['set-cookie']).toBeUndefined();
    expect(limited.body).toContain('Too many login attempts');
  });

  it('checks the search input before any visibility query, never echoing what looks like patient data', async () => {
    const api = await app();
    const headers = { authorization: `Bearer ${TOKEN}` };
    const bad = await api.inject({ method: 'GET', url: `/console/api/search?id=${encodeURIComponent('drop table; --')}`, headers });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/not an ID: a conversation ID is a GUID/);
    const nhs = await api.inject({ method: 'GET', url: '/console/api/search?id=9434765919', headers });
    expect(nhs.statusCode).toBe(400);
    expect(nhs.json().error.message).toMatch(/looks like an NHS number/);
    expect(nhs.body).not.toContain('9434765919');
    const empty = await api.inject({ method: 'GET', url: '/console/api/search?id=', headers });
    expect(empty.statusCode).toBe(400);
    // A well-formed ID is searched (nothing is there on this server for it).
    const conversation = '3F2504E0-4F89-11D3-9A0C-0305E82C3301';
    const ok = await api.inject({ method: 'GET', url: `/console/api/search?id=${conversation}`, headers });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ id: conversation, transfers: [] });
  });

  it('with GP2GP_CONSOLE=off there is no console at all', async () => {
    const api = await app({ GP2GP_CONSOLE: 'off' });
    expect((await api.inject({ method: 'GET', url: '/console' })).statusCode).toBe(404);
    expect((await api.inject({ method: 'GET', url: '/console/api/summary', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode).toBe(404);
  });
});
