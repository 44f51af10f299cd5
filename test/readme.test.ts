/**
 * The README's HTTP API examples, run as a user would paste them on the day: the shell block under
 * "The HTTP API" runs unchanged in bash (only the port differs) against a real API, worker and
 * Temporal server, and every `# → <status> <body>` written under or beside a curl command must be
 * what that command answered: the status, and every `"key":"value"` pair the README shows (a value
 * ending in `…` is a prefix).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApi, type RunningApi } from '../api/main';
import { loadApiConfig } from '../config/api';
import { startPipeline, type TestPipeline } from './support/pipeline';

const README = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
const EXAMPLES_PRACTICES = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'examples', 'practices.json'), 'utf8')).practices;

/** The first ```sh block after a heading. */
function shellBlockAfter(heading: string): string {
  const at = README.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README: no heading ${heading}`);
  const m = /```sh\n([\s\S]*?)```/.exec(README.slice(at));
  if (!m) throw new Error(`README: no sh block after ${heading}`);
  return m[1]!;
}

interface Expectation {
  command: string;
  status: number;
  /** `"key":"value"` / `"key":number` fragments the answer must contain (a `…` value is a prefix). */
  fragments: string[];
}

/** Each curl command of the block (continuation lines joined) with the answer the README gives it. */
function expectations(block: string): Expectation[] {
  const lines = block.replace(/\\\n/g, ' ').split('\n');
  const out: Expectation[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (!line.startsWith('curl ')) continue;
    const inline = /#\s*→\s*(.*)$/.exec(line)?.[1];
    const next = lines[i + 1]?.trim() ?? '';
    const annotation = inline ?? (next.startsWith('# →') ? next.slice(3).trim() : undefined);
    if (annotation === undefined) throw new Error(`README: curl command without a "# →" answer: ${line}`);
    const status = Number(/^(\d{3})\b/.exec(annotation)?.[1]);
    const fragments: string[] = [];
    for (const m of annotation.matchAll(/"(\w+)":("(?:[^"\\]|\\.)*"|\d+)/g)) {
      const [, key, value] = m;
      if (value!.startsWith('"')) {
        const text = value!.slice(1, -1);
        fragments.push(text.includes('…') ? `"${key}":"${text.slice(0, text.indexOf('…'))}` : `"${key}":"${text}"`);
      } else fragments.push(`"${key}":${value}`);
    }
    out.push({ command: line.replace(/\s*#.*$/, ''), status, fragments });
  }
  return out;
}

const TOKEN = `readme-token-${randomUUID()}`;
let pipeline: TestPipeline;
let api: RunningApi;
let cwd: string;

beforeAll(async () => {
  pipeline = await startPipeline({ supplierMailbox: 'X26SUP016', authorityMailbox: 'X26NHS016', practices: EXAMPLES_PRACTICES });
  api = await startApi(pipeline.config, loadApiConfig({ GP2GP_API_TOKENS: TOKEN, GP2GP_API_PORT: '0' }), { logger: false });
  // The block reads the token as the README says: from .data/api-token in the project folder.
  cwd = path.join(inject('workDir'), `readme-${randomUUID()}`);
  fs.mkdirSync(path.join(cwd, '.data'), { recursive: true });
  fs.writeFileSync(path.join(cwd, '.data', 'api-token'), `${TOKEN}\n`, { mode: 0o600 });
});
afterAll(async () => {
  await api?.close();
  await pipeline?.stop();
});

describe('README: The HTTP API examples', () => {
  it('run as written on the day and answer what the README says', async () => {
    const block = shellBlockAfter('## The HTTP API');
    const expected = expectations(block);
    expect(expected.length).toBeGreaterThanOrEqual(5);
    // Each curl prints its body, then a marker with the status: one section per command, in order.
    const script = [
      'set -euo pipefail',
      `curl() { command curl -w '\\n@@status=%{http_code}@@\\n' "$@"; }`,
      block.replaceAll('http://127.0.0.1:8300', api.url),
    ].join('\n');
    // Asynchronously: the worker answering these events runs in this process.
    const { stdout: output } = await promisify(execFile)('bash', ['-c', script], { cwd, encoding: 'utf8', timeout: 60_000 });
    const answers = [...output.matchAll(/([\s\S]*?)\n@@status=(\d{3})@@\n/g)].map((m) => ({ body: m[1]!.trim(), status: Number(m[2]) }));
    expect(
      answers.map((a) => a.status),
      `answers:\n${answers.map((a) => `${a.status} ${a.body.slice(0, 400)}`).join('\n')}`,
    ).toEqual(expected.map((e) => e.status));
    expected.forEach((e, i) => {
      for (const fragment of e.fragments) {
        expect(answers[i]!.body, `${e.command}\nshould answer with ${fragment}`).toContain(fragment);
      }
    });
  });
});
