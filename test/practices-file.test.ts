/**
 * Issue 16, item 6: operators' commands see the practices the running service reports for. On the
 * embedded default `npm start` gives the worker and the API <data>/practices.json (examples + the
 * demo's practices); the CLI (and anything calling loadConfig) resolves the same file with the same
 * function, and GP2GP_PRACTICES still wins when set.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig, PROJECT_ROOT, resolvePracticesFile } from '../config';
import { demoPractice } from '../demo/run';
import { composePractices, DEMO_PRACTICES_FILE } from '../stack/operators';

const BIN = path.join(PROJECT_ROOT, 'bin', 'gp2gp-mi.js');
const EXAMPLES = path.join(PROJECT_ROOT, 'examples', 'practices.json');

/** A data folder as `npm run demo` leaves it: one demo practice added. */
function dataDirWithDemo(): string {
  const dir = fs.mkdtempSync(path.join(inject('workDir'), 'practices-'));
  fs.mkdirSync(path.dirname(DEMO_PRACTICES_FILE(dir)), { recursive: true });
  fs.writeFileSync(DEMO_PRACTICES_FILE(dir), JSON.stringify({ practices: [demoPractice(1)] }));
  return dir;
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  const base = { ...process.env };
  delete base.GP2GP_PRACTICES;
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...base, ...env }, cwd: PROJECT_ROOT, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('the practices file of the embedded default', () => {
  it('is the file npm start composes, for the stack and for loadConfig alike; GP2GP_PRACTICES wins', () => {
    const dir = dataDirWithDemo();
    // Before npm start ever composed it: the examples.
    expect(resolvePracticesFile({ GP2GP_DATA_DIR: dir }, dir).file).toBe(EXAMPLES);
    const config = loadConfig({ GP2GP_DATA_DIR: dir });
    const composed = composePractices(config, {});
    expect(composed.demo).toBe(1);
    expect(resolvePracticesFile({ GP2GP_DATA_DIR: dir }, dir).file).toBe(composed.file);
    expect(loadConfig({ GP2GP_DATA_DIR: dir }).practicesFile).toBe(composed.file);
    // Set: that file, as is, everywhere.
    expect(loadConfig({ GP2GP_DATA_DIR: dir, GP2GP_PRACTICES: EXAMPLES }).practicesFile).toBe(EXAMPLES);
    expect(composePractices(loadConfig({ GP2GP_DATA_DIR: dir, GP2GP_PRACTICES: EXAMPLES }), { GP2GP_PRACTICES: EXAMPLES }).file).toBe(EXAMPLES);
  });

  it('`gp2gp-mi practices status` lists the demo practices the running service reports for', async () => {
    const dir = dataDirWithDemo();
    composePractices(loadConfig({ GP2GP_DATA_DIR: dir }), {});
    const env = {
      GP2GP_DATA_DIR: dir,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      TEMPORAL_TASK_QUEUE: `practices-${randomUUID()}`,
    };
    // No reporting workflows run for these ids on this server: each is listed, "unavailable" (exit 1).
    const run = await cli(['practices', 'status', '--json'], env);
    const listed = (JSON.parse(run.stdout) as { practiceOds: string }[]).map((s) => s.practiceOds);
    expect(listed).toEqual(['A12345', 'B23456', 'C34567', 'Y90001']);
    const one = await cli(['practices', 'status', '--practice', 'Y90001', '--json'], env);
    expect(one.stderr).not.toContain('not configured');
    expect((JSON.parse(one.stdout) as { practiceOds: string }[]).map((s) => s.practiceOds)).toEqual(['Y90001']);

    const explicit = await cli(['practices', 'status', '--json'], { ...env, GP2GP_PRACTICES: EXAMPLES });
    expect((JSON.parse(explicit.stdout) as { practiceOds: string }[]).map((s) => s.practiceOds)).toEqual(['A12345', 'B23456', 'C34567']);
  });
});
