/**
 * What the worker makes sure of in its namespace at start-up, on whatever cluster we run against:
 * the project's search attributes (the dev server already has them from its command line; "already
 * exists" is fine) and a retention long enough for reopening transfers.
 */
import type { NativeConnection } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { log } from '../observability/log';

const TYPES: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  Keyword: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  KeywordList: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST,
  Text: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
  Int: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
  Datetime: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

export async function registerSearchAttributes(connection: NativeConnection, namespace: string): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name]) => !(name in (existing.customAttributes ?? {})));
  if (missing.length === 0) return;
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, TYPES[type]!])),
    });
    log.info('search attributes registered', { names: missing.map(([n]) => n) });
  } catch (err) {
    if (!/already exists/i.test((err as Error).message)) throw err;
  }
}

/**
 * A completed transfer is reopened from its last run's result, which the cluster keeps only for the
 * namespace's retention period: say so loudly when retention is shorter than the quiet period after
 * which transfers complete. With `extendTo`, raise it (the embedded dev server starts with 24 h).
 */
export async function checkRetention(
  connection: NativeConnection,
  namespace: string,
  finalQuietMs: number,
  extendTo?: number,
): Promise<void> {
  const described = await connection.workflowService.describeNamespace({ namespace });
  const ttl = described.config?.workflowExecutionRetentionTtl;
  const retentionMs = Number(ttl?.seconds ?? 0) * 1000;
  if (retentionMs >= finalQuietMs * 2) return;
  if (extendTo) {
    await connection.workflowService.updateNamespace({
      namespace,
      config: { workflowExecutionRetentionTtl: { seconds: Long.fromNumber(Math.round(extendTo / 1000)) } },
    });
    log.info('namespace retention raised', { namespace, days: Math.round(extendTo / 86_400_000) });
    return;
  }
  log.warn('namespace retention is shorter than twice the transfer quiet period: a late event may reopen a transfer without its earlier events', {
    namespace,
    retentionDays: retentionMs / 86_400_000,
    finalQuietDays: finalQuietMs / 86_400_000,
  });
}
