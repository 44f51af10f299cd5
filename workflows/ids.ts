/**
 * Workflow IDs: readable, stable, and built only from organisation codes and system identifiers
 * (never patient data), so operators can type them into the Web UI.
 */
import type { Side } from '../mi/events';

export function transferWorkflowId(side: Side, practiceOds: string, key: string): string {
  return `gp2gp-${side.toLowerCase()}-${practiceOds}-${key}`;
}

export function reportingWorkflowId(practiceOds: string): string {
  return `gp2gp-reporting-${practiceOds}`;
}

export function inboxWorkflowId(mailbox: string): string {
  return `gp2gp-inbox-${mailbox}`;
}

/**
 * A submission id is also the MESH local id stem, so a MESH message leads back to its workflow. The
 * run tag keeps ids unique even if a practice's reporting workflow is ever started afresh.
 */
export function submissionId(practiceOds: string, firstDay: string, lastDay: string, runTag: string, sequence: number): string {
  return `gp2gp-sub-${practiceOds}-${firstDay.replaceAll('-', '')}-${lastDay.replaceAll('-', '')}-${runTag}-${sequence}`;
}

/** The practice a submission id belongs to. */
export function practiceOfSubmission(submission: string): string | undefined {
  return /^gp2gp-sub-([A-Z0-9]+)-/.exec(submission)?.[1];
}

/** MESH local id of file n of a submission. */
export function meshLocalId(submission: string, fileIndex: number): string {
  return `${submission}-f${fileIndex + 1}`;
}

/** The submission behind a MESH local id, or undefined if the id is not one of ours. */
export function submissionOfLocalId(localId: string): string | undefined {
  const m = /^(gp2gp-sub-[A-Z0-9]+-\d{8}-\d{8}-r[0-9a-z]+-\d+)-f\d+$/.exec(localId);
  return m?.[1];
}
