/**
 * `npm run demo -- --practices 20 --days 7`: realistic synthetic GP2GP traffic against a running
 * `npm start` (demo/traffic.ts: ~87% integrated within 8 days, ~5% late, 3–4% NACKed with real codes,
 * large messages, internal transfers, registrations with no request), then a submission of every day
 * for every demo practice, a wait until NHS England's mailbox (the embedded stand-in) has acknowledged
 * every file, and a one-screen summary with where to look.
 *
 * Outputs (issue 12): the demo honours GP2GP_OUTPUTS and the practices' `outputs` as the service does.
 * When some practice reports to the GP Registrations MI API (`api` or `both`), the traffic also carries
 * the API's fields and event types (demo/traffic.ts withApiTraffic: every one of its nine endpoints is
 * used), the demo waits until every transfer has no post pending, and the summary shows per practice
 * the API events accepted and failed, from the transfers' own state (their query's API view); beside
 * it, when the target is the embedded stand-in, what the stand-in recorded, as a cross-check. It exits
 * non-zero if any post failed, as for a failed submission. Practices that report to the API only are
 * not submitted over MESH. With `mesh` (the default) it behaves as before issue 12.
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
import { loadPractices, outputsOf, type PracticeSettings } from '../mi/practices';
import { reportsToApi, reportsToMesh, type Outputs } from '../mi/outputs';
import { apiEventsOf } from '../mi/registrations-api-mapping';
import { API_ENDPOINTS, API_KEY_HEADER, type ApiEndpoint } from '../mi/registrations-api';
import { visibility } from '../client/operations';
import { registrationsApiTarget } from '../config/registrations-api';
import { loadApiConfig } from '../config/api';
import type { RecordedRequest } from '../stack/registrations-api-stand-in';
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
  outputs: Outputs;
  /** API events the API accepted, from the transfers' API view (outputs api or both). */
  apiAccepted: number;
  /** Posts the API refused (one per transfer at most: later posts wait behind it). */
  apiFailed: number;
  /** Posts not made: waiting behind a failed one, or still pending when the wait ended. */
  apiWaiting: number;
  /** What the embedded stand-in recorded for this practice's records (a cross-check), if it is the target. */
  standInAccepted?: number;
}

/** The demo practices' outputs, as the service decides them (a practice's own, else GP2GP_OUTPUTS). */
function demoOutputs(config: Config, practices: readonly string[], settings: readonly PracticeSettings[]): Map<string, Outputs> {
  return new Map(practices.map((ods) => [ods, outputsOf(settings.find((p) => p.ods === ods), config.registrationsApi.outputs)]));
}

/** Every request the embedded stand-in has accepted (its own listing, with the key in the apikey header). */
async function standInRequests(requestsUrl: string, apiKey: string | undefined): Promise<RecordedRequest[] | string> {
  try {
    const res = await fetch(requestsUrl, { headers: apiKey ? { [API_KEY_HEADER]: apiKey } : {}, signal: AbortSignal.timeout(10_000) });
    if (!res.ok) return `the stand-in answered ${res.status}`;
    return ((await res.json()) as { requests: RecordedRequest[] }).requests;
  } catch (err) {
    return `the stand-in could not be asked: ${(err as Error).message}`;
  }
}

