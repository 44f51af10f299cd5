/**
 * `submit` with Temporal up but no worker polling the task queue: the reporting workflow can never
 * take the update, so without a deadline the call (and `gp2gp-mi submit`) waits for ever. It must
 * give up at the client's deadline with a message that says what to check.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { Gp2gpClient } from '../../client';
import { loadConfig } from '../../config';
import { syntheticPractice } from '../../demo/traffic';
import { reportingWorkflowId } from '../../workflows/ids';

describe('submit without a worker', () => {
  it('gives up at the deadline, saying the worker may not be running', async () => {
    const dir = path.join(inject('workDir'), `submit-deadline-${randomUUID()}`);
    fs.mkdirSync(dir, { recursive: true });
    const practicesFile = path.join(dir, 'practices.json');
    fs.writeFileSync(practicesFile, JSON.stringify({ practices: [syntheticPractice('E85001', '200000000851')] }));
    const config = loadConfig({
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      // A task queue nobody polls.
      TEMPORAL_TASK_QUEUE: `no-worker-${randomUUID()}`,
      GP2GP_PRACTICES: practicesFile,
      GP2GP_DATA_DIR: dir,
      GP2GP_METRICS_PORT: '0',
    });
    const client = await Gp2gpClient.connect(config);
    try {
      const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      const t0 = Date.now();
      const error = await client.submit({ practiceOds: 'E85001', days: [day] }, { timeoutMs: 3_000 }).then(
        () => undefined,
        (err: Error) => err,
      );
      const waited = Date.now() - t0;
      expect(error?.message).toMatch(/E85001: the reporting workflow did not take the submit within 3 s/);
      expect(error?.message).toMatch(/worker/);
      expect(waited).toBeLessThan(30_000);
    } finally {
      await client.temporal.workflow.getHandle(reportingWorkflowId('E85001')).terminate('test over').catch(() => undefined);
      await client.close();
    }
  }, 60_000);
});
