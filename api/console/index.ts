/**
 * The operators' console (issue 15): one page at /console in the HTTP API's process, showing the
 * service at a glance, a calendar of every practice's days, plots of transfer outcomes, and a search
 * by conversation or registration ID with links into the Temporal Web UI.
 *
 * Access: the API's bearer tokens. A browser logs in once on /console/login and then carries only a
 * session cookie (auth.ts); tools may send `Authorization: Bearer` to the JSON endpoints. Without either,
 * the page redirects to the login and the JSON endpoints answer 401 with an error and nothing else.
 *
 * Data: the read model (read-model.ts) — the reporting workflows' own state through queries, cached
 * and swept at a bounded rate; visibility only for the search box.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { INTEGRATION_TIME_BUCKET_HOURS, OUTCOME_CLASSES } from '../../mi/outcomes';
import { ODS_RE } from '../../mi/formats';
import { SESSION_COOKIE, SessionStore } from './auth';
import { outcomesReport } from '../../client/outcomes';
import { ConsoleReadModel, plotsOf, type ConsoleSource, type FoundTransfer, type ReadModelOptions } from './read-model';
import { parseSearch } from './search';

export { ConsoleReadModel, type ConsoleSource, type ReadModelOptions } from './read-model';
export { temporalConsoleSource } from './source';

export interface ConsoleOptions {
  source: ConsoleSource;
  /** The Temporal Web UI the page links to; undefined = no links (an external cluster without a configured UI). */
  temporalUi?: { baseUrl: string; namespace: string } | undefined;
  /** How long a login lasts (default 8 h). */
  sessionTtlMs?: number;
  /** Login attempts per minute per client address (default 10). */
  loginPerMinute?: number;
  /** Searches per minute per token (visibility is rate-limited by Temporal; default 30). */
  searchPerMinute?: number;
  /** Mark the cookie Secure; default: when the request came over TLS (fastify's request.protocol). */
  secureCookie?: boolean;
  /** Practices per calendar page (default 50, at most 200). */
  pageSize?: number;
  readModel?: ReadModelOptions;
}

/** What the console plugin gets from buildApi: its options and the API's own token check. */
export interface ConsolePluginOptions extends ConsoleOptions {
  /** The API's constant-time token check: the token's position, or -1. */
  matchToken(presented: string): number;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Position of the matched token (never its value): the rate-limit key. */
    tokenIndex?: number;
  }
}

const STATIC_DIR = path.join(__dirname, 'static');

/**
 * The page's files, read once: a fixed list, so no part of a URL ever reaches the file system. The
 * chart library is chart.js's own UMD build from node_modules (no CDN: the service often runs on a
 * closed network, and the page needs no build step).
 */
function loadAssets(): Map<string, { body: Buffer; type: string }> {
  const chartUmd = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
  const files: [string, string, string][] = [
    ['console.js', path.join(STATIC_DIR, 'console.js'), 'text/javascript; charset=utf-8'],
    ['console.css', path.join(STATIC_DIR, 'console.css'), 'text/css; charset=utf-8'],
    ['chart.umd.min.js', chartUmd, 'text/javascript; charset=utf-8'],
  ];
  return new Map(files.map(([name, file, type]) => [name, { body: fs.readFileSync(file), type }]));
}

/**
 * Nothing from elsewhere: scripts, styles, images and requests only from this origin; the page cannot
 * be framed; forms post only here.
 */
