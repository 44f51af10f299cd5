/**
 * How the worker calls into workflow code (worker/workflow-calls.ts), on the real dev server: by
 * default with no per-call limit (Node would create an OS thread for every call to enforce one), an
 * activation that holds the thread reported; with GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS set, the SDK's
 * behaviour: the call is cut and the workflow task fails. By default without the SDK's stack traces;
 * with GP2GP_WORKFLOW_STACK_TRACES=on, with them. And which activation the watch names.
 */
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { loadConfig } from '../config';
import { log } from '../observability/log';
import { METRICS } from '../observability/metric-names';
import { freePort } from '../stack/servers';
import { workerRuntimeOptions } from '../worker/main';
import { ActivationWatch, SLOW_ACTIVATION_MS, workerClass } from '../worker/workflow-calls';
import { sample } from './support/operators';

const EventType = temporal.api.enums.v1.EventType;

describe('calls into workflow code', () => {
  let connection: NativeConnection;
  let clientConnection: Connection;
  let client: Client;
  let metricsUrl: string;
  beforeAll(async () => {
    // The worker's Runtime, as deployed, with its Prometheus endpoint (vitest runs each test file in
    // its own fork; the Runtime is per process and must come before any connection).
    const port = await freePort();
    Runtime.install(workerRuntimeOptions({ ...loadConfig({}), metrics: { host: '127.0.0.1', port } }));
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
    connection = await NativeConnection.connect({ address: inject('temporalAddress') });
    clientConnection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection: clientConnection });
  });
  afterAll(async () => {
    await clientConnection?.close();
    await connection?.close();
  });

  const workerOn = (callTimeoutMs: number, taskQueue: string, stackTraces = false) =>
    workerClass({ callTimeoutMs, stackTraces }).create({ connection, taskQueue, workflowsPath: path.join(__dirname, 'fixtures', 'busy-workflows.ts') });

  it('sets no limit by default: an activation holding the thread past the SDK’s 5 s finishes, and is reported as slow', async () => {
    const config = loadConfig({ ...process.env, GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS: undefined });
    expect(config.pipeline.workflowCallTimeoutMs).toBe(0);
    const taskQueue = `calls-${randomUUID()}`;
    const worker = await workerOn(config.pipeline.workflowCallTimeoutMs, taskQueue);
    const errors = vi.spyOn(log, 'error');
    const warnings = vi.spyOn(log, 'warn');
    try {
      const held = SLOW_ACTIVATION_MS + 1_500;
      const workflowId = `busy-${randomUUID()}`;
      const result = await worker.runUntil(client.workflow.execute('busyWorkflow', { taskQueue, workflowId, args: [held], workflowTaskTimeout: '30s' }));
      expect(result).toBe(`held ${held} ms`);
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      expect(history.events?.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED)).toEqual([]);
      expect(errors).toHaveBeenCalledWith(expect.stringContaining('holding the workflow thread'), expect.objectContaining({ workflowType: 'busyWorkflow', workflowId, queuedBehind: 0 }));
      expect(warnings).toHaveBeenCalledWith('slow workflow activation came back', expect.objectContaining({ workflowId }));
      // What an operator's alert reads (the Grafana dashboard's panel): counted once, by workflow type.
      const scraped = await (await fetch(metricsUrl)).text();
      expect(sample(scraped, `${METRICS.slowWorkflowActivations}_total`, { workflow_type: 'busyWorkflow' })).toBe(1);
    } finally {
      errors.mockRestore();
      warnings.mockRestore();
    }
  }, 60_000);

  it('with GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS, cuts a call that runs longer and fails the workflow task', async () => {
    const config = loadConfig({ ...process.env, GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS: '1' });
    expect(config.pipeline.workflowCallTimeoutMs).toBe(1_000);
    const taskQueue = `calls-${randomUUID()}`;
    const workflowId = `busy-${randomUUID()}`;
    const handle = await client.workflow.start('busyWorkflow', { taskQueue, workflowId, args: [3_000] });
    try {
      const worker = await workerOn(config.pipeline.workflowCallTimeoutMs, taskQueue);
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

  /** Runs waitingWorkflow on a worker recording stack traces or not: the stack-trace query's answer, and the failure's stack. */
  async function stackTracesOn(stackTraces: boolean): Promise<{ query: string; failureStack: string }> {
    const taskQueue = `calls-${randomUUID()}`;
    const workflowId = `waiting-${randomUUID()}`;
    const worker = await workerOn(0, taskQueue, stackTraces);
    return await worker.runUntil(async () => {
      const handle = await client.workflow.start('waitingWorkflow', { taskQueue, workflowId });
      const query = await handle.query<string>('__stack_trace').then(
        (stack) => stack,
        (err: Error) => `refused: ${err.message}`,
      );
      await handle.signal('release', true);
      await handle.result().catch(() => undefined);
      const failed = (await handle.fetchHistory()).events?.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
      return { query, failureStack: failed?.workflowExecutionFailedEventAttributes?.failure?.stackTrace ?? '' };
    });
  }

  it('records no stack traces by default: the Stack Trace query says they are not enabled; errors keep source-mapped stacks', async () => {
    const config = loadConfig({ ...process.env, GP2GP_WORKFLOW_STACK_TRACES: undefined });
    expect(config.pipeline.workflowStackTraces).toBe(false);
    const { query, failureStack } = await stackTracesOn(config.pipeline.workflowStackTraces);
    expect(query).toMatch(/^refused: .*stack traces are not enabled/i);
    // Mapped through the bundle's source map to our file, not the bundle's line.
    expect(failureStack).toMatch(/busy-workflows\.ts:\d+/);
  }, 60_000);

  it('with GP2GP_WORKFLOW_STACK_TRACES=on, the Stack Trace query shows the line each wait is at', async () => {
    const config = loadConfig({ ...process.env, GP2GP_WORKFLOW_STACK_TRACES: 'on' });
    expect(config.pipeline.workflowStackTraces).toBe(true);
    const { query, failureStack } = await stackTracesOn(config.pipeline.workflowStackTraces);
    expect(query).toMatch(/waitingWorkflow \(.*busy-workflows\.ts:\d+/);
    expect(failureStack).toMatch(/busy-workflows\.ts:\d+/);
  }, 60_000);

  it('refuses a stack-trace setting other than off or on, naming the variable', () => {
    expect(() => loadConfig({ ...process.env, GP2GP_WORKFLOW_STACK_TRACES: 'yes' })).toThrow(/GP2GP_WORKFLOW_STACK_TRACES.*allowed: off, on/);
  });

  it('names the activation holding the thread, not those queued behind it, once each', () => {
    let now = 0;
    const watch = new ActivationWatch(() => now);
    const errors = vi.spyOn(log, 'error').mockImplementation(() => undefined);
    const warnings = vi.spyOn(log, 'warn').mockImplementation(() => undefined);
    const options = (workflowId: string) => ({ info: { workflowType: 'transferWorkflow', workflowId, runId: `run-${workflowId}` } }) as Parameters<ActivationWatch['begin']>[0];
    try {
      const held = watch.begin(options('held'));
      now = 1_000;
      const queued = watch.begin(options('queued'));
      now = SLOW_ACTIVATION_MS - 1;
      watch.check();
      expect(errors).not.toHaveBeenCalled();
      now = SLOW_ACTIVATION_MS + 2_000;
      watch.check();
      watch.check();
      expect(errors).toHaveBeenCalledTimes(1);
      expect(errors).toHaveBeenLastCalledWith(expect.any(String), expect.objectContaining({ workflowId: 'held', ms: SLOW_ACTIVATION_MS + 2_000, queuedBehind: 1 }));
      watch.end(held);
      expect(warnings).toHaveBeenLastCalledWith('slow workflow activation came back', expect.objectContaining({ workflowId: 'held' }));
      // The one queued behind waited over 5 s in all, but has only now reached the thread.
      now += 1_000;
      watch.check();
      expect(errors).toHaveBeenCalledTimes(1);
      now += SLOW_ACTIVATION_MS;
      watch.check();
      expect(errors).toHaveBeenCalledTimes(2);
      expect(errors).toHaveBeenLastCalledWith(expect.any(String), expect.objectContaining({ workflowId: 'queued', ms: SLOW_ACTIVATION_MS + 1_000, queuedBehind: 0 }));
      watch.end(queued);
    } finally {
      errors.mockRestore();
      warnings.mockRestore();
    }
  });

  it('refuses a limit that is not whole seconds, naming the variable', () => {
    expect(() => loadConfig({ ...process.env, GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS: '-1' })).toThrow(/GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS/);
    expect(() => loadConfig({ ...process.env, GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS: '1.5' })).toThrow(/GP2GP_WORKFLOW_CALL_TIMEOUT_SECONDS/);
  });
});
