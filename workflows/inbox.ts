/**
 * One inbox workflow per MESH mailbox of ours. It polls at most every 5 minutes (at once again while
 * pages come back full), routes error REPORTs and GP2GP_MI_ACK business acknowledgements to the
 * submission that sent the message, and acknowledges a MESH message only after its routing was
 * recorded in history. Anything it cannot route is kept visible here (query, details) rather than
 * dropped.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  getExternalWorkflowHandle,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import { practiceOfSubmission, reportingWorkflowId } from './ids';
import type { DeliveryNotice } from './submission';

// ---- public API -------------------------------------------------------------------------------

/** A message in our inbox, classified by the poll activity (metadata only: no bodies in history). */
export interface InboxItem {
  messageId: string;
  kind: 'error-report' | 'ack' | 'nack' | 'other';
  /** The submission workflow the message is about, when known. */
  submissionId?: string;
  /** Our message the notice is about. */
  aboutMessageId?: string;
  code?: string;
  description?: string;
  workflowId?: string;
  sender?: string;
}

export interface UnroutedMessage extends InboxItem {
  reason: string;
  receivedAt: string;
}

export interface InboxInput {
  mailbox: string;
  options?: { pollIntervalMs?: number; pageSize?: number };
  unrouted?: UnroutedMessage[];
  unroutedDropped?: number;
}

export interface InboxView {
  mailbox: string;
  lastPollAt?: string;
  routed: number;
  unrouted: UnroutedMessage[];
  unroutedDropped: number;
}
export const inboxQuery = defineQuery<InboxView>('inbox');
/** Poll now instead of waiting (used after a send, and by operators). */
export const pollNowSignal = defineSignal('pollNow');

// ---- the workflow -------------------------------------------------------------------------------

const { pollInbox, acknowledgeMessages } = proxyActivities<ReturnType<typeof activities.createActivities>>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes' },
});

const MAX_UNROUTED_KEPT = 200;
const POLLS_PER_RUN = 500;

export async function inboxWorkflow(input: InboxInput): Promise<void> {
  const pollIntervalMs = input.options?.pollIntervalMs ?? 5 * 60_000;
  const pageSize = input.options?.pageSize ?? 500;
  const unrouted: UnroutedMessage[] = input.unrouted ?? [];
  let unroutedDropped = input.unroutedDropped ?? 0;
  let routed = 0;
  let lastPollAt: string | undefined;
  let pollRequested = false;
  let lastError: string | undefined;

  setHandler(inboxQuery, () => ({ mailbox: input.mailbox, ...(lastPollAt ? { lastPollAt } : {}), routed, unrouted, unroutedDropped }));
  setHandler(pollNowSignal, () => {
    pollRequested = true;
  });

  const keepUnrouted = (item: InboxItem, reason: string) => {
    unrouted.unshift({ ...item, reason, receivedAt: new Date().toISOString() });
    while (unrouted.length > MAX_UNROUTED_KEPT) {
      unrouted.pop();
      unroutedDropped++;
    }
  };

  for (let poll = 0; poll < POLLS_PER_RUN; poll++) {
    pollRequested = false;
    let page: Awaited<ReturnType<typeof pollInbox>>;
    try {
      page = await pollInbox({ mailbox: input.mailbox, maxResults: pageSize });
    } catch (err) {
      // A permanent fault (e.g. authentication) must not end the inbox: say so and poll again later.
      lastError = `polling failed: ${(err as Error).message}`;
      setCurrentDetails(`Inbox ${input.mailbox}: ${lastError}`);
      await condition(() => pollRequested, pollIntervalMs);
      continue;
    }
    lastPollAt = new Date().toISOString();
    for (const item of page.items) {
      if (item.kind === 'other' || !item.submissionId || !item.aboutMessageId) {
        keepUnrouted(item, item.kind === 'other' ? 'not a report or acknowledgement' : 'not about a message of ours');
        continue;
      }
      const notice: DeliveryNotice = {
        kind: item.kind,
        messageId: item.aboutMessageId,
        ...(item.code ? { code: item.code } : {}),
        ...(item.description ? { description: item.description } : {}),
      };
      try {
        await getExternalWorkflowHandle(item.submissionId).signal('deliveryNotice', notice);
        routed++;
      } catch (err) {
        // The submission has ended. A late ACK changes nothing; a late NACK or error report about a
        // file that ended delivered makes its days due again, through the practice's reporting.
        const practice = practiceOfSubmission(item.submissionId);
        if (item.kind === 'ack') {
          routed++;
        } else if (practice) {
          const reason = `${item.kind === 'nack' ? 'negative acknowledgement' : 'MESH error report'} after delivery` +
            `${item.code ? ` (code ${item.code})` : ''}${item.description ? `: ${item.description}` : ''}`;
          try {
            await getExternalWorkflowHandle(reportingWorkflowId(practice)).signal('submissionRejected', { submissionId: item.submissionId, reason });
            routed++;
          } catch (err2) {
            keepUnrouted(item, `submission ${item.submissionId} has ended and its practice's reporting is not reachable: ${(err2 as Error).message}`);
          }
        } else {
          keepUnrouted(item, `submission ${item.submissionId} not reachable: ${(err as Error).message}`);
        }
      }
    }
    if (page.items.length) {
      try {
        await acknowledgeMessages({ mailbox: input.mailbox, messageIds: page.items.map((i) => i.messageId) });
      } catch (err) {
        // Not acknowledged means polled again: routing twice is harmless (notices are idempotent).
        lastError = `acknowledging failed: ${(err as Error).message}`;
      }
    }
    setCurrentDetails(
      `Inbox ${input.mailbox}: last poll ${lastPollAt}, ${routed} routed this run, ${unrouted.length} unrouted kept` +
        (unrouted.length ? ` (latest: ${unrouted[0]!.messageId}, ${unrouted[0]!.reason})` : ''),
    );
    if (workflowInfo().continueAsNewSuggested) break;
    if (page.full && !lastError) continue;
    lastError = undefined;
    await condition(() => pollRequested, pollIntervalMs);
  }
  await condition(allHandlersFinished);
  await continueAsNew<typeof inboxWorkflow>({ ...input, unrouted, unroutedDropped });
}
