/**
 * Operations commands: what an operator runs from a terminal beside the Temporal Web UI.
 *
 *   gp2gp-mi submissions list [--practice ODS] [--failed] [--since 7d] [--json]
 *   gp2gp-mi submissions show <id> [--json]
 *   gp2gp-mi submissions replay <id> [--force] [--wait] [--json]
 *   gp2gp-mi submissions replay --all-failed [--practice ODS] [--since 7d] [--wait] [--json]
 *   gp2gp-mi transfer show <ODS> <key> [--side RR|SR] [--json]   (with its API posts when it reports to the API)
 *   gp2gp-mi transfer find (--conversation-id ID | --registration-id ID | --practice ODS) [--json]
 *   gp2gp-mi practices status [--practice ODS] [--json]
 *
 * The logic lives in client/operations.ts; this file parses, prints and sets the exit code
 * (0 ok, 1 the operation failed, 2 bad usage or input). `--json` prints one JSON document on stdout.
 */
import { Option, type Command } from 'commander';
import { loadConfig } from '../config';
import { EXIT_FAILED } from './exit-codes';
import {
  assertDay,
  assertOds,
  findWorkflows,
  listSubmissions,
  OperationError,
  parseSince,
  practicesStatus,
  replayAllFailed,
  replaySubmission,
  showSubmission,
  showTransfer,
  visibility,
  waitForSubmission,
  type ReplayOutcome,
  type SubmissionSummary,
} from '../client/operations';
import { loadPractices } from '../mi/practices';
import type { Side } from '../mi/events';
import { withClient } from './with-client';

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function days(list: string[]): string {
  if (list.length <= 3) return list.join(',') || '-';
  return `${list[0]}..${list[list.length - 1]} (${list.length})`;
}

const json = (value: unknown) => console.log(JSON.stringify(value, null, 2));

function printSubmissions(list: SubmissionSummary[]): void {
  if (list.length === 0) return console.log('no submissions found');
  console.log(
    table(
      ['ID', 'PRACTICE', 'DAYS', 'STATUS', 'REASON', 'MESH MESSAGE ID'],
      list.map((s) => [s.submissionId, s.practiceOds, days(s.days), s.status, s.reason ?? '', s.meshMessageIds.join(',') || '-']),
    ),
  );
}

function printReplay(outcomes: ReplayOutcome[]): void {
  for (const o of outcomes) {
    for (const s of o.submissions) console.log(`${o.practiceOds}: replayed ${o.replayOf.join(', ')} as ${s.submissionId} (${s.days.join(', ')})`);
    for (const k of o.skipped) console.log(`${o.practiceOds}: ${k.day} not sent again: ${k.reason}`);
    if (o.submissions.length === 0) console.log(`${o.practiceOds}: nothing to send again for ${o.replayOf.join(', ')}`);
  }
}

function side(value: string): Side {
  const s = value.toUpperCase();
  if (s !== 'RR' && s !== 'SR') throw new OperationError(`--side: ${JSON.stringify(value)} is not allowed; allowed: RR or SR`, 2);
  return s;
}

