/**
 * `npm run demo -- --practices 20 --days 7`: realistic synthetic GP2GP traffic against a running
 * `npm start` (demo/traffic.ts: ~87% integrated within 8 days, ~5% late, 3–4% NACKed with real codes,
 * large messages, internal transfers, registrations with no request), then a submission of every day
 * for every demo practice, a wait until NHS England's mailbox (the embedded stand-in) has acknowledged
 * every file, and a one-screen summary with where to look.
 *
 * Practices: on the embedded default the demo adds practices Y90001… to <data>/demo/practices.json
 * and asks the running `npm start` (SIGUSR2) to restart the worker and HTTP API with them; with
 * GP2GP_PRACTICES set it uses the first N practices of that file. Re-running with the same seed sends
 * the same events again: they are recognised as duplicates and nothing changes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { loadConfig, PROJECT_ROOT, type Config } from '../config';
import { connectTemporalClient } from '../config/temporal';
import { Gp2gpClient, type EventOutcome } from '../client';
import { mapConcurrent } from '../client/concurrency';
import type { HookEvent } from '../mi/events';
import { loadPractices, type PracticeSettings } from '../mi/practices';
import { METRICS } from '../observability/metric-names';
import { DEMO_PRACTICES_FILE, EFFECTIVE_PRACTICES_FILE, EXAMPLE_PRACTICES_FILE } from '../stack/operators';
import { reportingWorkflowId } from '../workflows/ids';
import { submissionQuery, type SubmissionView } from '../messages/submission';
import { transferQuery, type TransferView } from '../messages/transfer';
import { generateTraffic, syntheticPractice } from './traffic';

const DAY_MS = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (line = '') => process.stdout.write(`${line}\n`);
/** A path relative to the project when inside it, else absolute. */
const shown = (file: string) => (path.relative(PROJECT_ROOT, file).startsWith('..') ? file : path.relative(PROJECT_ROOT, file));

// ---- a progress line -----------------------------------------------------------------------------

/** One self-updating line on a terminal; a line per 10% otherwise (CI logs, pipes). */
export class Progress {
  private last = -1;
  private readonly started = Date.now();
  constructor(private readonly label: string, private readonly total: number, private readonly tty = Boolean(process.stdout.isTTY)) {}

  update(done: number, extra = '', final = false): void {
    const pct = this.total ? Math.floor((done / this.total) * 100) : 100;
    const rate = done / Math.max(0.001, (Date.now() - this.started) / 1000);
    const bar = '█'.repeat(Math.round(pct / 4)).padEnd(25, '░');
    const line = `${this.label} ${bar} ${String(pct).padStart(3)}% ${done}/${this.total} (${rate.toFixed(0)}/s)${extra ? `  ${extra}` : ''}`;
    if (this.tty) process.stdout.write(`\r${line}\x1b[K`);
    else if (final || (done < this.total && Math.floor(pct / 10) !== Math.floor(this.last / 10))) say(line);
    this.last = pct;
  }

  done(extra = ''): void {
    this.update(this.total, extra, true);
    if (this.tty) process.stdout.write('\n');
  }
}

// ---- practices -------------------------------------------------------------------------------------

export function demoPractice(n: number): PracticeSettings {
  const ods = `Y9${String(n).padStart(4, '0')}`;
  return syntheticPractice(ods, `2000009${String(n).padStart(5, '0')}`, { applicationStatus: '111110000000000' });
}

