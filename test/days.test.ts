/**
 * Issue 16, item 4: an impossible day (2026-02-30) is refused at every entry — the `gp2gp-mi` options
 * (before anything is dialled: an unreachable Temporal must not matter), the TypeScript client,
 * the configuration — and an activity fault that no retry can fix (a record set that cannot be
 * rendered, MESH refusing our credentials while polling) ends the activity at once, non-retryable,
 * with its reason, instead of being retried for ever.
 */
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, inject, it } from 'vitest';
import { createActivities } from '../activities';
import { lazyClient } from '../api/main';
import { RequestRefusedError } from '../client';
import { OperationError, parseSince } from '../client/operations';
import { ConfigError, loadConfig, PROJECT_ROOT } from '../config';
import { syntheticPractice } from '../demo/traffic';
import type { MeshClient } from '../mesh';
import { dayRefusal, isDay } from '../mi/formats';
import { PracticeReporting } from '../workflows/practice-reporting';
import { freePort } from '../stack/servers';

const BIN = path.join(PROJECT_ROOT, 'bin', 'gp2gp-mi.js');
const EXAMPLES = path.join(PROJECT_ROOT, 'examples', 'practices.json');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, GP2GP_PRACTICES: EXAMPLES, ...env }, cwd: PROJECT_ROOT, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr, ms: Date.now() - started }),
    );
  });
}

describe('one day check in the domain core', () => {
  it('accepts real calendar days only, and names the option when refusing', () => {
    expect(isDay('2024-02-29')).toBe(true);
    for (const bad of ['2026-02-29', '2026-02-30', '2026-04-31', '2026-13-01', '2026-00-10', '2026-1-01', '']) expect(isDay(bad), bad).toBe(false);
    expect(dayRefusal('--day', '2026-03-01')).toBeUndefined();
    expect(dayRefusal('--day', '2026-02-30')).toMatch(/^--day: "2026-02-30" is not allowed.*allowed: .*YYYY-MM-DD/);
  });

  it('GP2GP_FIRST_DAY must be a real day', () => {
    expect(() => loadConfig({ GP2GP_FIRST_DAY: '2026-02-30' })).toThrow(ConfigError);
    expect(() => loadConfig({ GP2GP_FIRST_DAY: '2026-02-30' })).toThrow(/GP2GP_FIRST_DAY/);
    expect(loadConfig({ GP2GP_FIRST_DAY: '2026-02-28' }).pipeline.firstDay).toBe('2026-02-28');
  });

  it('--since refuses an impossible date (plain or in a date-time)', () => {
    for (const bad of ['2026-02-30', '2026-02-30T10:00:00Z', '2026-04-31T00:00:00+01:00']) {
      expect(() => parseSince(bad), bad).toThrow(OperationError);
      expect(() => parseSince(bad), bad).toThrow(/--since/);
    }
    expect(parseSince('2026-02-28').toISOString()).toBe('2026-02-28T00:00:00.000Z');
    expect(parseSince('2026-02-28T10:00:00Z').toISOString()).toBe('2026-02-28T10:00:00.000Z');
  });
});

describe('gp2gp-mi refuses an impossible day before connecting to anything', () => {
  it.each([
    [['submit', '--practice', 'A12345', '--day', '2026-02-30'], '--day'],
    [['submit', '--practice', 'A12345', '--day', '2026-02-27', '2026-02-30'], '--day'],
    [['submit', '--day', '2026-02-31'], '--day'],
    [['submissions', 'list', '--day', '2026-02-30'], '--day'],
    [['submissions', 'list', '--since', '2026-02-30'], '--since'],
    [['submissions', 'replay', '--all-failed', '--since', '2026-02-30'], '--since'],
    [['render', '--events', 'x.jsonl', '--practices', EXAMPLES, '--from', '2026-02-30', '--to', '2026-03-01'], '--from'],
  ])('%j exits 2 naming %s', async (args, option) => {
    // Nothing listens there: a command that tried to connect would fail differently (or hang).
    const run = await cli(args, { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, MESH_URL: 'http://127.0.0.1:9' });
    expect(run.stderr).toContain(`${option}: "2026-02-3`);
    expect(run.stderr).not.toMatch(/cannot reach|connect|ECONNREFUSED/i);
    expect(run.code).toBe(2);
    expect(run.ms).toBeLessThan(20_000);
  });
});

