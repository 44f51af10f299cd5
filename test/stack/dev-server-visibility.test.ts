/**
 * The embedded dev server's file keeps only the visibility indexes something queries by
 * (stack/dev-server-visibility.ts): checked on a real dev server's SQLite file, through a restart, with
 * queries on a kept column (our search attribute) and on a dropped one (HistoryLength) still answered.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { provision } from '../../stack/provision';
import { freePort, startTemporalDevServer, type ServerHandle } from '../../stack/servers';
import { UNQUERIED_VISIBILITY_INDEXES } from '../../stack/dev-server-visibility';
import { practiceOdsKey } from '../../workflows/search-attributes';
import { eventually } from '../support/pipeline';

const tools = provision();

function visibilityIndexes(dbFile: string): string[] {
  const out = execFileSync(
    tools.python,
    ['-c', "import sqlite3, sys; print('\\n'.join(r[0] for r in sqlite3.connect(sys.argv[1]).execute(\"select name from sqlite_master where type = 'index' and tbl_name = 'executions_visibility'\")))", dbFile],
    { encoding: 'utf8' },
  );
  return out.split('\n').filter(Boolean);
}

async function withClient<T>(server: ServerHandle, fn: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: server.address });
  try {
    return await fn(new Client({ connection, namespace: 'default' }));
  } finally {
    await connection.close();
  }
}

async function found(client: Client, query: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of client.workflow.list({ query })) ids.push(e.workflowId);
  return ids;
}

describe('the dev server file’s visibility indexes', () => {
  let server: ServerHandle | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  const start = async (dbFile: string, allVisibilityIndexes?: boolean) =>
    (server = await startTemporalDevServer({
      tools,
      port: await freePort(),
      dbFile,
      namespace: 'default',
      logFile: path.join(path.dirname(dbFile), 'temporal.log'),
      allVisibilityIndexes,
    }));

  it('drops the unqueried ones on a new file, keeps them dropped across a restart, and every query still answers', async () => {
    const dbFile = path.join(inject('workDir'), `lean-${randomUUID()}`, 'temporal.sqlite');
    const practice = `V${randomUUID().slice(0, 5).toUpperCase()}`;
    const workflowId = `lean-visibility-${randomUUID()}`;

    await start(dbFile);
    const lean = visibilityIndexes(dbFile);
    expect(lean.filter((name) => UNQUERIED_VISIBILITY_INDEXES.includes(name))).toEqual([]);
    // What our search attributes, the Web UI's list and its filters use is kept.
    for (const kept of ['default_idx', 'by_workflow_id', 'by_workflow_type', 'by_status', 'by_keyword_01', 'by_keyword_10', 'by_temporal_namespace_division']) {
      expect(lean).toContain(kept);
    }
    await withClient(server!, async (client) => {
      // No worker: the run stays open until terminated below, which is all visibility needs.
      await client.workflow.start('leanVisibilityProbe', {
        workflowId,
        taskQueue: `lean-visibility-${randomUUID()}`,
        typedSearchAttributes: [{ key: practiceOdsKey, value: practice }],
      });
      await eventually(async () => expect(await found(client, `GP2GP_PracticeOds = "${practice}"`)).toEqual([workflowId]));
      // A dropped index only makes its column's query scan; the answer is the same (the history's
      // length is recorded when the run closes).
      await client.workflow.getHandle(workflowId).terminate('probe done');
      await eventually(async () => expect(await found(client, `HistoryLength > 0 AND GP2GP_PracticeOds = "${practice}"`)).toEqual([workflowId]));
    });
    await server!.stop();

    await start(dbFile);
    expect(visibilityIndexes(dbFile)).toEqual(lean);
    await withClient(server!, async (client) => {
      expect(await found(client, `GP2GP_PracticeOds = "${practice}" AND ExecutionStatus = "Terminated"`)).toEqual([workflowId]);
    });
  });

  it('keeps Temporal’s full set when asked', async () => {
    const dbFile = path.join(inject('workDir'), `full-${randomUUID()}`, 'temporal.sqlite');
    await start(dbFile, true);
    const all = visibilityIndexes(dbFile);
    for (const name of UNQUERIED_VISIBILITY_INDEXES) expect(all).toContain(name);
  });
});
