/**
 * Reporting benchmark: time from "submit" to "every file acknowledged in the Authority's mailbox" —
 * submissions started for every practice, CSV rendered, sent over MESH (the sandbox), collected and
 * acknowledged by the Authority (stack/authority.ts, polling all the time), tracked by the
 * submissions until each reports delivered to its reporting workflow.
 *   - 100 practices with a realistic week each (3 registrations per practice per day, ~2.3 nationally);
 *   - 1,000 practices × a real week: activity every day (2 registrations per practice per day). Its
 *     rows reach the reporting workflows as transfers hand them over (the 'rows' signal, one per
 *     practice), built offline from the generated events by the same functions the transfers use —
 *     ingesting 80k events first would only measure ingest again (bench ingest and national-day do).
 * Tracking is set to 1 s (doubling to 5 s) instead of the production 60 s: the figure is the
 * pipeline's work, not the politeness interval towards MESH. Own servers, worker as a process.
 *
 *   npx tsx bench/reporting.ts    (or npm run bench -- reporting)   BENCH_REPORTING_SCENARIOS=100,1000
 */
import { mapConcurrent } from '../client/concurrency';
import { startReporting } from '../client/reporting';
import { recordKeyOf, type HookEvent } from '../mi/events';
import type { DayRow } from '../mi/record-set';
import { rowsFrom } from '../mi/transfer';
import { generateTraffic } from '../demo/traffic';
import type { ReceivedFile } from '../stack/authority';
import { formatResults, type BenchResult } from './result';
import { collectFromAuthority, practiceCodes, startBenchStack, type AuthorityCollector } from './stack';

function utcDay(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10);
}

/** Every record's rows for every day it has events on, by practice: what its transfers would hand over. */
function rowsByPractice(events: HookEvent[], firstDay: string): Map<string, DayRow[]> {
  const records = new Map<string, HookEvent[]>();
  for (const e of events) {
    const { side, practiceOds, key } = recordKeyOf(e);
    const id = `${side}|${practiceOds}|${key}`;
    records.set(id, [...(records.get(id) ?? []), e]);
  }
  const out = new Map<string, DayRow[]>();
  for (const [id, recordEvents] of records) {
    const [side, practiceOds, key] = id.split('|') as ['RR' | 'SR', string, string];
    out.set(practiceOds, [...(out.get(practiceOds) ?? []), ...rowsFrom(side, key, recordEvents, firstDay)]);
  }
  return out;
}

