/**
 * The operators' console in a real browser (Debian's Chromium driven by Playwright), against the real
 * pipeline: two pipelines on the run's Temporal server and MESH sandbox — one whose submissions NHS
 * England's mailbox acknowledges, one whose Authority mailbox does not exist so MESH refuses its sends
 * — a week of synthetic transfers, submissions, one correction; then the HTTP API with the console on
 * the same Temporal. The operator logs in on the form, sees the calendar and the plots, follows a
 * failed day to its submission in the Temporal Web UI, and searches a conversation ID. The counts on the
 * page equal the reporting workflows' own (`outcomesReport` of their console views, as `gp2gp-mi
 * outcomes --json` prints them) and an offline classification of the same events (`classifyRecords`).
 * Screenshots: test/.artifacts/console-*.png.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApi, type RunningApi } from '../../api/main';
import { outcomesReport, practiceConsoles } from '../../client/outcomes';
import { loadConfig } from '../../config';
import { loadApiConfig } from '../../config/api';
import { generateTraffic, syntheticPractice } from '../../demo/traffic';
import type { HookEvent } from '../../mi/events';
import { classifyRecords, OUTCOME_CLASSES, type OutcomeClass } from '../../mi/outcomes';
import type { PracticeConsoleView } from '../../messages/reporting';
import { submissionQuery, type SubmissionView } from '../../messages/submission';
import { ARTIFACTS_DIR, launchChromium, waitForUi, type Browser } from '../support/browser';
import { waitForForwarding } from '../support/offline-render';
import { eventually, runCli, startPipeline, type TestPipeline } from '../support/pipeline';

const DELIVERING = [syntheticPractice('E15101', '200000015101'), syntheticPractice('E15102', '200000015102')];
const FAILING = syntheticPractice('E15103', '200000015103');
const ALL = [...DELIVERING.map((p) => p.ods), FAILING.ods];
const TOKEN = randomBytes(24).toString('hex');
const DAY_MS = 86_400_000;
const utcDay = (offset: number) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);

type Counts = Record<OutcomeClass, number>;
const sum = (c: Partial<Counts>) => OUTCOME_CLASSES.reduce((n, k) => n + (c[k] ?? 0), 0);
const zero = (): Counts => Object.fromEntries(OUTCOME_CLASSES.map((c) => [c, 0])) as Counts;

describe("the operators' console in Chromium", () => {
  let delivering: TestPipeline | undefined;
  let failing: TestPipeline | undefined;
  let api: RunningApi | undefined;
  let browser: Browser | undefined;
  const uiUrl = inject('temporalUiUrl');
  const namespace = inject('temporalNamespace');
  // A week ending yesterday: every transfer is requested inside `--since 7d`, none is judged yet.
  const days = [-6, -5, -4, -3, -2, -1].map(utcDay);
  const submittedDays = days.slice(0, -1); // yesterday stays pending
  const events: HookEvent[] = [];
  let failedSubmissionId = '';
  let failedSubmissions = 0;

  beforeAll(async () => {
    browser = await launchChromium();
    delivering = await startPipeline({ supplierMailbox: 'X26SUP061', authorityMailbox: 'X26NHS061', practices: DELIVERING });
    // Not a mailbox of the sandbox: MESH refuses every send, so its submissions end failed.
    failing = await startPipeline({ supplierMailbox: 'X26SUP062', authorityMailbox: 'X26NOSUCH9', practices: [FAILING] });
    // The API process of the service, on the same Temporal, with every practice of both pipelines.
    const dir = path.dirname(delivering.practicesFile);
    const practicesFile = path.join(dir, 'console-practices.json');
    fs.writeFileSync(practicesFile, JSON.stringify({ practices: [...DELIVERING, FAILING] }));
    const env = {
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: namespace,
      GP2GP_PRACTICES: practicesFile,
      GP2GP_DATA_DIR: dir,
      GP2GP_API_HOST: '127.0.0.1',
      GP2GP_API_PORT: '0',
      GP2GP_API_TOKENS: TOKEN,
      GP2GP_CONSOLE_TEMPORAL_UI_URL: uiUrl,
      // Fresh within a second: the test waits for the data, not for the cache.
      GP2GP_CONSOLE_VIEW_TTL_SECONDS: '1',
      GP2GP_CONSOLE_SWEEP_INTERVAL_SECONDS: '1',
    };
    api = await startApi(loadConfig(env), loadApiConfig(env), { logger: false });
    await waitForUi(uiUrl);
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await delivering?.stop();
    await failing?.stop();
  });

  it('records a week of transfers; one pipeline delivers (with a correction), the other fails', async () => {
    // Nothing of today: rows and summaries of a day still open wait in their transfers for the day's
    // hand-over point (GP2GP_HAND_OVER_AT), and the counts below are of what the reporting workflows hold.
    const notAfter = new Date(Date.parse(`${utcDay(0)}T00:00:00Z`) - 1_000).toISOString();
    const mine = generateTraffic({ practices: DELIVERING.map((p) => p.ods), days, registrationsPerPracticeDay: 3, seed: 1501, notAfter });
    const theirs = generateTraffic({ practices: [FAILING.ods], days, registrationsPerPracticeDay: 2, seed: 1502, notAfter });
    for (const [pipeline, batch] of [[delivering!, mine], [failing!, theirs]] as const) {
      const outcomes = await pipeline.client.recordEvents(batch, { concurrency: 8 });
      expect(outcomes.filter((o) => o.status === 'refused')).toEqual([]);
      await waitForForwarding(pipeline, batch);
      events.push(...batch);
    }

    // Delivered: every day but yesterday, acknowledged by NHS England's mailbox.
    const submitted = await delivering!.client.submit({ days: submittedDays });
    const ids = submitted.flatMap((s) => s.result.submissions.map((x) => x.submissionId));
    await deliver(delivering!, ids);

    // A late registration on the first day of E15101: that day goes again, as a correction.
    const late: HookEvent = { type: 'registration', practiceOds: DELIVERING[0]!.ods, registrationId: `REG-LATE-${days[0]!.replaceAll('-', '')}`, occurredAt: `${days[0]}T23:00:00Z`, registrationType: 'new', registeringUser: 'L1501' };
    expect((await delivering!.client.recordEvents([late]))[0]!.status).toBe('accepted');
    await waitForForwarding(delivering!, [late]);
    events.push(late);
    const [again] = await delivering!.client.submit({ practiceOds: late.practiceOds, days: [days[0]!] });
    await deliver(delivering!, again!.result.submissions.map((s) => s.submissionId));

    // Failed: MESH refuses the recipient.
    const [refused] = await failing!.client.submit({ practiceOds: FAILING.ods, days: submittedDays });
    failedSubmissionId = refused!.result.submissions[0]!.submissionId;
    failedSubmissions = refused!.result.submissions.length;
    const view = await eventually(async () => {
      const v: SubmissionView = await failing!.client.temporal.workflow.getHandle(failedSubmissionId).query(submissionQuery);
      return v.status === 'failed' ? v : undefined;
    }, 60_000, 'the submission to fail');
    expect(view.reason).toMatch(/send failed/);
  }, 300_000);

  it('logs in on the form and shows the calendar, the plots and the counts of the reporting workflows', async () => {
    const now = Date.now();
    // The reporting workflows' own counts, once they hold every transfer the events make.
    const views = await eventually(async () => {
      const consoles = await practiceConsoles(delivering!.client, ALL);
      const vs = consoles.flatMap((c): PracticeConsoleView[] => (c.ok ? [c] : []));
      if (vs.length !== ALL.length) return undefined;
      const report = outcomesReport(vs, { sinceDays: 7, now: new Date(now) });
      const offline = classifyRecords(events, now, { sinceDay: report.since });
      return ALL.every((ods) => sameCounts(report.practices.find((p) => p.practiceOds === ods)?.outcomes, offline.find((p) => p.practiceOds === ods)?.outcomes)) ? vs : undefined;
    }, 60_000, "the reporting workflows' counts to equal the offline classification");
    const report = outcomesReport(views, { sinceDays: 7, now: new Date(now) });
    const offline = classifyRecords(events, now, { sinceDay: report.since });
    const offlineTotals = offline.reduce((t, p) => addInto(t, p.outcomes), zero());
    expect(report.totals).toEqual(offlineTotals);
    expect(sum(report.totals)).toBeGreaterThan(10);
    // A week of real traffic has several classes, so equal counts are not equal by accident.
    expect(OUTCOME_CLASSES.filter((c) => report.totals[c] > 0).length).toBeGreaterThanOrEqual(2);
    // `gp2gp-mi outcomes --since 7d --json`, as an operator runs it against each pipeline's practices.
    const cli = [];
    for (const pipeline of [delivering!, failing!]) {
      const run = await runCli(pipeline, 'outcomes', '--since', '7d', '--json');
      expect(run.code, run.stderr).toBe(0);
      cli.push(...(JSON.parse(run.stdout) as { practices: { practiceOds: string; outcomes: Counts }[] }).practices);
    }
    expect(cli.map((p) => p.practiceOds).sort()).toEqual([...ALL].sort());
    for (const p of cli) expect(p.outcomes, p.practiceOds).toEqual(report.practices.find((r) => r.practiceOds === p.practiceOds)!.outcomes);

    const page = browser!.page;
    // No session: the page sends the browser to the login form.
    await page.goto(`${api!.url}/console`);
    await page.waitForURL(/\/console\/login$/);
    await browser!.screenshot('console-login');
    await page.getByLabel('Token').fill(TOKEN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/\/console$/);
    const cookies = await browser!.context.cookies(`${api!.url}/console`);
    const session = cookies.find((c) => c.name === 'gp2gp_console_session')!;
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/console' });
    expect(session.value).not.toContain(TOKEN);

    // The sweep of the service-wide figures catches up within a round or two.
    await expect
      .poll(async () => {
        await page.reload();
        await page.locator('body[data-ready="true"]').waitFor();
        return await weekCounts(page);
      }, { timeout: 60_000, interval: 1_000 })
      .toEqual(report.totals);
    expect(await page.getByTestId('practices').innerText()).toBe('3');
    expect(await page.getByTestId('tile-week-total').innerText()).toBe(String(sum(report.totals)));
    expect(Number(await page.getByTestId('failing-submissions').innerText())).toBe(failedSubmissions);
    expect(await page.content()).not.toContain(TOKEN);

    // The calendar: a row per practice, each day's state, and each practice's last 7 days.
    for (const ods of ALL) {
      const row = page.locator(`tr[data-practice="${ods}"]`);
      await expect.poll(() => row.count()).toBe(1);
      expect(await chipCounts(page, ods)).toEqual(report.practices.find((p) => p.practiceOds === ods)!.outcomes);
    }
    const state = (ods: string, day: string) => page.locator(`tr[data-practice="${ods}"] td[data-day="${day}"]`).getAttribute('data-state');
    expect(await state(DELIVERING[0]!.ods, days[0]!)).toBe('corrected');
    for (const day of submittedDays.slice(1)) expect(await state(DELIVERING[0]!.ods, day)).toBe('delivered');
    for (const day of submittedDays) expect(await state(DELIVERING[1]!.ods, day)).toBe('delivered');
    expect(await state(DELIVERING[1]!.ods, days.at(-1)!)).toBe('pending');
    for (const day of submittedDays) expect(await state(FAILING.ods, day)).toBe('failed');

    // The plots: drawn by chart.js from the same counts.
    const allTime = classifyRecords(events, now).reduce((t, p) => addInto(t, p.outcomes), zero());
    const integrated = allTime['integrated-3d'] + allTime['integrated-8d'] + allTime['integrated-late'];
    expect(integrated).toBeGreaterThan(0);
    await expect.poll(() => chartTotal(page, 'service-weekly')).toBe(sum(allTime));
    expect(await chartTotal(page, 'service-integration')).toBe(integrated);
    // One practice's plots: chosen from its row.
    await page.locator(`tr[data-practice="${FAILING.ods}"] button.practice`).click();
    await expect.poll(() => page.locator('#practice-status').innerText()).toMatch(new RegExp(`^${FAILING.ods}, as of`));
    const failingAllTime = classifyRecords(events, now).find((p) => p.practiceOds === FAILING.ods)!.outcomes;
    await expect.poll(() => chartTotal(page, 'practice-weekly')).toBe(sum(failingAllTime));
    expect(await tableCounts(page, 'practice-week')).toEqual(report.practices.find((p) => p.practiceOds === FAILING.ods)!.outcomes);
    await browser!.screenshot('console-overview');
  }, 240_000);

  it("follows a failed day's link to its submission in the Temporal Web UI", async () => {
    const page = browser!.page;
    const link = page.locator(`tr[data-practice="${FAILING.ods}"] td[data-state="failed"] a`).first();
    const href = await link.getAttribute('href');
    expect(href).toBe(`${uiUrl}/namespaces/${namespace}/workflows/${failedSubmissionId}`);
    const [popup] = await Promise.all([page.context().waitForEvent('page'), link.click()]);
    await popup.waitForURL(new RegExp(`/workflows/${failedSubmissionId}`));
    await expect.poll(() => popup.getByText(/send failed/).count(), { timeout: 60_000 }).toBeGreaterThan(0);
    await popup.screenshot({ path: path.join(ARTIFACTS_DIR, 'console-failed-submission-web-ui.png'), fullPage: true });
    await popup.close();
  }, 120_000);

  it('finds both sides of a transfer by its conversation ID, and refuses what is not an ID', async () => {
    const page = browser!.page;
    const requested = events.find((e) => e.type === 'ehr-requested' && e.practiceOds === DELIVERING[0]!.ods) as { conversationId: string; practiceOds: string; registrationId: string; targetOds: string };
    const rrId = `gp2gp-rr-${requested.practiceOds}-${requested.registrationId}`;
    const srId = `gp2gp-sr-${requested.targetOds}-${requested.conversationId.toUpperCase()}`;

    await page.getByLabel('Conversation ID or registration ID').fill('not an id!');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#search-message').innerText()).toMatch(/not an ID: a conversation ID is a GUID/);

    // Visibility is eventually consistent: search again until both records are there.
    const results = page.getByTestId('search-results');
    await expect
      .poll(async () => {
        await page.getByLabel('Conversation ID or registration ID').fill(requested.conversationId);
        await page.getByRole('button', { name: 'Search' }).click();
        await page.locator('#search-message').filter({ hasNotText: 'searching…' }).waitFor();
        return (await results.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-workflow-id')))).sort();
      }, { timeout: 60_000, interval: 2_000 })
      .toEqual([rrId, srId].sort());
    expect(await results.getByRole('link', { name: rrId }).getAttribute('href')).toBe(`${uiUrl}/namespaces/${namespace}/workflows/${rrId}`);
    await browser!.screenshot('console-search');

    // By registration ID: the requesting record, and through its conversation the sending one.
    await page.getByLabel('Conversation ID or registration ID').fill(requested.registrationId);
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#search-message').innerText()).toMatch(new RegExp(`for registration ID ${requested.registrationId}$`));
    expect((await results.locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-workflow-id')))).sort()).toEqual([rrId, srId].sort());

    // Logging out ends the session: the page asks for the token again.
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(/\/console\/login$/);
    await page.goto(`${api!.url}/console`);
    await page.waitForURL(/\/console\/login$/);
  }, 120_000);
});

/** Collects from NHS England's mailbox until each submission is delivered. */
async function deliver(pipeline: TestPipeline, ids: string[]): Promise<void> {
  for (const id of ids) {
    await eventually(async () => {
      await pipeline.authority.collect();
      const v: SubmissionView = await pipeline.client.temporal.workflow.getHandle(id).query(submissionQuery);
      if (v.status === 'failed') throw new Error(`${id} failed: ${v.reason}`);
      return v.status === 'delivered' ? true : undefined;
    }, 90_000, `submission ${id} delivered`);
  }
}

