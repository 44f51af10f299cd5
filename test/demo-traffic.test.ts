/**
 * The demo's synthetic traffic (demo/traffic.ts): without `api` it is exactly what it was before issue
 * 12 (tests, benches and the chaos suite replay it); with `api` it is deterministic, every event is
 * valid, every one of the API's nine endpoints is used even on a small run, every API body is valid,
 * and the MESH rows stay those of the plain traffic (but for a NACK added when chance gave no error).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateTraffic, withApiTraffic } from '../demo/traffic';
import { API_ONLY_EVENT_TYPES, recordKeyOf, validateEvent, type HookEvent, type Side } from '../mi/events';
import { apiEventsOf } from '../mi/registrations-api-mapping';
import { API_ENDPOINTS, validateApiRequest } from '../mi/registrations-api';
import { rowsByDay } from '../mi/transfer';

const PRACTICES = ['Y90001', 'Y90002', 'Y90003'];
const DAYS = ['2026-03-02', '2026-03-03'];

function byRecord(events: readonly HookEvent[]): Map<string, HookEvent[]> {
  const out = new Map<string, HookEvent[]>();
  for (const e of events) {
    const k = recordKeyOf(e);
    const key = `${k.side}/${k.practiceOds}/${k.key}`;
    out.set(key, [...(out.get(key) ?? []), e]);
  }
  return out;
}

describe('demo traffic', () => {
  it('without api: unchanged (the same events as before issue 12, for every existing caller)', () => {
    const events = generateTraffic({ practices: PRACTICES, days: DAYS, registrationsPerPracticeDay: 4, seed: 1 });
    expect(events).toHaveLength(124);
    expect(createHash('sha256').update(JSON.stringify(events)).digest('hex')).toBe('d10b0bddc885c4546d408928989406987bdb1780a264853c87af01992c971df8');
    expect(events.some((e) => (API_ONLY_EVENT_TYPES as readonly string[]).includes(e.type))).toBe(false);
  });

  for (const seed of [1, 2, 3, 7, 42]) {
    it(`with api (seed ${seed}): deterministic, valid, all nine endpoints, MESH rows kept`, () => {
      const options = { practices: PRACTICES, days: DAYS, registrationsPerPracticeDay: 4, seed };
      const plain = generateTraffic(options);
      const api = generateTraffic({ ...options, api: true });
      expect(generateTraffic({ ...options, api: true })).toEqual(api);
      expect(withApiTraffic(plain, options)).toEqual(api);
      // The input is not changed.
      expect(plain).toEqual(generateTraffic(options));

      for (const e of api) expect(validateEvent(e, { now: new Date('2026-03-20T00:00:00Z') })).toMatchObject({ ok: true });
      for (const type of API_ONLY_EVENT_TYPES) expect(api.some((e) => e.type === type), type).toBe(true);
      expect(api.filter((e) => e.type === 'registration').every((e) => e.conversationId && e.demographicTraceStatus && e.gpLinksComplete !== undefined)).toBe(true);

      const plainRecords = byRecord(plain);
      const apiRecords = byRecord(api);
      expect([...apiRecords.keys()].sort()).toEqual([...plainRecords.keys()].sort());
      const endpoints = new Set<string>();
      let rowsChanged = 0;
      for (const [key, events] of apiRecords) {
        const side = key.slice(0, 2) as Side;
        if (JSON.stringify(rowsByDay(side, events)) !== JSON.stringify(rowsByDay(side, plainRecords.get(key)!))) rowsChanged++;
        for (const a of apiEventsOf(side, events, { reportingSystemSupplier: 'YGM24' })) {
          endpoints.add(a.endpoint);
          expect(validateApiRequest(a.endpoint, a.body), `${a.endpoint} ${JSON.stringify(a.body)}`).toEqual({ ok: true });
        }
      }
      expect([...endpoints].sort()).toEqual([...API_ENDPOINTS].sort());
      // Only the record whose acknowledgement became a NACK (when chance gave no error) differs.
      const hadError = plain.some((e) => e.type === 'request-failure' || e.type === 'extract-failure' || (e.type === 'extract-acknowledged' && e.ackCode !== '0'));
      expect(rowsChanged).toBe(hadError ? 0 : 1);
    });
  }
});
