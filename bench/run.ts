/**
 * `npm run bench`: runs every benchmark (or those named: `npm run bench -- mesh`), prints one table
 * and writes the figures as JSON into bench/results/ (git-ignored), one file per run.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { benchColdReplay } from './cold-replay';
import { benchIngest } from './ingest';
import { benchMemory } from './memory';
import { benchMesh } from './mesh';
import { benchNationalDay } from './national-day';
import { benchReporting } from './reporting';
import { benchReportingReplay } from './reporting-replay';
import { benchRender } from './render';
import { benchSqlite } from './sqlite';
import { formatResults, type BenchResult } from './result';
import { guardBenches } from './stack';

/** Each bench, by name. Register new ones here. */
export const BENCHES: Record<string, () => Promise<BenchResult[]>> = {
  mesh: benchMesh,
  render: benchRender,
  ingest: benchIngest,
  reporting: benchReporting,
  'reporting-replay': benchReportingReplay,
  memory: benchMemory,
  'cold-replay': benchColdReplay,
  'national-day': benchNationalDay,
  sqlite: benchSqlite,
};

async function main(names: string[]): Promise<void> {
  const unknown = names.filter((n) => !(n in BENCHES));
  if (unknown.length) throw new Error(`unknown bench ${unknown.join(', ')} (known: ${Object.keys(BENCHES).join(', ')})`);
  const results: BenchResult[] = [];
  for (const name of names.length ? names : Object.keys(BENCHES)) {
    console.error(`bench ${name}…`);
    results.push(...(await BENCHES[name]!()));
  }
  console.log(formatResults(results));
  const dir = path.join(__dirname, 'results');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), node: process.version, results }, null, 2)}\n`);
  console.error(`written ${path.relative(process.cwd(), file)}`);
}

const guarded = guardBenches();
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130); // a second Ctrl-C: the clean-up process finishes the job
    interrupted = true;
    console.error(`bench: ${signal}: stopping what the benches started…`);
    void guarded.stopTracked().finally(() => {
      guarded.finish();
      process.exit(130);
    });
  });
}

main(process.argv.slice(2)).then(
  () => guarded.finish(),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    void guarded.stopTracked().finally(() => {
      guarded.finish();
      process.exit(1);
    });
  },
);
