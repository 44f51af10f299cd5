/**
 * One GP2GP transfer as seen by one practice: the RR record of a registration (requester side) or the
 * SR record of an EHR request (sender side). Hook events arrive as Updates (update-with-start, so the
 * first event starts it); the validator refuses bad events before anything reaches history. Every
 * accepted event changes the rows of its day and of later days the record has events on; those rows,
 * with the record's outcome summary (mi/outcomes.ts), are forwarded to the practice's reporting
 * workflow by an activity, in order, before this workflow may finish or continue as new, so no
 * accepted event is lost between the two. Rows of a day still open wait here, durably, until that
 * day's hand-over point (mi/hand-over.ts), when the practice's transfers all hand over at once and
 * the worker carries them in one signal. The record and every decision about it
 * are TransferRecord's (workflows/transfer-record.ts); this file only lends it Temporal.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { reportsToApi, reportsToMesh } from '../mi/outputs';
import {
  API_POST_REFUSED,
  recordEventUpdate,
  replayApiPostsUpdate,
  transferQuery,
  type TransferActivities,
  type TransferInput,
  type TransferResult,
} from '../messages/transfer';
import { apiDeliveryKey, conversationIdKey, miDaysKey, outcomeKey, practiceOdsKey, registrationIdKey, sideKey, stageKey } from './search-attributes';
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

// Posting to the GP Registrations MI API: a regular activity, one API event per call (so a retry
// never re-posts an event the API already answered), retried with capped exponential backoff on 429,
// 5xx, resets and timeouts for as long as it takes; a refusal (other 4xx) is not retried.
const { postApiEvent } = proxyActivities<TransferActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '2 minutes', nonRetryableErrorTypes: [API_POST_REFUSED] },
});
const { restorePreviousRun } = proxyLocalActivities<TransferActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
});

/** The reason of a failed post: the activity's own message (the API's answer), else the failure's. */
function postFailureReason(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

export async function transferWorkflow(input: TransferInput): Promise<TransferResult> {
  // Runs begun on this version take the three API behaviours below behind one patch: each patched()
  // a new run calls writes a marker and has sdk-core upsert TemporalChangeVersion (a visibility write
  // on the server): three of the four upserts in the first workflow task of every such run.
  // Runs begun before replay through the patches they ran with (this one is not in their history).
  const postsToApi = reportsToApi(input.options?.outputs);
  const apiRunOfThisVersion = postsToApi && patched('api-runs');
  // Posting to the API is new (issue 12): only for records whose outputs include it, and only on runs
  // begun since (patch registrations-api) — histories from before it never reach patched() and replay
  // unchanged.
  const api = apiRunOfThisVersion || (postsToApi && patched('registrations-api'));
  // Issue 15: a record posting to the API and forwarding rows also forwards its outcome summary when
  // only a post's failure (or replay) changed it — a forward earlier versions never made, so behind a
  // patch (outcome-summary-forwards for runs begun before api-runs), asked only where it can matter.
  const summaryForwards = api && reportsToMesh(input.options?.outputs) && (apiRunOfThisVersion || patched('outcome-summary-forwards'));
  // Local activities and activities share one sequence of ids, and a local activity's result can
  // reach the workflow later in its first execution than in a replay (where it comes from the
  // history's marker, with the other jobs of the task: sdk-core orders them differently). A post
  // scheduled while a forward or restore is in flight could so take a different id on replay — a
  // non-determinism error that stalls the record (seen in the chaos suite after a worker was killed
  // mid-forward). Posts therefore start only while no local activity is in flight, which makes the
  // order of ids the same however the results are grouped. Behind a patch (posts-after-local-activities
  // for runs begun before api-runs): earlier runs replay as they ran.
  const postsAfterLocalActivities = api && (apiRunOfThisVersion || patched('posts-after-local-activities'));
  let localActivitiesInFlight = 0;
  // Counting only where the patch is on: the wrapper's extra awaits must not reorder earlier runs.
  const local = <T>(call: Promise<T>): Promise<T> => {
    if (!postsAfterLocalActivities) return call;
    localActivitiesInFlight++;
    return call.finally(() => localActivitiesInFlight--);
  };
  const record = new TransferRecord(input, { now: Date.now(), continued: workflowInfo().continuedFromExecutionRunId !== undefined, api, summaryForwards });

  setHandler(
    recordEventUpdate,
    async (event) => {
      record.arrived(Date.now());
      // A reopened record answers only once its earlier events are back, so "duplicate" and
      // "conflict" are judged against all of them. One with nothing to restore records at once: the
      // event that started the run is then held before the main loop first looks (one search-attribute
      // upsert and a timer for the real deadline, not an empty run's). Runs of earlier versions
      // always waited, and replay so.
      if (record.waitsBeforeRecording) await condition(() => record.restored);
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
  setHandler(
    replayApiPostsUpdate,
    () => {
      const result = record.replayApiPosts();
      show();
      return result;
    },
    {
      validator: () => {
        const refusal = record.replayRefusal();
        if (refusal) throw new Error(refusal);
      },
      description: 'Clear a failed API post so it (and the posts behind it) are tried again',
    },
  );

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
      ...(a.apiDelivery ? [{ key: apiDeliveryKey, value: a.apiDelivery }] : []),
    ]);
  };

  // Set just before the run ends (continue-as-new or completion): no new post starts after it.
  let closing = false;
  const postApiEvents = async (): Promise<void> => {
    for (;;) {
      await condition(() => !closing && record.nextApiPost() !== undefined && localActivitiesInFlight === 0);
      // The run may have decided to end in the same activation (its continuation ran first).
      if (closing) return;
      const event = record.startApiPost();
      if (!event) continue;
      show();
      try {
        await postApiEvent({ practiceOds: record.practiceOds, event });
        record.apiPosted(event.id);
      } catch (err) {
        record.apiPostFailed(event, postFailureReason(err), new Date(Date.now()).toISOString());
      }
      show();
    }
  };
  // Beside the main loop: rows keep going to the reporting workflow while the API is down, and the
  // API's posts keep their own order.
  if (api) void postApiEvents();

  if (!record.restored) {
    // Updates are accepted meanwhile and wait for this (see the handler).
    const previous = { workflowId: workflowInfo().workflowId, runId: workflowInfo().runId };
    if (api) record.restoreRun(await local(restorePreviousRun(previous)));
    else record.restore(await local(restorePreviousRecord(previous)));
  }

  let timer: { at: number; fired: boolean; done: Promise<void> } | undefined;
  for (;;) {
    const batch = record.startForwarding(Date.now());
    if (batch) {
      show();
      // Retried without limit: rows must reach the reporting workflow, however long it takes.
      await local(forwardRows(batch));
      record.forwarded();
      continue;
    }
    show();

    if (record.shouldContinueAsNew(workflowInfo().continueAsNewSuggested)) {
      // A post in flight ends first: its answer decides what the next run still has to post.
      await condition(() => allHandlersFinished() && !record.apiInFlight);
      const next = record.continueAsNewInput(Date.now());
      if (next) {
        closing = true;
        return await continueAsNew<typeof transferWorkflow>(next);
      }
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
    // Rows held for their day's hand-over point are not due: the timer (wakeAt) wakes the loop for
    // them. An event held for a point earlier than the armed timer (a new day's, or the first after a
    // reopened record's restore) wakes it to arm one; runs without the point never hold.
    const heldSooner = () => (record.heldUntil(Date.now()) ?? Infinity) < armed.at;
    await Promise.race([condition(() => record.forwardDue(Date.now()) || armed.fired || heldSooner()), armed.done]);
    if (record.forwardDue(Date.now()) || heldSooner()) continue;
    if (Date.now() >= quietUntil) {
      // The run may end: what it holds for the hand-over point goes first, not with the run.
      if (record.hasUnforwarded) {
        record.releaseHeld();
        continue;
      }
      if (record.apiOutstanding) {
        // Quiet, but API posts are owed (retrying, or failed and waiting for a replay): the run stays
        // until they are made; a new event wakes it too.
        const seen = record.events.length;
        await condition(() => record.forwardDue(Date.now()) || !record.apiOutstanding || record.events.length !== seen);
        continue;
      }
      await condition(allHandlersFinished);
      if (record.hasUnforwarded || record.apiOutstanding) continue;
      closing = true;
      show();
      return record.result(Date.now());
    }
  }
}
