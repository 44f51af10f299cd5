/**
 * A hand-over signal that Temporal never answers fails within its deadline, so the forwards waiting
 * behind it for the same practice are retried instead of held for as long as the call hangs. The
 * "server" here accepts connections and never says a word.
 */
import * as net from 'node:net';
import { MockActivityEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { loadConfig } from '../../config';

describe('forwardRows against a Temporal that accepts connections and never answers', () => {
  let silent: net.Server;
  const sockets: net.Socket[] = [];
  let address: string;

  beforeAll(async () => {
    silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    address = `127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('fails the forward at its deadline, and the next forward of the practice goes after it', async () => {
    const client = new Client({ connection: Connection.lazy({ address }) });
    const activities = createActivities(loadConfig({}), { client, practices: [{ ods: 'A12345', name: 'Test practice' } as never], handOverDeadlineMs: 1_000 });
    const env = new MockActivityEnvironment();
    const input = { practiceOds: 'A12345', rows: [] };
    const started = Date.now();
    const first = env.run(activities.forwardRows, input);
    const second = env.run(activities.forwardRows, input);
    const reason = (p: Promise<unknown>) => p.then(() => 'answered', (err: Error) => `${err.message}: ${(err.cause as Error | undefined)?.message}`);
    expect(await reason(first)).toMatch(/signalWithStart.*deadline exceeded/i);
    expect(await reason(second)).toMatch(/signalWithStart.*deadline exceeded/i);
    // The second waited for the first signal, then had a deadline of its own.
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(1_900);
    expect(took).toBeLessThan(5_000);
    await client.connection.close();
  }, 10_000);

  it('a cancelled attempt withdraws its forward while it waits behind a signal', async () => {
    const client = new Client({ connection: Connection.lazy({ address }) });
    const activities = createActivities(loadConfig({}), { client, practices: [{ ods: 'A12345', name: 'Test practice' } as never], handOverDeadlineMs: 3_000 });
    const input = { practiceOds: 'A12345', rows: [] };
    const inFlight = new MockActivityEnvironment().run(activities.forwardRows, input).then(() => 'answered', () => 'failed');
    const waiting = new MockActivityEnvironment();
    const started = Date.now();
    const withdrawn = waiting.run(activities.forwardRows, input).then(() => 'answered', () => Date.now() - started);
    setTimeout(() => waiting.cancel(), 200);
    // Withdrawn at once, not after the first signal's deadline.
    expect(await withdrawn).toBeLessThan(1_500);
    expect(await inFlight).toBe('failed');
    await client.connection.close();
  }, 10_000);
});
