/**
 * Mutual TLS on loopback: a second MESH sandbox of this file's own behind uvicorn demanding a client
 * certificate (`--ssl-cert-reqs 2`), signed by a CA the test makes. With the client certificate the
 * calls work; without it, or against an untrusted server, the error says what is wrong and nothing
 * is retried.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MeshClient, MeshConfigError, type MeshClientOptions } from '../../mesh';
import { provision } from '../../stack/provision';
import { freePort, startMeshSandbox, type ServerHandle } from '../../stack/servers';
import { SANDBOX_PASSWORD } from '../support/stack';
import { makeTestCa, type TestCa } from '../support/test-ca';

const MAILBOX = 'X26MSH008';
const SHARED_KEY = 'mtls-test-key';

let sandbox: ServerHandle;
let ca: TestCa;
let dir: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(inject('workDir'), 'mesh-mtls-'));
  ca = makeTestCa(path.join(dir, 'pki'));
  sandbox = await startMeshSandbox({
    tools: provision(),
    port: await freePort(),
    storeDir: path.join(dir, 'store'),
    sharedKey: SHARED_KEY,
    mailboxes: [MAILBOX],
    logFile: path.join(dir, 'mesh-sandbox-tls.log'),
    tls: { certFile: ca.serverCertFile, keyFile: ca.serverKeyFile, caFile: ca.caFile },
  });
});

afterAll(async () => {
  await sandbox?.stop();
});

function client(tls: MeshClientOptions['tls']): MeshClient {
  return new MeshClient({
    url: sandbox.address,
    mailbox: MAILBOX,
    password: SANDBOX_PASSWORD,
    sharedKey: SHARED_KEY,
    tls,
    retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 },
  });
}

const read = (file: string) => fs.readFileSync(file);

describe('mutual TLS', () => {
  it('works with the client certificate', async () => {
    expect(sandbox.address).toMatch(/^https:/);
    const c = client({ cert: read(ca.clientCertFile), key: read(ca.clientKeyFile), ca: read(ca.caFile) });
    try {
      await c.handshake();
      const sent = await c.send({ to: MAILBOX, workflowId: 'GP2GP_MI', body: 'over mutual TLS', chunkSizeBytes: 5, gzip: true });
      expect((await c.download(sent.messageId)).body.toString()).toBe('over mutual TLS');
    } finally {
      await c.close();
    }
  });

  it('works configured from the environment (PEM file paths)', async () => {
    const c = MeshClient.fromEnv({
      MESH_URL: sandbox.address,
      MESH_MAILBOX: MAILBOX,
      MESH_PASSWORD: SANDBOX_PASSWORD,
      MESH_SHARED_KEY: SHARED_KEY,
      MESH_CLIENT_CERT: ca.clientCertFile,
      MESH_CLIENT_KEY: ca.clientKeyFile,
      MESH_CA_CERT: ca.caFile,
    });
    try {
      await c.handshake();
    } finally {
      await c.close();
    }
  });

  it('says that a client certificate is needed when none is configured', async () => {
    const c = client({ ca: read(ca.caFile) });
    try {
      const err = await c.handshake().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshConfigError);
      expect((err as MeshConfigError).message).toMatch(/client certificate/);
      expect((err as MeshConfigError).retryable).toBe(false);
      expect((err as MeshConfigError).attempts).toBe(1);
    } finally {
      await c.close();
    }
  });

  it('says that the client certificate was refused when the server does not trust it', async () => {
    const c = client({ cert: read(ca.rogueClientCertFile), key: read(ca.rogueClientKeyFile), ca: read(ca.caFile) });
    try {
      const err = await c.handshake().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshConfigError);
      expect((err as MeshConfigError).message).toMatch(/did not accept the client certificate/);
    } finally {
      await c.close();
    }
  });

  it('refuses a server whose certificate the CA bundle does not vouch for', async () => {
    const c = client({ cert: read(ca.clientCertFile), key: read(ca.clientKeyFile), ca: read(ca.otherCaFile) });
    try {
      const err = await c.handshake().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MeshConfigError);
      expect((err as MeshConfigError).message).toMatch(/server's certificate is not trusted/);
    } finally {
      await c.close();
    }
  });

  it('will not send certificates over plain http', () => {
    expect(() => new MeshClient({ url: 'http://127.0.0.1:1', mailbox: MAILBOX, password: 'p', sharedKey: 'k', tls: { ca: read(ca.caFile) } })).toThrow(MeshConfigError);
  });
});
