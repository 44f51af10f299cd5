/**
 * How a transfer turned out, judged as NHS England's own dashboards judge it (the PRM data platform):
 * 14 days after the request, a transfer is integrated within 3 days, within 8 days, integrated late,
 * a technical failure (a fatal error code 6, 7, 10, 14, 23, 24, 30 or 99, or a failed integration), a
 * process failure (neither integrated nor failed technically by then), and until then still in
 * progress. For both roles: the requesting practice (RR records) and the sending practice (SR).
 *
 * One function serves the console, `gp2gp-mi outcomes` and the metrics. A transfer hands reporting a
 * TransferSummary (a pure function of its events) so that counts need neither the events nor
 * visibility queries; the judgement at 14 days needs only the summary and the time. Pure and
 * workflow-safe.
 *
 * CONTRACT (issue 15): the types and signatures below are shared by the domain, the workflows, the
 * client, the CLI and the console; implementation lands with them.
 */
import type { Side } from './events';

export const OUTCOME_CLASSES = [
  'integrated-3d',
  'integrated-8d',
  'integrated-late',
  'technical-failure',
  'process-failure',
  'in-progress',
] as const;
export type OutcomeClass = (typeof OUTCOME_CLASSES)[number];

const DAY_MS = 86_400_000;
/** The Authority classifies each transfer this long after its request. */
export const JUDGEMENT_MS = 14 * DAY_MS;

/**
 * Upper bounds (hours, exclusive of the next) of the request-to-integration time buckets the console
 * plots: < 1 h, < 1 day, < 3 days, < 8 days, < 14 days, later.
 */
export const INTEGRATION_TIME_BUCKET_HOURS = [1, 24, 72, 192, 336, Infinity] as const;

/** What reporting keeps of one transfer to count it; a pure function of the transfer's events. */
export interface TransferSummary {
  side: Side;
  /** The record's key, as in DayRow (registrationId for RR, conversationId for SR). */
  key: string;
  /** Canonical UTC instant the 14-day clock starts: the request (RR ehr-requested, SR request-received). */
  startedAt: string;
  /** The class its events up to the judgement instant settle it in; absent while undecided. */
  settled?: Exclude<OutcomeClass, 'in-progress'>;
  /** Request to integration (ms), when it was integrated before the judgement instant. */
  integratedAfterMs?: number;
  /** The first protocol deadline (extract 24 h, integration 8 days) missed while undecided. */
  overdueSince?: string;
  /** A post to the GP Registrations MI API has failed and waits for a replay. */
  apiPostFailed?: boolean;
}
