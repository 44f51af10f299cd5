/**
 * Workflow interceptors (run inside the workflow sandbox): counts hook events as the transfer
 * workflows take or refuse them (and those accepted with a NACK code 0083.08 does not list), and
 * submissions as they end. Metrics from workflow code are not emitted while a workflow replays, so
 * each counts once. Imports only workflow-safe modules.
 */
import {
  ApplicationFailure,
  metricMeter,
  workflowInfo,
  type Next,
  type UpdateInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptorsFactory,
} from '@temporalio/workflow';
import { unknownNackCode } from '../mi/events';
import { recordEventUpdate } from '../messages/transfer';
import { submissionWorkflowType } from '../messages/submission';
import { METRICS, refusalReason } from './metric-names';

const eventType = (input: UpdateInput): string => {
  const t = (input.args[0] as { type?: unknown } | undefined)?.type;
  return typeof t === 'string' && /^[a-z-]{1,40}$/.test(t) ? t : 'unknown';
};

class Gp2gpInbound implements WorkflowInboundCallsInterceptor {
  validateUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'validateUpdate'>): void {
    try {
      next(input);
    } catch (err) {
      if (input.name === recordEventUpdate.name) {
        metricMeter.createCounter(METRICS.events, 'events', 'hook events reaching a transfer workflow').add(1, {
          outcome: 'refused',
          reason: refusalReason(err instanceof Error ? err.message : String(err)),
          event_type: eventType(input),
        });
      }
      throw err;
    }
  }

  async handleUpdate(input: UpdateInput, next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>): Promise<unknown> {
    const result = await next(input);
    if (input.name === recordEventUpdate.name) {
      const outcome = (result as { outcome?: string } | undefined)?.outcome === 'duplicate' ? 'duplicate' : 'accepted';
      metricMeter.createCounter(METRICS.events, 'events', 'hook events reaching a transfer workflow').add(1, {
        outcome,
        reason: '',
        event_type: eventType(input),
      });
      // Accepted (never refused) with a NACK code 0083.08 does not list: counted once, by code.
      const code = outcome === 'accepted' ? unknownNackCode(input.args[0]) : undefined;
      if (code !== undefined) {
        metricMeter
          .createCounter(METRICS.unknownNackCodes, 'events', 'acknowledgements accepted with a NACK code (01-99) not listed by 0083.08')
          .add(1, { code, event_type: eventType(input) });
      }
    }
    return result;
  }

  async execute(input: WorkflowExecuteInput, next: Next<WorkflowInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    if (workflowInfo().workflowType !== submissionWorkflowType) return await next(input);
    const submissions = metricMeter.createCounter(METRICS.submissions, 'submissions', 'MI submissions ended, by status');
    try {
      const result = await next(input);
      submissions.add(1, { status: 'delivered' });
      return result;
    } catch (err) {
      if (err instanceof ApplicationFailure && err.type === 'SubmissionFailed') submissions.add(1, { status: 'failed' });
      throw err;
    }
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ inbound: [new Gp2gpInbound()] });
