/**
 * When a transfer hands its rows to its practice's reporting workflow. Rows matter to NHS England
 * only as a closed day's record set, sent after midnight (UTC) at the practice's cadence, so the rows
 * of a day still open wait in their transfer until the day's hand-over point, in its last hour;
 * every transfer of the practice then hands over at the same moment (its slot: practices are spread
 * over half an hour), which lets the worker carry them to the reporting workflow in one signal
 * (activities/rows-hand-over.ts) instead of one per event. Rows of a day whose point has passed (a
 * late event) go at once, so a closed day is never waiting on a transfer's timer when an operator or
 * the cadence submits it.
 */

const DAY_MS = 86_400_000;

/**
 * The default hand-over point: 23:00 UTC. With the default spread every practice has handed over by
 * 23:30, and a nation's day (30,000 transfers) takes about 16 minutes on the embedded default of a
 * 2-core machine: done well before the cadence (00:05). Events after a practice's slot go at once.
 */
export const DEFAULT_HAND_OVER_AT = '23:00';

export const HAND_OVER_AT_ALLOWED = '"immediate", or a time of day in UTC as HH:MM or HH:MM:SS (e.g. 23:00)';

/**
 * `HH:MM[:SS]` as ms after midnight, `immediate` as undefined (rows go with each event); anything
 * else is refused with what is allowed.
 */
export function parseHandOverAt(text: string): number | undefined {
  const value = text.trim();
  if (value === 'immediate') return undefined;
  const m = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/.exec(value);
  if (!m) throw new Error(`${JSON.stringify(text)} is not allowed; allowed: ${HAND_OVER_AT_ALLOWED}`);
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3] ?? 0)) * 1000;
}

/**
 * How long after the point the practices' slots reach: 30 minutes by default, so the worker and
 * Temporal take a nation's hand-overs a few practices at a time (about 17 transfers a second, below
 * the 26–31 a second measured at national scale on 2 cores: a backlog would part a practice's
 * transfers, and they would no longer share a signal) instead of all at once.
 */
export const DEFAULT_HAND_OVER_SPREAD_MS = 30 * 60_000;

/**
 * A practice's slot within the spread (ms after the point): the same for all its transfers, so they
 * hand over together and share a signal; practices fall evenly across the spread (FNV-1a of the ODS
 * code, whole seconds).
 */
export function practiceSlotOffset(practiceOds: string, spreadMs: number): number {
  const seconds = Math.floor(spreadMs / 1000);
  if (seconds <= 0) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < practiceOds.length; i++) {
    hash ^= practiceOds.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return (hash % seconds) * 1000;
}

/**
 * The instant (epoch ms) the rows of `day` (YYYY-MM-DD, UTC) are handed over: `atMs` after its
 * midnight, plus the practice's slot (`offsetMs`), never past the day's end.
 */
export function handOverPoint(day: string, atMs: number, offsetMs = 0): number {
  return Date.parse(`${day}T00:00:00Z`) + Math.min(Math.max(0, atMs + offsetMs), DAY_MS - 1);
}
