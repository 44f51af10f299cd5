/**
 * Every visibility query the README gives operators (the table under "Finding things in the Web UI",
 * and each `# Web UI: …` line, with and without its optional `[AND …]` part), run against the
 * cluster's SQL advanced visibility: each must be accepted as written, and — with the README's
 * example values replaced by those of the traffic the cluster run sent — each one that names a
 * practice, registration, conversation or day and filters on no transient state must find it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import { PROJECT_ROOT } from '../../config';

export interface ReadmeQuery {
  /** As the README writes it. */
  query: string;
  /** Where in the README. */
  where: string;
}

const QUERY_START = /^(WorkflowType|GP2GP_[A-Za-z]+|ExecutionStatus)\s*=/;

export function readmeVisibilityQueries(readme = fs.readFileSync(path.join(PROJECT_ROOT, 'README.md'), 'utf8')): ReadmeQuery[] {
  const out: ReadmeQuery[] = [];
  const add = (query: string, where: string) => {
    const q = query.trim();
    if (!out.some((x) => x.query === q)) out.push({ query: q, where });
  };
  const lines = readme.split('\n');
  let section = '';
  for (const line of lines) {
    if (line.startsWith('## ')) section = line.slice(3).trim();
    // Table rows of "Finding things": every `…` span in the query column that is a query.
    if (section === 'Finding things in the Web UI' && line.startsWith('|')) {
      const cells = line.split('|').map((c) => c.trim());
      for (const m of (cells[2] ?? '').matchAll(/`([^`]+)`/g)) if (QUERY_START.test(m[1]!) && !m[1]!.includes('…')) add(m[1]!, `${section}: ${cells[1]}`);
    }
    // "# Web UI: <query> [AND <optional>]" lines in code blocks.
    const web = /^#\s*Web UI:\s*(.+)$/.exec(line.trim());
    if (web) {
      const text = web[1]!.trim();
      const optional = /\s*\[(AND [^\]]+)\]\s*$/.exec(text);
      const base = optional ? text.slice(0, optional.index).trim() : text;
      add(base, `${section}: # Web UI line`);
      if (optional) add(`${base} ${optional[1]}`, `${section}: # Web UI line (with its optional part)`);
    }
  }
  return out;
}

/** The README's example values → the run's own. */
export interface RealValues {
  practiceOds: string;
  registrationId: string;
  conversationId: string;
  day: string;
}

const README_EXAMPLES = {
  practiceOds: 'A12345',
  registrationId: 'REG-1001',
  conversationId: '3F2504E0-4F89-11D3-9A0C-0305E82C3301',
  day: '2026-03-26',
};

export function withRealValues(query: string, real: RealValues): string {
  return query
    .replaceAll(`"${README_EXAMPLES.practiceOds}"`, `"${real.practiceOds}"`)
    .replaceAll(`"${README_EXAMPLES.registrationId}"`, `"${real.registrationId}"`)
    .replaceAll(`"${README_EXAMPLES.conversationId}"`, `"${real.conversationId.toUpperCase()}"`)
    .replaceAll(`"${README_EXAMPLES.day}"`, `"${real.day}"`);
}

/** Names something of the run, and filters on nothing the run need not have (an outcome, a failure…). */
function mustFind(query: string): boolean {
  const names = Object.values(README_EXAMPLES).some((v) => query.includes(`"${v}"`));
  return names && !/GP2GP_(Outcome|Stage|SubmissionStatus|ApiDelivery)|ExecutionStatus = "(Failed|Terminated|TimedOut|Canceled)"/.test(query);
}

export interface QueryResult {
  query: string;
  where: string;
  acceptedAsWritten: boolean;
  real: string;
  found: number;
  mustFind: boolean;
  ok: boolean;
  error?: string;
}

async function count(client: Client, query: string): Promise<number> {
  let n = 0;
  for await (const _ of client.workflow.list({ query })) {
    n++;
    if (n >= 1000) break;
  }
  return n;
}

/**
 * Runs each query as written and with the run's values; the ones that must find something are
 * retried for up to `settleMs` (visibility is eventually consistent).
 */
export async function runReadmeQueries(client: Client, real: RealValues, settleMs = 30_000): Promise<QueryResult[]> {
  const results: QueryResult[] = [];
  for (const { query, where } of readmeVisibilityQueries()) {
    const r: QueryResult = { query, where, acceptedAsWritten: false, real: withRealValues(query, real), found: 0, mustFind: false, ok: false };
    r.mustFind = mustFind(query);
    try {
      await count(client, query);
      r.acceptedAsWritten = true;
      const deadline = Date.now() + settleMs;
      for (;;) {
        r.found = await count(client, r.real);
        if (!r.mustFind || r.found > 0 || Date.now() > deadline) break;
        await new Promise((res) => setTimeout(res, 1_000));
      }
      r.ok = !r.mustFind || r.found > 0;
    } catch (err) {
      r.error = (err as Error).message.split('\n')[0];
    }
    results.push(r);
  }
  return results;
}
