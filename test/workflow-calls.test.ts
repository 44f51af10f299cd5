/**
 * How the worker calls into workflow code (worker/workflow-calls.ts), on the real dev server: by
 * default with no per-call limit (Node would create an OS thread for every call to enforce one), an
 * activation that holds the thread reported as slow; with GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS set, the
 * SDK's behaviour: the call is cut and the workflow task fails.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { loadConfig } from '../config';
import { log } from '../observability/log';
import { SLOW_ACTIVATION_MS, workerClass } from '../worker/workflow-calls';

const EventType = temporal.api.enums.v1.EventType;

describe('calls into workflow code', () => {
  let connection: NativeConnection;
  let clientConnection: Connection;
  let client: Client;
  beforeAll(async () => {
    connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    clientConnection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection: clientConnection });
  });
  afterAll(async () => {
    await clientConnection?.close();
    await connection?.close();
  });

  const workerOn = (callTimeoutMs: number, taskQueue: string) =>
    workerClass(callTimeoutMs).create({ connection, taskQueue, workflowsPath: path.join(__dirname, 'fixtures', 'busy-workflows.ts') });

  it('sets no limit by default: an activation holding the thread past the SDK’s 5 s finishes, and is reported as slow', async () => {
    const config = loadConfig({ ...process.env, GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS: undefined });
    expect(config.pipeline.workflowCallTimeoutMs).toBe(0);
    const taskQueue = `calls-${randomUUID()}`;
    const worker = await workerOn(config.pipeline.workflowCallTimeoutMs, taskQueue);
    const errors = vi.spyOn(log, 'error');
    try {
      const held = SLOW_ACTIVATION_MS + 1_000;
      const workflowId = `busy-${randomUUID()}`;
      const result = await worker.runUntil(client.workflow.execute('busyWorkflow', { taskQueue, workflowId, args: [held], workflowTaskTimeout: '30s' }));
      expect(result).toBe(`held ${held} ms`);
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      expect(history.events?.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toEqual([]);
      expect(errors).toHaveBeenCalledWith(expect.stringContaining('workflow activation has not come back'), expect.objectContaining({ workflowType: 'busyWorkflow', workflowId }));
    } finally {
      errors.mockRestore();
    }
  }, 60_000);

  it('with GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS, cuts a call that runs longer and fails the workflow task', async () => {
    const config = loadConfig({ ...process.env, GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS: '1' });
    expect(config.pipeline.workflowCallTimeoutMs).toBe(1_000);
    const taskQueue = `calls-${randomUUID()}`;
    const worker = await workerOn(config.pipeline.workflowCallTimeoutMs, taskQueue);
    const workflowId = `busy-${randomUUID()}`;
    const handle = await client.workflow.start('busyWorkflow', { taskQueue, workflowId, args: [3_000] });
    try {
      const failed = await worker.runUntil(async () => {
        for (let i = 0; i < 100; i++) {
          const events = (await handle.fetchHistory()).events ?? [];
          const failure = events.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
          if (failure) return failure.workflowTaskFailedEventAttributes?.failure?.message ?? '';
          await new Promise((r) => setTimeout(r, 200));
        }
        throw new Error('no workflow task failed');
      });
      expect(failed).toMatch(/timed out/i);
      expect((await handle.describe()).status.name).toBe('RUNNING');
    } finally {
      await handle.terminate('test over');
    }
  }, 60_000);

  it('refuses a limit that is not whole seconds, naming the variable', () => {
    expect(() => loadConfig({ ...process.env, GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS: '-1' })).toThrow(/GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS/);
    expect(() => loadConfig({ ...process.env, GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS: '1.5' })).toThrow(/GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS/);
  });
});
