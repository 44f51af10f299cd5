/**
 * The console's source on a Temporal client: the practices of the practices file the service runs
 * with, each practice's view through its reporting workflow's `console` query (bounded by a deadline,
 * so a missing worker makes a row say so instead of hanging the page), and the search box's
 * visibility queries on GP2GP_ConversationId / GP2GP_RegistrationId.
 */
import type { WorkflowExecutionInfo } from '@temporalio/client';
import type { Config } from '../../config';
import type { Gp2gpClient } from '../../client';
import { practicesWithOutcomes } from '../../client/outcomes';
import { outputsOf, type PracticeSettings } from '../../mi/practices';
import { reportsToApi } from '../../mi/outputs';
import { visibility } from '../../client/operations';
import type { ConsoleSource, FoundTransfer, TransferSearch } from './read-model';

export interface TemporalSourceOptions {
  gp2gp: Gp2gpClient;
  config: Config;
  practices: readonly PracticeSettings[];
  /** Longest wait for one practice's view. */
  queryTimeoutMs?: number;
  /** Most transfer records one search lists. */
  searchLimit?: number;
}

export function temporalConsoleSource(options: TemporalSourceOptions): ConsoleSource {
  const { gp2gp } = options;
  const client = gp2gp.temporal;
  const practices = options.practices.map((p) => p.ods);
  const withReporting = new Set(practicesWithOutcomes(options.config, options.practices));
  const toApi = options.practices.some((p) => reportsToApi(outputsOf(p, options.config.registrationsApi.outputs)));
  const queryTimeoutMs = options.queryTimeoutMs ?? 10_000;
  const limit = options.searchLimit ?? 50;

  const list = async (query: string): Promise<FoundTransfer[]> => {
    // A reopened transfer has several runs: the newest (listed first) speaks for it.
    const out = new Map<string, FoundTransfer>();
    for await (const e of client.workflow.list({ query, pageSize: limit })) {
      if (!out.has(e.workflowId)) out.set(e.workflowId, found(e));
      if (out.size >= limit) break;
    }
    return [...out.values()];
  };

  return {
    practices: () => practices,
    hasReporting: (ods) => withReporting.has(ods),
    reportsToApi: () => toApi,
    practiceConsole: (ods, request) => client.withDeadline(Date.now() + queryTimeoutMs, () => gp2gp.practiceConsole(ods, request)),
    async findTransfers(search: TransferSearch) {
      if (search.kind === 'conversation') return sortFound(await list(visibility.transferByConversationId(search.id)));
      // A registration ID names the requesting side; its conversation ID then finds the sending side.
      const requesting = await list(visibility.transferByRegistrationId(search.id));
      const conversations = [...new Set(requesting.map((t) => t.conversationId).filter((c): c is string => Boolean(c)))].slice(0, 5);
      const byId = new Map(requesting.map((t) => [t.workflowId, t]));
      for (const c of conversations) for (const t of await list(visibility.transferByConversationId(c))) byId.set(t.workflowId, t);
      return sortFound([...byId.values()]);
    },
  };
}

function attribute(e: WorkflowExecutionInfo, name: string): string | undefined {
  const value = e.searchAttributes?.[name]?.[0];
  return value === undefined || value === null ? undefined : String(value);
}

function found(e: WorkflowExecutionInfo): FoundTransfer {
  const conversationId = attribute(e, 'GP2GP_ConversationId');
  const registrationId = attribute(e, 'GP2GP_RegistrationId');
  const stage = attribute(e, 'GP2GP_Stage');
  const outcome = attribute(e, 'GP2GP_Outcome');
  return {
    workflowId: e.workflowId,
    side: attribute(e, 'GP2GP_Side') ?? (e.workflowId.startsWith('gp2gp-sr-') ? 'SR' : 'RR'),
    practiceOds: attribute(e, 'GP2GP_PracticeOds') ?? '',
    ...(conversationId ? { conversationId } : {}),
    ...(registrationId ? { registrationId } : {}),
    ...(stage ? { stage } : {}),
    ...(outcome ? { outcome } : {}),
    status: e.status.name,
  };
}

/** Requesting side first, then by practice: the order a transfer travels. */
function sortFound(list: FoundTransfer[]): FoundTransfer[] {
  return list.sort((a, b) => a.side.localeCompare(b.side) || a.practiceOds.localeCompare(b.practiceOds) || a.workflowId.localeCompare(b.workflowId));
}
