/**
 * The codec server for the Temporal Web UI (and `temporal --codec-endpoint`): POST /decode and
 * POST /encode take and give `{"payloads": [{"metadata": {k: base64}, "data": base64}]}`, the Web UI's
 * remote codec protocol, using the same AES-256-GCM codec as the worker.
 *
 * Only with a token: `Authorization: Bearer <token>`, or the HttpOnly cookie that GET/POST /login sets
 * after the operator typed the token (the dev Web UI has no login of its own to pass a token; with
 * "Include cross-origin credentials" on in its Codec Server settings, the browser sends the cookie).
 * Only for the Web UI's origin: a browser request from any other origin is refused (403) and gets no
 * CORS headers, so another site open in the same browser cannot use the operator's cookie to decode.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Payload, PayloadCodec } from '@temporalio/common';

export const COOKIE_NAME = 'gp2gp_codec';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** Accepted tokens (secrets; compared in constant time, never logged). */
  tokens: readonly string[];
  /** Exact browser origins allowed (the Web UI's). */
  uiOrigins: readonly string[];
  /** Where /login sends the browser back to (the Web UI). */
  uiUrl?: string;
  logger?: boolean;
  bodyLimitBytes?: number;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

function tokenMatcher(tokens: readonly string[]): (candidate: string | undefined) => boolean {
  const digests = tokens.map(digest);
  return (candidate) => {
    if (!candidate) return false;
    const d = digest(candidate);
    let ok = false;
    for (const t of digests) ok = timingSafeEqual(t, d) || ok;
    return ok;
  };
}

function cookieToken(header: string | undefined): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE_NAME) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

function fromJson(p: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64')])),
    data: Buffer.from(p.data ?? '', 'base64'),
  };
}

function toJson(p: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  };
}

const ALLOWED_HEADERS = 'authorization, content-type, x-namespace, caller-type, client-name, client-version';

export async function buildCodecServer(o: CodecServerOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: o.logger ?? false, bodyLimit: o.bodyLimitBytes ?? 8 * 1024 * 1024 });
  const tokenOk = tokenMatcher(o.tokens);
  const origins = new Set(o.uiOrigins);

  // The login form posts application/x-www-form-urlencoded.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const cors = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const origin = req.headers.origin;
    reply.header('vary', 'Origin');
    if (origin === undefined) return true; // not a browser cross-origin call (curl, temporal CLI)
    if (!origins.has(origin)) return false;
    reply.header('access-control-allow-origin', origin);
    reply.header('access-control-allow-credentials', 'true');
    return true;
  };

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    const isCodecCall = path === '/decode' || path === '/encode' || path.endsWith('/decode') || path.endsWith('/encode');
    if (!isCodecCall) return;
    if (!cors(req, reply)) {
      return reply.code(403).send({ error: 'origin not allowed' });
    }
    if (req.method === 'OPTIONS') {
      return reply
        .code(204)
        .header('access-control-allow-methods', 'POST, OPTIONS')
        .header('access-control-allow-headers', ALLOWED_HEADERS)
        .header('access-control-max-age', '600')
        .send();
    }
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!tokenOk(m?.[1]) && !tokenOk(cookieToken(req.headers.cookie))) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="gp2gp-mi-codec"').send({ error: 'a valid codec token is required' });
    }
  });

  const handle = (op: 'encode' | 'decode') => async (req: FastifyRequest, reply: FastifyReply) => {
    const body = req.body as { payloads?: unknown } | undefined;
    if (!body || !Array.isArray(body.payloads)) return reply.code(400).send({ error: 'body: expected {"payloads": [...]}' });
    try {
      const payloads = (body.payloads as JsonPayload[]).map(fromJson);
      const out = op === 'decode' ? await o.codec.decode(payloads) : await o.codec.encode(payloads);
      return { payloads: out.map(toJson) };
    } catch (err) {
      return reply.code(422).send({ error: (err as Error).message });
    }
  };
  // The UI calls <endpoint>/decode; a path prefix (e.g. /codec) is allowed by matching the suffix.
  for (const prefix of ['', '/codec']) {
    app.post(`${prefix}/decode`, handle('decode'));
    app.post(`${prefix}/encode`, handle('encode'));
    app.options(`${prefix}/decode`, async () => undefined);
    app.options(`${prefix}/encode`, async () => undefined);
  }

  app.get('/healthz', async () => ({ status: 'ok' }));

  // Login for the Web UI in a browser: the operator types the token once; an HttpOnly cookie carries it.
  app.get('/login', async (_req, reply) => {
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store');
    return `<!doctype html><html><head><meta charset="utf-8"><title>gp2gp-mi codec server</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>gp2gp-mi codec server</h1>
<p>Enter the codec token to let the Temporal Web UI in this browser show decrypted payloads.</p>
<form method="post" action="/login"><label>Token <input type="password" name="token" autocomplete="off" autofocus></label>
<button type="submit">Sign in</button></form>
<p>Then, in the Web UI's Codec Server settings, turn on "Include cross-origin credentials".</p></body></html>`;
  });
  app.post('/login', async (req, reply) => {
    const token = String((req.body as Record<string, unknown> | undefined)?.token ?? '');
    if (!tokenOk(token)) return reply.code(401).type('text/plain').send('wrong token');
    reply.header('set-cookie', `${COOKIE_NAME}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/; Max-Age=43200`);
    if (o.uiUrl) return reply.redirect(o.uiUrl, 303);
    return reply.type('text/plain').send('signed in');
  });
  app.post('/logout', async (_req, reply) => {
    reply.header('set-cookie', `${COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return reply.type('text/plain').send('signed out');
  });
  return app;
}
