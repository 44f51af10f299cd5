/**
 * A small HTTP proxy that misbehaves on purpose, for fault tests: in front of a real server it can
 * answer a status itself (e.g. 503) without forwarding, reset the connection, or forward a request,
 * let the server act on it, and then drop the answer (the "lost response" that makes a naive retry
 * send twice). Rules are matched in order, each for a number of times; everything else is forwarded.
 * It also records every request, so tests can count what a client really sent.
 *
 *   const proxy = await startFaultProxy({ target: meshUrl, rules: [
 *     { method: 'POST', path: /\/outbox$/, action: { status: 503 } },
 *     { method: 'POST', path: /\/outbox$/, action: 'drop-response' },
 *   ] });
 *   // … point the client at proxy.url …
 *   await proxy.close();
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

export type FaultAction =
  /** Forward unchanged (useful to let a few matching requests through before a later rule). */
  | 'forward'
  /** Reset the TCP connection (RST) at once, without forwarding. */
  | 'reset'
  /** Forward, wait for the server's full answer, then close the connection without answering. */
  | 'drop-response'
  /** Answer this status (body read and discarded first), without forwarding. */
  | { status: number; body?: string; headers?: Record<string, string> }
  /** Wait this long, then forward unchanged (a slow network or a busy server). */
  | { delayMs: number };

export interface FaultRule {
  method?: string;
  /** A string matches the path (query excluded) exactly; a RegExp is tested against it. */
  path?: string | RegExp;
  action: FaultAction;
  /** How many matching requests the rule applies to; default 1, `Infinity` for all. */
  times?: number;
  /** Chance (0–1) that a matching request gets the action; otherwise the next rule is tried. Default 1. */
  probability?: number;
}

export interface ProxiedRequest {
  method: string;
  /** Path with query. */
  url: string;
  /** The action taken ('forward' when no rule applied). */
  action: string;
  /** Status the client saw (forwarded or made up); undefined when reset or dropped. */
  status?: number;
}

export interface FaultProxy {
  url: string;
  /** Every request received, in order. */
  requests: ProxiedRequest[];
  /** TCP connections clients opened to the proxy (shows whether a client reuses connections). */
  readonly connections: number;
  /** Adds a rule after the existing ones. */
  addRule(rule: FaultRule): void;
  /** Rules still to fire (times not used up). */
  pendingRules(): FaultRule[];
  /** How many requests got each action ('forward', 'reset', 'drop-response', 'status 503', 'delay'). */
  counts(): Record<string, number>;
  close(): Promise<void>;
}

interface LiveRule extends FaultRule {
  remaining: number;
}

function matches(rule: FaultRule, method: string, pathname: string): boolean {
  if (rule.method && rule.method.toUpperCase() !== method) return false;
  if (rule.path === undefined) return true;
  return typeof rule.path === 'string' ? rule.path === pathname : rule.path.test(pathname);
}

function actionName(action: FaultAction): string {
  if (typeof action === 'string') return action;
  return 'delayMs' in action ? 'delay' : `status ${action.status}`;
}

export async function startFaultProxy(options: {
  target: string;
  rules?: FaultRule[];
  host?: string;
  /** Source of randomness for `probability` (a seeded generator makes a run repeatable). */
  random?: () => number;
}): Promise<FaultProxy> {
  const random = options.random ?? Math.random;
  const target = new URL(options.target);
  if (target.protocol !== 'http:') throw new Error('fault proxy: only http targets are supported');
  const rules: LiveRule[] = (options.rules ?? []).map((r) => ({ ...r, remaining: r.times ?? 1 }));
  const requests: ProxiedRequest[] = [];
  const agent = new http.Agent({ keepAlive: true });

  const server = http.createServer((req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const pathname = url.split('?')[0]!;
    const rule = rules.find((r) => r.remaining > 0 && matches(r, method, pathname) && (r.probability === undefined || random() < r.probability));
    if (rule) rule.remaining--;
    const action: FaultAction = rule?.action ?? 'forward';
    const record: ProxiedRequest = { method, url, action: actionName(action) };
    requests.push(record);

    if (action === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (typeof action === 'object' && 'delayMs' in action) {
      req.pause();
      setTimeout(() => forward(false), action.delayMs);
      return;
    }
    if (typeof action === 'object') {
      req.resume();
      req.once('end', () => {
        record.status = action.status;
        res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
        res.end(action.body ?? '');
      });
      return;
    }
    forward(action === 'drop-response');

    function forward(dropResponse: boolean): void {
      const headers = { ...req.headers, host: target.host };
      const upstream = http.request({ host: target.hostname, port: target.port, method, path: url, headers, agent }, (answer) => {
        if (dropResponse) {
          answer.resume();
          answer.once('end', () => req.socket.destroy());
          return;
        }
        record.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      upstream.once('error', () => req.socket.destroy());
      req.pipe(upstream);
      req.resume();
    }
  });
  // A reset socket is an expected event here, not a crash.
  server.on('clientError', (_err, socket) => socket.destroy());
  let connections = 0;
  server.on('connection', () => void connections++);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}`,
    requests,
    get connections() {
      return connections;
    },
    addRule: (rule) => void rules.push({ ...rule, remaining: rule.times ?? 1 }),
    pendingRules: () => rules.filter((r) => r.remaining > 0),
    counts: () => {
      const out: Record<string, number> = {};
      for (const r of requests) out[r.action] = (out[r.action] ?? 0) + 1;
      return out;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}
