/**
 * Adapter for a Cloud-API-compatible BSP:
 * `POST {baseUrl}/api/v1.0/{phoneNumberId}/{bspKey}/messages` with a bearer token.
 *
 * The body and the answers are the Cloud API's, so both reuse the Cloud code. The BSP key travels in the
 * URL path, where an error text (a proxy echoing the request line, a network error naming the URL) could
 * carry it: it is scrubbed from every outcome like the token.
 */
import { createCloudShapedClient } from './cloud.ts';
import type { ProviderClient } from './types.ts';

export interface BspClientOptions {
  /** The BSP's API root; there is no default, every BSP has its own host. */
  baseUrl: string;
  phoneNumberId: string;
  accessToken: string;
  /** The per-account key that is part of the path. */
  bspKey: string;
  timeoutMs?: number;
}

export function createBspClient(opts: BspClientOptions): ProviderClient {
  return createCloudShapedClient({
    provider: 'bsp',
    url: `${opts.baseUrl.replace(/\/+$/, '')}/api/v1.0/${encodeURIComponent(opts.phoneNumberId)}/${encodeURIComponent(opts.bspKey)}/messages`,
    headers: { authorization: `Bearer ${opts.accessToken}` },
    // The URL-encoded key too, in case a text quotes the path as sent.
    secrets: [opts.accessToken, opts.bspKey, encodeURIComponent(opts.bspKey)],
    timeoutMs: opts.timeoutMs,
  });
}
