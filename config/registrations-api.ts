/**
 * The GP Registrations MI API a process of this service talks to: the one place it is resolved, for the
 * worker's activities, the demo and the CLI alike (as config/mesh.ts is for MESH).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Config } from './index';

/** The API's base path on NHS England's API platform (INT and production alike). */
export const REGISTRATIONS_API_BASE_PATH = '/gp-registrations-mi';
/** The stand-in's own read/clear endpoint (not part of the API). */
export const STAND_IN_REQUESTS_PATH = '/_stand-in/requests';

/**
 * The Registrations API a process of this service talks to, resolved as `npm start` resolves it for
 * the worker: GP2GP_REGISTRATIONS_API_URL (+ GP2GP_REGISTRATIONS_API_KEY) when set; otherwise the
 * embedded stand-in on GP2GP_REGISTRATIONS_API_PORT with its key (the variable, or the generated key
 * file). For the demo and the CLI; the key is for the `apikey` header only, never to be shown.
 */
export function registrationsApiTarget(config: Config): { url: string; apiKey: string | undefined; standIn: { origin: string; requestsUrl: string } | undefined } {
  if (config.registrationsApi.url) return { url: config.registrationsApi.url, apiKey: config.registrationsApi.apiKey, standIn: undefined };
  const origin = `http://127.0.0.1:${config.registrationsApi.port}`;
  let apiKey = config.registrationsApi.apiKey;
  if (!apiKey) {
    try {
      apiKey = fs.readFileSync(path.join(config.dataDir, 'registrations-api-key'), 'utf8').trim() || undefined;
    } catch {
      /* no npm start has generated it yet */
    }
  }
  return { url: `${origin}${REGISTRATIONS_API_BASE_PATH}`, apiKey, standIn: { origin, requestsUrl: `${origin}${STAND_IN_REQUESTS_PATH}` } };
}
