/**
 * One inbox workflow per MESH mailbox of ours. It polls at most every 5 minutes (at once again while
 * pages come back full), routes error REPORTs and GP2GP_MI_ACK business acknowledgements to the
 * submission that sent the message, and acknowledges a MESH message only after its routing was
 * recorded in history. Anything it cannot route is kept visible here (query, details) rather than
 * dropped.
 *
 * This file only wires messages, activities and signals to InboxRouter (workflows/inbox-router.ts),
 * which owns the state and every decision.
 */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { inboxQuery, pollNowSignal, type InboxActivities, type InboxInput, type InboxPage } from '../messages/inbox';
import { submissionRejectedSignal } from '../messages/reporting';
import { deliveryNoticeSignal } from '../messages/submission';
import { practiceOfSubmission, reportingWorkflowId } from './ids';
import { InboxRouter } from './inbox-router';

const { pollInbox, acknowledgeMessages } = proxyActivities<InboxActivities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '5 seconds', maximumInterval: '5 minutes' },
});

/** Polls per run before continue-as-new, so the history stays small. */
const POLLS_PER_RUN = 500;

export async function inboxWorkflow(input: InboxInput): Promise<void> {
  const inbox = new InboxRouter(input);

  setHandler(inboxQuery, () => inbox.view());
  setHandler(pollNowSignal, () => inbox.requestPoll());

  const pollsPerRun = input.options?.pollsPerRun ?? POLLS_PER_RUN;
  for (let poll = 0; poll < pollsPerRun; poll++) {
    inbox.pollStarting();
    let page: InboxPage;
    try {
      page = await pollInbox({ maxResults: inbox.pageSize });
    } catch (err) {
      // A permanent fault (e.g. authentication) must not end the inbox: say so and poll again later.
      setCurrentDetails(inbox.pollFailed((err as Error).message));
      await condition(() => inbox.pollIsRequested, inbox.pollIntervalMs);
      continue;
    }
    inbox.polled(new Date());
    for (const item of page.items) {
      const route = inbox.route(item);
      if (route.to === 'unrouted') {
        inbox.keepUnrouted(item, route.reason, new Date());
        continue;
      }
      try {
        await getExternalWorkflowHandle(route.submissionId).signal(deliveryNoticeSignal, route.notice);
        inbox.routed();
      } catch (err) {
        // The submission has ended: signalling fails, and the router decides where the message goes instead.
        const late = inbox.routeAfterSubmissionEnded(item, practiceOfSubmission(route.submissionId), (err as Error).message);
        if (late.to === 'nowhere') {
          inbox.routed();
        } else if (late.to === 'reporting') {
          try {
            await getExternalWorkflowHandle(reportingWorkflowId(late.practiceOds)).signal(submissionRejectedSignal, late.rejection);
            inbox.routed();
          } catch (err2) {
            inbox.reportingUnreachable(item, (err2 as Error).message, new Date());
          }
        } else {
          inbox.keepUnrouted(item, late.reason, new Date());
        }
      }
    }
    if (page.items.length) {
      try {
        // Only now: the routing of every message of the page is in history.
        await acknowledgeMessages({ messageIds: page.items.map((i) => i.messageId) });
      } catch (err) {
        inbox.acknowledgeFailed((err as Error).message);
      }
    }
    setCurrentDetails(inbox.details());
    if (workflowInfo().continueAsNewSuggested) break;
    if (inbox.pollAgainAtOnce(page)) continue;
    await condition(() => inbox.pollIsRequested, inbox.pollIntervalMs);
  }
  await condition(allHandlersFinished);
  await continueAsNew<typeof inboxWorkflow>(inbox.continueAsNewInput());
}
