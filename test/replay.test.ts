/**
 * Replay tests: histories saved from real runs of every workflow type (test/histories/, refreshed by
 * `SAVE_HISTORIES=1 npx vitest run test/pipeline.e2e.test.ts`, or SAVE_HISTORIES=<tag> to add a version's
 * histories beside the earlier ones) must replay without non-determinism
 * against the current workflow code. A change that breaks running workflows fails here, not in
 * production; when such a change is intended, guard it with `patched()`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowBundle } from './support/pipeline';

const DIR = path.join(__dirname, 'histories');
const WORKFLOW_TYPES = ['transferWorkflow', 'reportingWorkflow', 'submissionWorkflow', 'inboxWorkflow'];

describe('saved workflow histories replay on the current code', () => {
  const files = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => f.endsWith('.json')) : [];

  it('has a saved history of every workflow type', () => {
    const types = new Set(files.map((f) => f.split('.')[0]));
    expect([...types].sort()).toEqual([...WORKFLOW_TYPES].sort());
  });

  it.each(files)('%s', async (file) => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
    const workflowType = file.split('.')[0]!;
    await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, `replay-${workflowType}`);
  });
});
