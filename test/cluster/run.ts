/**
 * `npm run test:cluster`: the service on a production-shaped Temporal, not the dev server.
 *
 * It provisions (pinned, cached in .tools/: stack/cluster/provision.ts) the full Temporal server built
 * from its Go module at the dev server's version and Debian's PostgreSQL, then starts a private
 * PostgreSQL on loopback, creates the schemas with the server's own SQL tool, starts the server with
 * several history shards and SQL advanced visibility on PostgreSQL, registers the namespace and the
 * project's search attributes, and runs against it:
 *   1. two worker processes (`tsx worker/main.ts`, as `npm run worker`) polling both task queues (transfers, reporting), fed
 *      realistic traffic through the client; every file delivered and acknowledged at the Authority's
 *      mailbox; both workers seen polling by the server;
 *   2. every README visibility query (and each query `client/operations.ts` builds for the CLI) on
 *      SQL visibility: accepted as written, and finding the run's own workflows;
 *   3. the integration and end-to-end tests (vitest, the files that use the shared Temporal), pointed
 *      at the cluster with GP2GP_TEST_TEMPORAL_ADDRESS (test/global-setup.ts), the two worker
 *      processes still running;
 *   4. the chaos suite (test/chaos/run.ts) with two worker processes of its own, SIGKILLed one at a
 *      time, and the Temporal server itself restarted on its database twice (asked over IPC).
 * It prints the server version, the database and its version, the shards and workers, each phase's
 * result and the elapsed time, and ends with `N passed, N failed` (exit 1 when anything failed).
 * Everything it started is stopped at the end, on failure and on Ctrl-C / SIGTERM / SIGHUP (a second
 * Ctrl-C kills at once); if it is killed outright, stack/lifecycle.ts's clean-up process stops what
 * it had started.
 *
 *   npm run test:cluster
 *   CLUSTER_SHARDS=8                    history shards (default 4)
 *   CLUSTER_PHASES=workers,queries      only these phases (workers, queries, vitest, chaos)
 *   CLUSTER_TESTS="test/a.test.ts …"    these vitest files instead of the selection
 *   KEEP_CLUSTER_DIR=1                  keep the run's folder (configs, logs, PostgreSQL data)
 *   npm run test:cluster -- --serve     only start the cluster (PostgreSQL, the server, the namespace)
 *                                       and keep it up until Ctrl-C, printing its TEMPORAL_ADDRESS and
 *                                       pids: for `npm start`, the bench or a look with the CLI
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import { Gp2gpClient } from '../../client';
import { mapConcurrent } from '../../client/concurrency';
import { submissionsQuery, visibility } from '../../client/operations';
import { defaultReportingTaskQueue, loadConfig, PROJECT_ROOT, type Config } from '../../config';
import { generateTraffic } from '../../demo/traffic';
import { MeshClient } from '../../mesh';
import { withEventId } from '../../mi/event-id';
import type { HookEvent } from '../../mi/events';
import { AuthorityMailbox } from '../../stack/authority';
import { StackGuard } from '../../stack/lifecycle';
import { provision } from '../../stack/provision';
import { freePort, startMeshSandbox, type ServerHandle } from '../../stack/servers';
import { provisionCluster, TEMPORAL_SERVER_VERSION, type ClusterTools } from '../../stack/cluster/provision';
import { startPostgres, type Postgres } from '../../stack/cluster/postgres';
import { createSchemas, prepareNamespace, startTemporalServer, type TemporalServer } from '../../stack/cluster/temporal-server';
import { launch, tailOf, type Launched } from '../../stack/cluster/processes';
import { runReadmeQueries, type QueryResult } from './readme-queries';

const SHARDS = Number(process.env.CLUSTER_SHARDS ?? 4);
const NAMESPACE = 'default';
const WORKERS = 2;
const TASK_QUEUE = 'gp2gp-mi-cluster';
const SUPPLIER = 'X26CLS001';
const AUTHORITY = 'X26CLN001';
const PASSWORD = 'password';
const ALL_PHASES = ['workers', 'queries', 'vitest', 'chaos'] as const;
type Phase = (typeof ALL_PHASES)[number];
const PHASES = new Set<Phase>(
  (process.env.CLUSTER_PHASES ? process.env.CLUSTER_PHASES.split(',').map((s) => s.trim()) : ALL_PHASES).filter((p): p is Phase =>
    (ALL_PHASES as readonly string[]).includes(p),
  ),
);

const SERVE = process.argv.includes('--serve');
const startedAt = Date.now();
const elapsed = (since = startedAt) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const say = (line: string) => console.log(`[cluster ${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)}s] ${line}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loadavg = () => os.loadavg().map((n) => n.toFixed(2)).join(' ');

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}
const checks: Check[] = [];
const check = (name: string, ok: boolean, detail = '') => {
  checks.push({ name, ok, detail });
  say(`${ok ? 'PASS' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
};

// ---- stopping --------------------------------------------------------------------------------------

const cleanups: { what: string; run: () => Promise<void> }[] = [];
/** Every process the run started itself (children only: theirs are stopped with them), checked at the end. */
const started: { name: string; child: ChildProcess }[] = [];
const own = (name: string, child: ChildProcess) => started.push({ name, child });
let stopping: Promise<void> | undefined;
let guard: StackGuard | undefined;
let runDir: string | undefined;

