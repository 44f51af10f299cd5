/**
 * `gp2gp-mi outcomes [--practice ODS] [--since 28d] [--json]`: per practice, how its transfers went,
 * counted by the Authority's classes (mi/outcomes.ts) for the transfers requested in the period, and
 * the service's totals. Read from each practice's reporting workflow (client/outcomes.ts), as the
 * console reads them. Exit codes: 0 done, 1 a practice's reporting workflow did not answer (the others
 * are still printed), 2 bad usage or input.
 */
import type { Command } from 'commander';
import { loadConfig } from '../config';
import { assertOds, OperationError } from '../client/operations';
import { outcomesReport, parseSinceDays, practiceConsoles, practicesWithOutcomes, SINCE_DAYS_ALLOWED, type OutcomesReport } from '../client/outcomes';
import { OUTCOME_CLASSES, type OutcomeCounts } from '../mi/outcomes';
import { loadPractices } from '../mi/practices';
import { EXIT_FAILED } from './exit-codes';
import { table } from './operations';
import { withClient } from './with-client';

const HEADINGS: Record<(typeof OUTCOME_CLASSES)[number], string> = {
  'integrated-3d': '≤3 DAYS',
  'integrated-8d': '≤8 DAYS',
  'integrated-late': 'LATE',
  'technical-failure': 'TECHNICAL',
  'process-failure': 'PROCESS',
  'in-progress': 'IN PROGRESS',
};

function line(name: string, counts: OutcomeCounts): string[] {
  const total = OUTCOME_CLASSES.reduce((n, c) => n + counts[c], 0);
  return [name, ...OUTCOME_CLASSES.map((c) => String(counts[c])), String(total)];
}

function printReport(report: OutcomesReport): void {
  console.log(`transfers requested since ${report.since} (UTC), as of ${report.asOf}; integrated within 3 or 8 days of the request, late, failed (technical, process), in progress`);
  console.log(
    table(
      ['PRACTICE', ...OUTCOME_CLASSES.map((c) => HEADINGS[c]), 'TOTAL'],
      [...report.practices.map((p) => line(p.practiceOds, p.outcomes)), line('SERVICE', report.totals)],
    ),
  );
}

export function registerOutcomesCommands(program: Command): void {
  program
    .command('outcomes')
    .description('transfer outcomes per practice as NHS England judges them (14 days after the request), and the service totals')
    .option('--practice <ods>', 'only this practice')
    .option('--since <days>', `transfers requested since: ${SINCE_DAYS_ALLOWED}`, '28d')
    .option('--json', 'machine-readable output')
    .action(async (opts: { practice?: string; since: string; json?: boolean }) => {
      // Refused before anything is contacted.
      const sinceDays = parseSinceDays(opts.since);
      const config = loadConfig();
      const settings = loadPractices(config.practicesFile);
      const reporting = practicesWithOutcomes(config, settings);
      let wanted = [...reporting].sort();
      if (opts.practice) {
        const ods = assertOds(opts.practice);
        if (!settings.some((p) => p.ods === ods)) throw new OperationError(`practice ${ods} is not configured for this service`, 2);
        if (!reporting.includes(ods)) throw new OperationError(`practice ${ods} reports to the GP Registrations MI API only: it has no reporting workflow, so no outcome counts`, 2);
        wanted = [ods];
      }
      const consoles = await withClient((c) => practiceConsoles(c, wanted, { request: { calendarDays: 1 } }));
      const views = consoles.flatMap((v) => (v.ok ? [v] : []));
      const unavailable = consoles.flatMap((v) => (v.ok ? [] : [{ practiceOds: v.practiceOds, error: v.error }]));
      if (unavailable.length) process.exitCode = EXIT_FAILED;
      const report = outcomesReport(views, { sinceDays, now: Date.now() });
      if (opts.json) {
        console.log(JSON.stringify({ ...report, ...(unavailable.length ? { unavailable } : {}) }, null, 2));
        return;
      }
      printReport(report);
      for (const u of unavailable) console.error(`${u.practiceOds}: unavailable: ${u.error}`);
    });
}