async function scrapeMetric(config: Config, name: string): Promise<number | undefined> {
  if (!config.metrics) return undefined;
  try {
    const text = await (await fetch(`http://${config.metrics.host}:${config.metrics.port}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
    const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line ? Number(line.trim().split(/\s+/).pop()) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes N practices known to the running service. Returns their ODS codes and the practices file
 * the worker reads.
 */
async function ensurePractices(config: Config, n: number): Promise<{ ods: string[]; file: string }> {
  if (process.env.GP2GP_PRACTICES?.trim()) {
    const configured = loadPractices(config.practicesFile);
    if (configured.length < n) {
      throw new Error(`GP2GP_PRACTICES (${config.practicesFile}) has ${configured.length} practices, fewer than --practices ${n}; unset it to let the demo add practices`);
    }
    return { ods: configured.slice(0, n).map((p) => p.ods), file: config.practicesFile };
  }
  const effective = EFFECTIVE_PRACTICES_FILE(config.dataDir);
  const wanted = Array.from({ length: n }, (_, i) => demoPractice(i + 1));
  const known = new Set(fs.existsSync(effective) ? loadPractices(effective).map((p) => p.ods) : []);
  if (wanted.every((p) => known.has(p.ods))) return { ods: wanted.map((p) => p.ods), file: effective };

  // Add them (grow only) and ask `npm start` to restart the worker and API on the new list.
  const demoFile = DEMO_PRACTICES_FILE(config.dataDir);
  const existing = fs.existsSync(demoFile) ? loadPractices(demoFile) : [];
  const merged = [...existing, ...wanted.filter((w) => !existing.some((e) => e.ods === w.ods))];
  fs.mkdirSync(path.dirname(demoFile), { recursive: true });
  fs.writeFileSync(demoFile, `${JSON.stringify({ practices: merged }, null, 2)}\n`);
  const pidFile = path.join(config.dataDir, 'stack.pid');
  const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : NaN;
  try {
    if (!pid) throw new Error('no pid');
    process.kill(pid, 0);
  } catch {
    throw new Error(`no running \`npm start\` found for ${config.dataDir} (start it first, in another terminal)`);
  }
  const expected = loadPractices(EXAMPLE_PRACTICES_FILE).filter((p) => !merged.some((m) => m.ods === p.ods)).length + merged.length;
  say(`Adding ${wanted.filter((w) => !known.has(w.ods)).length} demo practices to ${shown(demoFile)}; restarting the worker (npm start, pid ${pid})…`);
  const askedAt = Date.now() / 1000;
  process.kill(pid, 'SIGUSR2');
  // The restarted worker says it is ready, with how many practices, on its metrics endpoint.
  const deadline = Date.now() + 180_000;
  for (;;) {
    const [count, readyAt] = [await scrapeMetric(config, METRICS.practices), await scrapeMetric(config, METRICS.workerReady)];
    if (count === expected && readyAt !== undefined && readyAt >= askedAt) break;
    if (!config.metrics && Date.now() > askedAt * 1000 + 20_000) break; // no metrics: give it time
    if (Date.now() > deadline) throw new Error(`the worker did not come back with ${expected} practices within 180 s; see ${path.join(config.dataDir, 'logs', 'worker.log')}`);
    await sleep(500);
  }
  return { ods: wanted.map((p) => p.ods), file: effective };
}

// ---- the run ---------------------------------------------------------------------------------------

interface Options {
  practices: number;
  days: number;
  endingDaysAgo: number;
  perDay: number;
  seed: number;
  concurrency: number;
  timeout: number;
}

const positive = (max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`a whole number from 1 to ${max}`);
  return n;
};

interface PracticeSummary {
  registrations: number;
  transfers: number;
  integrated: number;
  late: number;
  failed: number;
  rejected: number;
  pending: number;
  nacks: Map<string, number>;
  rows: number;
  files: number;
  delivered: number;
  failedSubmissions: number;
}

