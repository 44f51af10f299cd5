/**
 * The long-lived workflows exist from the first start: a reporting workflow for every configured
 * practice (so days without any activity are still reported) and the inbox workflow of our mailbox.
 * Starting one that already runs is a no-op.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Config } from '../config';
import { connectTemporalClient } from '../config/temporal';
import { mapConcurrent } from '../client/concurrency';
import { startReporting } from '../client/reporting';
import { loadPractices, outputsOf } from '../mi/practices';
import { reportsToMesh } from '../mi/outputs';
import { inboxWorkflowType, type InboxWorkflow } from '../messages/inbox';
import { inboxWorkflowId } from '../workflows/ids';
import { log } from '../observability/log';

export async function ensureLongLivedWorkflows(config: Config): Promise<void> {
  const client = await connectTemporalClient(config);
  try {
    const practices = loadPractices(config.practicesFile);
    // A practice reporting to the API only has no MESH reporting (its transfers forward no rows).
    // Several at a time: a supplier's thousands of practices would otherwise hold the start for minutes.
    const reporting = practices.filter((practice) => reportsToMesh(outputsOf(practice, config.registrationsApi.outputs)));
    await mapConcurrent(reporting, 16, (practice) => startReporting(client, config, practice.ods, { practice }));
    try {
      await client.workflow.start<InboxWorkflow>(inboxWorkflowType, {
        workflowId: inboxWorkflowId(config.mesh.mailbox),
        taskQueue: config.temporal.taskQueue,
        args: [
          {
            mailbox: config.mesh.mailbox,
            options: { pollIntervalMs: config.pipeline.inboxPollMs, ...(config.pipeline.inboxPollsPerRun ? { pollsPerRun: config.pipeline.inboxPollsPerRun } : {}) },
          },
        ],
        workflowIdConflictPolicy: 'USE_EXISTING',
        staticSummary: `MESH inbox ${config.mesh.mailbox}: reports and acknowledgements`,
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    log.info('long-lived workflows running', { practices: practices.map((p) => p.ods), mailbox: config.mesh.mailbox });
  } finally {
    await client.connection.close();
  }
}
