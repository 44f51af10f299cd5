/**
 * Configuration of the codec server (codec/server.ts) that lets the Temporal Web UI show encrypted
 * payloads decoded. From the environment like the rest; tokens are secrets (never logged).
 *
 *   GP2GP_CODEC_HOST / GP2GP_CODEC_PORT   where it listens (127.0.0.1:8234)
 *   GP2GP_CODEC_TOKENS                    comma-separated bearer tokens, or
 *   GP2GP_CODEC_TOKEN_FILE                a file with one per line (npm start generates .data/codec-token)
 *   GP2GP_CODEC_UI_ORIGINS                browser origins allowed to call it (default: the embedded
 *                                         Web UI, http://127.0.0.1:<TEMPORAL_UI_PORT> and localhost)
 */
import { z } from 'zod';
import { MIN_TOKEN_LENGTH, readTokenFile } from './api';
import { ConfigError } from './errors';

const optionalString = z
  .string()
  .transform((s) => s.trim())
  .optional()
  .transform((s) => (s === '' || s === undefined ? undefined : s));

const schema = z.object({
  GP2GP_CODEC_HOST: z.string().min(1).default('127.0.0.1'),
  GP2GP_CODEC_PORT: z.coerce.number().int().min(0).max(65535).default(8234),
  GP2GP_CODEC_TOKENS: optionalString,
  GP2GP_CODEC_TOKEN_FILE: optionalString,
  GP2GP_CODEC_UI_ORIGINS: optionalString,
  TEMPORAL_UI_PORT: z.coerce.number().int().min(1).max(65535).default(8233),
});

export interface CodecServerConfig {
  host: string;
  port: number;
  /** Accepted tokens (secrets). */
  tokens: string[];
  /** Exact origins (scheme://host:port) allowed by CORS. */
  uiOrigins: string[];
}

export function loadCodecConfig(env: NodeJS.ProcessEnv = process.env): CodecServerConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(`invalid configuration:\n${parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}`);
  }
  const e = parsed.data;
  const tokens = [
    ...(e.GP2GP_CODEC_TOKENS ?? '').split(',').map((t) => t.trim()).filter(Boolean),
    ...(e.GP2GP_CODEC_TOKEN_FILE ? readTokenFile(e.GP2GP_CODEC_TOKEN_FILE) : []),
  ];
  if (tokens.length === 0) {
    throw new ConfigError('invalid configuration:\n  the codec server needs a token: set GP2GP_CODEC_TOKENS or GP2GP_CODEC_TOKEN_FILE');
  }
  const short = tokens.findIndex((t) => t.length < MIN_TOKEN_LENGTH);
  if (short >= 0) throw new ConfigError(`invalid configuration:\n  codec token #${short + 1} is shorter than ${MIN_TOKEN_LENGTH} characters`);
  const origins = e.GP2GP_CODEC_UI_ORIGINS
    ? e.GP2GP_CODEC_UI_ORIGINS.split(',').map((o) => o.trim()).filter(Boolean)
    : [`http://127.0.0.1:${e.TEMPORAL_UI_PORT}`, `http://localhost:${e.TEMPORAL_UI_PORT}`];
  for (const [i, o] of origins.entries()) {
    let ok = false;
    try {
      const u = new URL(o);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === o;
    } catch {
      /* not a URL */
    }
    if (!ok) throw new ConfigError(`invalid configuration:\n  GP2GP_CODEC_UI_ORIGINS: origin #${i + 1} (${JSON.stringify(o)}) must be scheme://host[:port], no path`);
  }
  return { host: e.GP2GP_CODEC_HOST, port: e.GP2GP_CODEC_PORT, tokens: [...new Set(tokens)], uiOrigins: origins };
}