async function run(o: Options): Promise<number> {
  const config = loadConfig();
  const { ods: practices, file: practicesFile } = await ensurePractices(config, o.practices);
  const temporal = await connectTemporalClient(config);
  const client = new Gp2gpClient(temporal, { taskQueue: config.temporal.taskQueue, practices: loadPractices(practicesFile).map((p) => p.ods), config: { ...config, practicesFile } });
  try {
    // Registrations on `--days` days ending `--ending` days ago, so that most transfers have run their
    // course (integration is due within 8 days); their later events run up to now.
    const today = Date.parse(new Date().toISOString().slice(0, 10));
    const dayOf = (ms: number) => new Date(ms).toISOString().slice(0, 10);
    const lastDay = today - o.endingDaysAgo * DAY_MS;
    const days = Array.from({ length: o.days }, (_, i) => dayOf(lastDay - (o.days - 1 - i) * DAY_MS));
    // Events older than the correction window are refused (their days can no longer be corrected).
    const oldest = dayOf(today - (config.pipeline.correctionWindowDays - 1) * DAY_MS);
    if (days[0]! < oldest) {
      throw new InvalidArgumentError(
        `--days ${o.days} ending ${o.endingDaysAgo} days ago starts on ${days[0]}, before the ${config.pipeline.correctionWindowDays}-day correction window (${oldest}): use fewer days or a smaller --ending`,
      );
    }
    const events: HookEvent[] = generateTraffic({ practices, days, registrationsPerPracticeDay: o.perDay, seed: o.seed, notAfter: new Date().toISOString() });
    say(
      `Demo: ${practices.length} practices (${practices[0]}…${practices[practices.length - 1]}), registrations ${days[0]} to ${days[days.length - 1]}, ` +
        `${events.length} hook events up to now (seed ${o.seed}); every due day up to ${dayOf(today - DAY_MS)} is then submitted`,
    );

    // 1. Record every event, as the GP systems' hooks would.
    const progress = new Progress('events     ', events.length);
    const counts = { accepted: 0, duplicate: 0, refused: 0 };
    let recorded = 0;
    const outcomes: EventOutcome[] = await mapConcurrent(events, o.concurrency, async (e) => {
      const outcome = await client.recordEvent(e);
      if (++recorded % 25 === 0) progress.update(recorded);
      return outcome;
    });
    for (const r of outcomes) counts[r.status]++;
    progress.done(`${counts.accepted} accepted, ${counts.duplicate} duplicate, ${counts.refused} refused`);
    const refused = outcomes.find((r) => r.status === 'refused');
    if (refused && refused.status === 'refused') say(`  first refusal: ${refused.message}`);

    // 2. Wait until every record has handed its rows to its practice's reporting workflow.
    const workflowIds = [...new Set(outcomes.flatMap((r) => (r.status === 'refused' ? [] : [r.workflowId])))];
    const forwarding = new Progress('rows       ', workflowIds.length);
    const views = new Map<string, TransferView>();
    await mapConcurrent(workflowIds, o.concurrency, async (id) => {
      for (;;) {
        const view = await temporal.workflow.getHandle(id).query(transferQuery);
        if (!view.forwarding) {
          views.set(id, view);
          return forwarding.update(views.size);
        }
        await sleep(250);
      }
    });
    forwarding.done('records forwarded to the reporting workflows');

    // 3. Submit every due day of every demo practice (days with rows, and every day since the practice
    //    was added, empty or not), and follow the submissions until acknowledged.
    const submissions: { practiceOds: string; submissionId: string }[] = [];
    for (const ods of practices) {
      const [r] = await client.submit({ practiceOds: ods });
      for (const s of r!.result.submissions) submissions.push({ practiceOds: ods, submissionId: s.submissionId });
    }
    const delivery = new Progress('submissions', submissions.length);
    const ended = new Map<string, SubmissionView>();
    const deadline = Date.now() + o.timeout * 1000;
    while (ended.size < submissions.length) {
      await mapConcurrent(submissions.filter((s) => !ended.has(s.submissionId)), 8, async (s) => {
        const v = await temporal.workflow.getHandle(s.submissionId).query(submissionQuery).catch(() => undefined);
        if (v && (v.status === 'delivered' || v.status === 'failed')) ended.set(s.submissionId, v);
      });
      const delivered = [...ended.values()].filter((v) => v.status === 'delivered').length;
      delivery.update(ended.size, `${delivered} delivered, ${ended.size - delivered} failed (the Authority acknowledges every 10 s; we track at ${config.pipeline.trackingIntervalMs / 1000} s)`);
      if (ended.size < submissions.length) {
        if (Date.now() > deadline) {
          say('');
          say(`Not all submissions ended within ${o.timeout} s; they go on in the background (Web UI: GP2GP_SubmissionStatus = "awaiting-acknowledgement").`);
          break;
        }
        await sleep(2_000);
      }
    }
    if (ended.size === submissions.length) delivery.done();

    // 4. The summary, from the service's own state: transfer outcomes and delivered rows.
    const summary = new Map<string, PracticeSummary>(
      practices.map((p) => [p, { registrations: 0, transfers: 0, integrated: 0, late: 0, failed: 0, rejected: 0, pending: 0, nacks: new Map(), rows: 0, files: 0, delivered: 0, failedSubmissions: 0 }]),
    );
    for (const view of views.values()) {
      const s = summary.get(view.practiceOds);
      if (!s || view.side !== 'RR') continue;
      s.registrations++;
      if (!view.events.some((e) => e.type === 'ehr-requested' || e.type === 'request-failure')) continue;
      s.transfers++;
      if (view.outcome === 'integrated') s.integrated++;
      else if (view.outcome === 'integrated-late') s.late++;
      else if (view.outcome === 'failed') s.failed++;
      else if (view.outcome === 'rejected') {
        s.rejected++;
        const ack = view.events.find((e) => e.type === 'extract-acknowledged') as { ackCode?: string } | undefined;
        const code = String(ack?.ackCode ?? '?');
        s.nacks.set(code, (s.nacks.get(code) ?? 0) + 1);
      } else s.pending++;
    }
    for (const sub of submissions) {
      const v = ended.get(sub.submissionId);
      const s = summary.get(sub.practiceOds)!;
      if (v?.status === 'delivered') {
        s.delivered++;
        s.files += v.files.length;
        s.rows += v.files.reduce((n, f) => n + f.rows, 0);
      } else if (v?.status === 'failed') s.failedSubmissions++;
    }
    printSummary(config, summary, submissions.length, ended, views);
    const allDelivered = submissions.every((s) => ended.get(s.submissionId)?.status === 'delivered');
    return allDelivered ? 0 : 1;
  } finally {
    await temporal.connection.close();
  }
}

