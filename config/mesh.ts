/**
 * The pipeline's MESH client from configuration: the one place it is built (the worker's activities,
 * the `gp2gp-mi mesh` commands). With MESH_URL unset, `embeddedDefaults` points it at the embedded
 * sandbox of `npm start` (127.0.0.1:MESH_PORT, the sandbox password, and the shared key generated
 * into GP2GP_DATA_DIR/mesh/shared-key), each still overridable by its variable; without it, MESH_URL
 * is required like every other missing setting (MeshConfigError naming them).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MeshClient, MeshConfigError, type MeshClientOptions } from '../mesh';
import { EMBEDDED_MESH_PASSWORD, type Config } from './index';

export function meshClientFromConfig(
  config: Pick<Config, 'mesh' | 'dataDir'>,
  options: Partial<MeshClientOptions> = {},
  { embeddedDefaults = false }: { embeddedDefaults?: boolean } = {},
): MeshClient {
  const m = config.mesh;
  if (m.url || !embeddedDefaults) {
    return MeshClient.fromSettings(
      { url: m.url, mailbox: m.mailbox, password: m.password, sharedKey: m.sharedKey, clientCertFile: m.clientCertPath, clientKeyFile: m.clientKeyPath, caCertFile: m.caCertPath },
      options,
    );
  }
  const url = `http://127.0.0.1:${m.port}`;
  let sharedKey = m.sharedKey;
  if (sharedKey === undefined) {
    const keyFile = path.join(config.dataDir, 'mesh', 'shared-key');
    try {
      sharedKey = fs.readFileSync(keyFile, 'utf8').trim();
    } catch {
      throw new MeshConfigError(
        `MESH_URL is not set, so the embedded MESH sandbox (${url}, mailbox ${m.mailbox}) is used, but its shared key ${keyFile} ` +
          'does not exist: start the stack with npm start, or set MESH_URL, MESH_MAILBOX, MESH_PASSWORD and MESH_SHARED_KEY',
      );
    }
  }
  return MeshClient.fromSettings({ url, mailbox: m.mailbox, password: m.password ?? EMBEDDED_MESH_PASSWORD, sharedKey }, options);
}