async function run(o: Options): Promise<number> {
  const config = loadConfig();
  const { ods: practices, file: practicesFile } = await ensurePractices(config, o.practices);
  const settings = loadPractices(practicesFile);
  // Each practice's outputs as the service decides them: transfers start with them (client), and the
  // reporting (MESH) side is for practices whose outputs include mesh.
  const outputs = demoOutputs(config, practices, settings);
  const apiPractices = practices.filter((p) => reportsToApi(outputs.get(p)));
  const meshPractices = practices.filter((p) => reportsToMesh(outputs.get(p)));
  const target = apiPractices.length ? registrationsApiTarget(config) : undefined;
  const temporal = await connectTemporalClient(config);
  const client = new Gp2gpClient(temporal, { taskQueue: config.temporal.taskQueue, practices: settings.map((p) => p.ods), practiceSettings: settings, config: { ...config, practicesFile } });
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
    // With the API among the outputs, the traffic also carries its fields and event types.
    const events: HookEvent[] = generateTraffic({ practices, days, registrationsPerPracticeDay: o.perDay, seed: o.seed, notAfter: new Date().toISOString(), api: apiPractices.length > 0 });
    say(
      `Demo: ${practices.length} practices (${practices[0]}…${practices[practices.length - 1]}), registrations ${days[0]} to ${days[days.length - 1]}, ` +
        `${events.length} hook events up to now (seed ${o.seed})` +
        (meshPractices.length ? `; every due day up to ${dayOf(today - DAY_MS)} is then submitted` : ''),
    );
    const byOutputs = [...new Set(outputs.values())].map((out) => `${out} (${practices.filter((p) => outputs.get(p) === out).length})`).join(', ');
    say(
      `Outputs: ${byOutputs}` +
        (target
          ? `; GP Registrations MI API ${target.url} (${target.standIn ? 'the embedded stand-in' : 'GP2GP_REGISTRATIONS_API_URL'}, supplier ${config.registrationsApi.reportingSystemSupplier})`
          : ''),
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

    // 2. Wait until every record has handed its rows to its practice's reporting workflow, or holds
    //    only today's for the day's hand-over point (GP2GP_HAND_OVER_AT): today is not submitted.
    const workflowIds = [...new Set(outcomes.flatMap((r) => (r.status === 'refused' ? [] : [r.workflowId])))];
    const forwarding = new Progress('rows       ', workflowIds.length);
    const views = new Map<string, TransferView>();
    await mapConcurrent(workflowIds, o.concurrency, async (id) => {
      for (;;) {
        const view = await temporal.workflow.getHandle(id).query(transferQuery);
        if (!view.forwarding || view.rowsHeldUntil) {
          views.set(id, view);
          return forwarding.update(views.size);
        }
        await sleep(250);
      }
    });
    const held = [...views.values()].filter((v) => v.rowsHeldUntil).length;
    forwarding.done(`records forwarded to the reporting workflows${held ? ` (${held} hold today's rows for the day's hand-over point)` : ''}`);

    // 2b. With the API among the outputs: wait until no transfer has a post pending (each accepted,
    //     or a refused one with those behind it waiting for `gp2gp-mi api replay`), like the MESH wait.
    const apiIds = [...views].filter(([, v]) => v.apiDelivery !== undefined).map(([id]) => id);
    let apiSettled = true;
    if (apiIds.length) {
      const posts = new Progress('API posts  ', apiIds.length);
      const settled = new Set<string>();
      const apiDeadline = Date.now() + o.timeout * 1000;
      for (;;) {
        await mapConcurrent(apiIds.filter((id) => !settled.has(id)), o.concurrency, async (id) => {
          const view = await temporal.workflow.getHandle(id).query(transferQuery);
          views.set(id, view);
          if (view.apiDelivery && view.apiDelivery.status !== 'pending') settled.add(id);
        });
        const all = apiIds.map((id) => views.get(id)!.apiDelivery!);
        const posted = all.reduce((n, a) => n + a.posted, 0);
        const failed = all.filter((a) => a.status === 'failed').length;
        posts.update(settled.size, `${posted} events accepted, ${failed} transfer(s) with a failed post`);
        if (settled.size === apiIds.length) break;
        if (Date.now() > apiDeadline) {
          say('');
          say(`Not every transfer's posts ended within ${o.timeout} s; they go on in the background (Web UI: GP2GP_ApiDelivery = "pending").`);
          apiSettled = false;
          break;
        }
        await sleep(1_000);
      }
      if (apiSettled) posts.done('transfers with no post pending');
    }

    // 3. Submit every due day of every demo practice (days with rows, and every day since the practice
    //    was added, empty or not), and follow the submissions until acknowledged.
    const submissions: { practiceOds: string; submissionId: string }[] = [];
    for (const ods of meshPractices) {
      const [r] = await client.submit({ practiceOds: ods });
      for (const s of r!.result.submissions) submissions.push({ practiceOds: ods, submissionId: s.submissionId });
    }
    const delivery = new Progress('submissions', submissions.length);
    if (meshPractices.length === 0) say('submissions: none (no practice reports over MESH)');
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
    if (ended.size === submissions.length && meshPractices.length) delivery.done();

    // 4. The summary, from the service's own state: transfer outcomes and delivered rows.
    const summary = new Map<string, PracticeSummary>(
      practices.map((p) => [
        p,
        { registrations: 0, transfers: 0, integrated: 0, late: 0, failed: 0, rejected: 0, pending: 0, nacks: new Map(), rows: 0, files: 0, delivered: 0, failedSubmissions: 0, outputs: outputs.get(p)!, apiAccepted: 0, apiFailed: 0, apiWaiting: 0 },
      ]),
    );
    // The API side, from the transfers' own state (RR and SR records alike).
    for (const view of views.values()) {
      const s = summary.get(view.practiceOds);
      const api = view.apiDelivery;
      if (!s || !api) continue;
      s.apiAccepted += api.posted;
      if (api.status === 'failed') s.apiFailed++;
      s.apiWaiting += api.pending - (api.status === 'failed' ? 1 : 0);
    }
    // The endpoints this run's records imply (the mapping over the events the service holds).
    const endpoints = new Map<ApiEndpoint, number>();
    for (const view of views.values()) {
      if (!view.apiDelivery) continue;
      for (const e of apiEventsOf(view.side, view.events, { reportingSystemSupplier: config.registrationsApi.reportingSystemSupplier })) endpoints.set(e.endpoint, (endpoints.get(e.endpoint) ?? 0) + 1);
    }
    const standIn = target?.standIn ? await standInCrossCheck(target.standIn.requestsUrl, target.apiKey, summary, views, config.registrationsApi.reportingSystemSupplier) : undefined;
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
    printSummary(config, summary, submissions.length, ended, views, apiPractices.length ? { endpoints, standIn, target: target! } : undefined);
    const allDelivered = submissions.every((s) => ended.get(s.submissionId)?.status === 'delivered');
    const apiDone = apiSettled && [...summary.values()].every((s) => s.apiFailed === 0 && s.apiWaiting === 0);
    return allDelivered && apiDone ? 0 : 1;
  } finally {
    await temporal.connection.close();
  }
}

