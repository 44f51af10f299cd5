import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { NativeConnection } from '@temporalio/worker';
import { request } from 'undici';
import { describe, expect, inject, it } from 'vitest';
import { meshAuthorization } from '../mesh/auth';
import * as smokeActivities from './fixtures/smoke-activities';
import { SANDBOX_PASSWORD } from './support/stack';

describe('the real stack', () => {
  it('runs a workflow with an activity on the Temporal dev server', async () => {
    const address = inject('temporalAddress');
    const connection = await NativeConnection.connect({ address });
    const taskQueue = `smoke-${randomUUID()}`;
    const worker = await Worker.create({
      connection,
      taskQueue,
      workflowsPath: path.join(__dirname, 'fixtures', 'smoke-workflows.ts'),
      activities: smokeActivities,
    });
    const clientConnection = await Connection.connect({ address });
    try {
      const client = new Client({ connection: clientConnection });
      const result = await worker.runUntil(
        client.workflow.execute('smokeWorkflow', { taskQueue, workflowId: `smoke-${randomUUID()}`, args: ['2026-11-23'] }),
      );
      expect(result).toBe('2026-11-23 is a Monday');
    } finally {
      await clientConnection.close();
      await connection.close();
    }
  });

  it('completes an authenticated NHSMESH handshake with the MESH sandbox (full auth)', async () => {
    const base = inject('meshUrl');
    const sharedKey = inject('meshSharedKey');
    const mailbox = 'X26FND001';
    const headers = {
      accept: 'application/vnd.mesh.v2+json',
      'mex-clientversion': 'gp2gp-mi-test',
      'mex-osname': 'Linux',
      'mex-osversion': '6',
    };
    const ok = await request(`${base}/messageexchange/${mailbox}`, {
      method: 'POST',
      headers: { ...headers, authorization: meshAuthorization({ mailbox, password: SANDBOX_PASSWORD, sharedKey }) },
    });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();

    // The same request signed with the wrong key is refused: auth really is checked.
    const refused = await request(`${base}/messageexchange/${mailbox}`, {
      method: 'POST',
      headers: { ...headers, authorization: meshAuthorization({ mailbox, password: SANDBOX_PASSWORD, sharedKey: 'wrong' }) },
    });
    expect(refused.statusCode).toBe(403);
    await refused.body.dump();
  });
});
