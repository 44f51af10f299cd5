/**
 * Helpers for tests of delivery to the GP Registrations MI API: one registration's hook events that
 * imply API events, and what the test run's stand-in accepted for a conversation.
 */
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import type { HookEvent } from '../../mi/events';
import type { RecordedRequest } from '../../stack/registrations-api-stand-in';

/** The stand-in's accepted requests of one conversation, in the order it accepted them. */
export async function standInRequests(conversationId: string, url = inject('registrationsApiUrl'), apiKey = inject('registrationsApiKey')): Promise<RecordedRequest[]> {
  const origin = new URL(url).origin;
  const answer = await fetch(`${origin}/_stand-in/requests?conversationId=${encodeURIComponent(conversationId)}`, { headers: { apikey: apiKey } });
  if (!answer.ok) throw new Error(`stand-in: ${answer.status}`);
  return ((await answer.json()) as { requests: RecordedRequest[] }).requests;
}

/** One registration's requester events, every one of them implying an API event (or not: the ACK). */
export function registrationEvents(practiceOds: string, registrationId: string, conversationId: string, day: string): HookEvent[] {
  const rr = { practiceOds, registrationId };
  return [
    {
      type: 'registration',
      ...rr,
      occurredAt: `${day}T09:00:00Z`,
      registrationType: 'new',
      registeringUser: '123456789012',
      targetOds: 'A81001',
      conversationId,
      multifactorAuthenticationPresent: true,
      demographicTraceStatus: { matched: true, multifactorAuthenticationPresent: true },
      gpLinksComplete: true,
    },
    { type: 'transfer-compatibility', ...rr, conversationId, occurredAt: `${day}T09:01:00Z`, internalTransfer: false, transferCompatible: true, targetOds: 'A81001' },
    { type: 'ehr-requested', ...rr, occurredAt: `${day}T09:05:00Z`, conversationId, requestMessageId: conversationId, targetOds: 'A81001' },
    { type: 'ehr-received', ...rr, conversationId, occurredAt: `${day}T09:30:00Z`, extractMessageId: randomUUID().toUpperCase() },
    { type: 'extract-acknowledged', ...rr, conversationId, occurredAt: `${day}T11:00:00Z`, ackStatus: 1, ackCode: '0', actingUser: '123456789012' },
    { type: 'ready-to-integrate', ...rr, conversationId, occurredAt: `${day}T10:00:00Z` },
    { type: 'integration-outcome', ...rr, conversationId, occurredAt: `${day}T10:59:00Z`, outcome: 'INTEGRATED' },
  ] as HookEvent[];
}