/**
 * The cross-check beside the service's own counts: what the embedded stand-in recorded for this run's
 * records, per practice — by reporting practice and conversation, and for /ehr-degrades (which name
 * neither) by their content against the degrades the practice's records imply. A post the API got
 * twice (an answer lost after it acted) shows as one more here than the service counts.
 */
async function standInCrossCheck(
  requestsUrl: string,
  apiKey: string | undefined,
  summary: Map<string, PracticeSummary>,
  views: Map<string, TransferView>,
  reportingSystemSupplier: string,
): Promise<{ total: number } | { error: string }> {
  const requests = await standInRequests(requestsUrl, apiKey);
  if (typeof requests === 'string') return { error: requests };
  const conversations = new Map<string, Set<string>>();
  const degrades = new Map<string, Map<string, number>>();
  for (const view of views.values()) {
    if (!view.apiDelivery || !summary.has(view.practiceOds)) continue;
    for (const e of apiEventsOf(view.side, view.events, { reportingSystemSupplier })) {
      if (e.endpoint === '/ehr-degrades') {
        const byContent = degrades.get(view.practiceOds) ?? new Map<string, number>();
        const key = JSON.stringify(e.body);
        byContent.set(key, (byContent.get(key) ?? 0) + 1);
        degrades.set(view.practiceOds, byContent);
      } else if (typeof e.body.conversationId === 'string') {
        const set = conversations.get(view.practiceOds) ?? new Set<string>();
        set.add(e.body.conversationId);
        conversations.set(view.practiceOds, set);
      }
    }
  }
  const counts = new Map<string, number>([...summary.keys()].map((p) => [p, 0]));
  const degradeRequests = new Map<string, number>();
  for (const r of requests) {
    if (r.endpoint === '/ehr-degrades') {
      const key = JSON.stringify(r.body);
      degradeRequests.set(key, (degradeRequests.get(key) ?? 0) + 1);
      continue;
    }
    const ods = r.body.reportingPracticeOdsCode;
    if (typeof ods === 'string' && conversations.get(ods)?.has(String(r.body.conversationId))) counts.set(ods, counts.get(ods)! + 1);
  }
  // Degrades: as many as each practice's records imply, in order; any more (a repeat) to the first.
  for (const [key, received] of degradeRequests) {
    let left = received;
    let first: string | undefined;
    for (const [ods, byContent] of degrades) {
      const wanted = byContent.get(key) ?? 0;
      if (!wanted) continue;
      first ??= ods;
      const n = Math.min(wanted, left);
      counts.set(ods, counts.get(ods)! + n);
      left -= n;
    }
    if (first && left > 0) counts.set(first, counts.get(first)! + left);
  }
  let total = 0;
  for (const [ods, n] of counts) {
    const s = summary.get(ods)!;
    if (reportsToApi(s.outputs)) {
      s.standInAccepted = n;
      total += n;
    }
  }
  return { total };
}

