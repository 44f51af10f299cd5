/**
 * MESH call metrics without touching the MESH client: undici publishes every request on Node's
 * diagnostics channels; only MESH API paths are counted (the GP Registrations MI API client, also
 * undici, is counted by its activity: gp2gp_api_posts). Each HTTP attempt is
 * counted by operation and status, timed, and counted as retried when its answer is one the client
 * retries (429, 5xx, a network error). The client's own channel says when MESH stopped answering the
 * deprecated local-id lookup that guards first sends (the send then goes ahead without it).
 */
import diagnostics from 'node:diagnostics_channel';
import type { MetricMeter } from '@temporalio/common';
import { LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL } from '../mesh/client';
import { METRICS } from './metric-names';

interface UndiciRequest {
  method?: string;
  path?: string;
}

/** MESH API operation of a request, from its method and path (ids never become labels). */
export function meshOperation(method: string, path: string): string | undefined {
  const p = path.split('?')[0]!;
  if (p.startsWith('/endpointlookup')) return 'lookup';
  const m = /^\/messageexchange\/[^/]+(\/.*)?$/.exec(p);
  if (!m) return undefined;
  const rest = m[1] ?? '';
  if (rest === '' ) return 'handshake';
  if (rest === '/outbox') return 'send';
  if (/^\/outbox\/[^/]+\/\d+$/.test(rest)) return 'send-chunk';
  if (rest.startsWith('/outbox/tracking')) return 'track';
  if (rest === '/inbox') return 'inbox';
  if (/^\/inbox\/[^/]+\/status\/acknowledged$/.test(rest)) return 'acknowledge';
  if (/^\/inbox\/[^/]+(\/\d+)?$/.test(rest)) return method === 'HEAD' ? 'metadata' : 'download';
  return 'other';
}

export function installMeshMetrics(meter: MetricMeter): () => void {
  const requests = meter.createCounter(METRICS.meshRequests, 'requests', 'MESH HTTP requests by operation and status');
  const latency = meter.createHistogram(METRICS.meshLatency, 'float', 's', 'MESH request latency');
  const retried = meter.createCounter(METRICS.meshRetries, 'requests', 'MESH answers the client retries (429, 5xx, network errors)');
  const lookupUnavailable = meter.createCounter(
    METRICS.meshLocalIdLookupUnavailable,
    'sends',
    'MESH local-id lookups (deprecated call) answered with neither a tracking record nor 404; the send went ahead without it',
  );
  const started = new WeakMap<object, { op: string; at: bigint }>();

  const onCreate = (message: unknown) => {
    const { request } = message as { request: UndiciRequest };
    const op = meshOperation(request.method ?? 'GET', request.path ?? '');
    if (op) started.set(request, { op, at: process.hrtime.bigint() });
  };
  const finish = (request: object, status: string, retry: boolean) => {
    const s = started.get(request);
    if (!s) return;
    started.delete(request);
    latency.record(Number(process.hrtime.bigint() - s.at) / 1e9, { operation: s.op });
    requests.add(1, { operation: s.op, status });
    if (retry) retried.add(1, { operation: s.op });
  };
  const onHeaders = (message: unknown) => {
    const { request, response } = message as { request: object; response: { statusCode: number } };
    const code = response.statusCode;
    finish(request, String(code), code === 429 || code >= 500);
  };
  const onError = (message: unknown) => {
    const { request } = message as { request: object };
    finish(request, 'error', true);
  };
  const onLookupUnavailable = (message: unknown) => {
    const { status } = message as { status?: number };
    lookupUnavailable.add(1, { status: String(status ?? 'unknown') });
  };
  diagnostics.subscribe('undici:request:create', onCreate);
  diagnostics.subscribe('undici:request:headers', onHeaders);
  diagnostics.subscribe('undici:request:error', onError);
  diagnostics.subscribe(LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL, onLookupUnavailable);
  return () => {
    diagnostics.unsubscribe('undici:request:create', onCreate);
    diagnostics.unsubscribe('undici:request:headers', onHeaders);
    diagnostics.unsubscribe('undici:request:error', onError);
    diagnostics.unsubscribe(LOCAL_ID_LOOKUP_UNAVAILABLE_CHANNEL, onLookupUnavailable);
  };
}
