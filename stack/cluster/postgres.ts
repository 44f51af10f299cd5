/**
 * A private PostgreSQL for one cluster run: its own data folder in a temp dir, on a free loopback
 * port, unix socket in that folder, a superuser `temporal` with a password (scram-sha-256 over TCP).
 * PostgreSQL refuses to run as root: as root it runs as the `postgres` user Debian's package creates
 * (setpriv, no fork: the pid we hold is the postmaster). Stopped with SIGINT (fast shutdown).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from '../servers';
import { launch, waitReady, type Launched } from './processes';

export interface Postgres {
  host: string;
  port: number;
  user: string;
  password: string;
  dir: string;
  /** "PostgreSQL 15.18 (Debian 15.18-0+deb12u1)", from the server itself. */
  version: string;
  process: Launched;
  stop(): Promise<void>;
}

interface RunAs {
  uid: number;
  gid: number;
  name: string;
}

/** Who runs PostgreSQL: ourselves, or (as root) the `postgres` user. */
function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const name = process.env.PG_USER ?? 'postgres';
  try {
    const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
    return { uid, gid, name };
  } catch {
    throw new Error(`PostgreSQL refuses to run as root and there is no \`${name}\` user to run it as (Debian's postgresql package creates it; or set PG_USER)`);
  }
}

function wrap(as: RunAs | undefined, cmd: string, args: string[]): [string, string[]] {
  if (!as) return [cmd, args];
  return ['setpriv', [`--reuid=${as.uid}`, `--regid=${as.gid}`, '--init-groups', '--', cmd, ...args]];
}

export async function startPostgres(o: { pgBin: string; say: (line: string) => void }): Promise<Postgres> {
  const as = runAs();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp2gp-mi-pg-'));
  fs.chmodSync(dir, 0o700);
  if (as) fs.chownSync(dir, as.uid, as.gid);
  const user = 'temporal';
  const password = randomBytes(12).toString('hex');
  const pwfile = path.join(dir, 'pwfile');
  fs.writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (as) fs.chownSync(pwfile, as.uid, as.gid);
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'postgres.log');
  fs.writeFileSync(logFile, '', { mode: 0o600 });
  if (as) fs.chownSync(logFile, as.uid, as.gid);

  const [initCmd, initArgs] = wrap(as, path.join(o.pgBin, 'initdb'), [
    '-D', data, '-U', user, `--pwfile=${pwfile}`, '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8', '--locale=C', '--no-sync',
  ]);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8', cwd: dir });
  if (init.status !== 0) throw new Error(`initdb failed: ${(init.stderr || init.stdout).trim().split('\n').slice(-5).join('\n')}`);
  fs.rmSync(pwfile, { force: true });

  const host = '127.0.0.1';
  const port = await freePort();
  const [cmd, args] = wrap(as, path.join(o.pgBin, 'postgres'), [
    '-D', data,
    '-c', `listen_addresses=${host}`,
    '-c', `port=${port}`,
    '-c', `unix_socket_directories=${dir}`,
    // Four Temporal services with their pools (persistence and visibility) and the schema tool.
    '-c', 'max_connections=300',
    '-c', 'log_min_messages=warning',
  ]);
  const p = launch('PostgreSQL', cmd, args, { logFile, cwd: dir, ports: [port], signal: 'SIGINT' });
  await waitReady(p, 60_000, async () => {
    const r = spawnSync(path.join(o.pgBin, 'pg_isready'), ['-h', host, '-p', String(port), '-U', user, '-d', 'postgres', '-q'], { stdio: 'ignore' });
    return r.status === 0;
  });
  const q = spawnSync(path.join(o.pgBin, 'psql'), ['-h', host, '-p', String(port), '-U', user, '-d', 'postgres', '-Atc', 'select version()'], {
    encoding: 'utf8',
    env: { ...process.env, PGPASSWORD: password },
  });
  const full = (q.stdout ?? '').trim();
  const version = /^PostgreSQL [\d.]+( \([^)]*\))?/.exec(full)?.[0] ?? (full || 'PostgreSQL (version unknown)');
  return {
    host,
    port,
    user,
    password,
    dir,
    version,
    process: p,
    async stop() {
      await p.stop(30_000);
      if (!process.env.KEEP_CLUSTER_DIR) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
