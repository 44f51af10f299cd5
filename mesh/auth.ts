/**
 * The MESH `NHSMESH` authorization token. A fresh token per request: a new nonce, nonce count 1 and
 * the current minute, so a token is never reused (real MESH refuses replays and clocks > 2 h off).
 */
import { createHmac, randomUUID } from 'node:crypto';

export const MESH_AUTH_SCHEME = 'NHSMESH';

/** `yyyyMMddHHmm` in UTC. */
export function meshTimestamp(now: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(now.getUTCFullYear(), 4)}${p(now.getUTCMonth() + 1)}${p(now.getUTCDate())}${p(now.getUTCHours())}${p(now.getUTCMinutes())}`;
}

export interface AuthorizationInput {
  mailbox: string;
  password: string;
  sharedKey: string;
  nonce?: string;
  nonceCount?: number;
  now?: Date;
}

/** `NHSMESH {mailbox}:{nonce}:{nonce_count}:{timestamp}:{hmac}` with HMAC-SHA256 keyed by the shared key. */
export function meshAuthorization(input: AuthorizationInput): string {
  const nonce = input.nonce ?? randomUUID();
  const nonceCount = input.nonceCount ?? 1;
  const timestamp = meshTimestamp(input.now ?? new Date());
  const hash = createHmac('sha256', input.sharedKey)
    .update(`${input.mailbox}:${nonce}:${nonceCount}:${input.password}:${timestamp}`)
    .digest('hex');
  return `${MESH_AUTH_SCHEME} ${input.mailbox}:${nonce}:${nonceCount}:${timestamp}:${hash}`;
}
