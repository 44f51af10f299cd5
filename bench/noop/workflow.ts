/**
 * The baseline of the ingest bench: a workflow that takes hook events by update-with-start exactly
 * like the transfer workflow (same update name, a validator, an answer per event) but does nothing
 * with them. What it costs is what Temporal itself costs on this machine: the engine's own limit.
 * Bundled for the bench's no-op worker only, never part of the product's workflows.
 */
import { condition, setHandler } from '@temporalio/workflow';
import { recordEventUpdate } from '../../messages/transfer';

export async function noopWorkflow(): Promise<void> {
  const seen = new Set<string>();
  setHandler(
    recordEventUpdate,
    (event) => {
      if (seen.has(event.eventId)) return { outcome: 'duplicate', eventId: event.eventId };
      seen.add(event.eventId);
      return { outcome: 'accepted', eventId: event.eventId };
    },
    {
      validator: (event) => {
        if (typeof event?.eventId !== 'string') throw new Error('eventId: missing');
      },
    },
  );
  // Open until the bench's server goes away, like a transfer waiting for its next event.
  await condition(() => false);
}
