/**
 * A stand-in for NHS England's receiving side, for the embedded stack and the tests: it takes every
 * MI file out of the Authority's MESH mailbox, keeps a copy, and acknowledges it — which is what a
 * submission waits for. Optionally it also answers with a GP2GP_MI_ACK business acknowledgement.
 * Real deployments never run this: NHS England's own mailbox does the same job.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { MeshClient, MeshMessageMetadata } from '../mesh';

export interface ReceivedFile {
  messageId: string;
  metadata: MeshMessageMetadata;
  content: string;
}

export interface AuthorityOptions {
  /** Where copies of received files are written (`<messageId>_<fileName>`); none if unset. */
  storeDir?: string;
  /** Answer each file with a GP2GP_MI_ACK message to its sender. */
  businessAck?: boolean;
  workflowId?: string;
  onError?: (messageId: string, err: Error) => void;
}

export class AuthorityMailbox {
  constructor(
    readonly mesh: MeshClient,
    readonly options: AuthorityOptions = {},
  ) {}

  /** Downloads, keeps and acknowledges every MI file waiting in the mailbox. */
  async collect(): Promise<ReceivedFile[]> {
    const workflowId = this.options.workflowId ?? 'GP2GP_MI';
    const received: ReceivedFile[] = [];
    for await (const messageId of this.mesh.listInbox({ workflowFilter: workflowId })) {
      let downloaded: Awaited<ReturnType<MeshClient['download']>>;
      try {
        downloaded = await this.mesh.download(messageId);
      } catch (err) {
        // One bad message must not hold up the others.
        this.options.onError?.(messageId, err as Error);
        continue;
      }
      const { metadata, body } = downloaded;
      const content = body.toString('utf8');
      if (this.options.storeDir) {
        fs.mkdirSync(this.options.storeDir, { recursive: true });
        const name = `${messageId}_${path.basename(metadata.fileName ?? 'message.csv')}`;
        fs.writeFileSync(path.join(this.options.storeDir, name), body);
      }
      await this.mesh.acknowledge(messageId);
      if (this.options.businessAck && metadata.from) {
        await this.mesh.send({
          to: metadata.from,
          workflowId: `${workflowId}_ACK`,
          body: JSON.stringify({ messageId, status: 'accepted' }),
          ...(metadata.localId ? { localId: `ack-${metadata.localId}` } : {}),
          contentType: 'application/json',
        });
      }
      received.push({ messageId, metadata, content });
    }
    return received;
  }
}