describe('gp2gp-mi refuses a bad GP2GP_FIRST_DAY as bad input', () => {
  it('exits 2 naming the variable, before connecting', async () => {
    const run = await cli(['submissions', 'list'], { TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, GP2GP_FIRST_DAY: '2026-02-30' });
    expect(run.stderr).toContain('GP2GP_FIRST_DAY');
    expect(run.stderr).not.toMatch(/cannot reach/);
    expect(run.code).toBe(2);
  });
});

describe('the TypeScript client refuses an impossible day before calling Temporal', () => {
  it('submit({ days }) throws RequestRefusedError at once', async () => {
    const client = lazyClient(loadConfig({ TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`, GP2GP_PRACTICES: EXAMPLES }));
    try {
      const started = Date.now();
      const err = await client.submit({ practiceOds: 'A12345', days: ['2026-02-27', '2026-02-30'] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(RequestRefusedError);
      expect((err as Error).message).toMatch(/day.*"2026-02-30"/);
      expect(Date.now() - started).toBeLessThan(1_000);
    } finally {
      await client.close();
    }
  });
});

describe('activities: faults no retry can fix are non-retryable', () => {
  const practice = syntheticPractice('P16001', '200000001601');
  const config = loadConfig({ GP2GP_PRACTICES: EXAMPLES, MESH_URL: 'http://127.0.0.1:9', MESH_PASSWORD: 'x', MESH_SHARED_KEY: 'y' });
  const noMesh = {} as MeshClient;

  it.each([
    ['an impossible day', [{ day: '2026-02-30', rows: [] }]],
    ['a row that cannot be rendered', [{ day: '2026-02-27', rows: [{ side: 'RR' as const, key: 'REG-1', firstEventAt: '2026-02-27T10:00:00.000Z', fields: ['RR', 'too', 'few'] }] }]],
  ])('sendSubmissionFiles with %s fails non-retryable with the reason', async (_what, recordSets) => {
    const activities = createActivities(config, { practices: [practice], mesh: noMesh });
    const err = await activities.sendSubmissionFiles({ submissionId: 'gp2gp-sub-P16001-x', practiceOds: practice.ods, recordSets }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).message).toMatch(/cannot be rendered|record set/);
  });

  it('pollInbox refused by MESH (wrong password) fails non-retryable, so the inbox says so', async () => {
    const wrong = loadConfig({ MESH_URL: inject('meshUrl'), MESH_MAILBOX: 'X26SUP031', MESH_PASSWORD: 'not-the-password', MESH_SHARED_KEY: inject('meshSharedKey') });
    const activities = createActivities(wrong, { practices: [practice] });
    const err = await activities.pollInbox({ maxResults: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(true);
    expect((err as ApplicationFailure).type).toBe('MeshAuthError');
  });
});

describe('a reporting workflow already holding an impossible day', () => {
  it('drops it with a warning, so its other days are not failed with it for ever', () => {
    const reporting = new PracticeReporting({ practiceOds: 'P16001', firstDay: '2026-02-20' });
    reporting.requestDays(['2026-02-25', '2026-02-30']);
    expect(reporting.impossibleDays()).toEqual(['2026-02-30']);
    reporting.dropImpossibleDays(Date.parse('2026-03-03T12:00:00Z'));
    expect(reporting.impossibleDays()).toEqual([]);
    expect(Object.keys(reporting.state.days)).toEqual(['2026-02-25']);
    expect(reporting.state.recentWarnings[0]).toMatch(/2026-02-30/);
  });

  it('moves an impossible first uncovered day (a GP2GP_FIRST_DAY accepted by its shape) to the next real day', () => {
    const reporting = new PracticeReporting({ practiceOds: 'P16001', firstDay: '2026-02-30' });
    reporting.dropImpossibleDays(Date.parse('2026-03-03T12:00:00Z'));
    expect(reporting.state.nextUncoveredDay).toBe('2026-03-01');
    expect(reporting.dueDays(Date.parse('2026-03-03T12:00:00Z'))).toEqual(['2026-03-01', '2026-03-02']);
  });
});
