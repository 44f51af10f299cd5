/**
 * Hook and submission commands on top of the TypeScript client: `events send` records a JSONL file of
 * hook events (per line: accepted, duplicate or refused with the reason), `submit` submits now.
 */
import * as fs from 'node:fs';
import * as readline from 'node:readline';
import type { Command } from 'commander';
import type { EventOutcome } from '../client';
import { assertDay } from '../client/operations';
import { EXIT_USAGE } from './exit-codes';
import { withClient } from './with-client';

export function registerPipelineCommands(program: Command): void {
  const events = program.command('events').description('record GP2GP hook events');
  events
    .command('send')
    .description('record every event of a JSONL file (one JSON event per line)')
    .argument('<file>', 'JSONL file of hook events')
    .option('--concurrency <n>', 'events in flight at once', '32')
    .option('--json', 'print one JSON outcome per line')
    .action(async (file: string, opts: { concurrency: string; json?: boolean }) => {
      const lines: { line: number; input: unknown }[] = [];
      const outcomes: { line: number; outcome: EventOutcome }[] = [];
      const rl = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
      let n = 0;
      for await (const text of rl) {
        n++;
        if (!text.trim()) continue;
        try {
          lines.push({ line: n, input: JSON.parse(text) });
        } catch (err) {
          outcomes.push({ line: n, outcome: { status: 'refused', message: `not JSON: ${(err as Error).message}`, problems: [] } });
        }
      }
      await withClient(async (client) => {
        const results = await client.recordEvents(lines.map((l) => l.input), { concurrency: Number(opts.concurrency) });
        results.forEach((outcome, i) => outcomes.push({ line: lines[i]!.line, outcome }));
      });
      outcomes.sort((a, b) => a.line - b.line);
      const count = (s: string) => outcomes.filter((o) => o.outcome.status === s).length;
      for (const { line, outcome } of outcomes) {
        if (opts.json) console.log(JSON.stringify({ line, ...outcome }));
        else if (outcome.status === 'refused') console.error(`${file}:${line}: refused: ${outcome.message}`);
        else for (const w of outcome.warnings ?? []) console.error(`${file}:${line}: warning: ${w.message}`);
      }
      if (!opts.json) console.log(`${count('accepted')} accepted, ${count('duplicate')} duplicate, ${count('refused')} refused`);
      if (count('refused') > 0) process.exitCode = EXIT_USAGE;
    });

  program
    .command('submit')
    .description('submit MI now: every due day, or the given closed day(s)')
    .option('--practice <ods>', 'only this practice')
    .option('--day <YYYY-MM-DD...>', 'these closed days (sent again even if delivered)')
    .option('--json', 'machine-readable output')
    .action(async (opts: { practice?: string; day?: string[]; json?: boolean }) => {
      // Bad input is refused here, before anything is dialled (an impossible day would jam a submission).
      for (const day of opts.day ?? []) assertDay('--day', day);
      const results = await withClient((client) =>
        client.submit({ ...(opts.practice ? { practiceOds: opts.practice } : {}), ...(opts.day ? { days: opts.day } : {}) }),
      );
      if (opts.json) return console.log(JSON.stringify(results, null, 2));
      for (const { practiceOds, result } of results) {
        if (!result.submissions.length) console.log(`${practiceOds}: nothing due`);
        for (const s of result.submissions) console.log(`${practiceOds}: ${s.submissionId} (${s.days.join(', ')})`);
      }
    });
}