function printSummary(config: Config, summary: Map<string, PracticeSummary>, submissions: number, ended: Map<string, SubmissionView>, views: Map<string, TransferView>): void {
  const pct = (n: number, d: number) => (d ? `${((n / d) * 100).toFixed(0)}%` : '—');
  say('');
  say(`practice  regs  transfers  integrated  late  failed  NACK  pending  NACK codes        submissions  files  rows delivered`);
  const totals = { regs: 0, transfers: 0, integrated: 0, late: 0, failed: 0, rejected: 0, pending: 0, rows: 0, files: 0, delivered: 0 };
  for (const [ods, s] of summary) {
    const codes = [...s.nacks].sort().map(([c, n]) => (n > 1 ? `${c}×${n}` : c)).join(' ') || '—';
    say(
      `${ods.padEnd(8)}  ${String(s.registrations).padStart(4)}  ${String(s.transfers).padStart(9)}  ${pct(s.integrated, s.transfers).padStart(10)}  ${String(s.late).padStart(4)}  ${String(s.failed).padStart(6)}  ${String(s.rejected).padStart(4)}  ${String(s.pending).padStart(7)}  ${codes.padEnd(16).slice(0, 16)}  ${`${s.delivered}/${s.delivered + s.failedSubmissions}`.padStart(11)}  ${String(s.files).padStart(5)}  ${String(s.rows).padStart(14)}`,
    );
    totals.regs += s.registrations;
    totals.transfers += s.transfers;
    totals.integrated += s.integrated;
    totals.late += s.late;
    totals.failed += s.failed;
    totals.rejected += s.rejected;
    totals.pending += s.pending;
    totals.rows += s.rows;
    totals.files += s.files;
    totals.delivered += s.delivered;
  }
  say(
    `${'all'.padEnd(8)}  ${String(totals.regs).padStart(4)}  ${String(totals.transfers).padStart(9)}  ${pct(totals.integrated, totals.transfers).padStart(10)}  ${String(totals.late).padStart(4)}  ${String(totals.failed).padStart(6)}  ${String(totals.rejected).padStart(4)}  ${String(totals.pending).padStart(7)}  ${''.padEnd(16)}  ${`${totals.delivered}/${submissions}`.padStart(11)}  ${String(totals.files).padStart(5)}  ${String(totals.rows).padStart(14)}`,
  );
  say(`(transfers = registrations with a GP2GP request; integrated = within 8 days; late = after 8 days; failed = fatal failure; NACK = rejected by the requester; pending = still in progress)`);

  const ns = config.temporal.namespace;
  const ui = config.temporal.address ? undefined : `http://127.0.0.1:${config.temporal.uiPort}/namespaces/${ns}/workflows`;
  const q = (query: string) => (ui ? `${ui}?query=${encodeURIComponent(query)}` : query);
  const first = [...summary.keys()][0]!;
  const sample = [...views.values()].find((v) => v.side === 'RR' && v.outcome === 'rejected') ?? [...views.values()].find((v) => v.side === 'RR');
  const conversationId = (sample?.events.find((e) => 'conversationId' in e && e.conversationId) as { conversationId?: string } | undefined)?.conversationId;
  say('');
  say('Where to look');
  say(`  Web UI, one practice:        ${q(`GP2GP_PracticeOds = "${first}"`)}`);
  say(`  its submissions:             ${q(`WorkflowType = "submissionWorkflow" AND GP2GP_PracticeOds = "${first}"`)}`);
  say(`  rejected transfers:          ${q(`GP2GP_Outcome = "rejected" AND GP2GP_Side = "RR"`)}`);
  if (conversationId) say(`  one transfer, both sides:    ${q(`GP2GP_ConversationId = "${conversationId}"`)}`);
  say(`  failed submissions:          ${q(`GP2GP_SubmissionStatus = "failed"`)}`);
  say(`  reporting workflow:          ${ui ? `${ui}/${reportingWorkflowId(first)}` : reportingWorkflowId(first)}`);
  if (!config.mesh.url) {
    const dir = path.join(config.dataDir, 'authority');
    say(`  files NHS England received:  ${dir} (${fs.existsSync(dir) ? fs.readdirSync(dir).length : 0} files in all)`);
  }
  if (config.metrics) say(`  metrics:                     http://${config.metrics.host}:${config.metrics.port}/metrics (gp2gp_* and temporal_*)`);
  const failed = [...ended.values()].filter((v) => v.status === 'failed');
  if (failed.length) say(`  ${failed.length} submission(s) failed, e.g. ${failed[0]!.submissionId}: ${failed[0]!.reason ?? ''}`);
}

if (require.main === module) {
  const program = new Command()
    .name('npm run demo --')
    .description('Realistic synthetic GP2GP traffic against a running `npm start`, submitted and followed until delivered')
    .option('--practices <n>', 'number of practices', positive(500), 20)
    .option('--days <n>', 'days (UTC) on which registrations happen', positive(31), 7)
    .option('--ending <n>', 'the last of those days is this many days before today (1-13; 7 lets most transfers finish)', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > 13) throw new InvalidArgumentError('a whole number from 1 to 13');
      return n;
    }, 7)
    .option('--per-day <n>', 'registrations per practice per day', positive(200), 4)
    .option('--seed <n>', 'traffic seed (the same seed sends the same events: duplicates)', positive(2 ** 31), 1)
    .option('--concurrency <n>', 'events in flight', positive(256), 32)
    .option('--timeout <seconds>', 'longest wait for the submissions to be acknowledged', positive(3600), 600)
    .showHelpAfterError();
  program.parse(process.argv);
  run({ ...program.opts<Omit<Options, 'endingDaysAgo'>>(), endingDaysAgo: program.opts<{ ending: number }>().ending }).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(2);
    },
  );
}