function stopAll(): Promise<void> {
  return (stopping ??= (async () => {
    for (const c of cleanups.splice(0).reverse()) {
      await c.run().catch((err: unknown) => say(`stopping ${c.what}: ${(err as Error).message}`));
    }
    await guard?.stopRemaining().catch(() => undefined);
    guard?.finish();
    if (runDir) {
      if (process.env.KEEP_CLUSTER_DIR) say(`the run's folder is kept: ${runDir}`);
      else fs.rmSync(runDir, { recursive: true, force: true });
    }
  })());
}

let interrupted = 0;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    interrupted++;
    if (interrupted > 1) {
      say(`${sig} again: killing what is still running`);
      guard?.killAll();
      process.exit(130);
    }
    say(`${sig}: stopping everything the cluster run started (again to kill at once)`);
    void stopAll().finally(() => {
      if (SERVE) {
        say('stopped');
        process.exit(0);
      }
      console.log('0 passed, 1 failed');
      process.exit(130);
    });
  });
}

// ---- the run ---------------------------------------------------------------------------------------

function devServerVersion(temporalCli: string): string | undefined {
  try {
    return /Server ([\d.]+)/.exec(execFileSync(temporalCli, ['--version'], { encoding: 'utf8' }))?.[1];
  } catch {
    return undefined;
  }
}

interface Facts {
  serverVersion: string;
  database: string;
  shards: number;
  workers: string[];
  provisionSeconds: number;
}

