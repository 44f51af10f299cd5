/**
 * What the end-to-end tests compare the real pipeline with: `gp2gp-mi render` of the same events (the
 * offline renderer, as an operator runs it), and the wait until every transfer has forwarded its rows.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { recordKeyOf, type HookEvent } from '../../mi/events';
import { transferQuery } from '../../messages/transfer';
import { transferWorkflowId } from '../../workflows/ids';
import { eventually, type TestPipeline } from './pipeline';
import { recordSetsOf } from './record-sets';

const BIN = path.join(__dirname, '..', '..', 'bin', 'gp2gp-mi.js');

/** `gp2gp-mi render` of the events for the days from..to, as record sets keyed by ODS + date. */
export function offlineRender(events: HookEvent[], practicesFile: string, from: string, to: string, dir: string): Map<string, string> {
  const eventsFile = path.join(dir, `events-${from}-${to}.jsonl`);
  fs.writeFileSync(eventsFile, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const out = execFileSync(process.execPath, [BIN, 'render', '--events', eventsFile, '--practices', practicesFile, '--from', from, '--to', to], {
    encoding: 'utf8',
  });
  return recordSetsOf(out);
}

/** Rows reach the reporting workflows asynchronously: waits until the events' transfers have forwarded them. */
export async function waitForForwarding(pipeline: TestPipeline, events: HookEvent[]): Promise<void> {
  const ids = new Set(events.map((e) => {
    const { side, practiceOds, key } = recordKeyOf(e);
    return transferWorkflowId(side, practiceOds, key);
  }));
  for (const id of ids) {
    await eventually(async () => {
      const view = await pipeline.client.temporal.workflow.getHandle(id).query(transferQuery);
      return view.forwarding ? undefined : true;
    }, 60_000, `${id} to forward its rows`);
  }
}
