/**
 * The embedded dev server's visibility table, kept to the indexes someone queries by.
 *
 * Temporal's SQLite schema indexes `executions_visibility` 57 ways: one per system column and one per
 * pre-allocated custom search attribute column of every type, each keyed by the namespace, the column,
 * the close and start times and the run id. The server writes a visibility record with REPLACE (a
 * delete and an insert), so every start, search-attribute upsert and close rewrites an entry in every
 * one of them — most of a visibility write, and visibility writes were about 14 % of the dev server's
 * CPU in the national-day bench (perf, 2026-12-07). The indexes below are on columns nothing here
 * filters or sorts by: not our search attributes (Keyword columns and the KeywordList's full-text
 * table, both kept), not the Web UI's list (start/close time, type, id, status, task queue, parent and
 * root), not the namespace division every list query adds. Dropping an index never changes what a
 * query returns, only how fast a query on that column runs (a scan of the namespace's records: the
 * embedded default holds one supplier's records, not a national archive).
 *
 * An explicit list, not "all but": an index a later CLI adds is left alone. Dropped before the server
 * opens an existing file (no writer to wait for) and once more when it is ready (a new file's schema
 * exists only then); the server does not create them again on later starts.
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import { promisify } from 'node:util';

export const UNQUERIED_VISIBILITY_INDEXES: readonly string[] = [
  'by_history_length',
  'by_history_size_bytes',
  'by_execution_duration',
  'by_state_transition_count',
  'by_parent_run_id',
  'by_root_run_id',
  'by_batcher_user',
  'by_temporal_scheduled_start_time',
  'by_temporal_scheduled_by_id',
  'by_temporal_schedule_paused',
  'by_temporal_pause_info',
  'by_temporal_worker_deployment_version',
  'by_temporal_workflow_versioning_behavior',
  'by_temporal_worker_deployment',
  ...['bool', 'datetime', 'double', 'int'].flatMap((type) => ['01', '02', '03'].map((n) => `by_${type}_${n}`)),
  ...['bool', 'datetime', 'double', 'int'].flatMap((type) => ['01', '02'].map((n) => `by_temporal_${type}_${n}`)),
  ...['01', '02', '03', '04'].map((n) => `by_temporal_keyword_${n}`),
  'by_temporal_low_cardinality_keyword_01',
];

// Names come only from the list above; sqlite3 is in every CPython the stack's venv is made from.
const DROP_SCRIPT = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=60)
have = {r[0] for r in db.execute("select name from sqlite_master where type = 'index' and tbl_name = 'executions_visibility'")}
gone = [n for n in sys.argv[2:] if n in have]
with db:
    for n in gone:
        db.execute('drop index "%s"' % n)
print(len(gone))
`;

/**
 * Drops the unqueried visibility indexes of the dev server's file, if it exists and has them; returns
 * how many were dropped (0 once done). Throws when Python cannot open the file.
 */
export async function dropUnqueriedVisibilityIndexes(python: string, dbFile: string): Promise<number> {
  if (!fs.existsSync(dbFile)) return 0;
  const { stdout } = await promisify(execFile)(python, ['-c', DROP_SCRIPT, dbFile, ...UNQUERIED_VISIBILITY_INDEXES], { encoding: 'utf8', timeout: 120_000 });
  return Number(stdout.trim());
}