async function main(): Promise<Facts> {
  say(`load average ${loadavg()} (${os.cpus().length} cores)`);
  // -- provisioning: the venv (MESH sandbox, the dev server whose version we match), the server, PostgreSQL
  const t0 = Date.now();
  const tools = provision((l) => say(l));
  const cluster: ClusterTools = await provisionCluster((l) => say(l));
  const provisionSeconds = (Date.now() - t0) / 1000;
  const devVersion = devServerVersion(tools.temporalCli);
  if (devVersion && `v${devVersion}` !== TEMPORAL_SERVER_VERSION) {
    say(`note: the dev server runs Server ${devVersion}, the cluster ${TEMPORAL_SERVER_VERSION} (pinned in stack/cluster/provision.ts): update the pin to match`);
  }
  check('the cluster server is the dev server\'s version', !devVersion || `v${devVersion}` === TEMPORAL_SERVER_VERSION, `dev server Server ${devVersion ?? '?'}, cluster ${TEMPORAL_SERVER_VERSION}`);

  // -- the run's folder and the guard that stops what we start even if we are killed
  runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp2gp-mi-cluster-'));
  guard = new StackGuard(runDir, path.join(runDir, 'clean-up.log'), say);
  guard.begin();

  // -- PostgreSQL, schemas, the server
  let t = Date.now();
  const pg: Postgres = await startPostgres({ pgBin: cluster.pgBin, say });
  own('PostgreSQL', pg.process.child);
  cleanups.push({ what: 'PostgreSQL', run: () => pg.stop() });
  say(`${pg.version} on ${pg.host}:${pg.port} (data ${pg.dir}) in ${elapsed(t)}`);
  t = Date.now();
  createSchemas(cluster, pg, say);
  say(`schemas created in ${elapsed(t)}`);
  t = Date.now();
  const server: TemporalServer = await startTemporalServer({ tools: cluster, pg, dir: runDir, shards: SHARDS, namespace: NAMESPACE, say });
  own('Temporal server', server.process.child);
  cleanups.push({ what: 'the Temporal server', run: () => server.stop() });
  say(`Temporal server ${cluster.version} serving on ${server.address} (${SHARDS} history shards, SQL visibility) in ${elapsed(t)}; log ${server.logFile}`);
  t = Date.now();
  await prepareNamespace(server, say);
  say(`namespace ready in ${elapsed(t)}`);
  const connection = await Connection.connect({ address: server.address });
  cleanups.push({ what: 'the runner\'s connection', run: () => connection.close() });
  const info = await connection.workflowService.getSystemInfo({});
  say(`server reports version ${info.serverVersion}`);
  if (SERVE) {
    console.log('');
    console.log(`the cluster is up (Temporal server ${cluster.version}, ${SHARDS} history shards, ${pg.version}); Ctrl-C stops it:`);
    console.log(`  TEMPORAL_ADDRESS=${server.address} TEMPORAL_NAMESPACE=${NAMESPACE}`);
    console.log(`  TEMPORAL_SERVER_PID=${server.process.child.pid} POSTGRES_PID=${pg.process.child.pid}`);
    console.log(`  e.g. TEMPORAL_ADDRESS=${server.address} npm start   (or npm run worker, or temporal workflow list --address ${server.address})`);
    console.log(`  server log ${server.logFile}; config ${server.configFile}`);
    setInterval(() => undefined, 1 << 30); // keeps the process up until a signal stops it
    await new Promise(() => undefined);
  }
  const facts: Facts = {
    serverVersion: `${cluster.version} (go.temporal.io/server, server reports ${info.serverVersion})`,
    database: `${pg.version}: persistence and advanced visibility (postgres12 plugin)`,
    shards: SHARDS,
    workers: [],
    provisionSeconds,
  };

  // -- MESH for the worker processes, and the two workers
  const meshKey = randomBytes(16).toString('hex');
  const mesh: ServerHandle = await startMeshSandbox({
    tools,
    port: await freePort(),
    storeDir: path.join(runDir, 'mesh-store'),
    sharedKey: meshKey,
    mailboxes: [SUPPLIER, AUTHORITY],
    logFile: path.join(runDir, 'mesh-sandbox.log'),
  });
  own('MESH sandbox', mesh.process);
  cleanups.push({ what: 'the MESH sandbox', run: () => mesh.stop() });
  const practicesFile = path.join(PROJECT_ROOT, 'examples', 'practices.json');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_NAMESPACE: NAMESPACE,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    MESH_URL: mesh.address,
    MESH_MAILBOX: SUPPLIER,
    MESH_PASSWORD: PASSWORD,
    MESH_SHARED_KEY: meshKey,
    MESH_TO: AUTHORITY,
    GP2GP_PRACTICES: practicesFile,
    GP2GP_DATA_DIR: path.join(runDir, 'data'),
    GP2GP_INBOX_POLL_SECONDS: '2',
    GP2GP_TRACKING_INTERVAL_SECONDS: '0.5',
    GP2GP_TRACKING_MAX_INTERVAL_SECONDS: '2',
    GP2GP_METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
  };
  const workers: Launched[] = [];
  if (PHASES.has('workers') || PHASES.has('queries') || PHASES.has('vitest')) {
    for (let i = 1; i <= WORKERS; i++) {
      const w = launch(`worker ${i}`, process.execPath, [require.resolve('tsx/cli'), path.join(PROJECT_ROOT, 'worker', 'main.ts')], {
        env,
        cwd: PROJECT_ROOT,
        logFile: path.join(runDir, `worker-${i}.log`),
      });
      workers.push(w);
      own(w.name, w.child);
      cleanups.push({ what: `worker ${i}`, run: () => w.stop() });
    }
    facts.workers.push(`${WORKERS} worker processes (tsx worker/main.ts) on task queue ${TASK_QUEUE}`);
    await waitForPollers(connection, WORKERS, workers);
  }

  const config: Config = loadConfig(env);
  const client = await Gp2gpClient.connect(config);
  cleanups.push({ what: 'the client', run: () => client.close() });
  let real: { practiceOds: string; registrationId: string; conversationId: string; day: string } | undefined;

  // -- 1. the two worker processes: traffic, delivery, acknowledgement
  if (PHASES.has('workers') || PHASES.has('queries')) {
    t = Date.now();
    real = await trafficThroughWorkers(client, config, mesh, meshKey, workers);
    say(`phase workers done in ${elapsed(t)}`);
  }

  // -- 2. README visibility queries on SQL visibility
  if (PHASES.has('queries') && real) {
    t = Date.now();
    const temporalClient = new Client({ connection, namespace: NAMESPACE });
    const results = await runReadmeQueries(temporalClient, real);
    // And what the CLI builds from the same vocabulary (client/operations.ts).
    const cliQueries: [string, string][] = [
      ['visibility.practice', visibility.practice(real.practiceOds)],
      ['visibility.transferByConversationId', visibility.transferByConversationId(real.conversationId)],
      ['visibility.transferByRegistrationId', visibility.transferByRegistrationId(real.registrationId)],
      ['visibility.submissionsOfPractice', visibility.submissionsOfPractice(real.practiceOds)],
      ['visibility.failedSubmissions', visibility.failedSubmissions()],
      ['visibility.failedApiPosts', visibility.failedApiPosts(real.practiceOds)],
      ['visibility.submissionsOfDay', visibility.submissionsOfDay(real.day)],
      ['submissionsQuery (list --failed --practice --day --since)', submissionsQuery({ failed: true, practiceOds: real.practiceOds, day: real.day, since: new Date(Date.now() - 86_400_000) })],
    ];
    for (const [where, query] of cliQueries) {
      try {
        let n = 0;
        for await (const _ of temporalClient.workflow.list({ query })) if (++n >= 1000) break;
        results.push({ query, where: `client/operations.ts ${where}`, acceptedAsWritten: true, real: query, found: n, mustFind: false, ok: true });
      } catch (err) {
        results.push({ query, where: `client/operations.ts ${where}`, acceptedAsWritten: false, real: query, found: 0, mustFind: false, ok: false, error: (err as Error).message });
      }
    }
    printQueries(results);
    const readme = results.filter((r) => !r.where.startsWith('client/'));
    check(
      `every README visibility query is accepted by SQL visibility (${readme.length} queries)`,
      readme.length >= 10 && readme.every((r) => r.acceptedAsWritten),
      readme.filter((r) => !r.acceptedAsWritten).map((r) => `${r.query}: ${r.error}`).join('; '),
    );
    check(
      'each README query naming the run\'s practice, registration, conversation or day finds its workflows',
      readme.filter((r) => r.mustFind).length >= 5 && readme.every((r) => r.ok),
      readme.filter((r) => r.mustFind).map((r) => `${r.found}`).join(', ') + ' found' + (readme.some((r) => !r.ok) ? `; none for: ${readme.filter((r) => !r.ok).map((r) => r.real).join(' | ')}` : ''),
    );
    const cli = results.filter((r) => r.where.startsWith('client/'));
    check('every query the CLI builds (client/operations.ts) is accepted', cli.every((r) => r.ok), cli.filter((r) => !r.ok).map((r) => `${r.where}: ${r.error}`).join('; '));
    say(`phase queries done in ${elapsed(t)}`);
  }

  // -- 3. the integration and end-to-end tests
  if (PHASES.has('vitest')) {
    t = Date.now();
    const files = process.env.CLUSTER_TESTS ? process.env.CLUSTER_TESTS.split(/\s+/).filter(Boolean) : clusterTestFiles();
    say(`vitest: ${files.length} test files against the cluster: ${files.join(' ')}`);
    const logFile = path.join(runDir, 'vitest.log');
    const vitest = launch('vitest', process.execPath, [path.join(path.dirname(require.resolve('vitest/package.json')), 'vitest.mjs'), 'run', ...files], {
      env: { ...process.env, GP2GP_TEST_TEMPORAL_ADDRESS: server.address, GP2GP_TEST_TEMPORAL_NAMESPACE: NAMESPACE, NO_COLOR: '1', FORCE_COLOR: undefined },
      cwd: PROJECT_ROOT,
      logFile,
      tee: true,
    });
    own('vitest', vitest.child);
    cleanups.push({ what: 'vitest', run: () => vitest.stop() });
    const { code, signal } = await vitest.exited;
    await sleep(500);
    const out = fs.readFileSync(logFile, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
    const files_ = /Test Files\s+(.*)/.exec(out)?.[1]?.trim() ?? '?';
    const tests = /\n\s*Tests\s+(.*)/.exec(out)?.[1]?.trim() ?? '?';
    check(`the integration and end-to-end tests pass against the cluster (vitest, ${files.length} files)`, code === 0, `exit ${code ?? signal}; files: ${files_}; tests: ${tests}; ${elapsed(t)}`);
    for (const w of workers) check(`${w.name} process still running after the tests`, w.child.exitCode === null && w.child.signalCode === null, w.child.exitCode === null ? '' : tailOf(w.logFile, 5));
  }
  for (const w of workers.splice(0)) await w.stop();

  // -- 4. the chaos suite: two workers of its own, killed one at a time; the server restarted twice
  if (PHASES.has('chaos')) {
    t = Date.now();
    const logFile = path.join(runDir, 'chaos.log');
    const chaos = launch('chaos suite', process.execPath, ['--import', 'tsx', path.join(PROJECT_ROOT, 'test', 'chaos', 'run.ts')], {
      env: { ...process.env, CHAOS_TEMPORAL_ADDRESS: server.address, CHAOS_TEMPORAL_NAMESPACE: NAMESPACE, CHAOS_WORKERS: String(WORKERS), CHAOS_TEMPORAL_RESTART: 'ipc' },
      cwd: PROJECT_ROOT,
      logFile,
      tee: true,
      ipc: true,
    });
    own('chaos suite', chaos.child);
    cleanups.push({ what: 'the chaos suite', run: () => chaos.stop() });
    let restarts = 0;
    chaos.child.on('message', (m: unknown) => {
      if ((m as { type?: string })?.type !== 'restart-temporal') return;
      void (async () => {
        try {
          const r0 = Date.now();
          say(`chaos: restarting the Temporal server (PostgreSQL keeps its state)`);
          await server.stop();
          await sleep(3_000);
          await server.start();
          own('Temporal server (restarted)', server.process.child);
          restarts++;
          say(`chaos: the Temporal server serves again after ${elapsed(r0)}`);
          chaos.child.send?.({ type: 'temporal-restarted' });
        } catch (err) {
          chaos.child.send?.({ type: 'temporal-restarted', error: (err as Error).message });
        }
      })();
    });
    const { code, signal } = await chaos.exited;
    await sleep(500);
    const out = fs.readFileSync(logFile, 'utf8');
    const summary = /^(\d+) passed, (\d+) failed$/m.exec(out);
    facts.workers.push(`the chaos suite's ${WORKERS} worker processes (killed one at a time)`);
    check(
      'the chaos suite passes against the cluster (two workers killed one at a time, the server restarted on PostgreSQL)',
      code === 0 && !!summary && summary[2] === '0',
      `exit ${code ?? signal}; ${summary ? `${summary[1]} passed, ${summary[2]} failed` : 'no summary'}; server restarts ${restarts}; ${elapsed(t)}`,
    );
  }
  return facts;
}