export function registerOperationsCommands(program: Command): void {
  const submissions = program.command('submissions').description('MI submissions: list, show, replay failed ones');

  submissions
    .command('list')
    .description('list submissions, newest first (from Temporal visibility)')
    .option('--practice <ods>', 'only this practice')
    .option('--failed', 'only failed submissions')
    .option('--since <when>', 'started since: YYYY-MM-DD, an ISO date-time, or e.g. 36h / 7d')
    .option('--day <YYYY-MM-DD>', 'only submissions carrying this MI day')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'machine-readable output')
    .action(async (opts: { practice?: string; failed?: boolean; since?: string; day?: string; limit: string; json?: boolean }) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1) throw new OperationError(`--limit: ${JSON.stringify(opts.limit)} is not allowed; allowed: a whole number ≥ 1`, 2);
      if (opts.day !== undefined) assertDay('--day', opts.day);
      const filter = {
        ...(opts.practice ? { practiceOds: assertOds(opts.practice) } : {}),
        ...(opts.failed ? { failed: true } : {}),
        ...(opts.since ? { since: parseSince(opts.since) } : {}),
        ...(opts.day ? { day: opts.day } : {}),
      };
      const list = await withClient((c) => listSubmissions(c.temporal, filter, { limit }));
      if (opts.json) json(list);
      else printSubmissions(list);
    });

  submissions
    .command('show')
    .description('one submission: days, status, reason, files and their MESH message ids')
    .argument('<id>', 'submission id (gp2gp-sub-…)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts: { json?: boolean }) => {
      const s = await withClient((c) => showSubmission(c.temporal, id));
      if (opts.json) return json(s);
      console.log(`submission   ${s.submissionId}`);
      console.log(`practice     ${s.practiceOds}`);
      console.log(`days         ${s.days.join(', ') || '-'}`);
      console.log(`status       ${s.status} (workflow ${s.executionStatus.toLowerCase()})`);
      if (s.reason) console.log(`reason       ${s.reason}`);
      console.log(`started      ${s.startedAt}${s.closedAt ? `, closed ${s.closedAt}` : ''}`);
      if (s.files.length) {
        console.log(
          table(
            ['FILE', 'MESH MESSAGE ID', 'LOCAL ID', 'ROWS', 'BYTES', 'ACKNOWLEDGED'],
            s.files.map((f) => [f.fileName, f.messageId, f.localId, String(f.rows), String(f.bytes), f.acknowledged ? 'yes' : 'no']),
          ),
        );
      } else console.log('files        none sent');
    });

  submissions
    .command('replay')
    .description('send the days of a failed submission again, rendered from current state (or of every failed one)')
    .argument('[id]', 'submission id (gp2gp-sub-…)')
    .option('--all-failed', 'every failed submission (with --practice / --since to narrow)')
    .option('--practice <ods>', 'with --all-failed: only this practice')
    .option('--since <when>', 'with --all-failed: failed submissions started since (YYYY-MM-DD, ISO, 36h, 7d)')
    .option('--force', 'send the days again even if the submission did not fail or they were delivered since')
    .option('--wait', 'wait until the new submission(s) end; exit 1 if one fails')
    .option('--json', 'machine-readable output')
    .action(
      async (
        id: string | undefined,
        opts: { allFailed?: boolean; practice?: string; since?: string; force?: boolean; wait?: boolean; json?: boolean },
      ) => {
        if (Boolean(id) === Boolean(opts.allFailed)) throw new OperationError('submissions replay: give a submission id or --all-failed (not both)', 2);
        if (!opts.allFailed && (opts.practice || opts.since)) throw new OperationError('--practice and --since go with --all-failed', 2);
        if (opts.allFailed && opts.force) throw new OperationError('--force goes with one submission id, not --all-failed', 2);
        const filter = {
          ...(opts.practice ? { practiceOds: assertOds(opts.practice) } : {}),
          ...(opts.since ? { since: parseSince(opts.since) } : {}),
        };
        await withClient(async (c) => {
          const outcomes = opts.allFailed ? await replayAllFailed(c, filter) : [await replaySubmission(c, id!, { force: Boolean(opts.force) })];
          let ended: SubmissionSummary[] = [];
          if (opts.wait) {
            ended = await Promise.all(outcomes.flatMap((o) => o.submissions).map((s) => waitForSubmission(c.temporal, s.submissionId)));
            if (ended.some((s) => s.status !== 'delivered')) process.exitCode = EXIT_FAILED;
          }
          if (opts.json) return json(opts.wait ? { replays: outcomes, ended } : { replays: outcomes });
          if (opts.allFailed && outcomes.length === 0) console.log('no failed submissions');
          printReplay(outcomes);
          for (const s of ended) console.log(`${s.submissionId}: ${s.status}${s.reason ? ` (${s.reason})` : ''}`);
        });
      },
    );

  const transfer = program.command('transfer').description('GP2GP transfer records (RR per registration, SR per EHR request)');
  transfer
    .command('show')
    .description('one record: stage, outcome, its events and its row per day')
    .argument('<ods>', 'the reporting practice')
    .argument('<key>', 'registration ID (RR) or conversation ID (SR)')
    .addOption(new Option('--side <side>', 'RR or SR, when the key could be either'))
    .option('--json', 'machine-readable output')
    .action(async (ods: string, key: string, opts: { side?: string; json?: boolean }) => {
      const t = await withClient((c) => showTransfer(c.temporal, assertOds(ods), key, opts.side ? side(opts.side) : undefined));
      if (opts.json) return json(t);
      console.log(`record       ${t.side} of ${t.practiceOds}, key ${t.key}`);
      console.log(`workflow     ${t.workflowId} (${t.executionStatus.toLowerCase()})`);
      console.log(`stage        ${t.stage}`);
      console.log(`outcome      ${t.outcome}`);
      for (const w of t.warnings) console.log(`warning      ${w.message} (event ${w.eventId})`);
      if (t.outputs) console.log(`outputs      ${t.outputs}`);
      if (t.apiDelivery) {
        const a = t.apiDelivery;
        console.log(`api          ${a.status}: ${a.posted} posted, ${a.pending} to post${a.inFlight ? ` (posting ${a.inFlight.endpoint})` : ''}`);
        if (a.failed) console.log(`api failed   ${a.failed.endpoint} at ${a.failed.at}: ${a.failed.reason} (gp2gp-mi api replay ${t.workflowId})`);
      }
      if (t.rowsHeldUntil) console.log(`rows         held for the day's hand-over point, ${t.rowsHeldUntil} (GP2GP_HAND_OVER_AT)`);
      console.log(`events       ${t.events.length}`);
      console.log(
        table(
          ['OCCURRED AT', 'TYPE', 'EVENT ID'],
          [...t.events].sort((a, b) => Date.parse(a.occurredAt) - Date.parse(b.occurredAt)).map((e) => [e.occurredAt, e.type, e.eventId]),
        ),
      );
      console.log('rows per day');
      for (const r of t.rows) console.log(`${r.day}  ${r.fields.join(',')}`);
    });

  transfer
    .command('find')
    .description('find transfer records by conversation ID, registration ID or practice (visibility)')
    .option('--conversation-id <id>', 'GP2GP conversation ID (both sides)')
    .option('--registration-id <id>', 'registration ID (RR)')
    .option('--practice <ods>', 'every transfer of a practice')
    .option('--limit <n>', 'at most this many', '100')
    .option('--json', 'machine-readable output')
    .action(async (opts: { conversationId?: string; registrationId?: string; practice?: string; limit: string; json?: boolean }) => {
      const given = [opts.conversationId, opts.registrationId, opts.practice].filter(Boolean).length;
      if (given !== 1) throw new OperationError('transfer find: give exactly one of --conversation-id, --registration-id, --practice', 2);
      const query = opts.conversationId
        ? visibility.transferByConversationId(opts.conversationId)
        : opts.registrationId
          ? visibility.transferByRegistrationId(opts.registrationId)
          : `WorkflowType = "transferWorkflow" AND ${visibility.practice(assertOds(opts.practice!))}`;
      const found = await withClient((c) => findWorkflows(c.temporal, query, Number(opts.limit) || 100));
      if (opts.json) return json({ query, workflows: found });
      console.log(`query: ${query}`);
      console.log(found.length ? table(['WORKFLOW ID', 'STATUS'], found.map((f) => [f.workflowId, f.status])) : 'no transfers found');
    });

  program
    .command('practices')
    .description('practices this service reports for')
    .command('status')
    .description('per practice: last delivered day, days pending, submissions in flight, recent failures')
    .option('--practice <ods>', 'only this practice')
    .option('--json', 'machine-readable output')
    .action(async (opts: { practice?: string; json?: boolean }) => {
      const configured = loadPractices(loadConfig().practicesFile).map((p) => p.ods);
      const wanted = opts.practice ? [assertOds(opts.practice)] : configured;
      if (opts.practice && !configured.includes(opts.practice)) throw new OperationError(`practice ${opts.practice} is not configured for this service`, 2);
      const status = await withClient((c) => practicesStatus(c, wanted));
      if (status.some((s) => !s.ok)) process.exitCode = EXIT_FAILED;
      if (opts.json) return json(status);
      console.log(
        table(
          ['PRACTICE', 'LAST DELIVERED', 'PENDING', 'IN FLIGHT', 'FAILURES', 'LATEST FAILURE', 'NEXT SUBMISSION'],
          status.map((s) =>
            s.ok
              ? [
                  s.practiceOds,
                  s.lastDeliveredDay ?? 'none',
                  days(s.pendingDays),
                  s.inFlight.map((f) => f.submissionId).join(',') || '-',
                  String(s.recentFailures.length),
                  s.recentFailures[0] ? `${s.recentFailures[0].submissionId}: ${s.recentFailures[0].reason}` : '-',
                  s.nextSubmissionAt,
                ]
              : [s.practiceOds, `unavailable: ${s.error}`, '', '', '', '', ''],
          ),
        ),
      );
    });
}
