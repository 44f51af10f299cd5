/**
 * The one bounded-concurrency helper (the HTTP API's batches, the client's recordEvents, the CLI,
 * the demo, benchmarks): `fn` runs on every item with at most `limit` calls in flight, each item
 * once, results in input order. A throw rejects the whole (calls already running finish on their own).
 */
export async function mapConcurrent<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return results;
}
