/**
 * Payload encryption keys (GP2GP_ENCRYPTION_KEYS): `kid1:base64key,kid2:base64key`, each key 32 bytes
 * (AES-256), the first one current (it encrypts; all of them decrypt), so a key can be rotated by
 * putting a new one first and keeping the old ones until no history needs them.
 *
 * Keys are secrets: they are held in a private field, print as `[secret]` (console.log, JSON, pino),
 * and errors name a key by its position or id, never by its value.
 */
import { inspect } from 'node:util';
import { ConfigError } from './errors';

export const KEY_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;
export const KEY_BYTES = 32;

export class EncryptionKeys {
  readonly #keys: Map<string, Buffer>;
  /** The id of the key that encrypts; the first of the list. */
  readonly currentKeyId: string;

  constructor(keys: { id: string; key: Buffer }[]) {
    if (keys.length === 0) throw new ConfigError('invalid configuration:\n  GP2GP_ENCRYPTION_KEYS: no key');
    this.#keys = new Map(keys.map((k) => [k.id, k.key]));
    this.currentKeyId = keys[0]!.id;
  }

  /** Key ids, current first (not secret: they are written beside each encrypted payload). */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  key(id: string): Buffer | undefined {
    return this.#keys.get(id);
  }

  toJSON(): string {
    return `[secret: ${this.#keys.size} key(s), current ${this.currentKeyId}]`;
  }

  [inspect.custom](): string {
    return this.toJSON();
  }
}

/** Parses GP2GP_ENCRYPTION_KEYS; throws ConfigError naming what is wrong (never a key's value). */
export function parseEncryptionKeys(value: string, variable = 'GP2GP_ENCRYPTION_KEYS'): EncryptionKeys {
  const problems: string[] = [];
  const keys: { id: string; key: Buffer }[] = [];
  const entries = value.split(',').map((s) => s.trim());
  entries.forEach((entry, i) => {
    const where = `${variable}: key #${i + 1}`;
    const colon = entry.indexOf(':');
    if (colon < 0) {
      problems.push(`${where}: expected <key id>:<base64 key>`);
      return;
    }
    const id = entry.slice(0, colon).trim();
    const b64 = entry.slice(colon + 1).trim();
    if (!KEY_ID_RE.test(id)) {
      problems.push(`${where}: the key id must be 1 to 64 letters, digits, '.', '_' or '-'`);
      return;
    }
    if (keys.some((k) => k.id === id)) {
      problems.push(`${where}: key id "${id}" is used twice`);
      return;
    }
    const key = /^[A-Za-z0-9+/]+={0,2}$/.test(b64) ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
    if (key.length !== KEY_BYTES) {
      problems.push(`${where} ("${id}"): must be ${KEY_BYTES} random bytes in base64 (e.g. from \`openssl rand -base64 32\`)`);
      return;
    }
    keys.push({ id, key });
  });
  if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return new EncryptionKeys(keys);
}