function addInto(into: Counts, more: Partial<Counts>): Counts {
  for (const c of OUTCOME_CLASSES) into[c] += more[c] ?? 0;
  return into;
}

function sameCounts(a: Partial<Counts> | undefined, b: Partial<Counts> | undefined): boolean {
  return OUTCOME_CLASSES.every((c) => (a?.[c] ?? 0) === (b?.[c] ?? 0));
}

/** The "last 7 days by class" table of the service at a glance. */
function weekCounts(page: Page): Promise<Counts> {
  return tableCounts(page, 'week');
}

async function tableCounts(page: Page, prefix: string): Promise<Counts> {
  const out = zero();
  for (const c of OUTCOME_CLASSES) out[c] = Number(await page.getByTestId(`${prefix}-${c}`).innerText());
  return out;
}

/** A practice's last-7-days chips in its calendar row (a class without transfers has no chip). */
async function chipCounts(page: Page, ods: string): Promise<Counts> {
  const chips = await page.getByTestId(`counts-${ods}`).locator('.chip').evaluateAll((nodes) => nodes.map((n) => [n.getAttribute('data-class'), n.textContent]));
  const out = zero();
  for (const [c, n] of chips) out[c as OutcomeClass] = Number(n);
  return out;
}

/** Everything a chart.js chart on the page shows: the sum of all its datasets. */
function chartTotal(page: Page, canvasId: string): Promise<number> {
  return page.locator(`#${canvasId}`).evaluate((canvas) => {
    type Charts = { getChart(c: unknown): { data: { datasets: { data: number[] }[] } } | undefined };
    const chart = (globalThis as unknown as { Chart: Charts }).Chart.getChart(canvas);
    return chart ? chart.data.datasets.reduce((n, d) => n + d.data.reduce((a, b) => a + b, 0), 0) : -1;
  });
}
