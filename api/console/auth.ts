/**
 * Console sessions. The operator proves a bearer token of the API once, on the login form; the browser
 * then holds only a random session id in an HttpOnly, SameSite=Strict cookie scoped to /console — never
 * the token, so neither the page, a script, a log nor a stolen cookie jar reveals it, and logging out
 * (or the session's expiry) ends that access without touching the token.
 *
 * Sessions live in the API process's memory: a restart of the API (e.g. `npm run demo` adding
 * practices) asks for the token again, which is the safe direction to fail.
 */
import { createHash, randomBytes } from 'node:crypto';

export const SESSION_COOKIE = 'gp2gp_console_session';

interface Session {
  expiresAt: number;
  /** Position of the token that opened it (never its value): the rate-limit key, and for logs. */
  tokenIndex: number;
}

/** Session ids are kept hashed, so a heap dump does not hand out live sessions either. */
const digest = (id: string) => createHash('sha256').update(id, 'utf8').digest('base64url');

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly ttlMs: number,
    /** Beyond this many live sessions the oldest goes: memory stays bounded whatever logs in. */
    private readonly max = 1_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new session for the token at `tokenIndex`; answers its id (for the cookie) and when it ends. */
  open(tokenIndex: number): { id: string; expiresAt: number } {
    this.prune();
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + this.ttlMs;
    this.sessions.set(digest(id), { expiresAt, tokenIndex });
    return { id, expiresAt };
  }

  /** The live session of a cookie value, or undefined (unknown, expired: an expired one is dropped). */
  find(id: string | undefined): Session | undefined {
    if (!id || id.length > 128) return undefined;
    const key = digest(id);
    const session = this.sessions.get(key);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(key);
      return undefined;
    }
    return session;
  }

  close(id: string | undefined): void {
    if (id && id.length <= 128) this.sessions.delete(digest(id));
  }

  get size(): number {
    return this.sessions.size;
  }

  private prune(): void {
    const t = this.now();
    for (const [key, s] of this.sessions) if (s.expiresAt <= t) this.sessions.delete(key);
  }
}
