/**
 * `npm start`: the service on the embedded default. Starts (unless configured to use external ones)
 * the Temporal dev server with its SQLite file and Web UI, and NHS England's MESH sandbox with a file
 * store, then runs the worker under supervision (restarted if it dies). Ctrl-C stops everything it
 * started, in reverse order — as does every other way it is stopped (SIGTERM, SIGHUP, a closed pipe or
 * terminal, the death of npm, even SIGKILL: see stack/lifecycle.ts). State lives under .data/ (owner
 * only) and survives restarts.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, EMBEDDED_MESH_PASSWORD, loadConfig, type Config } from '../config';
import { MeshClient } from '../mesh';
import { AuthorityMailbox } from './authority';
import { prepareApi, startApiProcess } from './api';
import { prepareRegistrationsApiStandIn, STAND_IN_REQUESTS_PATH, type RegistrationsApiStandIn } from './registrations-api-stand-in';
import { ProvisionError, provision } from './provision';
import { earlierStack, secureDataDir, StackGuard } from './lifecycle';
import { checkMetricsPort, composePractices, prepareCodecServer } from './operators';
import { superviseProcess } from './supervise';
import { StackError, startMeshSandbox, startTemporalDevServer, type ServerHandle } from './servers';

// A closed stdout or stderr (`| tee` ended by the same Ctrl-C, a closed terminal) must never stop
// the stop: writes then fail with EPIPE or EIO, which are ignored.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
const say = (line: string) => {
  try {
    console.log(`[gp2gp-mi] ${line}`);
  } catch {
    /* nowhere to say it */
  }
};

let guard: StackGuard | undefined;
const started: { stop(): Promise<void> }[] = [];
let stopping: Promise<void> | undefined;
let stopBeganAt = 0;
/** Stopping was asked for (a signal, npm gone), rather than caused by a failed start. */
let stopAsked = false;
let reloading: Promise<void> = Promise.resolve();

/** Stops everything started here, in reverse order; every later call gets the same stop. */
function stopAll(why?: string): Promise<void> {
  return (stopping ??= (async () => {
    stopBeganAt = Date.now();
    say(`stopping…${why ? ` (${why})` : ''}`);
    if (guard) guard.stopping = true; // nothing new starts from now on
    // However it gets stuck, the stop ends: SIGKILL to what is left, then out.
    const overdue = setTimeout(() => {
      say('stopping takes too long: killing what is still running');
      guard?.killAll();
      setTimeout(() => {
        guard?.finish();
        process.exit(1);
      }, 5_000).unref();
    }, 45_000);
    overdue.unref();
    // A reload in progress finishes first, so the processes it starts are the ones stopped.
    await reloading;
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    // Whatever a start-up in progress had started.
    await guard?.stopRemaining();
    clearTimeout(overdue);
    guard?.finish();
    say('stopped');
  })());
}

function askStop(why: string): void {
  stopAsked = true;
  void stopAll(why).then(() => process.exit(0));
}

// Ctrl-C (SIGINT, to the whole foreground group), SIGTERM (npm, a process manager, kill), SIGHUP (the
// terminal closed). Listeners stay on: a repeated signal must not fall back to the default (exit).
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    if (!stopping) return askStop(sig);
    // The same Ctrl-C passed on by tsx arrives within milliseconds; a later one is impatience.
    if (Date.now() - stopBeganAt < 200) return;
    say(`${sig} again: killing what is still running`);
    guard?.killAll();
  });
}
for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
  process.on(event, (err: unknown) => {
    try {
      console.error(`[gp2gp-mi] unexpected error: ${err instanceof Error ? err.stack : String(err)}`);
    } catch {
      /* nowhere to say it */
    }
    void stopAll('unexpected error').finally(() => process.exit(1));
  });
}

/** The embedded sandbox's shared key: generated once, kept in the data folder, never printed. */
function embeddedSharedKey(dataDir: string): string {
  const file = path.join(dataDir, 'mesh', 'shared-key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, randomBytes(24).toString('hex'), { mode: 0o600 });
  }
  return fs.readFileSync(file, 'utf8').trim();
}

/**
 * The embedded stack's stand-in for NHS England: collects and acknowledges files arriving in the
 * Authority mailbox, so submissions reach "delivered" locally as they would against real MESH.
 */
function runEmbeddedAuthority(config: Config, env: NodeJS.ProcessEnv, storeDir: string): { stop(): Promise<void> } {
  const mesh = new MeshClient({
    url: env.MESH_URL!,
    mailbox: config.mesh.to,
    password: EMBEDDED_MESH_PASSWORD,
    sharedKey: env.MESH_SHARED_KEY!,
    clientVersion: 'gp2gp-mi-embedded-authority',
  });
  const authority = new AuthorityMailbox(mesh, { storeDir, workflowId: config.mesh.workflowId });
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = authority
      .collect()
      .then((files) => {
        for (const f of files) say(`Authority received ${f.metadata.fileName ?? f.messageId} (${f.content.length} bytes)`);
      })
      .catch((err: unknown) => say(`Authority mailbox: ${(err as Error).message}`))
      .finally(() => {
        timer = setTimeout(tick, 10_000);
      });
  };
  timer = setTimeout(tick, 2_000);
  return {
    async stop() {
      clearTimeout(timer);
      await running;
      clearTimeout(timer);
      await mesh.close();
    },
  };
}