/**
 * The server sees `n` distinct pollers (workflow and activity) on each of the workers' task queues: the
 * transfers' and the practices' reporting queue (config.temporal.reportingTaskQueue's default).
 */
async function waitForPollers(connection: Connection, n: number, workers: Launched[]): Promise<void> {
  const deadline = Date.now() + 180_000;
  const queues = [TASK_QUEUE, defaultReportingTaskQueue(TASK_QUEUE)];
  const seen = new Map<string, { wf: number; act: number }>();
  for (;;) {
    for (const queue of queues) {
      const identities = new Set<string>();
      for (const taskQueueType of [proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW, proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY]) {
        const d = await connection.workflowService.describeTaskQueue({ namespace: NAMESPACE, taskQueue: { name: queue }, taskQueueType }).catch(() => undefined);
        for (const p of d?.pollers ?? []) if (p.identity) identities.add(`${taskQueueType}:${p.identity}`);
      }
      const wf = [...identities].filter((i) => i.startsWith(`${proto.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW}:`)).length;
      seen.set(queue, { wf, act: identities.size - wf });
    }
    const counts = queues.map((q) => `${q}: ${seen.get(q)!.wf} workflow / ${seen.get(q)!.act} activity pollers`).join('; ');
    if (queues.every((q) => seen.get(q)!.wf >= n && seen.get(q)!.act >= n)) {
      check(`the server sees ${n} worker processes polling ${queues.join(' and ')} (workflow and activity tasks)`, true, counts);
      return;
    }
    const dead = workers.find((w) => w.child.exitCode !== null || w.child.signalCode !== null);
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}); log ${dead.logFile}:\n${tailOf(dead.logFile)}`);
    if (Date.now() > deadline) throw new Error(`only ${counts} after 180 s`);
    await sleep(1_000);
  }
}

/** Realistic traffic for the example practices through the client, handled by the two worker processes. */
async function trafficThroughWorkers(client: Gp2gpClient, config: Config, mesh: ServerHandle, meshKey: string, workers: Launched[]) {
  const practices = (JSON.parse(fs.readFileSync(config.practicesFile, 'utf8')) as { practices: { ods: string }[] }).practices.map((p) => p.ods);
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const days = [day(-2), day(-1)];
  const events = generateTraffic({ practices, days, registrationsPerPracticeDay: 3, seed: 14, notAfter: new Date(Date.now() - 60_000).toISOString() }).map(
    (e) => withEventId(e) as HookEvent & { eventId: string },
  );
  const answers = { accepted: 0, duplicate: 0, refused: 0 };
  const refusals: string[] = [];
  await mapConcurrent(events, 8, async (e) => {
    const o = await client.recordEvent(e);
    answers[o.status]++;
    if (o.status === 'refused') refusals.push(o.message);
  });
  check(`${events.length} events recorded through the client (${practices.length} practices × ${days.length} days)`, answers.refused === 0, `${JSON.stringify(answers)}${refusals.length ? `; e.g. ${refusals[0]}` : ''}`);

  // Every transfer forwards its rows; then submit every practice's days and let the Authority acknowledge.
  const authorityMesh = new MeshClient({ url: mesh.address, mailbox: AUTHORITY, password: PASSWORD, sharedKey: meshKey, retry: { baseDelayMs: 100 } });
  cleanups.push({ what: 'the Authority\'s MESH client', run: () => authorityMesh.close() });
  const authority = new AuthorityMailbox(authorityMesh, { workflowId: config.mesh.workflowId });
  let files = 0;
  const deadline = Date.now() + 240_000;
  let submitted = 0;
  for (const ods of practices) {
    for (;;) {
      // Submitting before the rows arrived would deliver incomplete days; the reporting workflow holds them once forwarded.
      const v = await client.reportingStatus(ods).catch(() => undefined);
      if (v && days.every((d) => v.pendingDays.includes(d))) break;
      if (Date.now() > deadline) throw new Error(`${ods}: days ${days.join(', ')} not pending after 240 s`);
      await sleep(500);
    }
  }
  await sleep(2_000); // the last forwards of late-arriving rows
  for (const [r] of await Promise.all(practices.map((ods) => client.submit({ practiceOds: ods, days })))) submitted += r!.result.submissions.length;
  for (;;) {
    files += (await authority.collect().catch(() => [])).length;
    let done = 0;
    for (const ods of practices) {
      const v = await client.reportingStatus(ods).catch(() => undefined);
      if (v && v.inFlight.length === 0 && days.every((d) => !v.pendingDays.includes(d))) done++;
    }
    if (done === practices.length) break;
    if (Date.now() > deadline) throw new Error(`only ${done} of ${practices.length} practices delivered after 240 s`);
    await sleep(1_000);
  }
  check(
    'the two worker processes delivered every practice\'s days, acknowledged by the Authority',
    files > 0 && workers.every((w) => w.child.exitCode === null),
    `${submitted} submissions, ${files} files collected at ${AUTHORITY}`,
  );
  // The run's own identifiers, for the README's queries.
  const rr = events.find((e) => e.type === 'ehr-requested' && practices.includes((e as { targetOds?: string }).targetOds ?? '')) as
    | (HookEvent & { registrationId: string; conversationId: string; practiceOds: string })
    | undefined;
  if (!rr) throw new Error('the traffic has no EHR request between two example practices');
  return { practiceOds: rr.practiceOds, registrationId: rr.registrationId, conversationId: rr.conversationId, day: days[0]! };
}

function printQueries(results: QueryResult[]): void {
  console.log('');
  console.log('visibility queries on the cluster (SQL advanced visibility, PostgreSQL)');
  for (const r of results) {
    const state = !r.acceptedAsWritten ? `REFUSED: ${r.error}` : `accepted; ${r.found} found${r.real !== r.query ? ' with the run\'s values' : ''}${r.mustFind ? ' (must find)' : ''}`;
    console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.query}`);
    console.log(`       ${r.where} — ${state}`);
    if (r.acceptedAsWritten && r.real !== r.query) console.log(`       as run: ${r.real}`);
  }
  console.log('');
}

