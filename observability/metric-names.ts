/**
 * Names of the project's own metrics (the Prometheus endpoint also carries Temporal's, prefixed
 * `temporal_`). Kept in one place for the dashboard (observability/grafana-dashboard.json), the README
 * and the tests. Labels are bounded: event type, outcome, reason (a field name), operation, status,
 * a NACK code (two digits, 01–99), a workflow type. No practice, patient or message identifiers ever
 * become labels.
 */
import { TRANSFERS_JUDGED_METRIC } from '../messages/reporting';

export const METRICS = {
  /** Hook events reaching a transfer workflow: outcome accepted | duplicate | refused; reason = field. */
  events: 'gp2gp_events',
  /**
   * Accepted acknowledgements whose NACK code (01–99, as 0171.02 allows) is not in 0083.08's list:
   * code (bounded to 01–99), event_type. A GP system using a newer code shows up here.
   */
  unknownNackCodes: 'gp2gp_unknown_nack_codes',
  /** Rows handed from transfer workflows to the reporting workflows. */
  rowsForwarded: 'gp2gp_rows_forwarded',
  /**
   * Transfers' forwards per signal to a reporting workflow (histogram): above 1 when forwards for the
   * same practice waited together and shared one (activities/rows-hand-over.ts).
   */
  rowsHandOverForwards: 'gp2gp_rows_hand_over_forwards',
  /** Rows (RR + SR) per record set sent (histogram). */
  recordSetRows: 'gp2gp_record_set_rows',
  /** Rows sent in MI files. */
  rowsSent: 'gp2gp_rows_sent',
  /** MI files sent over MESH, and their bytes. */
  filesSent: 'gp2gp_mesh_files_sent',
  bytesSent: 'gp2gp_mesh_bytes_sent',
  /** Submissions ended: status delivered | failed. */
  submissions: 'gp2gp_submissions',
  /**
   * GP2GP transfers counted for good by the reporting workflows, 14 days after the request (plus a
   * 2-day grace for late events): side RR | SR, outcome (mi/outcomes.ts OUTCOME_CLASSES). Emitted by
   * the workflow itself (messages/reporting.ts names it), not an interceptor.
   */
  transfersJudged: TRANSFERS_JUDGED_METRIC,
  /** MESH tracking answers by status (accepted, acknowledged, …). */
  tracking: 'gp2gp_mesh_tracking',
  /** Inbox messages classified: kind ack | nack | error-report | other. */
  inboxMessages: 'gp2gp_inbox_messages',
  /** MESH HTTP requests: operation, status (HTTP code or "error"). */
  meshRequests: 'gp2gp_mesh_requests',
  /** MESH request latency in seconds (histogram), by operation. */
  meshLatency: 'gp2gp_mesh_request_duration_seconds',
  /** MESH answers the client retries (429, 5xx, network errors), by operation. */
  meshRetries: 'gp2gp_mesh_retried_requests',
  /**
   * Sends made without the local-id lookup (`outbox/tracking/{local_id}`, deprecated by MESH) because
   * MESH answered it with neither a tracking record nor 404; label status (the HTTP status).
   */
  meshLocalIdLookupUnavailable: 'gp2gp_mesh_local_id_lookup_unavailable',
  /**
   * Posts to the GP Registrations MI API, one per attempt: endpoint, result ok | retried (429, 5xx,
   * network, timeout) | failed (refused: a 4xx other than 429, or no API key), status (HTTP status,
   * `timeout` or `network`).
   */
  apiPosts: 'gp2gp_api_posts',
  /**
   * API posts made again after an attempt whose answer was lost once sent (reset, closed or timed out
   * after the request left): the API may have acted on the lost one, so each is a possible repeat
   * there (it has no idempotency key). By endpoint.
   */
  apiPostRepeats: 'gp2gp_api_post_repeats',
  /**
   * Workflow activations that held the workflow thread past 5 s (worker/workflow-calls.ts), counted
   * once each. By workflow type.
   */
  slowWorkflowActivations: 'gp2gp_slow_workflow_activations',
  /** Practices the running worker reports for (its practices file). */
  practices: 'gp2gp_practices_configured',
  /** When the worker became ready (unix seconds). */
  workerReady: 'gp2gp_worker_ready_timestamp_seconds',
} as const;

/** Bucket boundaries of our histograms, for the Runtime's Prometheus exporter. */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [METRICS.meshLatency]: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  [METRICS.recordSetRows]: [0, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
};

/** A refusal message's field ("occurredAt: …" → occurredAt), a bounded label value. */
export function refusalReason(message: string): string {
  const m = /^([A-Za-z][A-Za-z0-9_.]*(?:\[\d+\])?)\s*:/.exec(message);
  if (m) return m[1]!.replace(/\[\d+\]/g, '');
  if (/^event belongs to/.test(message)) return 'wrong-record';
  return 'other';
}
