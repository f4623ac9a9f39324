/**
 * 360dialog (Cloud API hosting) adapter: `POST {baseUrl}/messages` with the `D360-API-KEY` header.
 *
 * 360dialog proxies Meta's Cloud API: the body is the Cloud template message and the answers (the wamid,
 * Meta's error object) come back unchanged, so both ends reuse the Cloud code. Only the URL (no phone
 * number id: the API key identifies the number) and the auth header differ.
 */
import { createCloudShapedClient } from './cloud.ts';
import type { ProviderClient } from './types.ts';

export interface D360ClientOptions {
  /** e.g. `https://waba-v2.360dialog.io`. */
  baseUrl: string;
  /** The channel's API key, sent as `D360-API-KEY` (configured as WA_ACCESS_TOKEN). */
  accessToken: string;
  timeoutMs?: number;
}

export function createD360Client(opts: D360ClientOptions): ProviderClient {
  return createCloudShapedClient({
    provider: '360dialog',
    url: `${opts.baseUrl.replace(/\/+$/, '')}/messages`,
    headers: { 'D360-API-KEY': opts.accessToken },
    secrets: [opts.accessToken],
    timeoutMs: opts.timeoutMs,
  });
}