interface ApiSummary {
  /** API events this run's records imply, by endpoint (the mapping over the events the service holds). */
  endpoints: Map<ApiEndpoint, number>;
  /** The stand-in's cross-check, when it is the target. */
  standIn: { total: number } | { error: string } | undefined;
  target: ReturnType<typeof registrationsApiTarget>;
}

function printSummary(config: Config, summary: Map<string, PracticeSummary>, submissions: number, ended: Map<string, SubmissionView>, views: Map<string, TransferView>, api?: ApiSummary): void {
  const pct = (n: number, d: number) => (d ? `${((n / d) * 100).toFixed(0)}%` : '—');
  say('');
  say(`practice  regs  transfers  integrated  late  failed  NACK  pending  NACK codes        submissions  files  rows delivered`);
  const totals = { regs: 0, transfers: 0, integrated: 0, late: 0, failed: 0, rejected: 0, pending: 0, rows: 0, files: 0, delivered: 0 };
  for (const [ods, s] of summary) {
    const codes = [...s.nacks].sort().map(([c, n]) => (n > 1 ? `${c}×${n}` : c)).join(' ') || '—';
    // A practice that reports to the API only has no MESH submissions.
    const mesh = reportsToMesh(s.outputs);
    say(
      `${ods.padEnd(8)}  ${String(s.registrations).padStart(4)}  ${String(s.transfers).padStart(9)}  ${pct(s.integrated, s.transfers).padStart(10)}  ${String(s.late).padStart(4)}  ${String(s.failed).padStart(6)}  ${String(s.rejected).padStart(4)}  ${String(s.pending).padStart(7)}  ${codes.padEnd(16).slice(0, 16)}  ${(mesh ? `${s.delivered}/${s.delivered + s.failedSubmissions}` : '—').padStart(11)}  ${(mesh ? String(s.files) : '—').padStart(5)}  ${(mesh ? String(s.rows) : '—').padStart(14)}`,
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
  if (api) printApiSummary(summary, api);

  const ns = config.temporal.namespace;
  const ui = config.temporal.address ? undefined : `http://127.0.0.1:${config.temporal.uiPort}/namespaces/${ns}/workflows`;
  const q = (query: string) => (ui ? `${ui}?query=${encodeURIComponent(query)}` : query);
  const first = [...summary].find(([, s]) => reportsToMesh(s.outputs))?.[0] ?? [...summary.keys()][0]!;
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
  const consoleUrl = operatorsConsole(config);
  if (consoleUrl) say(`  operators' console:          ${consoleUrl}`);
  if (api) {
    say(`  API posts, failed:           ${q(visibility.failedApiPosts())}  (gp2gp-mi api failed; gp2gp-mi api replay --practice <ODS> once the cause is fixed)`);
    say(`  API posts, pending:          ${q(`WorkflowType = "transferWorkflow" AND GP2GP_ApiDelivery = "pending"`)}`);
    if (api.target.standIn) say(`  what the stand-in accepted:  GET ${api.target.standIn.requestsUrl} (header ${API_KEY_HEADER}: the key in ${path.join(config.dataDir, 'registrations-api-key')} or GP2GP_REGISTRATIONS_API_KEY); ${path.join(config.dataDir, 'registrations-api', 'requests.jsonl')}`);
  }
  const failed = [...ended.values()].filter((v) => v.status === 'failed');
  if (failed.length) say(`  ${failed.length} submission(s) failed, e.g. ${failed[0]!.submissionId}: ${failed[0]!.reason ?? ''}`);
  const failedPost = [...views.values()].find((v) => v.apiDelivery?.status === 'failed');
  if (failedPost?.apiDelivery?.failed) {
    const f = failedPost.apiDelivery.failed;
    say(`  API post(s) failed, e.g. ${failedPost.side} ${failedPost.practiceOds} ${failedPost.key}: ${f.endpoint} ${f.reason}`);
  }
}

/** Where the operators' console of the running service is, and how to log in (never the token itself). */
function operatorsConsole(config: Config): string | undefined {
  try {
    const api = loadApiConfig({ ...process.env, GP2GP_API_TOKENS: '', GP2GP_API_TOKEN_FILE: '' });
    if (!api.console) return undefined;
    const host = api.host.includes(':') ? `[${api.host}]` : api.host;
    const token = process.env.GP2GP_API_TOKENS?.trim() || process.env.GP2GP_API_TOKEN_FILE?.trim() ? 'an API token' : `the token in ${shown(path.join(config.dataDir, 'api-token'))}`;
    return `http://${host}:${api.port}/console (log in with ${token}; every demo practice is in its calendar)`;
  } catch {
    return undefined;
  }
}

/** Per practice: the API events the API accepted and refused, from the transfers' own state. */
function printApiSummary(summary: Map<string, PracticeSummary>, api: ApiSummary): void {
  const standIn = api.standIn && 'total' in api.standIn;
  say('');
  say(`GP Registrations MI API: ${api.target.url} (${api.target.standIn ? 'the embedded stand-in' : 'GP2GP_REGISTRATIONS_API_URL'})`);
  say(`practice  outputs  accepted  failed  waiting${standIn ? '  stand-in' : ''}`);
  const totals = { accepted: 0, failed: 0, waiting: 0, standIn: 0 };
  const cell = (on: boolean, n: number | undefined, width: number) => (on && n !== undefined ? String(n) : '—').padStart(width);
  for (const [ods, s] of summary) {
    const on = reportsToApi(s.outputs);
    say(`${ods.padEnd(8)}  ${s.outputs.padEnd(7)}  ${cell(on, s.apiAccepted, 8)}  ${cell(on, s.apiFailed, 6)}  ${cell(on, s.apiWaiting, 7)}${standIn ? `  ${cell(on, s.standInAccepted, 8)}` : ''}`);
    if (!on) continue;
    totals.accepted += s.apiAccepted;
    totals.failed += s.apiFailed;
    totals.waiting += s.apiWaiting;
    totals.standIn += s.standInAccepted ?? 0;
  }
  say(`${'all'.padEnd(8)}  ${''.padEnd(7)}  ${String(totals.accepted).padStart(8)}  ${String(totals.failed).padStart(6)}  ${String(totals.waiting).padStart(7)}${standIn ? `  ${String(totals.standIn).padStart(8)}` : ''}`);
  say(
    `(accepted = API events the API answered 2xx, failed = posts it refused (4xx), waiting = posts behind a refused one or still pending — from each transfer's own state` +
      `${standIn ? '; stand-in = what the stand-in recorded for these records, a cross-check: more than accepted means a post repeated after a lost answer' : ''})`,
  );
  if (api.standIn && 'error' in api.standIn) say(`(no stand-in cross-check: ${api.standIn.error})`);
  const used = API_ENDPOINTS.filter((e) => api.endpoints.has(e));
  say(
    `API events by endpoint: ${API_ENDPOINTS.map((e) => `${e} ${api.endpoints.get(e) ?? 0}`).join(', ')}` +
      ` (${used.length === API_ENDPOINTS.length ? 'all nine used' : `${used.length} of ${API_ENDPOINTS.length} used`})`,
  );
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