/**
 * The vitest files that use the run's shared Temporal (inject('temporalAddress'), the test pipeline or
 * the operators' helpers): the integration and end-to-end tests. Not the browser tests (the dev
 * server's Web UI) nor test/stack (npm start's own embedded servers), nor a file that starts a dev
 * server of its own (e.g. encryption at rest, reading its SQLite file).
 */
function clusterTestFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(PROJECT_ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!['test/browser', 'test/stack', 'test/cluster', 'test/chaos', 'test/.artifacts', 'test/fixtures'].includes(rel)) walk(rel);
      } else if (e.name.endsWith('.test.ts')) {
        const text = fs.readFileSync(path.join(PROJECT_ROOT, rel), 'utf8');
        if (/startTemporalDevServer/.test(text)) continue;
        if (/inject\('temporalAddress'\)|startPipeline|startOperatorsPipeline|support\/pipeline'|support\/operators'/.test(text)) out.push(rel);
      }
    }
  };
  walk('test');
  return out.sort();
}

main().then(
  async (facts) => {
    await stopAll();
    report(facts);
  },
  async (err: unknown) => {
    say(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    check('the cluster run completed', false, (err as Error).message?.split('\n')[0] ?? String(err));
    await stopAll();
    report(undefined);
  },
);

function report(facts: Facts | undefined): void {
  const failed = checks.filter((c) => !c.ok).length;
  console.log('');
  console.log('production-shaped cluster run');
  if (facts) {
    console.log(`  Temporal server   ${facts.serverVersion}, all services in one process`);
    console.log(`  database          ${facts.database}`);
    console.log(`  history shards    ${facts.shards}`);
    console.log(`  workers           ${facts.workers.join('; ') || 'none'} (plus the tests' in-process workers)`);
    console.log(`  provisioning      ${facts.provisionSeconds.toFixed(1)} s (build skipped when cached in .tools/temporal-server/)`);
  }
  console.log(`  phases            ${[...PHASES].join(', ')}`);
  console.log(`  elapsed           ${elapsed()} (load average now ${loadavg()})`);
  for (const c of checks) console.log(`  ${c.ok ? 'PASS' : 'FAIL'} ${c.name}`);
  console.log('');
  // Everything we started is stopped: say so when something of ours survived.
  const left = started.filter((s) => s.child.exitCode === null && s.child.signalCode === null);
  if (left.length) console.log(`warning: still running: ${left.map((s) => `${s.name} (pid ${s.child.pid})`).join(', ')}`);
  else console.log(`  stopped           all ${started.length} processes the run started (and theirs)`);
  console.log(`${checks.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}
