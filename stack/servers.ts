/**
 * Starting and stopping the two real servers of the embedded stack: the Temporal dev server (SQLite
 * file, Web UI) and NHS England's MESH sandbox (uvicorn, file store, full NHSMESH auth). Used by
 * `npm start` and by the test run's global setup, so both run exactly the same servers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { signalGroup, trackProcess } from './lifecycle';
import type { Tools } from './provision';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { dropUnqueriedVisibilityIndexes } from './dev-server-visibility';

export class StackError extends Error {
  override name = 'StackError';
}

export interface ServerHandle {
  name: string;
  /** host:port (Temporal) or base URL (MESH). */
  address: string;
  logFile: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Fails with a clear message when host:port is already taken, instead of a confusing hang later. */
export async function assertPortFree(host: string, port: number, what: string, hint: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new StackError(
          err.code === 'EADDRINUSE'
            ? `${what}: port ${host}:${port} is already in use (${hint})`
            : `${what}: cannot listen on ${host}:${port}: ${err.message}`,
        ),
      );
    });
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** A free loopback port, chosen by the OS. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * The log's last lines; a Go panic's own message (the dev server's) comes first, as its stack trace
 * alone fills the tail and hides why it stopped.
 */
function tailOf(file: string, lines = 15): string {
  try {
    const all = fs.readFileSync(file, 'utf8').trim().split('\n');
    const panic = all.findIndex((l) => /^(panic|fatal error): /.test(l));
    const tail = all.slice(-lines);
    return panic >= 0 && panic < all.length - lines ? [...all.slice(panic, panic + 3), '…', ...tail].join('\n') : tail.join('\n');
  } catch {
    return '';
  }
}

function launch(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv, logFile: string, ports: number[]): ChildProcess {
  fs.mkdirSync(path.dirname(logFile), { recursive: true, mode: 0o700 });
  const out = fs.openSync(logFile, 'a', 0o600);
  // Own process group (and session), so Ctrl-C in the terminal reaches us first and we stop it in
  // order; tracked, so it is stopped even if we die (stack/lifecycle.ts).
  const child = spawn(cmd, args, { env, stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  trackProcess(name, child, ports);
  child.on('error', () => {
    /* reported through the readiness wait */
  });
  return child;
}

/** Stops a child started in its own process group: SIGTERM to the group, SIGKILL after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
  const timer = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }, graceMs);
  await exited;
  clearTimeout(timer);
  // Anything of it still in its group.
  if (child.pid) signalGroup(child.pid, 'SIGKILL');
}

async function waitUntil(
  name: string,
  child: ChildProcess,
  logFile: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new StackError(`${name} exited during start-up (code ${child.exitCode ?? child.signalCode}); log ${logFile}:\n${tailOf(logFile)}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      await stopProcess(child);
      throw new StackError(`${name} did not become ready within ${timeoutMs / 1000}s; log ${logFile}:\n${tailOf(logFile)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface TemporalDevServerOptions {
  tools: Tools;
  host?: string;
  port: number;
  /** undefined = headless (tests). */
  uiPort?: number | undefined;
  /** SQLite file; undefined = in memory. */
  dbFile?: string | undefined;
  namespace: string;
  logFile: string;
  /** The Web UI's remote codec endpoint (codec server URL), for decoding encrypted payloads. */
  uiCodecEndpoint?: string | undefined;
  /**
   * SQLite pragmas of the file (`--sqlite-pragma name=value`); default DEV_SERVER_SQLITE_PRAGMAS. `{}`
   * runs SQLite's own defaults (rollback journal, synchronous=FULL). Ignored without a file.
   */
  sqlitePragmas?: Readonly<Record<string, string>> | undefined;
  /**
   * Keep Temporal's full set of visibility indexes (default: drop the ones nothing here queries by,
   * see stack/dev-server-visibility.ts). Ignored without a file.
   */
  allVisibilityIndexes?: boolean | undefined;
  /** Read the search-attribute list from the database on every use, as the dev server does by default (default: cache it). */
  searchAttributesReadOnEveryUse?: boolean | undefined;
}

/**
 * The SQLite settings of the embedded dev server's file: a write-ahead log, still synced at every
 * commit. Measured side by side (npm run bench -- sqlite, two runs on 2 shared cores): client ingest
 * 1.38× and 1.78× the rate of SQLite's defaults (rollback journal, synchronous=FULL), p99 latency
 * 0.52–0.60×, server CPU per event 0.75–0.85× — the rollback journal syncs several files per commit,
 * the WAL one. Safe: a server SIGKILLed mid-ingest and restarted on its file kept every accepted event
 * and passed SQLite's integrity check, and because every commit is still synced, an OS crash or power
 * cut loses nothing acknowledged either. synchronous=NORMAL was faster still (1.95×, 2.03×) but may
 * lose the last commits on an OS crash or power cut — events the GP system was told were accepted —
 * so it is not the default.
 * WAL keeps `temporal.sqlite-wal` and `-shm` beside the file (same owner-only folder).
 */
export const DEV_SERVER_SQLITE_PRAGMAS: Readonly<Record<string, string>> = { journal_mode: 'WAL', synchronous: 'FULL' };

export async function startTemporalDevServer(o: TemporalDevServerOptions): Promise<ServerHandle> {
  const host = o.host ?? '127.0.0.1';
  await assertPortFree(host, o.port, 'Temporal dev server', 'set TEMPORAL_PORT, or TEMPORAL_ADDRESS to use a running server');
  if (o.uiPort) await assertPortFree(host, o.uiPort, 'Temporal Web UI', 'set TEMPORAL_UI_PORT');
  const args = ['server', 'start-dev', '--ip', host, '--port', String(o.port), '--namespace', o.namespace, '--log-level', 'warn'];
  // No newsfeed: the UI would fetch it from the internet, which this machine need not reach.
  if (o.uiPort) args.push('--ui-ip', host, '--ui-port', String(o.uiPort), '--ui-disable-news-fetch');
  else args.push('--headless');
  if (o.uiPort && o.uiCodecEndpoint) args.push('--ui-codec-endpoint', o.uiCodecEndpoint);
  const leanVisibility = async (dbFile: string) => {
    // Only slower without it, so a failure is said and the server runs on.
    await dropUnqueriedVisibilityIndexes(o.tools.python, dbFile).catch((err: unknown) =>
      console.error(`Temporal dev server: kept every visibility index of ${dbFile} (could not drop the unqueried ones: ${err instanceof Error ? err.message.split('\n')[0] : String(err)})`),
    );
  };
  if (o.dbFile && !o.allVisibilityIndexes) await leanVisibility(o.dbFile);
  if (o.dbFile) {
    fs.mkdirSync(path.dirname(o.dbFile), { recursive: true });
    args.push('--db-filename', o.dbFile);
    // The pinned CLI (1.9.1) hands any name=value to SQLite as a pragma; only journal_mode and
    // synchronous matter here, and SQLite ignores a name it does not know.
    for (const [name, value] of Object.entries(o.sqlitePragmas ?? DEV_SERVER_SQLITE_PRAGMAS)) args.push('--sqlite-pragma', `${name}=${value}`);
  }
  // The dev server reads the search-attribute list from its database on every use unless told
  // otherwise (so that attributes added at run time apply at once): 3.6 % of its CPU in a national-day
  // profile, on every history fetch, command check and visibility write. Ours are registered below,
  // before it answers, so its cache holds them from the start; one added later by hand takes effect
  // when the cache refreshes.
  if (!o.searchAttributesReadOnEveryUse) args.push('--dynamic-config-value', 'system.forceSearchAttributesCacheRefreshOnRead=false');
  // Registered here for speed on the dev server; the worker registers them again on any cluster.
  for (const [name, type] of Object.entries(SEARCH_ATTRIBUTES)) args.push('--search-attribute', `${name}=${type}`);
  const child = launch('Temporal dev server', o.tools.temporalCli, args, process.env, o.logFile, o.uiPort ? [o.port, o.uiPort] : [o.port]);
  const address = `${host}:${o.port}`;
  await waitUntil('Temporal dev server', child, o.logFile, 60_000, async () => {
    const connection = await Connection.connect({ address, connectTimeout: 1_000 });
    try {
      await connection.workflowService.describeNamespace({ namespace: o.namespace });
      return true;
    } finally {
      await connection.close();
    }
  });
  // A new file's schema exists only now.
  if (o.dbFile && !o.allVisibilityIndexes) await leanVisibility(o.dbFile);
  return { name: 'Temporal dev server', address, logFile: o.logFile, process: child, stop: () => stopProcess(child) };
}

export interface MeshSandboxOptions {
  tools: Tools;
  host?: string;
  port: number;
  storeDir: string;
  sharedKey: string;
  /** Mailbox ids to create (file store: an upper-case folder is a mailbox, password `password`). */
  mailboxes: string[];
  logFile: string;
  /** Mutual TLS: uvicorn demands a client certificate signed by caCert. */
  tls?: { certFile: string; keyFile: string; caFile: string } | undefined;
}

export async function startMeshSandbox(o: MeshSandboxOptions): Promise<ServerHandle> {
  const host = o.host ?? '127.0.0.1';
  await assertPortFree(host, o.port, 'MESH sandbox', 'set MESH_PORT, or MESH_URL to use a running MESH');
  for (const mailbox of o.mailboxes) fs.mkdirSync(path.join(o.storeDir, mailbox), { recursive: true });
  const env = {
    ...process.env,
    STORE_MODE: 'file',
    FILE_STORE_DIR: o.storeDir,
    AUTH_MODE: 'full',
    SHARED_KEY: o.sharedKey,
  };
  const args = ['mesh_sandbox.api:app', '--host', host, '--port', String(o.port), '--workers', '1', '--log-level', 'warning'];
  if (o.tls) {
    args.push('--ssl-certfile', o.tls.certFile, '--ssl-keyfile', o.tls.keyFile, '--ssl-ca-certs', o.tls.caFile, '--ssl-cert-reqs', '2');
  }
  const child = launch('MESH sandbox', path.join(o.tools.venvBin, 'uvicorn'), args, env, o.logFile, [o.port]);
  const url = `${o.tls ? 'https' : 'http'}://${host}:${o.port}`;
  await waitUntil('MESH sandbox', child, o.logFile, 60_000, async () => {
    if (o.tls) {
      // Without a client certificate the TLS handshake fails, but a listening socket is enough here.
      return await new Promise<boolean>((resolve) => {
        const s = net.connect({ host, port: o.port }, () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      });
    }
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1_000) });
    return res.ok;
  });
  return { name: 'MESH sandbox', address: url, logFile: o.logFile, process: child, stop: () => stopProcess(child) };
}
