/**
 * `npm start`: the service on the embedded default. Starts (unless configured to use external ones)
 * the Temporal dev server with its SQLite file and Web UI, and NHS England's MESH sandbox with a file
 * store, then runs the worker under supervision (restarted if it dies). Ctrl-C stops everything it
 * started, in reverse order. State lives under .data/ and survives restarts.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, EMBEDDED_MESH_PASSWORD, loadConfig, type Config } from '../config';
import { MeshClient } from '../mesh';
import { AuthorityMailbox } from './authority';
import { prepareApi, startApiProcess } from './api';
import { ProvisionError, provision } from './provision';
import { checkMetricsPort, composePractices, prepareCodecServer } from './operators';
import { superviseProcess } from './supervise';
import { StackError, startMeshSandbox, startTemporalDevServer, type ServerHandle } from './servers';

const say = (line: string) => console.log(`[gp2gp-mi] ${line}`);

/** Refuses a second `npm start` on the same data folder with a clear message. */
function takeLock(dataDir: string): () => void {
  fs.mkdirSync(dataDir, { recursive: true });
  const lock = path.join(dataDir, 'stack.pid');
  try {
    const pid = Number(fs.readFileSync(lock, 'utf8'));
    if (pid && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        throw new StackError(`already running (pid ${pid}) with data in ${dataDir}; stop it first, or set GP2GP_DATA_DIR and other ports`);
      } catch (err) {
        if (err instanceof StackError) throw err; // ESRCH: a stale lock from a killed run
      }
    }
  } catch (err) {
    if (err instanceof StackError) throw err;
  }
  fs.writeFileSync(lock, String(process.pid));
  return () => {
    try {
      if (fs.readFileSync(lock, 'utf8') === String(process.pid)) fs.unlinkSync(lock);
    } catch {
      /* already gone */
    }
  };
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
  const releaseLock = takeLock(config.dataDir);
  const started: { stop(): Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;
  let reloading: Promise<void> = Promise.resolve();
  const stopAll = () =>
    (stopping ??= (async () => {
      say('stopping…');
      // A reload in progress finishes first, so the processes it starts are the ones stopped.
      await reloading;
      for (const s of started.reverse()) await s.stop().catch(() => undefined);
      releaseLock();
      say('stopped');
    })());
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      void stopAll().then(() => process.exit(0));
    });
  }

  try {
    const logs = path.join(config.dataDir, 'logs');
    const workerEnv: NodeJS.ProcessEnv = { ...process.env };
    // Operators (issue #7): the practices file (examples + demo practices on the embedded default),
    // the metrics port, and the codec server when GP2GP_ENCRYPTION_KEYS is set (stack/operators.ts).
    const practices = composePractices(config, process.env);
    workerEnv.GP2GP_PRACTICES = practices.file;
    await checkMetricsPort(config);
    const preparedApi = await prepareApi(config, process.env);
    const codec = await prepareCodecServer(config, workerEnv, logs);
    const needTools = !config.temporal.address || !config.mesh.url;
    const tools = needTools ? provision(say) : undefined;

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
      workerEnv.MESH_URL = mesh.address;
      workerEnv.MESH_SHARED_KEY = sharedKey;
      workerEnv.MESH_PASSWORD = config.mesh.password ?? EMBEDDED_MESH_PASSWORD;
    }

    const superviseWorker = () => superviseProcess({ name: 'worker', entry: 'worker/main.ts', env: workerEnv, logFile: path.join(logs, 'worker.log'), say });
    let worker = superviseWorker();
    started.push({ stop: () => worker.stop() });
    if (mesh) started.push(runEmbeddedAuthority(config, workerEnv, path.join(config.dataDir, 'authority')));
    // HTTP hooks API (issue #5): its own supervised process beside the worker (stack/api.ts).
    let api = startApiProcess(preparedApi, workerEnv, logs, say);
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
        api = startApiProcess(preparedApi, workerEnv, logs, say);
      }).catch((err: unknown) => say(`reload failed: ${(err as Error).message}`));
    });

    const ui = temporal ? `http://127.0.0.1:${config.temporal.uiPort}` : '(external cluster: its own Web UI)';
    say('running');
    say(`  Temporal Web UI   ${ui}/namespaces/${config.temporal.namespace}/workflows`);
    say(`  Temporal server   ${workerEnv.TEMPORAL_ADDRESS ?? config.temporal.address} (namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue})`);
    say(`  MESH              ${workerEnv.MESH_URL ?? config.mesh.url}${mesh ? ' (NHS England MESH sandbox, file store)' : ''}`);
    say(`  MESH mailboxes    ours ${config.mesh.mailbox} → Authority ${config.mesh.to}, workflow ${config.mesh.workflowId}`);
    if (mesh) say(`  Authority files   ${path.join(config.dataDir, 'authority')} (embedded stand-in: downloads and acknowledges)`);
    say(`  HTTP API          ${api.url}/v1/events (${api.tokenNote}; OpenAPI at ${api.url}/v1/openapi.json)`);
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

main().catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof ProvisionError || err instanceof StackError;
  console.error(`[gp2gp-mi] cannot start: ${known ? (err as Error).message : err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
