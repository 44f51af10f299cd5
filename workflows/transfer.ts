/**
 * One GP2GP transfer as seen by one practice: the RR record of a registration (requester side) or the
 * SR record of an EHR request (sender side). Hook events arrive as Updates (update-with-start, so the
 * first event starts it); the validator refuses bad events before anything reaches history. Every
 * accepted event changes the rows of its day and of later days the record has events on; those rows
 * are forwarded to the practice's reporting workflow by an activity, in order, before this workflow
 * may finish, so no accepted event is lost between the two. The record and every decision about it
 * are TransferRecord's (workflows/transfer-record.ts); this file only lends it Temporal.
 */
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { recordEventUpdate, transferQuery, type TransferActivities, type TransferInput, type TransferResult } from '../messages/transfer';
import { conversationIdKey, miDaysKey, outcomeKey, practiceOdsKey, registrationIdKey, sideKey, stageKey } from './search-attributes';
import { TransferRecord } from './transfer-record';

// A local activity: forwarding runs inside the workflow task that accepted the event, so each event
// costs one workflow task instead of two plus an activity task (measured: bench/ingest.ts).
const { forwardRows } = proxyLocalActivities<TransferActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute' },
});
// Runs once per new run, usually finding nothing: a local activity keeps that cheap.
const { restorePreviousRecord } = proxyLocalActivities<TransferActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

export async function transferWorkflow(input: TransferInput): Promise<TransferResult> {
  const record = new TransferRecord(input, { now: Date.now(), continued: workflowInfo().continuedFromExecutionRunId !== undefined });

  setHandler(
    recordEventUpdate,
    async (event) => {
      record.arrived(Date.now());
      // A reopened record answers only once its earlier events are back, so "duplicate" and
      // "conflict" are judged against all of them.
      await condition(() => record.restored);
      const recorded = record.record(event);
      if (recorded.outcome === 'conflict') throw ApplicationFailure.nonRetryable(recorded.message, 'ConflictingEvent');
      return recorded;
    },
    {
      // Throwing here refuses the update before it reaches history.
      validator: (event) => {
        const refusal = record.refusal(event, Date.now());
        if (refusal) throw new Error(refusal);
      },
      description: 'Record one GP2GP stage event (the hook event contract)',
    },
  );
  setHandler(transferQuery, () => record.view(Date.now()));

  const show = () => {
    const { details, attributes: a } = record.shown(Date.now());
    if (details !== undefined) setCurrentDetails(details);
    if (!a) return;
    upsertSearchAttributes([
      { key: practiceOdsKey, value: a.practiceOds },
      { key: sideKey, value: a.side },
      { key: stageKey, value: a.stage },
      { key: outcomeKey, value: a.outcome },
      { key: miDaysKey, value: a.days },
      ...(a.registrationId ? [{ key: registrationIdKey, value: a.registrationId }] : []),
      ...(a.conversationId ? [{ key: conversationIdKey, value: a.conversationId }] : []),
    ]);
  };

  if (!record.restored) {
    // Updates are accepted meanwhile and wait for this (see the handler).
    record.restore(await restorePreviousRecord({ workflowId: workflowInfo().workflowId, runId: workflowInfo().runId }));
  }

  let timer: { at: number; fired: boolean; done: Promise<void> } | undefined;
  for (;;) {
    const batch = record.startForwarding();
    if (batch) {
      show();
      // Retried without limit: rows must reach the reporting workflow, however long it takes.
      await forwardRows(batch);
      record.forwarded();
      continue;
    }
    show();

    if (record.shouldContinueAsNew(workflowInfo().continueAsNewSuggested)) {
      await condition(allHandlersFinished);
      const next = record.continueAsNewInput();
      if (next) return await continueAsNew<typeof transferWorkflow>(next);
      continue;
    }

    const now = Date.now();
    const quietUntil = record.quietUntil(now);
    const deadline = record.wakeAt(now);
    // One timer per quiet period, not a timer started and cancelled per event: a timer that fires
    // before the (moved) deadline just wakes the loop, which arms the next one; a deadline earlier
    // than the armed timer arms its own.
    if (!timer || timer.fired || timer.at > deadline) {
      const armed = { at: deadline, fired: false, done: sleep(Math.max(1, deadline - now)) };
      void armed.done.then(() => (armed.fired = true));
      timer = armed;
    }
    const armed = timer;
    await Promise.race([condition(() => record.hasUnforwarded || armed.fired), armed.done]);
    if (record.hasUnforwarded) continue;
    if (Date.now() >= quietUntil) {
      await condition(allHandlersFinished);
      if (record.hasUnforwarded) continue;
      show();
      return record.result(Date.now());
    }
  }
}
