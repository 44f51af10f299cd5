/**
 * The long-lived workflows exist from the first start: a reporting workflow for every configured
 * practice (so days without any activity are still reported) and the inbox workflow of our mailbox.
 * Starting one that already runs is a no-op.
 */
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Config } from '../config';
import { dataConverter } from '../config/data-converter';
import { temporalConnectionOptions } from '../config/temporal-connection';
import { reportingInput } from '../config/reporting';
import { loadPractices } from '../mi/practices';
import { inboxWorkflowId, reportingWorkflowId } from '../workflows/ids';
import { log } from './log';

export async function ensureLongLivedWorkflows(config: Config): Promise<void> {
  const connection = await Connection.connect(temporalConnectionOptions(config.temporal));
  try {
    const client = new Client({ connection, namespace: config.temporal.namespace, dataConverter: dataConverter(config) });
    const start = async (workflowType: string, workflowId: string, args: unknown[], staticSummary: string) => {
      try {
        await client.workflow.start(workflowType, {
          workflowId,
          taskQueue: config.temporal.taskQueue,
          args,
          workflowIdConflictPolicy: 'USE_EXISTING',
          staticSummary,
        });
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    };
    const practices = loadPractices(config.practicesFile);
    for (const practice of practices) {
      await start(
        'reportingWorkflow',
        reportingWorkflowId(practice.ods),
        [reportingInput(config, practice, practice.ods)],
        `GP2GP MI reporting for practice ${practice.ods}`,
      );
    }
    await start(
      'inboxWorkflow',
      inboxWorkflowId(config.mesh.mailbox),
      [{ mailbox: config.mesh.mailbox, options: { pollIntervalMs: config.pipeline.inboxPollMs } }],
      `MESH inbox ${config.mesh.mailbox}: reports and acknowledgements`,
    );
    log.info('long-lived workflows running', { practices: practices.map((p) => p.ods), mailbox: config.mesh.mailbox });
  } finally {
    await connection.close();
  }
}
