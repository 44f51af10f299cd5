/**
 * The CLI's one way to talk to the service: connect the hooks client from the environment, run the
 * command, close. A Temporal that cannot be reached is the operation failing (exit 1), said in one line.
 */
import { loadConfig } from '../config';
import { Gp2gpClient } from '../client';
import { OperationError } from '../client/operations';
import { EXIT_FAILED } from './exit-codes';

export async function withClient<T>(fn: (client: Gp2gpClient) => Promise<T>): Promise<T> {
  const config = loadConfig();
  let client: Gp2gpClient;
  try {
    client = await Gp2gpClient.connect(config);
  } catch (err) {
    throw new OperationError(`cannot reach Temporal at ${config.temporal.address ?? `127.0.0.1:${config.temporal.port}`}: ${(err as Error).message}`, EXIT_FAILED);
  }
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
