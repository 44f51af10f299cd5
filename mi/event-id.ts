/**
 * Idempotency keys for events that arrive without one: a hash of the event's canonical content, so a
 * GP system that re-sends the same stage (same fields, same instant in any zone) gets the same eventId
 * and the second delivery changes nothing. Uses node:crypto, so it runs in the client, API and CLI —
 * never inside a workflow, which receives events with their eventId already set.
 */
import { createHash } from 'node:crypto';
import { canonicalContent, type HookEvent } from './events';

/** Prefix of computed ids, so an operator can tell them from ids the GP system chose. */
export const CONTENT_EVENT_ID_PREFIX = 'sha256-';

export function contentEventId(event: HookEvent): string {
  // 128 bits of SHA-256 are plenty against accidental collisions and keep ids short in histories.
  return CONTENT_EVENT_ID_PREFIX + createHash('sha256').update(canonicalContent(event)).digest('hex').slice(0, 32);
}

/** The event with its eventId: kept when given, else derived from its content. */
export function withEventId<E extends HookEvent>(event: E): E & { eventId: string } {
  if (event.eventId !== undefined) return event as E & { eventId: string };
  return { ...event, eventId: contentEventId(event) };
}
