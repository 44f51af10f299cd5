/**
 * Our client's side of bench/mesh.ts, run in a process of its own so its peak memory is its own:
 * send (chunked, streamed from the file), list the inbox, download to a file, acknowledge. Prints one
 * JSON line: {"seconds": transfer time, "peakRssBytes": …, "idleRssBytes": peak before the transfer}.
 * With `warm`, both mailboxes are validated first (the handshake MESH asks for at start, which the
 * worker does once): the round trip then runs on open connections and loaded code, as in a worker
 * that has been up for a while, instead of paying the process's first-request costs.
 */
import { MeshClient } from '../mesh';

interface Args {
  url: string;
  sender: string;
  recipient: string;
  password: string;
  sharedKey: string;
  file: string;
  out: string;
  chunkSize: number;
  gzip: boolean;
  warm?: boolean;
}

async function main(a: Args): Promise<void> {
  const client = (mailbox: string) => new MeshClient({ url: a.url, mailbox, password: a.password, sharedKey: a.sharedKey, chunkSizeBytes: a.chunkSize });
  const sender = client(a.sender);
  const receiver = client(a.recipient);
  if (a.warm) await Promise.all([sender.handshake(), receiver.handshake()]);
  const idleRssBytes = process.resourceUsage().maxRSS * 1024;
  const start = performance.now();
  const { messageId } = await sender.send({ to: a.recipient, workflowId: 'GP2GP_MI', body: { file: a.file }, fileName: 'bench.dat', gzip: a.gzip });
  let listed = false;
  for await (const id of receiver.listInbox()) listed ||= id === messageId;
  if (!listed) throw new Error(`${messageId} is not in the inbox`);
  await receiver.downloadTo(messageId, a.out);
  await receiver.acknowledge(messageId);
  const seconds = (performance.now() - start) / 1000;
  await Promise.all([sender.close(), receiver.close()]);
  console.log(JSON.stringify({ seconds, peakRssBytes: process.resourceUsage().maxRSS * 1024, idleRssBytes }));
}

main(JSON.parse(process.argv[2]!) as Args).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
