/**
 * `npm start` as a user runs it: the embedded stack comes up on the ports it is given, its Web UI
 * answers, a restart keeps the workflow histories (SQLite file), and a second start or a taken port
 * fails at once with a message saying why.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../stack/servers';
import { reportingWorkflowId } from '../../workflows/ids';
import { allGone, killLeftovers, stackProcesses, type Proc } from './processes';

const ROOT = path.join(__dirname, '..', '..');

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(env: Record<string, string>): Started {
  let output = '';
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'stack', 'start.ts')], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

async function until(started: Started, pattern: RegExp, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pattern.test(started.output())) {
    if (started.child.exitCode !== null) throw new Error(`npm start exited early:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`npm start did not print ${pattern}:\n${started.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stop(started: Started): Promise<number | null> {
  started.child.kill('SIGINT');
  return await started.exited;
}

/** Free ports for everything else npm start listens on, so a stack already running here does not interfere. */
async function otherPorts(): Promise<Record<string, string>> {
  return {
    GP2GP_API_PORT: String(await freePort()),
    GP2GP_METRICS_PORT: String(await freePort()),
    GP2GP_CODEC_PORT: String(await freePort()),
    GP2GP_REGISTRATIONS_API_PORT: String(await freePort()),
    // The embedded Registrations API stand-in, whatever the calling shell has set.
    GP2GP_REGISTRATIONS_API_URL: '',
    GP2GP_REGISTRATIONS_API_KEY: '',
  };
}

describe('npm start (the embedded stack)', () => {
  const dataDir = path.join(inject('workDir'), 'stack-test');
  const running: Started[] = [];
  const seen: Proc[] = [];
  afterAll(async () => {
    for (const s of running) if (s.child.exitCode === null) await stop(s);
    killLeftovers(seen);
  });

  it('comes up, answers on the Web UI, keeps histories across a restart, refuses a second start, and stops everything (SIGINT to tsx, SIGTERM to the supervisor)', async () => {
    const ports = { temporal: await freePort(), ui: await freePort(), mesh: await freePort() };
    const env: Record<string, string> = {
      ...(await otherPorts()),
      GP2GP_DATA_DIR: dataDir,
      TEMPORAL_PORT: String(ports.temporal),
      TEMPORAL_UI_PORT: String(ports.ui),
      MESH_PORT: String(ports.mesh),
      TEMPORAL_ADDRESS: '',
      MESH_URL: '',
    };
    const allPorts = [ports.temporal, ports.ui, ports.mesh, Number(env.GP2GP_API_PORT), Number(env.GP2GP_METRICS_PORT), Number(env.GP2GP_REGISTRATIONS_API_PORT)];
    const first = start(env);
    running.push(first);
    await until(first, /Ctrl-C stops everything/);
    const firstProcs = await stackProcesses(first.child.pid!, first.output);
    seen.push(...firstProcs);
    expect(first.output()).toContain(`http://127.0.0.1:${ports.ui}`);
    expect(first.output()).toMatch(/Temporal CLI: /);
    const ui = await fetch(`http://127.0.0.1:${ports.ui}/`);
    expect(ui.status).toBe(200);
    // Secrets are never printed: the generated MESH shared key stays in its file.
    const sharedKey = fs.readFileSync(path.join(dataDir, 'mesh', 'shared-key'), 'utf8').trim();
    expect(first.output()).not.toContain(sharedKey);
    // The Registrations API stand-in (issue 12) runs inside the supervisor, its generated key in a
    // 0600 file, never printed; it answers as the API does.
    const standInUrl = `http://127.0.0.1:${env.GP2GP_REGISTRATIONS_API_PORT}/gp-registrations-mi`;
    expect(first.output()).toContain(`Registrations API ${standInUrl} (local stand-in`);
    const keyFile = path.join(dataDir, 'registrations-api-key');
    expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
    const apiKey = fs.readFileSync(keyFile, 'utf8').trim();
    expect(first.output()).not.toContain(apiKey);
    expect((await fetch(`${standInUrl}/ehr-requests`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
    expect((await fetch(`${standInUrl}/ehr-requests`, { method: 'POST', headers: { apikey: apiKey, 'content-type': 'application/json' }, body: '{}' })).status).toBe(400);

    // The worker starts a reporting workflow for each configured practice.
    const address = `127.0.0.1:${ports.temporal}`;
    const runIdOf = async () => {
      const connection = await Connection.connect({ address });
      try {
        const client = new Client({ connection });
        const deadline = Date.now() + 60_000;
        for (;;) {
          try {
            return (await client.workflow.getHandle(reportingWorkflowId('A12345')).describe()).runId;
          } catch (err) {
            if (Date.now() > deadline) throw err;
            await new Promise((r) => setTimeout(r, 500));
          }
        }
      } finally {
        await connection.close();
      }
    };
    const runId = await runIdOf();

    // A second start on the same data folder fails at once, saying why, what runs on which ports,
    // and how to stop it.
    const supervisor = Number(fs.readFileSync(path.join(dataDir, 'stack.pid'), 'utf8'));
    const second = start(env);
    expect(await second.exited).toBe(1);
    expect(second.output()).toMatch(new RegExp(`already running \\(pid ${supervisor}\\)`));
    for (const port of allPorts) expect(second.output()).toContain(String(port));
    expect(second.output()).toContain(`kill ${supervisor}`);

    // Ctrl-C to tsx alone (it passes it on): everything it started stops, every port is free.
    expect(await stop(first)).toBe(0);
    expect(first.output()).toMatch(/stopped/);
    expect((await allGone(firstProcs, allPorts, first.output, dataDir)).taken).toEqual([]);

    const again = start(env);
    running.push(again);
    await until(again, /Ctrl-C stops everything/);
    const againProcs = await stackProcesses(again.child.pid!, again.output);
    seen.push(...againProcs);
    expect(await runIdOf()).toBe(runId);
    // SIGTERM to the supervisor itself (the process under tsx, whose pid is in stack.pid).
    process.kill(Number(fs.readFileSync(path.join(dataDir, 'stack.pid'), 'utf8')), 'SIGTERM');
    expect(await again.exited).toBe(0);
    expect((await allGone(againProcs, allPorts, again.output, dataDir)).taken).toEqual([]);
  });

  it('fails with a clear message when a port is taken', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      const s = start({
        ...(await otherPorts()),
        GP2GP_DATA_DIR: path.join(inject('workDir'), 'stack-test-port'),
        TEMPORAL_PORT: String(port),
        TEMPORAL_UI_PORT: String(await freePort()),
        MESH_PORT: String(await freePort()),
        TEMPORAL_ADDRESS: '',
        MESH_URL: '',
      });
      expect(await s.exited).toBe(1);
      expect(s.output()).toMatch(new RegExp(`port 127\\.0\\.0\\.1:${port} is already in use`));
    } finally {
      blocker.close();
    }
  });
});
