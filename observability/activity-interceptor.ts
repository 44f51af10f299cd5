/**
 * Activity interceptor: metrics from what the activities carry (rows forwarded, rows per record set,
 * files and bytes sent, tracking answers, inbox messages) and one structured log line per failed
 * attempt, with the workflow and run ids. The activities themselves stay free of observability code.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptorsFactory, Next } from '@temporalio/worker';
import type { ForwardRowsInput } from '../messages/reporting';
import type { SendSubmissionFilesInput, SentFile, TrackedMessage } from '../messages/submission';
import { ApplicationFailure } from '@temporalio/common';
import type { MetricMeter } from '@temporalio/common';
import { API_ANSWER_LOST, API_POST_REFUSED, type PostApiEventInput, type PostApiEventResult } from '../messages/transfer';
import { METRICS } from './metric-names';

export function activityInterceptors(): ActivityInterceptorsFactory {
  return (ctx: Context) => ({ inbound: new MetricsInbound(ctx) });
}

class MetricsInbound implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const { activityType, attempt, workflowExecution } = this.ctx.info;
    const meter = this.ctx.metricMeter;
    const arg = input.args[0] as Record<string, unknown> | undefined;
    let result: unknown;
    try {
      result = await next(input);
    } catch (err) {
      if (activityType === 'postApiEvent') countApiPost(meter, arg, err);
      // The SDK logs failures too; this line carries our ids for searching the logs by workflow.
      this.ctx.log.warn('activity attempt failed', {
        activityType,
        attempt,
        workflowId: workflowExecution?.workflowId,
        runId: workflowExecution?.runId,
        error: err instanceof Error ? err.message : String(err),
      });
      throw err;
    }
    switch (activityType) {
      case 'forwardRows': {
        const rows = (arg as Partial<ForwardRowsInput> | undefined)?.rows?.length ?? 0;
        meter.createCounter(METRICS.rowsForwarded, 'rows', 'rows handed to reporting workflows').add(rows);
        break;
      }
      case 'sendSubmissionFiles': {
        const sets = (arg as Partial<SendSubmissionFilesInput> | undefined)?.recordSets ?? [];
        const perSet = meter.createHistogram(METRICS.recordSetRows, 'int', 'rows', 'rows per record set sent');
        for (const s of sets) perSet.record(s.rows?.length ?? 0);
        const files = (Array.isArray(result) ? result : []) as Partial<SentFile>[];
        meter.createCounter(METRICS.filesSent, 'files', 'MI files sent over MESH').add(files.length);
        meter.createCounter(METRICS.bytesSent, 'bytes', 'bytes of MI files sent').add(files.reduce((n, f) => n + (f.bytes ?? 0), 0));
        meter.createCounter(METRICS.rowsSent, 'rows', 'rows sent in MI files').add(files.reduce((n, f) => n + (f.rows ?? 0), 0));
        break;
      }
      case 'trackMessages': {
        const tracking = meter.createCounter(METRICS.tracking, 'answers', 'MESH tracking answers by status');
        for (const t of (Array.isArray(result) ? result : []) as Partial<TrackedMessage>[]) {
          tracking.add(1, { status: String(t.status ?? 'unknown').toLowerCase().slice(0, 30) });
        }
        break;
      }
      case 'postApiEvent':
        countApiPost(meter, arg, undefined, result);
        break;
      case 'pollInbox': {
        const inbox = meter.createCounter(METRICS.inboxMessages, 'messages', 'inbox messages by kind');
        for (const item of ((result as { items?: { kind?: string }[] } | undefined)?.items ?? [])) inbox.add(1, { kind: item.kind ?? 'other' });
        break;
      }
    }
    return result;
  }
}

/** One attempt of postApiEvent: its outcome by endpoint and status, and a possible repeat to come. */
function countApiPost(meter: MetricMeter, arg: unknown, err: unknown, result?: unknown): void {
  const endpoint = String((arg as Partial<PostApiEventInput> | undefined)?.event?.endpoint ?? 'unknown').slice(0, 40);
  const posts = meter.createCounter(METRICS.apiPosts, 'posts', 'posts to the GP Registrations MI API by endpoint, result and status');
  if (err === undefined) {
    posts.add(1, { endpoint, result: 'ok', status: String((result as Partial<PostApiEventResult> | undefined)?.status ?? 'unknown') });
    return;
  }
  const failure = err instanceof ApplicationFailure ? err : undefined;
  const code = (failure?.details?.[0] as { code?: unknown } | undefined)?.code;
  const status = typeof code === 'string' ? code.slice(0, 10) : 'error';
  posts.add(1, { endpoint, result: failure?.type === API_POST_REFUSED ? 'failed' : 'retried', status });
  if (failure?.type === API_ANSWER_LOST) {
    meter.createCounter(METRICS.apiPostRepeats, 'posts', 'API posts made again after an answer lost once sent (possible repeats at the API)').add(1, { endpoint });
  }
}
