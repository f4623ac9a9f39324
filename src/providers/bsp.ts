/**
 * Adapter for a Cloud-API-compatible BSP:
 * `POST {baseUrl}/api/v1.0/{phoneNumberId}/{bspKey}/messages` with a bearer token.
 *
 * The body and the answers are the Cloud API's, so both reuse the Cloud code. The BSP key travels in the
 * URL path, where an error text (a proxy echoing the request line, a network error naming the URL) could
 * carry it: it is scrubbed from every outcome like the token.
 */
import { buildCloudMessage } from '../templates/payload.ts';
import { cloudOutcome, redact } from './cloud.ts';
import { createHttpClient } from './http.ts';
import type { ProviderClient, SendOutcome, SendRequest } from './types.ts';

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
  const http = createHttpClient({ timeoutMs: opts.timeoutMs });
  const url =
    `${opts.baseUrl.replace(/\/+$/, '')}/api/v1.0/` +
    `${encodeURIComponent(opts.phoneNumberId)}/${encodeURIComponent(opts.bspKey)}/messages`;
  const headers = { authorization: `Bearer ${opts.accessToken}` };
  // Longest first: if one secret contained the other, scrubbing the shorter first would leave the rest
  // of the longer one in the text. The URL-encoded key too, in case a text quotes the path as sent.
  const secrets = [...new Set([opts.accessToken, opts.bspKey, encodeURIComponent(opts.bspKey)])].sort(
    (a, b) => b.length - a.length,
  );
  const scrub = (o: SendOutcome): SendOutcome => secrets.reduce(redact, o);

  return {
    provider: 'bsp',
    async send(req: SendRequest, signal?: AbortSignal): Promise<SendOutcome> {
      const result = await http.postJson(url, buildCloudMessage(req), { headers, signal });
      if (!result.ok) return scrub({ kind: 'network', phase: result.phase, message: result.message });
      return scrub(cloudOutcome(result.status, result.body));
    },
    async close() {
      http.close();
    },
  };
}
