/**
 * The search box's input: a GP2GP conversation ID or a registration ID, checked before any visibility
 * query is made (the same shapes the hook contract accepts), so a typo or pasted patient data never
 * reaches Temporal and the operator learns at once what is wrong.
 */
import { containsNhsNumber, UUID_ALLOWED, UUID_RE } from '../../mi/formats';

export type SearchKind = 'conversation' | 'registration';

/** The registration ID's shape in the hook contract (mi/events.ts). */
const REGISTRATION_ID_RE = /^[A-Za-z0-9._:-]{1,64}$/;
const REGISTRATION_ALLOWED = '1 to 64 letters, digits or ". _ : -"';

export type ParsedSearch = { ok: true; id: string; kinds: SearchKind[] } | { ok: false; message: string };

/**
 * What to search for: a GUID is a conversation ID first (and a registration ID, which a GP system may
 * also make a GUID); anything else of the registration ID's shape is a registration ID.
 */
export function parseSearch(input: unknown, kind?: unknown): ParsedSearch {
  if (typeof input !== 'string' || input.trim() === '') {
    return { ok: false, message: `give a conversation ID (${UUID_ALLOWED}) or a registration ID (${REGISTRATION_ALLOWED})` };
  }
  const id = input.trim();
  if (kind !== undefined && kind !== '' && kind !== 'conversation' && kind !== 'registration') {
    return { ok: false, message: 'kind: allowed: conversation or registration' };
  }
  // Said before anything else, and the value is never echoed: it may be patient data.
  if (containsNhsNumber(id)) return { ok: false, message: 'that looks like an NHS number: search by conversation ID or registration ID only (no patient data)' };
  const isGuid = UUID_RE.test(id);
  const isRegistration = REGISTRATION_ID_RE.test(id);
  if (kind === 'conversation') {
    return isGuid ? { ok: true, id: id.toUpperCase(), kinds: ['conversation'] } : { ok: false, message: `not a conversation ID; allowed: ${UUID_ALLOWED}` };
  }
  if (kind === 'registration') {
    return isRegistration ? { ok: true, id, kinds: ['registration'] } : { ok: false, message: `not a registration ID; allowed: ${REGISTRATION_ALLOWED}` };
  }
  if (isGuid) return { ok: true, id, kinds: ['conversation', 'registration'] };
  if (isRegistration) return { ok: true, id, kinds: ['registration'] };
  return { ok: false, message: `not an ID: a conversation ID is ${UUID_ALLOWED}; a registration ID is ${REGISTRATION_ALLOWED}` };
}
