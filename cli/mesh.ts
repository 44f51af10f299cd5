/**
 * `gp2gp-mi mesh …`: every MESH call from the command line, for operators checking a mailbox by hand.
 * Configured only by the `MESH_*` environment variables (see MeshClient.fromEnv), so no secret is
 * ever typed on a command line or printed. Lists print one id per line; objects print as JSON.
 * Exit codes: 0 done, 1 MESH refused or failed, 2 bad input or configuration.
 */
import type { Command } from 'commander';
import { MeshClient, MeshConfigError } from '../mesh';

/** The workflow this project sends its MI files under. */
const DEFAULT_WORKFLOW_ID = 'GP2GP_MI';

/** `20MB`, `512KB`, `1048576` → bytes (binary units, as MESH's limits are usually quoted). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+)\s*(b|k|kb|kib|m|mb|mib)?\s*$/i.exec(text);
  if (!m) throw new MeshConfigError(`not a size: ${text} (e.g. 20MB, 512KB or a number of bytes)`);
  const unit = (m[2] ?? 'b').toLowerCase();
  return Number(m[1]) * (unit.startsWith('m') ? 1024 * 1024 : unit.startsWith('k') ? 1024 : 1);
}

/** Runs an action with a client from the environment, closed afterwards; configuration errors exit 2. */
async function withClient(action: (client: MeshClient) => Promise<void>): Promise<void> {
  let client: MeshClient;
  try {
    client = MeshClient.fromEnv();
  } catch (err) {
    throw Object.assign(err as Error, { exitCode: 2 });
  }
  try {
    await action(client);
  } catch (err) {
    if (err instanceof MeshConfigError) Object.assign(err, { exitCode: 2 });
    throw err;
  } finally {
    await client.close();
  }
}

const printJson = (value: unknown) => console.log(JSON.stringify(value, null, 2));

export function registerMeshCommands(program: Command): void {
  const mesh = program
    .command('mesh')
    .description('MESH mailbox operations (configured by MESH_URL, MESH_MAILBOX, MESH_PASSWORD, MESH_SHARED_KEY, MESH_CLIENT_CERT, MESH_CLIENT_KEY, MESH_CA_CERT)');

  mesh
    .command('handshake')
    .description('validate the mailbox and its credentials')
    .action(() =>
      withClient(async (c) => {
        await c.handshake();
        console.log(`mailbox ${c.mailbox}: handshake OK`);
      }),
    );

  mesh
    .command('send <file>')
    .description('send a file, chunked (and gzipped per chunk with --gzip); prints the message id')
    .requiredOption('--to <mailbox>', 'recipient mailbox id')
    .option('--workflow-id <id>', 'MESH workflow id', DEFAULT_WORKFLOW_ID)
    .option('--subject <text>', 'message subject')
    .option('--local-id <id>', 'idempotency key: a message already sent with it is reused, not sent again')
    .option('--chunk-size <size>', 'uncompressed bytes per chunk, e.g. 20MB', parseSize)
    .option('--gzip', 'gzip each chunk')
    .action((file: string, o: { to: string; workflowId: string; subject?: string; localId?: string; chunkSize?: number; gzip?: boolean }) =>
      withClient(async (c) => {
        const result = await c.send({
          to: o.to,
          workflowId: o.workflowId,
          body: { file },
          ...(o.subject ? { subject: o.subject } : {}),
          ...(o.localId ? { localId: o.localId } : {}),
          ...(o.chunkSize ? { chunkSizeBytes: o.chunkSize } : {}),
          gzip: Boolean(o.gzip),
        });
        printJson(result);
      }),
    );

  mesh
    .command('inbox')
    .description('list the message ids in the inbox, one per line')
    .option('--workflow-filter <filter>', 'e.g. GP2GP_MI, "*_ACK*", "!*_ACK*"')
    .action((o: { workflowFilter?: string }) =>
      withClient(async (c) => {
        for await (const id of c.listInbox(o.workflowFilter ? { workflowFilter: o.workflowFilter } : {})) console.log(id);
      }),
    );

  mesh
    .command('download <messageId>')
    .description('download a message (all chunks, gzip undone): into --out, printing its metadata, or to stdout')
    .option('--out <file>', 'file to write (streamed; written whole or not at all)')
    .action((messageId: string, o: { out?: string }) =>
      withClient(async (c) => {
        if (o.out) {
          printJson(await c.downloadTo(messageId, o.out));
          return;
        }
        const { body } = await c.download(messageId);
        await new Promise<void>((resolve, reject) => process.stdout.write(body, (err) => (err ? reject(err) : resolve())));
      }),
    );

  mesh
    .command('ack <messageId>')
    .description('acknowledge a message (removes it from the inbox)')
    .action((messageId: string) =>
      withClient(async (c) => {
        await c.acknowledge(messageId);
        console.log(`acknowledged ${messageId}`);
      }),
    );

  mesh
    .command('track <messageId>')
    .description('tracking of a message this mailbox sent')
    .action((messageId: string) => withClient(async (c) => printJson(await c.track(messageId))));

  mesh
    .command('track-local <localId>')
    .description('tracking of the message this mailbox sent with a local id')
    .action((localId: string) =>
      withClient(async (c) => {
        const tracking = await c.trackByLocalId(localId);
        if (!tracking) throw Object.assign(new Error(`no message sent from ${c.mailbox} has local id ${localId}`), { exitCode: 1 });
        printJson(tracking);
      }),
    );

  mesh
    .command('lookup <ods> <workflowId>')
    .description("an organisation's mailboxes for a workflow")
    .action((ods: string, workflowId: string) => withClient(async (c) => printJson(await c.lookup(ods, workflowId))));

  mesh
    .command('workflow-search <workflowId>')
    .description('every mailbox that receives a workflow')
    .action((workflowId: string) => withClient(async (c) => printJson(await c.workflowSearch(workflowId))));
}