async function main(): Promise<void> {
  const config: Config = loadConfig();
  // Owner only: the data folder (event payloads in SQLite, logs), and, through the umask, every file
  // we and the servers we start create (0600). The user's own umask only for the tools (.tools/).
  const userUmask = process.umask(0o077);
  secureDataDir(config.dataDir, say);
  const earlier = earlierStack(config.dataDir);
  if (earlier) throw new StackError(earlier);
  const logs = path.join(config.dataDir, 'logs');
  guard = new StackGuard(config.dataDir, path.join(logs, 'stack.log'), say);
  guard.begin();
  // npm passes a SIGTERM only to its `sh -c`, which dies without passing it on: its end (or npm's,
  // or tsx's) is the signal to stop.
  guard.watchLaunchers(process.env, (what) => {
    if (!stopping) askStop(`${what} has gone`);
  });

  try {
    const workerEnv: NodeJS.ProcessEnv = { ...process.env };
    // Operators (issue #7): the practices file (examples + demo practices on the embedded default),
    // the metrics port, and the codec server when GP2GP_ENCRYPTION_KEYS is set (stack/operators.ts).
    const practices = composePractices(config, process.env);
    workerEnv.GP2GP_PRACTICES = practices.file;
    await checkMetricsPort(config);
    const preparedApi = await prepareApi(config, process.env);
    // The GP Registrations MI API's local stand-in (issue 12), unless GP2GP_REGISTRATIONS_API_URL names another.
    const preparedStandIn = await prepareRegistrationsApiStandIn(config);
    const codec = await prepareCodecServer(config, workerEnv, logs);
    const needTools = !config.temporal.address || !config.mesh.url;
    const tools = needTools ? withUmask(userUmask, () => provision(say)) : undefined;

    let temporal: ServerHandle | undefined;
    if (!config.temporal.address) {
      say(`Temporal CLI: ${tools!.temporalCliSource}`);
      temporal = await startTemporalDevServer({
        tools: tools!,
        port: config.temporal.port,
        uiPort: config.temporal.uiPort,
        dbFile: path.join(config.dataDir, 'temporal', 'temporal.sqlite'),
        namespace: config.temporal.namespace,
        logFile: path.join(logs, 'temporal.log'),
        uiCodecEndpoint: codec?.url,
      });
      started.push(temporal);
      if (stopping) return;
      workerEnv.TEMPORAL_ADDRESS = temporal.address;
      // Ours to adjust: the worker raises the dev server's 24 h retention so reopened transfers keep their history.
      workerEnv.GP2GP_EMBEDDED_TEMPORAL = '1';
    }

    let mesh: ServerHandle | undefined;
    if (!config.mesh.url) {
      const sharedKey = config.mesh.sharedKey ?? embeddedSharedKey(config.dataDir);
      mesh = await startMeshSandbox({
        tools: tools!,
        port: config.mesh.port,
        storeDir: path.join(config.dataDir, 'mesh', 'store'),
        sharedKey,
        mailboxes: [config.mesh.mailbox, config.mesh.to],
        logFile: path.join(logs, 'mesh-sandbox.log'),
      });
      started.push(mesh);
      if (stopping) return;
      workerEnv.MESH_URL = mesh.address;
      workerEnv.MESH_SHARED_KEY = sharedKey;
      workerEnv.MESH_PASSWORD = config.mesh.password ?? EMBEDDED_MESH_PASSWORD;
    }

    let standIn: RegistrationsApiStandIn | undefined;
    if (preparedStandIn) {
      // In this process: it stops with it, however it is stopped.
      standIn = await preparedStandIn.start(logs);
      const s = standIn;
      started.push({ stop: () => s.stop().finally(() => guard?.serving('Registrations API stand-in', undefined)) });
      guard.serving('Registrations API stand-in', [s.port]);
      if (stopping) return;
      workerEnv.GP2GP_REGISTRATIONS_API_URL = s.url;
      workerEnv.GP2GP_REGISTRATIONS_API_KEY = preparedStandIn.apiKey;
    }

    const superviseWorker = () =>
      superviseProcess({
        name: 'worker',
        entry: 'worker/main.ts',
        env: workerEnv,
        logFile: path.join(logs, 'worker.log'),
        say,
        ports: config.metrics ? [config.metrics.port] : [],
      });
    let worker = superviseWorker();
    started.push({ stop: () => worker.stop() });
    if (mesh) started.push(runEmbeddedAuthority(config, workerEnv, path.join(config.dataDir, 'authority')));
    // HTTP hooks API (issue #5): its own supervised process beside the worker (stack/api.ts). Its
    // console (issue 15) links into the embedded Web UI, whose address only this process knows for
    // sure (the API sees the dev server as an external TEMPORAL_ADDRESS).
    const apiEnv: NodeJS.ProcessEnv = {
      ...workerEnv,
      ...(temporal && !process.env.GP2GP_CONSOLE_TEMPORAL_UI_URL?.trim() ? { GP2GP_CONSOLE_TEMPORAL_UI_URL: `http://127.0.0.1:${config.temporal.uiPort}` } : {}),
    };
    let api = startApiProcess(preparedApi, apiEnv, logs, say);
    started.push({ stop: () => api.stop() });
    const codecProcess = codec?.start();
    if (codecProcess) started.push(codecProcess);
    // SIGUSR2 (sent by `npm run demo` after it added practices): restart worker and API on the new list.
    process.on('SIGUSR2', () => {
      reloading = reloading.then(async () => {
        if (stopping) return;
        const now = composePractices(config, process.env);
        say(`practices changed (${now.count} in ${now.file}): restarting the worker and the HTTP API`);
        await worker.stop();
        worker = superviseWorker();
        await api.stop();
        api = startApiProcess(preparedApi, apiEnv, logs, say);
      }).catch((err: unknown) => say(`reload failed: ${(err as Error).message}`));
    });

    const ui = temporal ? `http://127.0.0.1:${config.temporal.uiPort}` : '(external cluster: its own Web UI)';
    say('running');
    say(`  Temporal Web UI   ${ui}/namespaces/${config.temporal.namespace}/workflows`);
    say(`  Temporal server   ${workerEnv.TEMPORAL_ADDRESS ?? config.temporal.address} (namespace ${config.temporal.namespace}, task queues ${config.temporal.taskQueue} and ${config.temporal.reportingTaskQueue})`);
    say(`  MESH              ${workerEnv.MESH_URL ?? config.mesh.url}${mesh ? ' (NHS England MESH sandbox, file store)' : ''}`);
    say(`  MESH mailboxes    ours ${config.mesh.mailbox} → Authority ${config.mesh.to}, workflow ${config.mesh.workflowId}`);
    if (mesh) say(`  Authority files   ${path.join(config.dataDir, 'authority')} (embedded stand-in: downloads and acknowledges)`);
    if (standIn) {
      say(`  Registrations API ${standIn.url} (local stand-in checking every request against the API's contract; ${preparedStandIn!.keyNote})`);
      say(`  API stand-in      accepted requests at ${standIn.origin}${STAND_IN_REQUESTS_PATH} (apikey header), log ${path.join(logs, 'registrations-api.log')}`);
    } else {
      say(`  Registrations API ${config.registrationsApi.url} (GP2GP_REGISTRATIONS_API_URL; ${config.registrationsApi.apiKey ? 'key from GP2GP_REGISTRATIONS_API_KEY' : 'no GP2GP_REGISTRATIONS_API_KEY set'})`);
    }
    say(`  HTTP API          ${api.url}/v1/events (${api.tokenNote}; OpenAPI at ${api.url}/v1/openapi.json)`);
    if (preparedApi.console) say(`  console           ${api.url}/console (log in with an API token: ${api.tokenNote})`);
    say(`  practices         ${practices.file} (${practices.count}${practices.demo ? `, ${practices.demo} added by npm run demo` : ''})`);
    say(`  metrics           ${config.metrics ? `http://${config.metrics.host}:${config.metrics.port}/metrics (Prometheus; dashboard observability/grafana-dashboard.json)` : 'off (GP2GP_METRICS_PORT=0)'}`);
    say(`  encryption        ${config.encryption ? `payloads AES-256-GCM, current key id ${config.encryption.currentKeyId}` : 'off (set GP2GP_ENCRYPTION_KEYS to encrypt payloads)'}`);
    if (codecProcess) say(`  codec server      ${codecProcess.url} (${codecProcess.tokenNote}; sign in at ${codecProcess.loginUrl})`);
    say(`  data and logs     ${config.dataDir}`);
    say('Ctrl-C stops everything started here.');
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function withUmask<T>(mask: number, fn: () => T): T {
  const previous = process.umask(mask);
  try {
    return fn();
  } finally {
    process.umask(previous);
  }
}

main().catch((err: unknown) => {
  if (stopAsked) return; // stopped during start-up: that stop exits
  const known = err instanceof ConfigError || err instanceof ProvisionError || err instanceof StackError;
  console.error(`[gp2gp-mi] cannot start: ${known ? (err as Error).message : err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
