/**
 * 360dialog (Cloud API hosting) adapter: `POST {baseUrl}/messages` with the `D360-API-KEY` header.
 *
 * 360dialog proxies Meta's Cloud API: the body is the Cloud template message and the answers (the wamid,
 * Meta's error object) come back unchanged, so both ends reuse the Cloud code. Only the URL (no phone
 * number id: the API key identifies the number) and the auth header differ.
 */
import { buildCloudMessage } from '../templates/payload.ts';
import { cloudOutcome, redact } from './cloud.ts';
import { createHttpClient } from './http.ts';
import type { ProviderClient, SendOutcome, SendRequest } from './types.ts';

export interface D360ClientOptions {
  /** e.g. `https://waba-v2.360dialog.io`. */
  baseUrl: string;
  /** The channel's API key, sent as `D360-API-KEY` (configured as WA_ACCESS_TOKEN). */
  accessToken: string;
  timeoutMs?: number;
}

export function createD360Client(opts: D360ClientOptions): ProviderClient {
  const http = createHttpClient({ timeoutMs: opts.timeoutMs });
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/messages`;
  const headers = { 'D360-API-KEY': opts.accessToken };

  return {
    provider: '360dialog',
    async send(req: SendRequest, signal?: AbortSignal): Promise<SendOutcome> {
      const result = await http.postJson(url, buildCloudMessage(req), { headers, signal });
      if (!result.ok) {
        return redact({ kind: 'network', phase: result.phase, message: result.message }, opts.accessToken);
      }
      return redact(cloudOutcome(result.status, result.body), opts.accessToken);
    },
    async close() {
      http.close();
    },
  };
}