const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function loginPage(message?: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in — GP2GP MI console</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/console/assets/console.css"></head>
<body class="login"><main>
<h1>GP2GP MI — operators' console</h1>
<p>Log in with a bearer token of the HTTP API (on the embedded default: the file <code>.data/api-token</code> that <code>npm start</code> names).</p>
${message ? `<p class="error" role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/console/login">
<label>Token <input type="password" name="token" autocomplete="off" required autofocus></label>
<button type="submit">Log in</button>
</form></main></body></html>`;
}

const unauthorized = (reply: FastifyReply) =>
  reply
    .code(401)
    .header('www-authenticate', 'Bearer realm="gp2gp-mi"')
    .send({ error: { code: 'unauthorized', message: 'log in at /console/login, or send "Authorization: Bearer <token>"' } });

export async function consolePlugin(app: FastifyInstance, options: ConsolePluginOptions): Promise<void> {
  const sessions = new SessionStore(options.sessionTtlMs ?? 8 * 3_600_000);
  const model = new ConsoleReadModel(options.source, options.readModel);
  const pageSizeMax = 200;
  const defaultPageSize = Math.min(options.pageSize ?? 50, pageSizeMax);
  const assets = loadAssets();
  const consoleHtml = fs.readFileSync(path.join(STATIC_DIR, 'console.html'));
  const ui = options.temporalUi ? { baseUrl: options.temporalUi.baseUrl.replace(/\/+$/, ''), namespace: options.temporalUi.namespace } : null;

  // The sweep runs while the API serves, and ends with it.
  app.addHook('onReady', async () => model.start());
  app.addHook('onClose', async () => model.stop());

  // fastify's own cookie plugin parses and serialises cookies (quoting, attributes, expiry) so none of
  // that is hand-written; it is registered in this plugin only, so /v1/events never parses cookies.
  await app.register(cookie, { hook: 'onRequest' });
  // The login form posts application/x-www-form-urlencoded; the API itself takes only JSON.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4_096 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  app.addHook('onSend', async (request, reply) => {
    void reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    void reply.header('x-content-type-options', 'nosniff');
    void reply.header('x-frame-options', 'DENY');
    // Nothing of the console's URLs leaves with a link into the Web UI; same-origin (not no-referrer)
    // so that the browser still sends a real Origin with the login form, which crossSite() checks.
    void reply.header('referrer-policy', 'same-origin');
    if (!request.url.startsWith('/console/assets/')) void reply.header('cache-control', 'no-store');
  });

  // The page and JSON share one error shape; the login form shows a rate limit as a page.
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, request, reply) => {
    const status = err.statusCode ?? 500;
    if (request.url.startsWith('/console/login') && status === 429) {
      return reply.code(429).type('text/html; charset=utf-8').send(loginPage('Too many login attempts from this address: wait a minute and try again.'));
    }
    if (status >= 500) {
      request.log.error({ err: { message: err.message } }, 'console request failed');
      return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
    }
    return reply.code(status).send({ error: { code: status === 429 ? 'rate-limited' : 'bad-request', message: err.message } });
  });

  /** The token's position behind a request: its Bearer header, else its session cookie; -1 when neither. */
  function authenticate(request: FastifyRequest): number {
    const header = request.headers.authorization;
    if (header !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
      return m ? options.matchToken(m[1]!) : -1;
    }
    return sessions.find(request.cookies[SESSION_COOKIE])?.tokenIndex ?? -1;
  }

  /** A POST from another site's page: the cookie is SameSite=Strict already; this refuses the form too. */
  function crossSite(request: FastifyRequest): boolean {
    const origin = request.headers.origin;
    if (!origin || origin === 'null') return origin === 'null';
    try {
      return new URL(origin).host !== request.headers.host;
    } catch {
      return true;
    }
  }

  const requireSession = async (request: FastifyRequest, reply: FastifyReply) => {
    const index = authenticate(request);
    if (index < 0) return unauthorized(reply);
    request.tokenIndex = index;
  };

  // ---- the page, login and logout ----

  app.get('/console', async (request, reply) => {
    if (authenticate(request) < 0) return reply.redirect('/console/login', 302);
    return reply.type('text/html; charset=utf-8').send(consoleHtml);
  });
  app.get('/console/', async (_request, reply) => reply.redirect('/console', 302));

  app.get('/console/login', async (request, reply) => {
    if (sessions.find(request.cookies[SESSION_COOKIE])) return reply.redirect('/console', 303);
    return reply.type('text/html; charset=utf-8').send(loginPage());
  });

  app.post('/console/login', { config: { rateLimit: { max: options.loginPerMinute ?? 10, timeWindow: 60_000 } } }, async (request, reply) => {
    if (crossSite(request)) return reply.code(403).type('text/html; charset=utf-8').send(loginPage('Log in from this page itself.'));
    const token = (request.body as Record<string, unknown> | undefined)?.token;
    const index = typeof token === 'string' && token.length <= 1_024 ? options.matchToken(token.trim()) : -1;
    if (index < 0) {
      request.log.warn('console login refused');
      return reply.code(401).type('text/html; charset=utf-8').send(loginPage('That token is not valid.'));
    }
    const session = sessions.open(index);
    request.log.info({ tokenIndex: index }, 'console login');
    void reply.setCookie(SESSION_COOKIE, session.id, {
      httpOnly: true,
      sameSite: 'strict',
      path: '/console',
      secure: options.secureCookie ?? request.protocol === 'https',
      maxAge: Math.floor((session.expiresAt - Date.now()) / 1000),
    });
    return reply.redirect('/console', 303);
  });

  app.post('/console/logout', async (request, reply) => {
    if (crossSite(request)) return reply.code(403).send({ error: { code: 'forbidden', message: 'log out from the console page itself' } });
    sessions.close(request.cookies[SESSION_COOKIE]);
    void reply.clearCookie(SESSION_COOKIE, { path: '/console', httpOnly: true, sameSite: 'strict', secure: options.secureCookie ?? request.protocol === 'https' });
    return reply.redirect('/console/login', 303);
  });

  app.get<{ Params: { name: string } }>('/console/assets/:name', async (request, reply) => {
    const asset = assets.get(request.params.name);
    if (!asset) return reply.code(404).send({ error: { code: 'not-found', message: 'no such file' } });
    return reply.type(asset.type).header('cache-control', 'private, max-age=300').send(asset.body);
  });

  // ---- data (JSON): a session or a bearer token ----

  app.get('/console/api/summary', { onRequest: requireSession }, async () => ({
    ...model.summary(),
    classes: OUTCOME_CLASSES,
    integrationBucketsHours: INTEGRATION_TIME_BUCKET_HOURS.map((h) => (Number.isFinite(h) ? h : null)),
    temporalUi: ui,
  }));

  app.get<{ Querystring: { page?: string; prefix?: string; pageSize?: string } }>('/console/api/calendar', { onRequest: requireSession }, async (request, reply) => {
    const prefix = (request.query.prefix ?? '').trim().toUpperCase();
    if (!/^[A-Z0-9]{0,10}$/.test(prefix)) {
      return reply.code(400).send({ error: { code: 'bad-request', message: 'prefix: allowed: the start of an ODS code (letters and digits)', field: 'prefix' } });
    }
    const page = Number(request.query.page ?? 1);
    const pageSize = Number(request.query.pageSize ?? defaultPageSize);
    if (!Number.isInteger(page) || page < 1 || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > pageSizeMax) {
      return reply.code(400).send({ error: { code: 'bad-request', message: `page: a whole number from 1; pageSize: 1 to ${pageSizeMax}` } });
    }
    const result = await model.calendarPage({ page, pageSize, prefix });
    const now = new Date();
    const views = result.rows.flatMap((r) => (r.ok ? [r.view] : []));
    // Each practice's last 7 days counted exactly as `gp2gp-mi outcomes --since 7d` counts them.
    const week = new Map(outcomesReport(views, { sinceDays: 7, now }).practices.map((p) => [p.practiceOds, p.outcomes]));
    return {
      total: result.total,
      page: result.page,
      pages: result.pages,
      pageSize: result.pageSize,
      days: result.days,
      temporalUi: ui,
      practices: result.rows.map((r) =>
        r.ok
          ? {
              practiceOds: r.practiceOds,
              ok: true,
              asOf: r.view.asOf,
              calendar: r.view.calendar,
              lastWeek: week.get(r.practiceOds),
              failingSubmissions: r.view.failingSubmissions,
              overdueTransfers: r.view.overdueTransfers,
              apiPostsFailed: r.view.apiPostsFailed,
            }
          : { practiceOds: r.practiceOds, ok: false, error: r.error },
      ),
    };
  });

  app.get<{ Params: { ods: string } }>('/console/api/practices/:ods', { onRequest: requireSession }, async (request, reply) => {
    const ods = request.params.ods.trim().toUpperCase();
    if (!ODS_RE.test(ods) || !options.source.practices().includes(ods)) {
      return reply.code(404).send({ error: { code: 'not-found', message: `practice: not one this service reports for; allowed: an ODS code of the practices file` } });
    }
    const row = await model.row(ods);
    if (!row.ok) {
      // No reporting workflow (API-only) is for good; anything else may pass (Temporal, a worker).
      const code = options.source.hasReporting(ods) ? 503 : 404;
      return reply.code(code).send({ error: { code: code === 503 ? 'unavailable' : 'not-found', message: `${ods}: ${row.error}` } });
    }
    const report = outcomesReport([row.view], { sinceDays: 7, now: new Date() });
    return {
      practiceOds: ods,
      asOf: row.view.asOf,
      lastWeek: { since: report.since, outcomes: report.practices[0]?.outcomes },
      failingSubmissions: row.view.failingSubmissions,
      overdueTransfers: row.view.overdueTransfers,
      apiPostsFailed: row.view.apiPostsFailed,
      ...plotsOf([row.view]),
    };
  });

  app.get<{ Querystring: { id?: string; kind?: string } }>(
    '/console/api/search',
    { onRequest: requireSession, config: { rateLimit: { max: options.searchPerMinute ?? 30, timeWindow: 60_000 } } },
    async (request, reply) => {
      const parsed = parseSearch(request.query.id, request.query.kind);
      if (!parsed.ok) return reply.code(400).send({ error: { code: 'bad-request', message: parsed.message, field: 'id' } });
      let transfers: FoundTransfer[] = [];
      let searchedAs: string | undefined;
      for (const kind of parsed.kinds) {
        transfers = await options.source.findTransfers({ kind, id: parsed.id });
        searchedAs = kind;
        if (transfers.length) break;
      }
      return { id: parsed.id, searchedAs, transfers, temporalUi: ui };
    },
  );
}
