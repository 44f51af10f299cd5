/**
 * A complete pipeline for one test file on the run's real servers: a worker on its own task queue, a
 * practices file, the hooks client, and the Authority's mailbox as NHS England would read it.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../config';
import { Gp2gpClient } from '../../client';
import { MeshClient } from '../../mesh';
import { AuthorityMailbox } from '../../stack/authority';
import { runWorker, WORKFLOW_INTERCEPTOR_MODULES, WORKFLOW_PRELOAD_MODULES, WORKFLOWS_PATH } from '../../worker/main';
import { SANDBOX_PASSWORD } from './stack';

let bundle: Promise<WorkflowBundle> | undefined;
/** Bundling takes seconds: once per test file (process) is enough. */
export function workflowBundle(): Promise<WorkflowBundle> {
  // The same bundle as the worker runs: our workflow modules preloaded and shared by every workflow.
  return (bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, preloadModules: WORKFLOW_PRELOAD_MODULES }));
}

export interface TestPipeline {
  config: Config;
  client: Gp2gpClient;
  authority: AuthorityMailbox;
  /** A MESH client of our own mailbox, for looking at what the pipeline left there. */
  supplierMesh: MeshClient;
  practicesFile: string;
  stop(): Promise<void>;
}

export function sandboxMesh(mailbox: string, url = inject('meshUrl')): MeshClient {
  return new MeshClient({ url, mailbox, password: SANDBOX_PASSWORD, sharedKey: inject('meshSharedKey'), retry: { baseDelayMs: 50 } });
}

export async function startPipeline(options: {
  supplierMailbox: string;
  authorityMailbox: string;
  practices: unknown[];
  env?: Record<string, string>;
  /** Reuse a task queue (a worker restarted onto the same workflows). */
  taskQueue?: string;
  /** Another Temporal server than the run's shared one (e.g. one on a SQLite file). */
  temporalAddress?: string;
}): Promise<TestPipeline> {
  const dir = path.join(inject('workDir'), `pipeline-${randomUUID()}`);
  fs.mkdirSync(dir, { recursive: true });
  const practicesFile = path.join(dir, 'practices.json');
  fs.writeFileSync(practicesFile, JSON.stringify({ practices: options.practices }, null, 2));
  const config = loadConfig({
    TEMPORAL_ADDRESS: options.temporalAddress ?? inject('temporalAddress'),
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    TEMPORAL_TASK_QUEUE: options.taskQueue ?? `gp2gp-mi-test-${randomUUID()}`,
    MESH_URL: inject('meshUrl'),
    MESH_MAILBOX: options.supplierMailbox,
    MESH_PASSWORD: SANDBOX_PASSWORD,
    MESH_SHARED_KEY: inject('meshSharedKey'),
    MESH_TO: options.authorityMailbox,
    GP2GP_PRACTICES: practicesFile,
    GP2GP_DATA_DIR: dir,
    GP2GP_INBOX_POLL_SECONDS: '0.5',
    GP2GP_TRACKING_INTERVAL_SECONDS: '0.5',
    GP2GP_TRACKING_MAX_INTERVAL_SECONDS: '2',
    // In-process workers share the test process: no metrics exporter of their own.
    GP2GP_METRICS_PORT: '0',
    ...options.env,
  });
  const controller = new AbortController();
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const worker = runWorker(config, { signal: controller.signal, workflowBundle: await workflowBundle(), onReady: () => ready() });
  await Promise.race([isReady, worker]);
  const client = await Gp2gpClient.connect(config);
  const supplierMesh = sandboxMesh(options.supplierMailbox);
  const authorityMesh = sandboxMesh(options.authorityMailbox);
  return {
    config,
    client,
    authority: new AuthorityMailbox(authorityMesh, { workflowId: config.mesh.workflowId }),
    supplierMesh,
    practicesFile,
    async stop() {
      await client.close();
      controller.abort();
      await worker;
      await supplierMesh.close();
      await authorityMesh.close();
    },
  };
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 60_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const BIN = path.join(__dirname, '..', '..', 'bin', 'gp2gp-mi.js');

/** The real `gp2gp-mi` command, as an operator runs it, configured for a test pipeline. */
export function runCli(pipeline: TestPipeline, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      {
        env: {
          ...process.env,
          TEMPORAL_ADDRESS: inject('temporalAddress'),
          TEMPORAL_NAMESPACE: inject('temporalNamespace'),
          TEMPORAL_TASK_QUEUE: pipeline.config.temporal.taskQueue,
          GP2GP_PRACTICES: pipeline.practicesFile,
          GP2GP_DATA_DIR: path.dirname(pipeline.practicesFile),
        },
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/**
 * SAVE_HISTORIES=1 refreshes the saved histories; any other value is a tag (e.g. SAVE_HISTORIES=outcomes)
 * that saves beside them, so the histories of earlier workflow versions keep guarding replay.
 */
export function historySuffix(): string {
  const tag = process.env.SAVE_HISTORIES;
  return !tag || tag === '1' ? '' : `.${tag.replace(/[^a-z0-9-]/gi, '')}`;
}
