/**
 * Issue 16, item 5: GP2GP_API_TEMPORAL_TIMEOUT_SECONDS bounds every event a request records. With
 * Temporal up but no worker polling the task queue, an update would wait; the API must answer 503
 * (retry) within the configured timeout, saying why — not after the hooks client's own 30 s.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startApi, type RunningApi } from '../../api/main';
import { loadConfig } from '../../config';
import { loadApiConfig } from '../../config/api';
import { syntheticPractice } from '../../demo/traffic';

const PRACTICE = syntheticPractice('P16201', '200000001621');
const TOKEN = `test-token-${randomUUID()}`;
const YESTERDAY = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
const registration = () => ({
  type: 'registration',
  practiceOds: PRACTICE.ods,
  registrationId: `REG-${randomUUID().slice(0, 8)}`,
  occurredAt: `${YESTERDAY}T10:00:00Z`,
  registrationType: 'new',
  registeringUser: 'L12345',
});

describe('the HTTP API honours GP2GP_API_TEMPORAL_TIMEOUT_SECONDS', () => {
  let api: RunningApi;

  beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(inject('workDir'), 'api-timeout-'));
    const practicesFile = path.join(dir, 'practices.json');
    fs.writeFileSync(practicesFile, JSON.stringify({ practices: [PRACTICE] }));
    // The real Temporal server, but a task queue no worker polls: updates are never answered.
    const config = loadConfig({
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      TEMPORAL_NAMESPACE: inject('temporalNamespace'),
      TEMPORAL_TASK_QUEUE: `nobody-polls-${randomUUID()}`,
      GP2GP_PRACTICES: practicesFile,
      GP2GP_DATA_DIR: dir,
    });
    api = await startApi(
      config,
      loadApiConfig({ GP2GP_API_HOST: '127.0.0.1', GP2GP_API_PORT: '0', GP2GP_API_TOKENS: TOKEN, GP2GP_API_TEMPORAL_TIMEOUT_SECONDS: '2' }),
      { logger: false },
    );
  });
  afterAll(async () => {
    await api?.close();
  });

  const post = async (body: unknown) => {
    const started = Date.now();
    const res = await fetch(`${api.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(25_000),
    });
    return { status: res.status, body: (await res.json()) as any, retryAfter: res.headers.get('retry-after'), ms: Date.now() - started };
  };

  it('answers one event 503 within the configured 2 s, with a clear message', async () => {
    const answer = await post(registration());
    expect(answer.status).toBe(503);
    expect(answer.ms).toBeLessThan(6_000);
    expect(answer.ms).toBeGreaterThanOrEqual(1_500);
    expect(answer.body.status).toBe('unavailable');
    expect(answer.body.error.message).toMatch(/within 2 s/);
    expect(answer.retryAfter).toBeTruthy();
  });

  it('bounds a whole batch by the same deadline', async () => {
    const answer = await post([registration(), registration(), registration()]);
    expect(answer.status).toBe(503);
    expect(answer.ms).toBeLessThan(6_000);
    expect(answer.body.unavailable).toBe(3);
  });
});
