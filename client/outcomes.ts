/**
 * Transfer outcomes per practice, as the Authority judges them (mi/outcomes.ts), and each practice's
 * picture for the operators' console: read from the practices' reporting workflows, which keep the
 * counts as their transfers hand them over (the `console` query) — never from visibility, which is
 * rate-limited and eventually consistent. For `gp2gp-mi outcomes` (cli/outcomes.ts) and the console
 * (api/console/), so both count alike.
 *
 * Freshness: a transfer's summary reaches its reporting workflow with the forward of its event's rows
 * (seconds); the class of a transfer still in progress is read at the moment of the query.
 */
import type { Config } from '../config';
import type { Side } from '../mi/events';
import { addOutcomeCounts, emptyOutcomeCounts, type OutcomeCounts, type PracticeOutcomes } from '../mi/outcomes';
import { reportsToMesh } from '../mi/outputs';
import { outputsOf, type PracticeSettings } from '../mi/practices';
import { OUTCOME_RETENTION_DAYS, type ConsoleRequest, type PracticeConsoleView } from '../messages/reporting';
import { mapConcurrent } from './concurrency';
import type { Gp2gpClient } from './index';
import { OperationError } from './operations';

const DAY_MS = 86_400_000;

/** A practice's console view, or why its reporting workflow did not answer. */
export type PracticeConsole = ({ ok: true } & PracticeConsoleView) | { practiceOds: string; ok: false; error: string };

/**
 * The console views of many practices, at most `concurrency` queries at a time (one query each: no
 * per-practice request storm), in the order given. A practice whose workflow does not answer is
 * listed with the reason instead of failing the rest.
 */
export async function practiceConsoles(
  gp2gp: Gp2gpClient,
  practices: readonly string[],
  options: { concurrency?: number; request?: ConsoleRequest } = {},
): Promise<PracticeConsole[]> {
  return await mapConcurrent(practices, options.concurrency ?? 16, async (ods): Promise<PracticeConsole> => {
    try {
      return { ok: true, ...(await gp2gp.practiceConsole(ods, options.request)), practiceOds: ods };
    } catch (err) {
      return { practiceOds: ods, ok: false, error: (err as Error).message };
    }
  });
}

/**
 * The practices that have a reporting workflow, and so outcome counts: those reporting over MESH
 * (`outputs` mesh or both). A practice reporting to the GP Registrations MI API only has none.
 */
export function practicesWithOutcomes(config: Config, practices: readonly PracticeSettings[]): string[] {
  return practices.filter((p) => reportsToMesh(outputsOf(p, config.registrationsApi.outputs))).map((p) => p.ods);
}

export interface OutcomesReport {
  /** The first request day (UTC) counted. */
  since: string;
  /** The time the counts are read at. */
  asOf: string;
  /** Per practice, in the order of the views: every class, zeros included. */
  practices: PracticeOutcomes[];
  totals: OutcomeCounts;
}

/** The first request day counted by `sinceDays` back from `now`: the day of now − sinceDays. */
export function sinceDay(sinceDays: number, now: number | Date): string {
  return new Date(+now - sinceDays * DAY_MS).toISOString().slice(0, 10);
}

/**
 * Counts the transfers whose request day is on or after now − sinceDays (a day, UTC), per practice,
 * per role and in total, from the practices' console views. Pure: the console and the CLI count the
 * same views the same way, and tests compare it with mi/outcomes.ts classifyRecords.
 */
export function outcomesReport(views: readonly PracticeConsoleView[], options: { sinceDays: number; now: number | Date }): OutcomesReport {
  const since = sinceDay(options.sinceDays, options.now);
  const totals = emptyOutcomeCounts();
  const practices = views.map((view): PracticeOutcomes => {
    const outcomes = emptyOutcomeCounts();
    const bySide: Record<Side, OutcomeCounts> = { RR: emptyOutcomeCounts(), SR: emptyOutcomeCounts() };
    for (const day of view.outcomes) {
      if (day.day < since) continue;
      addOutcomeCounts(outcomes, day.counts);
      addOutcomeCounts(bySide[day.side], day.counts);
    }
    addOutcomeCounts(totals, outcomes);
    return { practiceOds: view.practiceOds, outcomes, bySide };
  });
  return { since, asOf: new Date(+options.now).toISOString(), practices, totals };
}

export const SINCE_DAYS_ALLOWED = `a number of days or weeks back from today, e.g. 28d or 4w, from 1d to ${OUTCOME_RETENTION_DAYS}d (${OUTCOME_RETENTION_DAYS / 7}w): outcomes are kept that long`;

/** `--since` of `gp2gp-mi outcomes`: 28d, 4w … as a number of days, or an OperationError (exit 2). */
export function parseSinceDays(text: string, option = '--since'): number {
  const m = /^\s*(\d{1,4})\s*([dw])\s*$/i.exec(text);
  const days = m ? Number(m[1]) * (m[2]!.toLowerCase() === 'w' ? 7 : 1) : NaN;
  if (!(days >= 1 && days <= OUTCOME_RETENTION_DAYS)) {
    throw new OperationError(`${option}: ${JSON.stringify(text.slice(0, 40))} is not allowed; allowed: ${SINCE_DAYS_ALLOWED}`, 2);
  }
  return days;
}