async function scenario(nPractices: number, activeDays: number, registrations: number, handOver: 'ingest' | 'rows' = 'ingest'): Promise<BenchResult[]> {
  const practices = practiceCodes('R', nPractices);
  const week = Array.from({ length: 7 }, (_, i) => utcDay(i - 7));
  const stack = await startBenchStack({
    name: `reporting-${nPractices}`,
    practices,
    // Reporting covers the whole week from its first day, so quiet days go out as HR + FR (MI07).
    env: { GP2GP_TRACKING_INTERVAL_SECONDS: '1', GP2GP_TRACKING_MAX_INTERVAL_SECONDS: '5', GP2GP_INBOX_POLL_SECONDS: '5', GP2GP_FIRST_DAY: week[0]! },
  });
  let collector: AuthorityCollector | undefined;
  try {
    const events = generateTraffic({
      practices,
      days: week.slice(0, activeDays),
      registrationsPerPracticeDay: registrations,
      seed: 5,
      notAfter: new Date(Date.now() - 60_000).toISOString(),
    });
    const t0 = Date.now();
    if (handOver === 'ingest') {
      const outcomes = await stack.client.recordEvents(events, { concurrency: 32 });
      const notAccepted = outcomes.filter((o) => o.status !== 'accepted');
      if (notAccepted.length) throw new Error(`reporting: ${notAccepted.length} events not accepted: ${JSON.stringify(notAccepted[0])}`);
    } else {
      const rows = rowsByPractice(events, week[0]!);
      await mapConcurrent(practices, 16, (practiceOds) => startReporting(stack.client.temporal, stack.config, practiceOds, { rows: rows.get(practiceOds) ?? [] }));
    }
    const ingestSeconds = (Date.now() - t0) / 1000;
    console.error(`reporting ${nPractices}: ${events.length} events ${handOver === 'ingest' ? 'ingested' : 'handed over as rows'} in ${ingestSeconds.toFixed(0)} s; submitting`);

    // Rows are forwarded inside the workflow task that accepted each event, so they are there now.
    const received: ReceivedFile[] = [];
    collector = collectFromAuthority(stack, 200, (files) => received.push(...files));
    const started = Date.now();
    let submissions = 0;
    await mapConcurrent(practices, 8, async (practiceOds) => {
      const [r] = await stack.client.submit({ practiceOds, days: week });
      submissions += r!.result.submissions.length;
    });
    const submitSeconds = (Date.now() - started) / 1000;
    const lastDay = week[week.length - 1]!;
    for (;;) {
      let done = 0;
      for (let i = 0; i < practices.length; i += 50) {
        const views = await Promise.all(practices.slice(i, i + 50).map((p) => stack.client.reportingStatus(p)));
        done += views.filter((v) => v.inFlight.length === 0 && v.lastDeliveredDay === lastDay).length;
      }
      if (done === practices.length) break;
      if (Date.now() - started > 30 * 60_000) throw new Error(`reporting ${nPractices}: not all delivered after 30 min (${done})`);
      await new Promise((r) => setTimeout(r, 500));
    }
    const seconds = (Date.now() - started) / 1000;
    await collector.stop();
    const rows = received.reduce((n, f) => n + f.content.split('\r\n').filter((l) => /^(RR|SR),/.test(l)).length, 0);
    const scaled = activeDays < 7 ? `; SCALED DOWN: activity on ${activeDays} of the 7 days` : '';
    const how = handOver === 'ingest' ? '' : '; rows handed over by signal, built offline';
    return [
      {
        name: `reporting.${nPractices}-practices.submit-to-acknowledged`,
        value: seconds,
        unit: 's',
        note: `${nPractices} practices × 7 days: ${submissions} submissions, ${received.length} files, ${rows} rows, ${events.length} events${scaled}${how}; goal < 3 min for 1,000 practices`,
      },
      { name: `reporting.${nPractices}-practices.submit-calls`, value: submitSeconds, unit: 's', note: 'of which: the submit update of every practice, 8 at a time' },
      { name: `reporting.${nPractices}-practices.per-practice`, value: (seconds * 1000) / nPractices, unit: 'ms', note: 'submit → acknowledged, per practice' },
      ...(handOver === 'ingest'
        ? [{ name: `reporting.${nPractices}-practices.ingest`, value: events.length / ingestSeconds, unit: 'events/s', note: `the week's events through the client beforehand (${ingestSeconds.toFixed(0)} s)` }]
        : []),
    ];
  } finally {
    // The collector stops before the stack does, so an early failure is reported, not a closed client.
    await collector?.stop().catch(() => undefined);
    await stack.stop();
  }
}

export async function benchReporting(): Promise<BenchResult[]> {
  const wanted = (process.env.BENCH_REPORTING_SCENARIOS ?? '100,1000').split(',').map((s) => s.trim());
  const results: BenchResult[] = [];
  if (wanted.includes('100')) results.push(...(await scenario(100, 7, 3)));
  // BENCH_REPORTING_WEEK_PRACTICES: a smaller real week, to try the bench out (named by its size).
  if (wanted.includes('1000')) results.push(...(await scenario(Number(process.env.BENCH_REPORTING_WEEK_PRACTICES ?? 1_000), 7, 2, 'rows')));
  return results;
}

if (require.main === module) {
  benchReporting().then(
    (results) => console.log(formatResults(results)),
    (err: unknown) => {
      console.error(`bench reporting: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
