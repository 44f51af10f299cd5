/**
 * The full Temporal server on PostgreSQL: schemas created with the server's own SQL tool from the
 * schema files of its module source, a config rendered from stack/cluster/temporal-server.yaml into
 * the run's folder, the server started (all services in one process) and waited for, the namespace
 * created, and the project's search attributes registered (worker/namespace.ts, as every worker does).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import Long from 'long';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import { registerSearchAttributes } from '../../worker/namespace';
import type { ClusterTools } from './provision';
import type { Postgres } from './postgres';
import { launch, waitReady, type Launched } from './processes';

const TEMPLATE = path.join(__dirname, 'temporal-server.yaml');

export interface TemporalServer {
  address: string;
  namespace: string;
  shards: number;
  configFile: string;
  logFile: string;
  metricsUrl: string;
  process: Launched;
  /** Stops the server (PostgreSQL keeps its state); start() runs it again with the same config. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

function sqlTool(tools: ClusterTools, pg: Postgres, db: string, args: string[], say: (l: string) => void): void {
  const all = ['--ep', pg.host, '-p', String(pg.port), '-u', pg.user, '--pw', pg.password, '--pl', 'postgres12', '--db', db, ...args];
  const r = spawnSync(tools.sqlTool, all, { encoding: 'utf8' });
  const shown = all.map((a) => (a === pg.password ? '***' : a)).join(' ');
  if (r.status !== 0) throw new Error(`temporal-sql-tool ${shown} failed:\n${(r.stderr || r.stdout).trim().split('\n').slice(-10).join('\n')}`);
  say(`  temporal-sql-tool ${args[0]} ${db}${args[0] === 'update-schema' ? ` -d ${path.relative(tools.moduleDir, args[2]!)}` : ''}`);
}

/** Creates the two databases and brings both schemas to the newest version the module ships. */
export function createSchemas(tools: ClusterTools, pg: Postgres, say: (l: string) => void): void {
  const schemaRoot = path.join(tools.moduleDir, 'schema', 'postgresql', 'v12');
  for (const [db, dir] of [
    ['temporal', path.join(schemaRoot, 'temporal', 'versioned')],
    ['temporal_visibility', path.join(schemaRoot, 'visibility', 'versioned')],
  ] as const) {
    if (!fs.existsSync(dir)) throw new Error(`schema folder ${dir} is missing from the module source`);
    sqlTool(tools, pg, db, ['create'], say);
    sqlTool(tools, pg, db, ['setup-schema', '-v', '0.0'], say);
    sqlTool(tools, pg, db, ['update-schema', '-d', dir], say);
  }
}

export function renderConfig(values: Record<string, string | number>): string {
  const text = fs.readFileSync(TEMPLATE, 'utf8').replace(/\$\{([A-Z_]+)\}/g, (_, key: string) => {
    if (!(key in values)) throw new Error(`temporal-server.yaml: no value for \${${key}}`);
    return String(values[key]);
  });
  return text;
}

/**
 * A free loopback port below 32768: the server keeps its services' ports in cluster_membership, whose
 * port columns are SMALLINT on PostgreSQL, so the OS's ephemeral ports (32768–60999) do not fit.
 */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
    });
    if (free) {
      taken.add(port);
      return port;
    }
  }
  throw new Error('no free loopback port below 32768 for the Temporal server');
}

