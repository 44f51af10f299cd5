/**
 * Encryption at rest, checked where it matters: the Temporal dev server's own SQLite file. Two
 * pipelines write a transfer each to one server with a SQLite file — one with GP2GP_ENCRYPTION_KEYS,
 * one without — each event carrying a marker in its free text. The marker of the plain pipeline is in
 * the file (so the search works); the marker of the encrypted one is not, anywhere, yet its history
 * decodes with the key.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { provision } from '../../stack/provision';
import { freePort, startTemporalDevServer, type ServerHandle } from '../../stack/servers';
import { dataConverter } from '../../config/temporal';
import { transferQuery } from '../../messages/transfer';
import { eventually } from '../support/pipeline';
import { PRACTICE, startOperatorsPipeline, type OperatorsPipeline } from '../support/operators';

/** Every byte the server has written: the database, its write-ahead log and shared memory. */
function sqliteBytes(dbFile: string): Buffer {
  return Buffer.concat(
    [dbFile, `${dbFile}-wal`, `${dbFile}-shm`, `${dbFile}-journal`].filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f)),
  );
}

describe('payload encryption at rest', () => {
  let server: ServerHandle | undefined;
  const pipelines: OperatorsPipeline[] = [];
  let dbFile: string;
  const keys = `k2026:${randomBytes(32).toString('base64')}`;

  beforeAll(async () => {
    const dir = path.join(inject('workDir'), `sqlite-${randomUUID()}`);
    dbFile = path.join(dir, 'temporal.sqlite');
    server = await startTemporalDevServer({ tools: provision(), port: await freePort(), dbFile, namespace: inject('temporalNamespace'), logFile: path.join(dir, 'temporal.log') });
  });
  afterAll(async () => {
    for (const p of pipelines) await p.stop();
    await server?.stop();
  });

  it('keeps event contents out of the server database when on, and only then', async () => {
    const markers = { encrypted: `ENC-MARKER-${randomUUID()}`, plain: `PLAIN-MARKER-${randomUUID()}` };
    const runs = [
      { name: 'encrypted' as const, env: { GP2GP_ENCRYPTION_KEYS: keys } as Record<string, string> },
      { name: 'plain' as const, env: {} as Record<string, string> },
    ];
    const workflowIds: Record<string, string> = {};
    for (const run of runs) {
      const pipeline = await startOperatorsPipeline({
        supplierMailbox: 'X26OPS003',
        authorityMailbox: 'X26OPS004',
        temporalAddress: server!.address,
        practices: [PRACTICE],
        env: run.env,
      });
      pipelines.push(pipeline);
      // Yesterday's: its rows go to the reporting workflow at once (today's would wait for the day's
      // hand-over point, GP2GP_HAND_OVER_AT).
      const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      const occurredAt = `${yesterday}T12:00:00.000Z`;
      const registrationId = `REG-${run.name}-${randomUUID()}`;
      const outcomes = await pipeline.client.recordEvents([
        { type: 'registration', practiceOds: PRACTICE.ods, registrationId, occurredAt, registrationType: 'new', registeringUser: 'L123' },
        {
          type: 'request-failure',
          practiceOds: PRACTICE.ods,
          registrationId,
          occurredAt: `${yesterday}T12:30:00.000Z`,
          failurePoint: 20,
          failureType: 1,
          fatal: true,
          errorCode: '99',
          errorDescription: markers[run.name],
        },
      ]);
      expect(outcomes.map((o) => o.status)).toEqual(['accepted', 'accepted']);
      workflowIds[run.name] = (outcomes[0] as { workflowId: string }).workflowId;
      // The rows reached the reporting workflow (a signal from an activity: encrypted too).
      await eventually(async () => {
        const view = await pipeline.client.temporal.workflow.getHandle(workflowIds[run.name]!).query(transferQuery);
        return view.forwarding ? undefined : true;
      }, 60_000, 'the rows to be forwarded');
    }

    const bytes = await eventually(async () => {
      const b = sqliteBytes(dbFile);
      return b.includes(markers.plain) ? b : undefined;
    }, 30_000, 'the plain marker to reach the SQLite file');
    expect(bytes.includes(markers.encrypted)).toBe(false);
    expect(bytes.includes(Buffer.from(markers.encrypted).toString('base64').slice(0, 24))).toBe(false);

    // Encrypted, not lost: with the key the history reads back; without it, only ciphertext.
    const connection = await Connection.connect({ address: server!.address });
    try {
      const namespace = inject('temporalNamespace');
      const withKey = new Client({ connection, namespace, dataConverter: dataConverter({ encryption: pipelines[0]!.config.encryption }) });
      const view = await withKey.workflow.getHandle(workflowIds.encrypted!).query(transferQuery);
      expect(JSON.stringify(view.events)).toContain(markers.encrypted);
      const raw = await new Client({ connection, namespace }).workflow.getHandle(workflowIds.encrypted!).fetchHistory();
      const update = raw.events!.find((e) => e.workflowExecutionUpdateAcceptedEventAttributes)!;
      const arg = update.workflowExecutionUpdateAcceptedEventAttributes!.acceptedRequest!.input!.args!.payloads![0]!;
      expect(Buffer.from(arg.metadata!.encoding!).toString()).toBe('binary/encrypted');
      expect(Buffer.from(arg.metadata!['encryption-key-id']!).toString()).toBe('k2026');
    } finally {
      await connection.close();
    }
  });
});
