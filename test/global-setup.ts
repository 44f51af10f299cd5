/**
 * One real Temporal dev server, one real MESH sandbox (full NHSMESH auth, file store) and one GP
 * Registrations MI API stand-in (in this process) for the whole test run, on free loopback ports;
 * their addresses reach the tests through `inject()`.
 *
 * With GP2GP_TEST_TEMPORAL_ADDRESS set (host:port; GP2GP_TEST_TEMPORAL_NAMESPACE, default `default`)
 * no dev server is started: the tests run against that Temporal, e.g. the production-shaped cluster
 * of `npm run test:cluster` (test/cluster/run.ts). Its own variable, not TEMPORAL_ADDRESS, so a
 * developer's shell pointing at a real cluster never sends tests there by accident. There is no Web
 * UI then (temporalUiUrl is empty: the browser tests need the dev server's).
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { provision } from '../stack/provision';
import { startRegistrationsApiStandIn, type RegistrationsApiStandIn } from '../stack/registrations-api-stand-in';
import { freePort, startMeshSandbox, startTemporalDevServer, type ServerHandle } from '../stack/servers';
import { TEST_MAILBOXES } from './support/stack';

declare module 'vitest' {
  export interface ProvidedContext {
    temporalAddress: string;
    temporalNamespace: string;
    meshUrl: string;
    meshSharedKey: string;
    meshStoreDir: string;
    workDir: string;
    /** The dev server's Web UI (test/browser drives it in Chromium). */
    temporalUiUrl: string;
    /**
     * The GP Registrations MI API stand-in (stack/registrations-api-stand-in.ts): its base URL (as
     * GP2GP_REGISTRATIONS_API_URL takes it, …/gp-registrations-mi), and the key it accepts in the
     * `apikey` header. Accepted requests: GET <origin>/_stand-in/requests (same header).
     */
    registrationsApiUrl: string;
    registrationsApiKey: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const tools = provision((line) => console.log(line));
  console.log(`Temporal CLI: ${tools.temporalCliSource}`);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gp2gp-mi-test-'));
  const servers: ServerHandle[] = [];
  let standIn: RegistrationsApiStandIn | undefined;
  const stopAll = async () => {
    await Promise.all([...servers.map((s) => s.stop()), standIn?.stop()]);
  };
  try {
    const externalTemporal = process.env.GP2GP_TEST_TEMPORAL_ADDRESS;
    const namespace = externalTemporal ? (process.env.GP2GP_TEST_TEMPORAL_NAMESPACE ?? 'default') : 'default';
    const uiPort = externalTemporal ? undefined : await freePort();
    let temporalAddress: string;
    if (externalTemporal) {
      temporalAddress = externalTemporal;
      console.log(`Temporal: ${externalTemporal} (GP2GP_TEST_TEMPORAL_ADDRESS), namespace ${namespace}`);
    } else {
      servers.push(
        await startTemporalDevServer({
          tools,
          port: await freePort(),
          uiPort,
          namespace,
          logFile: path.join(workDir, 'temporal.log'),
        }),
      );
      temporalAddress = servers[0]!.address;
    }
    const sharedKey = randomBytes(16).toString('hex');
    const storeDir = path.join(workDir, 'mesh-store');
    const mesh = await startMeshSandbox({
      tools,
      port: await freePort(),
      storeDir,
      sharedKey,
      mailboxes: TEST_MAILBOXES,
      logFile: path.join(workDir, 'mesh-sandbox.log'),
    });
    servers.push(mesh);
    const registrationsApiKey = randomBytes(24).toString('hex');
    standIn = await startRegistrationsApiStandIn({
      port: 0,
      apiKey: registrationsApiKey,
      dir: path.join(workDir, 'registrations-api'),
    });
    project.provide('temporalAddress', temporalAddress);
    project.provide('temporalNamespace', namespace);
    project.provide('meshUrl', mesh.address);
    project.provide('registrationsApiUrl', standIn.url);
    project.provide('registrationsApiKey', registrationsApiKey);
    project.provide('meshSharedKey', sharedKey);
    project.provide('meshStoreDir', storeDir);
    project.provide('workDir', workDir);
    project.provide('temporalUiUrl', uiPort ? `http://127.0.0.1:${uiPort}` : '');
  } catch (err) {
    await stopAll();
    throw err;
  }
  return async () => {
    await stopAll();
    if (!process.env.KEEP_TEST_WORKDIR) fs.rmSync(workDir, { recursive: true, force: true });
  };
}