export async function startTemporalServer(o: {
  tools: ClusterTools;
  pg: Postgres;
  dir: string;
  shards: number;
  namespace: string;
  say: (line: string) => void;
}): Promise<TemporalServer> {
  const taken = new Set<number>();
  const ports = {
    FRONTEND_PORT: await freeLowPort(taken),
    FRONTEND_MEMBERSHIP_PORT: await freeLowPort(taken),
    FRONTEND_HTTP_PORT: await freeLowPort(taken),
    MATCHING_PORT: await freeLowPort(taken),
    MATCHING_MEMBERSHIP_PORT: await freeLowPort(taken),
    HISTORY_PORT: await freeLowPort(taken),
    HISTORY_MEMBERSHIP_PORT: await freeLowPort(taken),
    WORKER_PORT: await freeLowPort(taken),
    WORKER_MEMBERSHIP_PORT: await freeLowPort(taken),
    METRICS_PORT: await freeLowPort(taken),
  };
  const dynamicConfigFile = path.join(o.dir, 'dynamicconfig.yaml');
  fs.writeFileSync(
    dynamicConfigFile,
    [
      '# The cluster run: workflow ids as long as the project makes them; otherwise server defaults.',
      'limit.maxIDLength:',
      '  - value: 255',
      '',
    ].join('\n'),
  );
  const configFile = path.join(o.dir, 'temporal-server.yaml');
  fs.writeFileSync(
    configFile,
    renderConfig({
      ...ports,
      NUM_HISTORY_SHARDS: o.shards,
      PG_HOST: o.pg.host,
      PG_PORT: o.pg.port,
      PG_USER: o.pg.user,
      PG_PASSWORD: o.pg.password,
      DYNAMIC_CONFIG_FILE: dynamicConfigFile,
    }),
    { mode: 0o600 },
  );
  const logFile = path.join(o.dir, 'temporal-server.log');
  const address = `127.0.0.1:${ports.FRONTEND_PORT}`;
  let p!: Launched;
  const start = async () => {
    p = launch('Temporal server', o.tools.server, ['--config-file', configFile, '--allow-no-auth', 'start'], {
      logFile,
      cwd: o.dir,
      ports: Object.values(ports),
    });
    await waitReady(p, 120_000, async () => {
      const connection = await Connection.connect({ address, connectTimeout: 1_000 });
      try {
        const health = await connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' });
        if (health.status !== 1 /* SERVING */) return false;
        await connection.workflowService.getSystemInfo({});
        return true;
      } finally {
        await connection.close();
      }
    });
    server.process = p;
  };
  const server: TemporalServer = {
    address,
    namespace: o.namespace,
    shards: o.shards,
    configFile,
    logFile,
    metricsUrl: `http://127.0.0.1:${ports.METRICS_PORT}/metrics`,
    process: p,
    stop: () => p.stop(30_000),
    start,
  };
  await start();
  return server;
}

/** The namespace (retention 42 days, as the worker raises the dev server's to) and the search attributes. */
export async function prepareNamespace(server: TemporalServer, say: (line: string) => void): Promise<void> {
  const connection = await Connection.connect({ address: server.address });
  try {
    try {
      await connection.workflowService.registerNamespace({
        namespace: server.namespace,
        workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(42 * 86_400) },
      });
      say(`  namespace ${server.namespace} registered (retention 42 days)`);
    } catch (err) {
      if (!/already exists/i.test((err as Error).message)) throw err;
    }
    // The namespace registry of each service refreshes every few seconds: wait until the frontend knows it.
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await connection.workflowService.describeNamespace({ namespace: server.namespace });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  } finally {
    await connection.close();
  }
  const native = await NativeConnection.connect({ address: server.address });
  try {
    // The worker's own registration: what every worker does at start-up on any cluster.
    await registerSearchAttributes(native, server.namespace);
  } finally {
    await native.close();
  }
  // Accepted by a visibility query naming each of them (SQL visibility maps them per namespace).
  const client = await Connection.connect({ address: server.address });
  try {
    const query = Object.keys(SEARCH_ATTRIBUTES)
      .map((name) => `${name} = "probe"`)
      .join(' OR ');
    const deadline = Date.now() + 90_000;
    for (;;) {
      try {
        await client.workflowService.listWorkflowExecutions({ namespace: server.namespace, query, pageSize: 1 });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`the search attributes are not usable in queries after 90 s: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  } finally {
    await client.close();
  }
  say(`  search attributes registered: ${Object.entries(SEARCH_ATTRIBUTES).map(([n, t]) => `${n} (${t})`).join(', ')}`);
}
