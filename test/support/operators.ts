/**
 * A pipeline for the operators tests (metrics, encryption): like support/pipeline.ts, but its workflow
 * bundle includes the metrics interceptors, the Temporal address can be another dev server (one with
 * a SQLite file), and the hooks client uses the configured data converter (encryption).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, type WorkflowBundle } from '@temporalio/worker';
import { inject } from 'vitest';
import { loadConfig, type Config } from '../../config';
import { dataConverter } from '../../config/data-converter';
import { temporalConnectionOptions } from '../../config/temporal-connection';
import { Gp2gpClient } from '../../client';
import { AuthorityMailbox } from '../../stack/authority';
import { runWorker, WORKFLOW_INTERCEPTOR_MODULES, WORKFLOWS_PATH } from '../../worker/main';
import { sandboxMesh } from './pipeline';
import { SANDBOX_PASSWORD } from './stack';

let bundle: Promise<WorkflowBundle> | undefined;
export function instrumentedBundle(): Promise<WorkflowBundle> {
  return (bundle ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, workflowInterceptorModules: WORKFLOW_INTERCEPTOR_MODULES, logger: undefined }));
}

export const PRACTICE = {
  ods: 'E83001',
  asid: '200000000911',
  software: 'Supplier_Product_1.0',
  applicationStatus: '110100000000000',
  maxMessageSizeMb: 5,
  maxAttachments: 99,
  maxAttachmentSizeMb: 5,
  largeMessageFactorA: 1,
  largeMessageFactorB: 1,
};

export interface OperatorsPipeline {
  config: Config;
  client: Gp2gpClient;
  authority: AuthorityMailbox;
  stop(): Promise<void>;
}

export async function startOperatorsPipeline(options: {
  supplierMailbox: string;
  authorityMailbox: string;
  practices?: unknown[];
  temporalAddress?: string;
  env?: Record<string, string>;
}): Promise<OperatorsPipeline> {
  const dir = path.join(inject('workDir'), `operators-${randomUUID()}`);
  fs.mkdirSync(dir, { recursive: true });
  const practicesFile = path.join(dir, 'practices.json');
  fs.writeFileSync(practicesFile, JSON.stringify({ practices: options.practices ?? [PRACTICE] }, null, 2));
  const config = loadConfig({
    TEMPORAL_ADDRESS: options.temporalAddress ?? inject('temporalAddress'),
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    TEMPORAL_TASK_QUEUE: `gp2gp-mi-ops-${randomUUID()}`,
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
    GP2GP_METRICS_PORT: '0',
    ...options.env,
  });
  const controller = new AbortController();
  let ready!: () => void;
  const isReady = new Promise<void>((resolve) => (ready = resolve));
  const worker = runWorker(config, { signal: controller.signal, workflowBundle: await instrumentedBundle(), onReady: () => ready() });
  await Promise.race([isReady, worker]);
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  const temporal = new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(config) });
  const practices = JSON.parse(fs.readFileSync(practicesFile, 'utf8')).practices.map((p: { ods: string }) => p.ods);
  const client = new Gp2gpClient(temporal, { taskQueue: config.temporal.taskQueue, practices, config });
  const authorityMesh = sandboxMesh(options.authorityMailbox);
  return {
    config,
    client,
    authority: new AuthorityMailbox(authorityMesh, { workflowId: config.mesh.workflowId }),
    async stop() {
      await connection.close();
      controller.abort();
      await worker;
      await authorityMesh.close();
    },
  };
}

/** Prometheus text → value of one sample (labels matched as a subset), summed over matching series. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const got: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) got[l[1]!] = l[2]!;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) {
      total += Number(m[4]);
      found = true;
    }
  }
  return found ? total : 0;
}
