/**
 * With payload encryption on, the Web UI (in Chromium) shows a submission's input decoded only once
 * the browser holds the codec server's token: before, only ciphertext and "Codec Server could not
 * connect"; after signing in at the codec server and letting the UI send credentials, the rows in
 * clear. Own dev server here, because the UI's codec endpoint is a start-up flag.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { AesGcmCodec } from '../../codec/aes-gcm';
import { buildCodecServer } from '../../codec/server';
import { parseEncryptionKeys } from '../../config/encryption';
import { provision } from '../../stack/provision';
import { freePort, startTemporalDevServer, type ServerHandle } from '../../stack/servers';
import { submissionQuery, type SubmissionView } from '../../messages/submission';
import { transferQuery } from '../../messages/transfer';
import { launchChromium, waitForUi, type Browser } from '../support/browser';
import { eventually } from '../support/pipeline';
import { PRACTICE, startOperatorsPipeline, type OperatorsPipeline } from '../support/operators';

describe('the Web UI with encrypted payloads', () => {
  const keys = `k1:${randomBytes(32).toString('base64')}`;
  const token = randomBytes(32).toString('hex');
  let server: ServerHandle | undefined;
  let codec: FastifyInstance | undefined;
  let pipeline: OperatorsPipeline | undefined;
  let browser: Browser | undefined;
  let uiUrl: string;
  let codecUrl: string;

  beforeAll(async () => {
    browser = await launchChromium();
    const uiPort = await freePort();
    uiUrl = `http://127.0.0.1:${uiPort}`;
    codec = await buildCodecServer({ codec: new AesGcmCodec(parseEncryptionKeys(keys)), tokens: [token], uiOrigins: [uiUrl], uiUrl });
    await codec.listen({ host: '127.0.0.1', port: 0 });
    codecUrl = `http://127.0.0.1:${(codec.server.address() as AddressInfo).port}`;
    const dir = path.join(inject('workDir'), `codec-ui-${randomUUID()}`);
    server = await startTemporalDevServer({
      tools: provision(),
      port: await freePort(),
      uiPort,
      uiCodecEndpoint: codecUrl,
      namespace: inject('temporalNamespace'),
      logFile: path.join(dir, 'temporal.log'),
    });
    pipeline = await startOperatorsPipeline({
      supplierMailbox: 'X26OPS001',
      authorityMailbox: 'X26NOSUCH8',
      temporalAddress: server.address,
      env: { GP2GP_ENCRYPTION_KEYS: keys },
    });
    await waitForUi(uiUrl);
  });
  afterAll(async () => {
    await browser?.close();
    await pipeline?.stop();
    await codec?.close();
    await server?.stop();
  });

  it('shows ciphertext without the token and the rows once signed in', async () => {
    const marker = `MARKER${randomBytes(6).toString('hex').toUpperCase()}`;
    const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const registrationId = `REG-${marker}`;
    const outcomes = await pipeline!.client.recordEvents([
      { type: 'registration', practiceOds: PRACTICE.ods, registrationId, occurredAt: `${day}T09:00:00Z`, registrationType: 'new', registeringUser: 'L123' },
      { type: 'request-failure', practiceOds: PRACTICE.ods, registrationId, occurredAt: `${day}T09:05:00Z`, failurePoint: 20, failureType: 1, fatal: true, errorCode: '99', errorDescription: `PDS trace failed ${marker}` },
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(['accepted', 'accepted']);
    const workflowId = (outcomes[0] as { workflowId: string }).workflowId;
    await eventually(async () => ((await pipeline!.client.temporal.workflow.getHandle(workflowId).query(transferQuery)).forwarding ? undefined : true));
    const [submitted] = await pipeline!.client.submit({ days: [day] });
    const submissionId = submitted!.result.submissions[0]!.submissionId;
    await eventually(async () => {
      const v: SubmissionView = await pipeline!.client.temporal.workflow.getHandle(submissionId).query(submissionQuery);
      return v.status === 'failed' ? true : undefined;
    }, 60_000, 'the submission to end');
    const page = browser!.page;
    const submissionPage = `${uiUrl}/namespaces/${inject('temporalNamespace')}/workflows/${submissionId}`;

    // No token: the UI reaches the codec server, is refused, and shows ciphertext.
    await page.goto(submissionPage);
    await page.locator('[data-testid="data-encoder-status-error"]').waitFor();
    await page.getByText('Input', { exact: true }).filter({ visible: true }).first().waitFor();
    expect(await page.getByText(marker).count()).toBe(0);
    await browser!.screenshot('web-ui-encrypted-without-token');

    // Sign in at the codec server (HttpOnly cookie), then let the UI send credentials to it.
    await page.goto(`${codecUrl}/login`);
    await page.fill('input[name=token]', token);
    await Promise.all([page.waitForURL(new RegExp(`^${uiUrl}`)), page.click('button[type=submit]')]);
    await page.goto(submissionPage);
    await page.locator('[data-testid^="data-encoder-status"]').first().click();
    await page.locator('#use-local-endpoint-radio').check({ force: true });
    await page.getByPlaceholder('Paste your endpoint here').fill(codecUrl);
    await page.getByText('Include cross-origin credentials').click();
    await expect.poll(() => page.locator('#pass-access-credentials').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.goto(submissionPage);
    await expect.poll(() => page.getByText(marker).count(), { timeout: 30_000 }).toBeGreaterThan(0);
    await browser!.screenshot('web-ui-encrypted-decoded-with-token');
  });
});
